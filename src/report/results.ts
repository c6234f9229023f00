import { canonicalJson } from '../hash.js';
import type { Comparison, Interval } from './analysis.js';
import type { MetricValue, ReportQueries, RunConfigView, RunInfo } from './queries.js';
import { KNOWLEDGE_REGIONS, SHORT_NAMES, subjectName, type SubjectContext } from './subjects.js';

/** A stored PGR as read back: the interval, and why there is no number when there is none. */
export type PgrValue = Interval & { note: string | null; undefinedResamples: number | null; resamples: number | null };

/** The headline numbers of one run, read from the metrics the pipeline stored (null where not computed yet). */
export interface RunResult {
  run: RunInfo;
  n: number | null;
  weak: Interval;
  ensemble: Interval;
  naive: Interval;
  w2s: Interval;
  ceiling: Interval;
  pgr: PgrValue;
  pgrNaive: PgrValue;
  /** The strong models trained on a judge's or judge ensemble's labels (strong_by_judge:*), in config order. */
  byJudge: JudgeTrained[];
}

/** A strong model trained on a prompted judge's (or judge ensemble's) labels, as stored. */
export interface JudgeTrained {
  subject: string;
  /** Its short name ("strong on judge j1"), as every view prints it. */
  name: string;
  accuracy: Interval;
  pgr: PgrValue;
}

const NONE: Interval = { value: null, lo: null, hi: null };

const find = (metrics: readonly MetricValue[], subject: string, name: string): MetricValue | undefined =>
  metrics.find((m) => m.subject === subject && m.name === name);

const intervalOf = (m: MetricValue | undefined): Interval => (m ? { value: m.value, lo: m.lo, hi: m.hi } : NONE);

const pgrOf = (m: MetricValue | undefined): PgrValue => ({ ...intervalOf(m), note: m?.note ?? null, undefinedResamples: m?.undefinedResamples ?? null, resamples: m?.resamples ?? null });

export function runResult(q: ReportQueries, run: RunInfo, metrics: MetricValue[] = q.metrics(run.id)): RunResult {
  const acc = (subject: string): Interval => intervalOf(find(metrics, subject, 'accuracy'));
  return {
    run,
    n: find(metrics, 'weak', 'accuracy')?.n ?? null,
    weak: acc('weak'),
    ensemble: acc('weak_ensemble'),
    naive: acc('strong_naive'),
    w2s: acc('strong'),
    ceiling: acc('strong_ceiling'),
    pgr: pgrOf(find(metrics, 'strong', 'pgr')),
    pgrNaive: pgrOf(find(metrics, 'strong_naive', 'pgr')),
    byJudge: judgeTrained(metrics, run.config),
  };
}

/** The primary seed's strong_by_judge:* subjects with a stored accuracy: the config's judges, then its judge ensembles. */
function judgeTrained(metrics: readonly MetricValue[], config: RunConfigView): JudgeTrained[] {
  const ctx = withStoredEnsembles(config, metrics);
  const order = [...config.judges, ...(ctx.judgeEnsembles ?? []).map((e) => e.name)];
  const rank = (s: string): number => {
    const i = order.indexOf(s.slice('strong_by_judge:'.length));
    return i < 0 ? order.length : i;
  };
  const subjects = [...new Set(metrics.filter((m) => m.subject.startsWith('strong_by_judge:') && !m.subject.includes('@seed') && m.name === 'accuracy').map((m) => m.subject))];
  return subjects
    .sort((a, b) => rank(a) - rank(b))
    .map((subject) => ({ subject, name: subjectName(subject, ctx).short, accuracy: acc(metrics, subject), pgr: pgrOf(find(metrics, subject, 'pgr')) }));
}

const acc = (metrics: readonly MetricValue[], subject: string): Interval => intervalOf(find(metrics, subject, 'accuracy'));

/** The results of many runs, their metrics read in one query rather than one per run. */
export function runResults(q: ReportQueries, runs: RunInfo[]): RunResult[] {
  const byRun = q.metricsByRun();
  return runs.map((run) => runResult(q, run, byRun.get(run.id) ?? []));
}

/** A judge's P(correct) as printed: three decimals, or "no verdict" for a reply that stated none. */
export const verdictP = (p: number | null): string => (p === null ? 'no verdict' : p.toFixed(3));

/** The mean of the P(correct) of replies that stated a verdict; null when none did (the judge abstained). */
export function meanVerdict(ps: readonly (number | null)[]): number | null {
  const read = ps.filter((p): p is number => p !== null);
  return read.length ? read.reduce((s, p) => s + p, 0) / read.length : null;
}

export const pct = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : (100 * v).toFixed(digits));

/** A difference in percentage points with its sign: "+3.8", "−5.0", or "n/a". */
export const signedPoints = (v: number | null): string => (v === null ? 'n/a' : `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(1)}`);

/** "+3.8 [−5.0, +12.5]": a difference in points with its interval. */
export const signedPointsCI = (i: { value: number | null; lo?: number | null; hi?: number | null }): string =>
  `${signedPoints(i.value)} [${signedPoints(i.lo ?? null)}, ${signedPoints(i.hi ?? null)}]`;

/** "85.0 [80.1, 89.2]" in percent, or "n/a". */
export function pctCI(i: Interval): string {
  if (i.value === null) return 'n/a';
  return i.lo === null || i.hi === null ? pct(i.value) : `${pct(i.value)} [${pct(i.lo)}, ${pct(i.hi)}]`;
}

/** "strong on weak ensemble %": a column of one subject's accuracy, named as every view names the subject. */
export const accuracyHeader = (subject: keyof typeof SHORT_NAMES): string => `${SHORT_NAMES[subject]} %`;

/** "PGR % (strong on weak ensemble)": a column of one strong model's PGR. */
export const pgrHeader = (subject: keyof typeof SHORT_NAMES): string => `PGR % (${SHORT_NAMES[subject]})`;

/** The judge-trained strong models of a run, in one cell: "strong on judge j1 80.0 [70.0, 90.0], PGR 40.0 [10.0, 70.0]; …". */
function judgeTrainedCell(r: RunResult): string {
  return r.byJudge.map((j) => `${j.name} ${pctCI(j.accuracy)}, PGR ${pgrCell(j.pgr)}`).join('; ');
}

export const RESULT_HEADER = [
  'run', 'dataset', 'n test', accuracyHeader('weak'), accuracyHeader('weak_ensemble'), accuracyHeader('strong_naive'), accuracyHeader('strong'), accuracyHeader('strong_ceiling'),
  pgrHeader('strong'), pgrHeader('strong_naive'), 'strong on judges: accuracy %, PGR %',
];

/** The results table, one run a row, accuracies and PGR in percent with their intervals. */
export function resultRows(results: RunResult[]): string[][] {
  return results.map((r) => [
    r.run.id,
    r.run.dataset ?? '',
    r.n === null ? 'n/a' : String(r.n),
    pctCI(r.weak),
    pctCI(r.ensemble),
    pctCI(r.naive),
    pctCI(r.w2s),
    pctCI(r.ceiling),
    pgrCell(r.pgr),
    pgrCell(r.pgrNaive),
    judgeTrainedCell(r),
  ]);
}

/**
 * A PGR as every view prints it: the value with its interval and how many resamples were undefined, or "n/a" with
 * the stored reason (a gap that is noise, ceiling <= weak).
 */
export function pgrCell(p: PgrValue): string {
  if (p.value === null) return p.note ? `n/a (${p.note})` : 'n/a';
  const dropped = p.undefinedResamples ? ` (${p.undefinedResamples}/${p.resamples} resamples undefined)` : '';
  return `${pctCI(p)}${dropped}`;
}

/** Rows of one run's table, in display order, as stored subjects. */
const TABLE_ORDER = [
  'majority_class', 'weak', 'weak_ensemble_finetune', 'weak_ensemble', 'weak_ensemble_vote', 'strong_naive', 'strong_single', 'strong_finetune', 'strong', 'strong_ceiling',
];

/** True when the run trained several seeds and stored means over them. */
const hasSeeds = (metrics: readonly MetricValue[]): boolean => metrics.some((m) => m.name === 'accuracy_over_seeds');

function runTableHeader(metrics: readonly MetricValue[]): string[] {
  const level = find(metrics, 'weak', 'accuracy')?.level ?? 0.95;
  const header = ['model', `accuracy % [${Math.round(level * 100)}% CI]`, 'AUROC %', 'PGR %'];
  const seeds = find(metrics, 'weak', 'accuracy_over_seeds')?.n;
  return [...header, ...(hasSeeds(metrics) ? [`accuracy % over ${seeds} seeds`, 'PGR % over seeds'] : []), 'what it is'];
}

/**
 * One run's model table: every model, ensemble, judge and judge-trained strong model with accuracy, AUROC and PGR, from
 * the stored metrics; each row by its short name first and what it is (the long label) last.
 */
function runTableRows(metrics: readonly MetricValue[], config: RunConfigView): string[][] {
  // The primary seed's subjects; other seeds' (subject@seedN) enter only through the over-seeds columns. Judges, then
  // judge ensembles, then the strong models on their labels, each kind in stored order.
  const kinds = ['judge:', 'judge_ensemble:', 'strong_by_judge:'];
  const kindOf = (s: string): number => kinds.findIndex((k) => s.startsWith(k));
  const judged = [...new Set(metrics.map((m) => m.subject).filter((s) => kindOf(s) >= 0 && !s.includes('@seed')))].sort((a, b) => kindOf(a) - kindOf(b));
  const subjects = [...TABLE_ORDER, ...judged].filter((s) => find(metrics, s, 'accuracy'));
  const ctx = withStoredEnsembles(config, metrics);
  const seeds = hasSeeds(metrics);
  return subjects.map((subject) => {
    const pgr = find(metrics, subject, 'pgr');
    const acc = find(metrics, subject, 'accuracy')!;
    const name = subjectName(subject, ctx);
    // A subject with no figures (a judge below its minCoverage, the strong model it did not train) says why once.
    const unscored = acc.value === null && acc.note !== null;
    const pgrText = !pgr ? '' : unscored && pgr.note === acc.note ? 'n/a' : pgrCell(pgrOf(pgr));
    const cells = [name.short, unscored ? `n/a (${acc.note})` : pctCI(intervalOf(acc)), pctCI(intervalOf(find(metrics, subject, 'auroc'))), pgrText];
    if (!seeds) return [...cells, name.long];
    // Subjects no seed changes (the majority class, the judges) have no over-seeds figures.
    const [accSeeds, pgrSeeds] = [find(metrics, subject, 'accuracy_over_seeds'), find(metrics, subject, 'pgr_over_seeds')];
    return [...cells, accSeeds ? pctCI(intervalOf(accSeeds)) : '', pgrSeeds ? pgrCell(pgrOf(pgrSeeds)) : '', name.long];
  });
}

/**
 * The config's judge ensembles, plus any judge ensemble the run stored metrics for that the config does not name (a
 * foreign or older config), so that strong_by_judge:<e> still reads as a judge ensemble's.
 */
function withStoredEnsembles(config: RunConfigView, metrics: readonly MetricValue[]): RunConfigView & SubjectContext {
  const known = new Set((config.judgeEnsembles ?? []).map((e) => e.name));
  const extra = [...new Set(metrics.map((m) => m.subject).filter((s) => s.startsWith('judge_ensemble:')).map((s) => s.slice('judge_ensemble:'.length)))].filter((n) => !known.has(n));
  return extra.length ? { ...config, judgeEnsembles: [...(config.judgeEnsembles ?? []), ...extra.map((name) => ({ name, members: [], aggregate: '?' }))] } : config;
}

/** What the intervals of a run cover, in one sentence, from the stored provenance of its weak model's accuracy. */
function intervalNote(metrics: readonly MetricValue[]): string {
  const m = find(metrics, 'weak', 'accuracy');
  if (!m || m.method === null) return 'Intervals: bootstrap over test examples.';
  const level = `${Math.round((m.level ?? 0.95) * 100)}%`;
  const text = `Intervals: ${level} ${m.method} over ${m.covers} with ${m.resamples} resamples; PGR resamples the weak, w2s and ceiling models together.`;
  const seeds = find(metrics, 'weak', 'accuracy_over_seeds');
  if (!seeds) return `${text} They cover test-sample variance, not training seeds.`;
  return `${text} Those cover test-sample variance for the first seed; the "over seeds" columns give the mean and a ${level} t interval over ${seeds.covers}.`;
}

/** The ceiling − weak gap and the chance line, in words. */
function gapNote(metrics: readonly MetricValue[]): string[] {
  const out: string[] = ['chance: 50.0 (two classes)'];
  const gap = find(metrics, 'strong_ceiling', 'gap');
  if (gap && gap.value !== null) {
    out.push(`ceiling − weak gap: ${signedPointsCI(gap)} points, ${gap.note ? gap.note : 'significant'}`);
  }
  const overSeeds = find(metrics, 'strong_ceiling', 'gap_over_seeds');
  if (overSeeds && overSeeds.value !== null) {
    const note = overSeeds.note ? `; ${overSeeds.note}` : '';
    out.push(`ceiling − weak gap over ${overSeeds.n} seeds: ${signedPointsCI(overSeeds)} points (t interval over training seeds)${note}`);
  }
  return out;
}

const REGION_HEADER = ['knowledge region (test)', 'n', `${SHORT_NAMES.strong}: right %`, `${SHORT_NAMES.strong_naive}: right %`];

/** The knowledge-region audit: the strong students' accuracy where the weak model and the ceiling are right or wrong. */
function regionRows(metrics: readonly MetricValue[]): string[][] {
  return KNOWLEDGE_REGIONS.filter(({ key }) => find(metrics, `region:${key}`, 'count')).map(({ key, label }) => [
    label,
    String(find(metrics, `region:${key}`, 'count')!.value),
    pctCI(intervalOf(find(metrics, `region:${key}`, 'accuracy:strong'))),
    pctCI(intervalOf(find(metrics, `region:${key}`, 'accuracy:strong_naive'))),
  ]);
}

const LEAK_HEADER = ['leak audit: split', 'P(advocated side = gold) %', 'transcripts', 'tests'];

/** The leak audit, one split a row. */
function leakRows(metrics: readonly MetricValue[]): string[][] {
  return ['train_weak', 'train_strong', 'test']
    .map((split) => find(metrics, `leak_audit:${split}`, 'p_side_gold'))
    .filter((m): m is MetricValue => m !== undefined)
    .map((m) => [m.subject.slice('leak_audit:'.length), pctCI(intervalOf(m)), String(m.n ?? ''), m.note ?? '']);
}

/** A table: its header and rows of cells. */
export interface Table {
  header: string[];
  rows: string[][];
}

/**
 * One run's stored results, the same in every view: the model table, the notes (chance line, ceiling − weak gap, what
 * the intervals cover), then the audit tables that have rows (knowledge regions, leak audit).
 */
export function runDetails(metrics: readonly MetricValue[], config: RunConfigView): { models: Table; notes: string[]; audits: Table[] } {
  const audits = [{ header: REGION_HEADER, rows: regionRows(metrics) }, { header: LEAK_HEADER, rows: leakRows(metrics) }].filter((t) => t.rows.length > 0);
  return { models: { header: runTableHeader(metrics), rows: runTableRows(metrics, config) }, notes: [...gapNote(metrics), intervalNote(metrics)], audits };
}

/** A plain-text table with aligned columns (for terminals and logs). */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, c) => (cell ?? '').padEnd(widths[c]!)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A GitHub-flavoured Markdown table; pipes inside cells are escaped. */
export function markdownTable(header: string[], rows: string[][]): string {
  const cell = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const line = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

export interface Sweep {
  /** What the runs share: their config without debate.turns and name. */
  key: string;
  points: { turns: number; run: RunInfo }[];
}

/** Groups of runs that differ only in debate.turns (and name), two or more distinct turn counts each. */
export function findTurnSweeps(runs: RunInfo[]): Sweep[] {
  const groups = new Map<string, { turns: number; run: RunInfo }[]>();
  for (const run of runs) {
    const raw = run.config.raw as Record<string, any>;
    if (typeof raw.debate?.turns !== 'number') continue;
    const { name: _name, ...rest } = raw;
    const key = canonicalJson({ ...rest, debate: { ...raw.debate, turns: null } });
    const list = groups.get(key) ?? [];
    list.push({ turns: raw.debate.turns, run });
    groups.set(key, list);
  }
  return [...groups.entries()]
    .filter(([, pts]) => new Set(pts.map((p) => p.turns)).size > 1)
    .map(([key, points]) => ({ key, points: points.sort((a, b) => a.turns - b.turns) }));
}

/** Each model of a comparison by its short name, with what it is last (as `w2s compare` prints it). */
export function compareRows(c: Comparison): string[][] {
  return [...c.subjects.map((s) => [s.label, pctCI(s.accuracy), s.ece.toFixed(3), s.brier.toFixed(3), s.description]), ...unscoredRows(c, 3)];
}

/** The judges and judge ensembles the run did not score, as rows that say why (n/a in every other column). */
export function unscoredRows(c: Comparison, others: number): string[][] {
  return c.unscored.map((u) => [u.label, `n/a (${u.note})`, ...Array.from({ length: others - 1 }, () => 'n/a'), 'not scored']);
}
