import { FRONTIER_METHOD } from '../store/index.js';
import type { MetricValue, RunConfigView } from './queries.js';
import { pct, pctCI, pgrCell, signedPointsCI, textTable, type Table } from './results.js';
import { safeText } from './show.js';
import { describeSubject, type SubjectContext } from './subjects.js';
import { intervalText } from './table.js';

/**
 * The judges and judge ensembles of one run, as the evaluate stage stored them (subjects `judge:<j>`,
 * `judge_ensemble:<e>`, `judge_pair:<a>|<b>` and `strong_by_judge:<x>`, primary seed only): every number shown is a
 * stored metric row, never recomputed here. One view model, printed as terminal text (`w2s compare --judges`), JSON,
 * and HTML tables and charts in the report (html.ts).
 */

export type JudgeKind = 'judge' | 'judge_ensemble';

/** One judge or judge ensemble: its stored scores, and the strong model trained on its labels. */
export interface JudgeEntry {
  /** The stored subject: "judge:<name>" or "judge_ensemble:<name>". */
  subject: string;
  kind: JudgeKind;
  name: string;
  description: string;
  /** A judge ensemble's members and aggregate, from the run's config (null for a judge, or where the config does not say). */
  members: string[] | null;
  aggregate: string | null;
  accuracy: MetricValue | null;
  auroc: MetricValue | null;
  ece: MetricValue | null;
  brier: MetricValue | null;
  /** Share of the replies whose verdict was read. */
  coverage: MetricValue | null;
  /** A logprobs judge's share of replies read from the choice tokens' logprobs (null for other judges). */
  logprobCoverage: MetricValue | null;
  /** Mean P(first option) over the presentations (0.5 = unbiased); absent for a judge that reads one presentation. */
  positionBias: MetricValue | null;
  tokensPerExample: MetricValue | null;
  costUsdPerExample: MetricValue | null;
  /** 1 on the accuracy–cost frontier, 0 off it; the note says which cost axis. */
  onFrontier: MetricValue | null;
  /** The strong model trained on this judge's (or judge ensemble's) P(correct): subject strong_by_judge:<name>. */
  strong: { subject: string; description: string; accuracy: MetricValue | null; pgr: MetricValue | null };
  /** A stacked judge ensemble's fitted weights: each member's, then the intercept's (name "intercept"). */
  weights: { member: string; weight: MetricValue }[];
}

/** A judge ensemble against its best member and against the weak-model ensemble: Δ = ensemble − the other. */
export interface EnsembleContrast {
  name: string;
  description: string;
  /** Ensemble accuracy − its best member's (paired interval). */
  vsBestMember: MetricValue | null;
  /** The best member, from the stored best_member:<name> row, or null. */
  bestMember: string | null;
  /** Ensemble accuracy − the weak-model ensemble's (weak_ensemble), paired interval. */
  vsWeakEnsemble: MetricValue | null;
  /** The stored paired-bootstrap p-values of the two differences (vs_best_member_p, vs_weak_ensemble_p). */
  pBestMember: number | null;
  pWeakEnsemble: number | null;
}

/** Accuracy against the number of members: for k = 1..members, the mean over member subsets of size k, with min and max. */
export interface SizeCurve {
  name: string;
  description: string;
  /** value = mean, lo = min, hi = max, n = subsets: ranges over the subsets, not confidence intervals. */
  points: { size: number; accuracy: MetricValue }[];
}

export interface JudgePairEntry {
  subject: string;
  a: string;
  b: string;
  agreement: MetricValue | null;
  /** May be null with a note (e.g. a judge that makes no errors). */
  errorCorrelation: MetricValue | null;
  kappa: MetricValue | null;
}

export interface JudgesView {
  runId: string;
  /** Test examples the accuracies are on (from the stored accuracy rows), or null. */
  n: number | null;
  level: number;
  /** The cost axis of the accuracy–cost frontier: USD per example when any price is set, else tokens per example. */
  frontier: { axis: 'cost' | 'tokens'; note: string | null };
  /** Judges first, then judge ensembles, each in config order. */
  judges: JudgeEntry[];
  ensembles: EnsembleContrast[];
  sizes: SizeCurve[];
  pairs: JudgePairEntry[];
  notes: string[];
}

/** True when the run stored any judge or judge ensemble metric. */
export const hasJudges = (v: JudgesView): boolean => v.judges.length > 0 || v.pairs.length > 0;

const JUDGE = 'judge:';
const ENSEMBLE = 'judge_ensemble:';
const PAIR = 'judge_pair:';

/** The run's judges and judge ensembles from its stored metrics; the config supplies names, order and descriptions. */
export function judgesView(metrics: readonly MetricValue[], config: RunConfigView, runId: string): JudgesView {
  // Primary seed only: another seed's subjects carry "@seedN".
  const primary = metrics.filter((m) => !m.subject.includes('@seed'));
  const bySubject = new Map<string, Map<string, MetricValue>>();
  for (const m of primary) {
    let names = bySubject.get(m.subject);
    if (!names) bySubject.set(m.subject, (names = new Map()));
    names.set(m.name, m);
  }
  const get = (subject: string, name: string): MetricValue | null => bySubject.get(subject)?.get(name) ?? null;
  const stored = (prefix: string): string[] => [...bySubject.keys()].filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length));
  // Config order first, then anything stored that the config does not name.
  const ordered = (names: string[], configured: readonly string[]): string[] => [...configured.filter((n) => names.includes(n)), ...names.filter((n) => !configured.includes(n))];
  const ctx: SubjectContext = config;
  const configuredEnsembles = config.judgeEnsembles ?? [];

  const entry = (kind: JudgeKind, name: string): JudgeEntry => {
    const subject = `${kind}:${name}`;
    const e = kind === 'judge_ensemble' ? configuredEnsembles.find((x) => x.name === name) : undefined;
    const names = bySubject.get(subject) ?? new Map<string, MetricValue>();
    const weights = [...names.values()]
      .filter((m) => m.name.startsWith('weight:'))
      .map((m) => ({ member: m.name.slice('weight:'.length), weight: m }));
    const intercept = get(subject, 'stacked_intercept');
    const strong = `strong_by_judge:${name}`;
    return {
      subject, kind, name, description: describeSubject(subject, ctx),
      members: e ? [...e.members] : null, aggregate: e?.aggregate ?? null,
      accuracy: get(subject, 'accuracy'), auroc: get(subject, 'auroc'), ece: get(subject, 'ece'), brier: get(subject, 'brier'),
      coverage: get(subject, 'parse_coverage'), logprobCoverage: get(subject, 'logprob_coverage'), positionBias: get(subject, 'position_bias'),
      tokensPerExample: get(subject, 'tokens_per_example'), costUsdPerExample: get(subject, 'cost_usd_per_example'), onFrontier: get(subject, 'on_frontier'),
      strong: { subject: strong, description: describeSubject(strong, ctx), accuracy: get(strong, 'accuracy'), pgr: get(strong, 'pgr') },
      weights: intercept ? [...weights, { member: 'intercept', weight: intercept }] : weights,
    };
  };
  const judgeNames = ordered(stored(JUDGE), config.judges);
  const ensembleNames = ordered(stored(ENSEMBLE), configuredEnsembles.map((e) => e.name));
  const judges = [...judgeNames.map((n) => entry('judge', n)), ...ensembleNames.map((n) => entry('judge_ensemble', n))];

  const ensembles: EnsembleContrast[] = ensembleNames.map((name) => {
    const subject = `${ENSEMBLE}${name}`;
    const vsBest = get(subject, 'vs_best_member');
    const best = [...(bySubject.get(subject)?.keys() ?? [])].find((n) => n.startsWith('best_member:'))?.slice('best_member:'.length) ?? null;
    return {
      name, description: describeSubject(subject, ctx), vsBestMember: vsBest, bestMember: best, vsWeakEnsemble: get(subject, 'vs_weak_ensemble'),
      pBestMember: get(subject, 'vs_best_member_p')?.value ?? null, pWeakEnsemble: get(subject, 'vs_weak_ensemble_p')?.value ?? null,
    };
  });

  const sizes: SizeCurve[] = ensembleNames
    .map((name) => {
      const subject = `${ENSEMBLE}${name}`;
      const points = [...(bySubject.get(subject)?.values() ?? [])]
        .map((m) => ({ m, k: /^accuracy_at_size:(\d+)$/.exec(m.name) }))
        .filter((x): x is { m: MetricValue; k: RegExpExecArray } => x.k !== null)
        .map(({ m, k }) => ({ size: Number(k[1]), accuracy: m }))
        .sort((a, b) => a.size - b.size);
      return { name, description: describeSubject(subject, ctx), points };
    })
    .filter((c) => c.points.length > 0);

  const judgeSet = [...config.judges, ...judgeNames];
  const pairs: JudgePairEntry[] = stored(PAIR).map((rest) => {
    const [a, b] = splitPair(rest, judgeSet);
    const subject = `${PAIR}${rest}`;
    return { subject, a, b, agreement: get(subject, 'agreement'), errorCorrelation: get(subject, 'error_correlation'), kappa: get(subject, 'kappa') };
  });

  const scored = judges.find((j) => j.accuracy)?.accuracy ?? null;
  const view: JudgesView = {
    runId,
    n: scored?.n ?? null,
    level: scored?.level ?? 0.95,
    frontier: frontierAxis(judges),
    judges,
    ensembles,
    sizes,
    pairs,
    notes: [],
  };
  view.notes = judgeNotes(view);
  return view;
}

/** "a|b" split where the config's judge names say (names never hold "|" there), else at the first "|". */
function splitPair(rest: string, names: readonly string[]): [string, string] {
  for (const a of names) if (rest.startsWith(`${a}|`) && names.includes(rest.slice(a.length + 1))) return [a, rest.slice(a.length + 1)];
  const i = rest.indexOf('|');
  return i < 0 ? [rest, ''] : [rest.slice(0, i), rest.slice(i + 1)];
}

/**
 * The frontier's cost axis, from the stored on_frontier rows' method; with none stored, cost when any cost per example
 * above 0 is stored (a price is set), else tokens.
 */
function frontierAxis(judges: readonly JudgeEntry[]): JudgesView['frontier'] {
  const row = judges.map((j) => j.onFrontier).find((m): m is MetricValue => m !== null);
  if (row?.method === FRONTIER_METHOD.usd) return { axis: 'cost', note: row.note };
  if (row?.method === FRONTIER_METHOD.tokens) return { axis: 'tokens', note: row.note };
  const priced = judges.some((j) => (j.costUsdPerExample?.value ?? 0) > 0);
  return { axis: priced ? 'cost' : 'tokens', note: row?.note ?? null };
}

/** The x value of a judge on the frontier's cost axis, or null where none is stored. */
export function costOf(j: JudgeEntry, axis: 'cost' | 'tokens'): number | null {
  return (axis === 'cost' ? j.costUsdPerExample : j.tokensPerExample)?.value ?? null;
}

/** Dollars per example: "$0.0123", "$0.000123" (three significant digits below a cent), "$0". */
export function usd(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  if (v === 0) return '$0';
  return Math.abs(v) >= 0.01 ? `$${v.toFixed(4)}` : `$${Number(v.toPrecision(3))}`;
}

/** Tokens per example, one decimal. */
export const tokens = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(1));

const NOT_STORED = '—';

/** A probability-scale number with its interval where stored: "0.182 [0.150, 0.214]". */
function fixedCI(m: MetricValue | null, digits = 3): string {
  if (!m) return NOT_STORED;
  if (m.value === null) return m.note ? `n/a (${m.note})` : 'n/a';
  return m.lo === null || m.hi === null ? m.value.toFixed(digits) : `${m.value.toFixed(digits)} [${m.lo.toFixed(digits)}, ${m.hi.toFixed(digits)}]`;
}

const pctCell = (m: MetricValue | null): string => (m ? pctCI(m) : NOT_STORED);

/** A stored figure without a value that says why (a judge below its minCoverage, or the strong model it did not train). */
const unscored = (m: MetricValue | null): boolean => m !== null && m.value === null && m.note !== null;

/**
 * A judge's coverage counts its replies ("97.5 (240 replies)"), and for a logprobs judge how many were read from
 * logprobs ("97.5 (240 replies; 80.0 from logprobs)"); a judge ensemble's is its members' mean.
 */
function coverageCell(m: MetricValue | null, logprobs: MetricValue | null = null): string {
  if (!m) return NOT_STORED;
  if (m.value === null) return m.note ? `n/a (${m.note})` : 'n/a';
  const fromLogprobs = logprobs?.value != null ? `; ${pct(logprobs.value)} from logprobs` : '';
  return m.method === 'count' && m.n !== null ? `${pct(m.value)} (${m.n} replies${fromLogprobs})` : pct(m.value);
}

const frontierCell = (m: MetricValue | null): string => (!m ? NOT_STORED : m.value === 1 ? '✓' : '');

/** What a stored difference's interval says, without a test beyond it: above 0, below 0, or including 0. */
export function reading(m: MetricValue | null): string {
  if (!m || m.value === null) return 'n/a';
  if (m.lo === null || m.hi === null) return 'no interval';
  if (m.lo > 0) return 'ensemble better (interval above 0)';
  if (m.hi < 0) return 'ensemble worse (interval below 0)';
  return 'no clear difference (interval includes 0)';
}

/** "+5.0 [−2.0, +12.0], p = 0.21": the difference in points, and its stored p-value. */
function diffCell(m: MetricValue | null, p: number | null): string {
  if (!m) return NOT_STORED;
  if (m.value === null) return 'n/a';
  return `${signedPointsCI(m)}${p === null ? '' : p < 0.001 ? ', p < 0.001' : `, p = ${Number(p.toPrecision(2))}`}`;
}

function weightsCell(e: JudgeEntry | undefined): string {
  if (!e || e.weights.length === 0) return '';
  return e.weights.map((w) => `${w.member} ${w.weight.value === null ? 'n/a' : w.weight.value.toFixed(3)}`).join('; ');
}

export interface JudgesTables {
  judges: Table;
  ensembles: Table;
  sizes: Table;
  pairs: Table;
}

export const CONTRAST_HEADER = [
  'judge ensemble', 'Δ vs best member, points [CI] (ensemble − member)', 'best member', 'reading', 'Δ vs weak-model ensemble, points [CI] (ensemble − weak ensemble)', 'reading', 'stacked weights',
];

/** The view's four tables as printed cells (text, Markdown and HTML print the same cells). */
export function judgesTables(v: JudgesView): JudgesTables {
  const level = `${Math.round(v.level * 100)}%`;
  const judges: Table = {
    header: [
      'judge or judge ensemble', `accuracy % [${level} CI]`, 'AUROC %', 'ECE', 'Brier', 'coverage %', 'position bias', 'tokens/example', '$/example', 'frontier',
      'strong on its labels: accuracy %', 'strong on its labels: PGR %',
    ],
    // A judge without figures (below its minCoverage) says why once, in the accuracy cell; its other figures read n/a.
    rows: v.judges.map((j) => [
      j.description, unscored(j.accuracy) ? `n/a (${j.accuracy!.note})` : pctCell(j.accuracy), pctCell(j.auroc), unscored(j.accuracy) ? 'n/a' : fixedCI(j.ece),
      unscored(j.accuracy) ? 'n/a' : fixedCI(j.brier), coverageCell(j.coverage, j.logprobCoverage), fixedCI(j.positionBias),
      j.tokensPerExample ? tokens(j.tokensPerExample.value) : NOT_STORED, j.costUsdPerExample ? usd(j.costUsdPerExample.value) : NOT_STORED, frontierCell(j.onFrontier),
      pctCell(j.strong.accuracy),
      j.strong.pgr ? pgrCell({ value: j.strong.pgr.value, lo: j.strong.pgr.lo, hi: j.strong.pgr.hi, note: j.strong.pgr.note, undefinedResamples: j.strong.pgr.undefinedResamples, resamples: j.strong.pgr.resamples }) : NOT_STORED,
    ]),
  };
  const ensembles: Table = {
    header: CONTRAST_HEADER,
    rows: v.ensembles.map((e) => [
      e.description, diffCell(e.vsBestMember, e.pBestMember), e.bestMember ?? '', reading(e.vsBestMember), diffCell(e.vsWeakEnsemble, e.pWeakEnsemble), reading(e.vsWeakEnsemble),
      weightsCell(v.judges.find((j) => j.kind === 'judge_ensemble' && j.name === e.name)),
    ]),
  };
  const sizes: Table = {
    header: ['judge ensemble', 'members (k)', 'mean accuracy %', 'min %', 'max %', 'subsets'],
    rows: v.sizes.flatMap((c) => c.points.map((p) => [c.description, String(p.size), pct(p.accuracy.value), pct(p.accuracy.lo), pct(p.accuracy.hi), p.accuracy.n === null ? '' : String(p.accuracy.n)])),
  };
  const pairs: Table = {
    header: ['judge', 'judge', 'agreement %', 'error correlation', "Cohen's κ"],
    rows: v.pairs.map((p) => [p.a, p.b, pctCell(p.agreement), fixedCI(p.errorCorrelation), fixedCI(p.kappa)]),
  };
  return { judges, ensembles, sizes, pairs };
}

/** What the columns mean and what the intervals cover, from the stored provenance. */
function judgeNotes(v: JudgesView): string[] {
  const notes: string[] = [];
  const acc = v.judges.find((j) => j.accuracy?.lo !== null && j.accuracy?.lo !== undefined)?.accuracy;
  notes.push(`Accuracy, AUROC, ECE and Brier on ${v.n ?? '?'} test examples${acc ? `; intervals: ${intervalText(acc)}` : ''}.`);
  notes.push('Coverage: the share of replies that stated a verdict (a reply without one counts toward no mean), and for a logprobs judge the share read from the choice tokens\' logprobs (the rest were read from the text); a judge ensemble\'s is the mean of its members\'. A judge below its minCoverage (default 90%), and any judge ensemble it is in, gets no accuracy or PGR and supervises no strong model.');
  // Why a cost is 0 or missing (no price set; tokens not stored), once per reason.
  const costNotes = [...new Set(v.judges.flatMap((j) => [j.tokensPerExample?.note, j.costUsdPerExample?.note]).filter((n): n is string => typeof n === 'string' && n.length > 0))];
  for (const n of costNotes) notes.push(`Tokens and $ per example: ${n}.`);
  notes.push(`Position bias: mean P(first option) over the presentations; 0.5 = unbiased; ${NOT_STORED} where not stored (a judge that reads one presentation).`);
  const axis = v.frontier.axis === 'cost' ? 'cost in USD per example' : 'tokens per example';
  notes.push(`Frontier ✓: on the accuracy–cost frontier of these judges and judge ensembles, by ${axis}${v.frontier.note ? ` (${v.frontier.note})` : ''}.`);
  notes.push('Strong on its labels: the strong model trained on the judge\'s or judge ensemble\'s P(correct); PGR is n/a, with the stored reason, where the ceiling − weak gap was not significant.');
  if (v.ensembles.length) notes.push('Δ is the judge ensemble\'s accuracy minus its best member\'s, or minus the weak-model ensemble\'s, in points, with paired intervals; the reading says only which side of 0 the interval lies.');
  if (v.sizes.length) notes.push('Accuracy against size: for each k, the mean accuracy over the judge ensemble\'s k-member subsets, with their min and max: a range over the subsets, not a confidence interval.');
  return notes;
}

/** `w2s compare --judges` as terminal text. */
export function formatJudges(v: JudgesView): string {
  const t = judgesTables(v);
  // Stored names and notes are printed as text: no control character reaches the terminal.
  const table = (x: Table): string => textTable(x.header, x.rows.map((r) => r.map(safeText)));
  const out = [`Run ${safeText(v.runId)}: judges and judge ensembles on ${v.n ?? '?'} test examples`, '', table(t.judges)];
  if (t.ensembles.rows.length) out.push('', 'Judge ensembles against their best member and the weak-model ensemble (Δ = ensemble − the other):', table(t.ensembles));
  if (t.sizes.rows.length) out.push('', 'Accuracy against judge ensemble size (mean over member subsets, min and max):', table(t.sizes));
  if (t.pairs.rows.length) out.push('', 'Judge pairs on the test split:', table(t.pairs));
  out.push('', ...v.notes.map(safeText));
  return out.join('\n');
}
