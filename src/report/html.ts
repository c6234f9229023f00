import { atomicWrite } from '../atomic-write.js';
import { basename, dirname, extname, join } from 'node:path';
import { reliabilityBins } from '../metrics/index.js';
import { isUserError, UserError } from '../errors.js';
import { W2S_VERSION } from '../version.js';
import { compareMembers, labelOf, testView, type Comparison, type TestView } from './analysis.js';
import { escapeHtml as esc } from './escape.js';
import type { MetricValue, ReportQueries, RunConfigView, RunInfo } from './queries.js';
import {
  accuracyHeader, compareRows, findTurnSweeps, markdownTable, pct, pctCI, pgrCell, pgrHeader, RESULT_HEADER, resultRows, runDetails, signedPointsCI, type RunResult, type Sweep,
} from './results.js';
import { SHORT_NAMES, type SubjectContext } from './subjects.js';
import { DEFAULT_RESULTS, displayPath, locatedResults, openResults, type LocatedRun, type ResultSet } from './results-set.js';
import { ensembleSizeFigure, protocolsFigure } from './figures.js';
import type { Where } from './table.js';
import { costOf, hasJudges, judgesTables, judgesView, usd, type JudgesView } from './judges.js';
import { DEBATER_TITLES, debaterTables, hasDebaterTables, type CellTable } from './ratings.js';
import { barChart, costAccuracyChart, lineChart, reliabilityDiagram, sizeBandChart } from './svg.js';
import { transcriptHtml, STYLE } from './transcript-html.js';

export interface ReportOptions {
  /** Runs to include, by id or unique prefix (default: all, oldest first). */
  runs?: string[];
  /** Bootstrap resamples for the per-run comparison tables (default 1000). */
  resamples?: number;
  /** Example transcripts shown per run (default 5: about half the weak ensemble's largest disagreements with the gold label, half where it is right; see sampleTranscripts). */
  samples?: number;
  /** Shown in the header instead of the databases' names. */
  title?: string;
}

export interface Report {
  html: string;
  markdown: string;
  results: RunResult[];
  sweeps: Sweep[];
}

interface RunSection {
  run: RunInfo;
  /** The run's database and its queries. */
  q: ReportQueries;
  file: string;
  /** The run as charts and headings name it: its id, and its file where another file holds the same id. */
  label: string;
  /** The section's element id: the run id, made unique by position where two files hold the same id. */
  anchor: string;
  metrics: MetricValue[];
  view: TestView;
  comparison: Comparison;
}

/**
 * Builds the report of a result set's runs (one database or a folder of them): one self-contained HTML page (inline
 * CSS and SVG) and a Markdown summary. The results table lists every run with the file it is in.
 */
export function buildReport(set: ResultSet, options: ReportOptions = {}): Report {
  const located: LocatedRun[] = options.runs?.length ? options.runs.map((id) => set.resolveRun(id)) : set.runs().reverse();
  if (located.length === 0) throw new UserError('These databases hold no runs yet; run an experiment with `w2s run` first.');
  const runs = located.map((l) => l.run);
  // Every file's metrics in one query; the headline table and each run's section read the same rows.
  const results = locatedResults(located);
  const metricsOf = new Map<ReportQueries, Map<string, MetricValue[]>>();
  for (const { q } of located) if (!metricsOf.has(q)) metricsOf.set(q, q.metricsByRun());
  const idCount = new Map<string, number>();
  for (const r of runs) idCount.set(r.id, (idCount.get(r.id) ?? 0) + 1);
  const sections: RunSection[] = located.map(({ run, q, file }, i) => {
    const metrics = metricsOf.get(q)!.get(run.id) ?? [];
    const view = testView(q, run.id, metrics);
    const twice = idCount.get(run.id)! > 1;
    const label = twice ? `${run.id} (${displayPath(file)})` : run.id;
    return { run, q, file, label, anchor: twice ? `${run.id}-${i + 1}` : run.id, metrics, view, comparison: compareMembers(view, { resamples: options.resamples, seed: 0, stored: metrics }) };
  });
  const sweeps = findTurnSweeps(runs);
  const title = options.title ?? 'w2s report';
  const generated = new Date().toISOString();

  const headline = barChart({
    title: 'Test accuracy',
    yLabel: 'accuracy',
    groups: results.map((r, i) => ({
      label: sections[i]!.label,
      bars: [
        { series: SHORT_NAMES.weak, ...r.weak },
        { series: SHORT_NAMES.weak_ensemble, ...r.ensemble },
        { series: SHORT_NAMES.strong, ...r.w2s },
        { series: SHORT_NAMES.strong_ceiling, ...r.ceiling },
      ],
    })),
  });
  // PGR over its whole interval (negative, or above 100 %, as stored), with 0 (the weak model) and 100 % (the ceiling)
  // marked; a PGR with no number is drawn as n/a with its stored reason.
  const pgrChart = barChart({
    title: 'Performance gap recovered (PGR)',
    yLabel: 'PGR',
    references: [{ value: 0, label: '0% = weak model' }, { value: 1, label: '100% = strong ceiling' }],
    groups: results.map((r, i) => ({ label: sections[i]!.label, bars: [{ series: SHORT_NAMES.strong, ...r.pgr }, { series: SHORT_NAMES.strong_naive, ...r.pgrNaive }] })),
  });
  const sizeSeries = sections
    .filter((s) => s.comparison.bySize.length > 0)
    .map((s) => ({ name: s.label, points: s.comparison.bySize.map((b) => ({ x: b.size, y: b.accuracy, lo: b.min, hi: b.max, note: `${b.subsets} subsets` })) }));
  const sizeChart = sizeSeries.length
    ? lineChart({ title: 'Accuracy vs ensemble size (mean, min–max)', xLabel: 'members', yLabel: 'accuracy', series: sizeSeries, integerX: true })
    : '<p class="empty">No ensemble predictions yet.</p>';
  const sweepCharts = sweeps.map((sw, i) => {
    // By the run object, not its id: two files may hold the same id.
    const res = (run: RunInfo): RunResult => results.find((r) => r.run === run)!;
    const series = (name: string, pick: (r: RunResult) => { value: number | null; lo: number | null; hi: number | null }) => ({
      name, points: sw.points.map((p) => ({ x: p.turns, ...{ y: pick(res(p.run)).value, lo: pick(res(p.run)).lo, hi: pick(res(p.run)).hi }, note: p.run.id })),
    });
    return lineChart({
      title: `Accuracy against debate turns (sweep ${i + 1})`, xLabel: 'debate turns', yLabel: 'accuracy', integerX: true,
      series: [
        series(SHORT_NAMES.weak_ensemble, (r) => r.ensemble), series(SHORT_NAMES.strong, (r) => r.w2s), series(SHORT_NAMES.weak, (r) => r.weak), series(SHORT_NAMES.strong_ceiling, (r) => r.ceiling),
      ],
    });
  });

  const body: string[] = [];
  const files = [...new Set(located.map((l) => displayPath(l.file)))];
  body.push(`<header><h1>${esc(title)}</h1><p class="meta">Generated ${esc(generated)} by w2s ${esc(W2S_VERSION)} · ${runs.length} run(s) from ${files.length} database(s): ${esc(files.join(', '))}</p></header>`);
  body.push('<section id="results"><h2>Results</h2>', htmlTable(FILE_HEADER, fileRows(results, sections), 'results'),
    `<p class="note">Accuracies and PGR in percent on the test split, with ${esc(levelOf(sections))} bootstrap intervals over test examples (or over groups); each run's section says what its intervals cover.</p>`,
    `<div class="charts">${headline}${pgrChart}</div></section>`);
  body.push(`<section id="ensemble-size"><h2>Accuracy against ensemble size</h2><div class="charts">${sizeChart}</div></section>`);
  const across = acrossRuns(located);
  if (across.length) body.push(`<section id="across-runs"><h2>Across runs</h2><div class="charts">${across.join('')}</div></section>`);
  if (sweepCharts.length) {
    body.push(`<section id="sweeps"><h2>Debate-turn sweeps</h2><div class="charts">${sweepCharts.join('')}</div>`,
      ...sweeps.map((sw, i) => `<p class="note">Sweep ${i + 1}: ${sw.points.map((p) => `${p.turns} turn(s) = ${esc(p.run.id)}`).join(', ')}</p>`), '</section>');
  }
  for (const s of sections) body.push(runSection(s, options.samples ?? 5));
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body>${body.join('\n')}</body></html>
`;
  return { html, markdown: buildMarkdown(title, generated, results, sweeps, sections), results, sweeps };
}

/** The results table with the file of each run as its last column (last, so each row still starts with the run). */
const FILE_HEADER = [...RESULT_HEADER, 'file'];
const fileRows = (results: RunResult[], sections: RunSection[]): string[][] => resultRows(results).map((row, i) => [...row, displayPath(sections[i]!.file)]);

function levelOf(sections: RunSection[]): string {
  const level = (sections[0]?.run.config.raw as { metrics?: { level?: number } }).metrics?.level ?? 0.95;
  return `${Math.round(level * 100)}%`;
}

/** One run's stored results as HTML: the model table, chance and gap, what the intervals cover, knowledge regions, leak audit. */
export function runDetailsHtml(metrics: readonly MetricValue[], config: RunConfigView): string {
  const { models, notes, audits } = runDetails(metrics, config);
  return [
    htmlTable(models.header, models.rows, 'run-table'),
    `<p class="note">${notes.map(esc).join('<br>')}</p>`,
    ...audits.map((t) => htmlTable(t.header, t.rows, 'audit')),
  ].join('\n');
}

/** The same, as Markdown. */
function runDetailsMarkdown(metrics: readonly MetricValue[], config: RunConfigView): string[] {
  const { models, notes, audits } = runDetails(metrics, config);
  return [markdownTable(models.header, models.rows), '', ...notes.map((l) => `${l}  `), '', ...audits.flatMap((t) => [markdownTable(t.header, t.rows), ''])];
}

export function htmlTable(header: string[], rows: string[][], cls = ''): string {
  return `<table class="${cls}"><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export const COMPARE_HEADER = ['model', 'accuracy % [CI]', 'ECE', 'Brier', 'what it is'];

/** The pairs table: which way Δ goes is in its header (B − A), A being the comparison's reference. */
export const PAIRS_HEADER = ['A', 'B', 'Δ = B − A, accuracy points [CI]', 'bootstrap p', 'McNemar b/c (b: A right, B wrong; c: A wrong, B right)', 'McNemar p', "Cohen's κ"];

export function pairRows(c: Comparison): string[][] {
  const name = labelOf(c);
  return c.pairs.map((p) => [
    name(p.a), name(p.b), signedPointsCI(p.diff), p.diff.pValue === null ? 'n/a' : p.diff.pValue.toFixed(3), `${p.mcnemar.b}/${p.mcnemar.c}`, p.mcnemar.pValue.toFixed(3),
    p.kappa === null ? 'n/a' : p.kappa.toFixed(3),
  ]);
}

/** Tokens per example as an axis tick: the number without trailing zeros. */
const tokenTick = (v: number): string => String(Number(v.toPrecision(6)));

/**
 * A run's judges and judge ensembles, from its stored metrics: the table of judges and judge ensembles, the ensembles
 * against their best member and the weak-model ensemble, accuracy against ensemble size, the judge pairs; the
 * accuracy–cost chart with the stored frontier, and accuracy against size per judge ensemble. Empty without judges.
 */
export function judgesSectionHtml(view: JudgesView, anchor: string): string {
  if (!hasJudges(view)) return '';
  const t = judgesTables(view);
  const axis = view.frontier.axis;
  const scored = view.judges.filter((j) => j.accuracy?.value != null);
  const drawn = scored.filter((j) => costOf(j, axis) !== null);
  const undrawn = scored.filter((j) => costOf(j, axis) === null);
  const chart = drawn.length
    ? costAccuracyChart({
      title: 'Accuracy against cost: judges and judge ensembles',
      xLabel: axis === 'cost' ? 'cost per example (USD)' : 'tokens per example (no prices set)',
      formatX: axis === 'cost' ? usd : tokenTick,
      level: view.level,
      points: drawn.map((j) => ({
        label: j.name, title: j.description, kind: j.kind, x: costOf(j, axis)!, y: j.accuracy!.value!, lo: j.accuracy!.lo, hi: j.accuracy!.hi, frontier: j.onFrontier?.value === 1,
      })),
    })
    : '<p class="empty">No judge or judge ensemble has a stored accuracy and cost per example yet.</p>';
  const sizeCharts = view.sizes.map((c) => sizeBandChart({
    title: `Accuracy against size: judge ensemble ${c.name}`,
    points: c.points.map((p) => ({ size: p.size, mean: p.accuracy.value, min: p.accuracy.lo, max: p.accuracy.hi, subsets: p.accuracy.n })),
  }));
  const notes = [...view.notes];
  if (undrawn.length) notes.push(`Not on the chart, no ${axis === 'cost' ? 'cost' : 'token count'} per example stored: ${undrawn.map((j) => j.name).join(', ')}.`);
  const part = (title: string, table: { header: string[]; rows: string[][] }, cls: string): string => (table.rows.length ? `<h4>${esc(title)}</h4>${htmlTable(table.header, table.rows, cls)}` : '');
  return `<section class="judges" id="judges-${esc(anchor)}"><h3>Judges and judge ensembles</h3>
${htmlTable(t.judges.header, t.judges.rows, 'judges-table')}
<p class="note">${notes.map(esc).join('<br>')}</p>
${part('Judge ensembles against their best member and the weak-model ensemble (Δ = ensemble − the other)', t.ensembles, 'ensembles-table')}
${part('Accuracy against judge ensemble size (mean over member subsets, min and max)', t.sizes, 'sizes-table')}
${part('Judge pairs on the test split', t.pairs, 'pairs-table')}
<div class="charts">${chart}${sizeCharts.join('')}</div></section>`;
}

/**
 * A run's debaters, from its stored metrics (the tables the run summary prints as lines): open roles, quotes from the
 * passage per side, debater ratings. Empty when the run stored none of them.
 */
export function debatersSectionHtml(metrics: readonly MetricValue[], anchor: string): string {
  const t = debaterTables(metrics);
  if (!hasDebaterTables(t)) return '';
  const table = (x: CellTable, cls: string): string => (x.rows.length ? htmlTable(x.header, x.rows, cls) : '');
  const parts: string[] = [];
  if (t.openRoles) parts.push(`<h4>${esc(DEBATER_TITLES.openRoles)}</h4>${table(t.openRoles.choice, 'open-roles-table')}${table(t.openRoles.judges, 'open-roles-judges-table')}`);
  if (t.quotes) parts.push(`<h4>${esc(DEBATER_TITLES.quotes)}</h4>${table(t.quotes, 'quotes-table')}`);
  if (t.ratings) parts.push(`<h4>${esc(DEBATER_TITLES.ratings)}</h4>${table(t.ratings.debaters, 'ratings-table')}${table(t.ratings.pairs, 'rating-pairs-table')}`);
  return `<section class="debaters" id="debaters-${esc(anchor)}"><h3>Debaters</h3>\n${parts.join('\n')}</section>`;
}

/** The same tables, as Markdown. */
function debatersMarkdown(metrics: readonly MetricValue[]): string[] {
  const t = debaterTables(metrics);
  const out: string[] = [];
  const part = (title: string, tables: CellTable[]): void => void out.push(`${title}:`, '', ...tables.filter((x) => x.rows.length).flatMap((x) => [markdownTable(x.header, x.rows), '']));
  if (t.openRoles) part(DEBATER_TITLES.openRoles, [t.openRoles.choice, t.openRoles.judges]);
  if (t.quotes) part(DEBATER_TITLES.quotes, [t.quotes]);
  if (t.ratings) part(DEBATER_TITLES.ratings, [t.ratings.debaters, t.ratings.pairs]);
  return out;
}

/** The same tables, as Markdown. */
function judgesMarkdown(view: JudgesView): string[] {
  const t = judgesTables(view);
  const out = [markdownTable(t.judges.header, t.judges.rows), ''];
  for (const [title, table] of [['Judge ensembles against their best member and the weak-model ensemble (Δ = ensemble − the other)', t.ensembles], ['Accuracy against judge ensemble size', t.sizes], ['Judge pairs', t.pairs]] as const) {
    if (table.rows.length) out.push(`${title}:`, '', markdownTable(table.header, table.rows), '');
  }
  return [...out, ...view.notes.map((l) => `${l}  `), ''];
}

function runSection(s: RunSection, sampleCount: number): string {
  const { run, view, comparison, q } = s;
  const cfg = run.config;
  const meta = [
    `file ${displayPath(s.file)}`, `dataset ${run.dataset ?? '?'}`, `status ${run.status}${run.hint ? ` (${run.hint})` : ''}`, `protocol ${cfg.protocol ?? '?'}`, `${cfg.turns ?? '?'} turns`,
    `ensemble ${cfg.ensembleKind ?? '?'} × ${cfg.ensembleSize ?? '?'}`, `debaters ${cfg.debaters.join(', ') || 'none'}`,
    `judges ${cfg.judges.join(', ') || 'none'}`, `${run.counts.calls} calls`, `${run.tokens.input + run.tokens.output} tokens`, `$${run.costUsd.toFixed(4)}`,
  ];
  const pick = (names: string[]) => view.subjects.filter((x) => names.includes(x.name));
  const diagrams: string[] = [];
  if (view.labels.length > 0) {
    const models = pick(['weak', 'weak_ensemble', 'strong', 'strong_ceiling']);
    if (models.length) diagrams.push(reliabilityDiagram({ title: `Reliability: models (${run.id})`, series: models.map((m) => ({ name: m.label, bins: reliabilityBins(m.probs, view.labels, 10) })) }));
    for (const j of view.subjects.filter((x) => x.name.startsWith('judge:'))) {
      diagrams.push(reliabilityDiagram({ title: `Reliability: ${j.label} (${run.id})`, series: [{ name: j.label, bins: reliabilityBins(j.probs, view.labels, 10) }] }));
    }
  }
  const pairs = pairRows(comparison);
  const reference = comparison.pairs[0] ? labelOf(comparison)(comparison.pairs[0].a) : null;
  const samples = sampleTranscripts(view, sampleCount);
  const judgeEnsembles = q.judgeEnsembles(run.id);
  // The sample transcripts name each model as the tables above do (the judge ensembles as stored).
  const names: SubjectContext = { ...cfg, judgeEnsembles };
  const transcripts = samples.chosen.map((o) => {
    const ex = q.example(run.id, o.id)!;
    const verdict = o.right === null ? '' : `<span class="${o.right ? 'good' : 'bad'}">${esc(samples.by)} ${o.right ? 'right' : 'wrong'}</span> <span class="note">(P(label 1) = ${o.p!.toFixed(3)}, gold ${ex.label})</span> `;
    return `<details class="example" data-example="${esc(o.id)}" data-outcome="${o.right === null ? '' : o.right ? 'right' : 'wrong'}"><summary>${verdict}${esc(o.id)}: ${esc((ex.question ?? ex.text).slice(0, 120))}</summary>${transcriptHtml(ex, q.transcripts(run.id, o.id), q.predictions(run.id, o.id), q.judgments(run.id, o.id), judgeEnsembles, { context: names })}</details>`;
  });
  return `<section class="run" id="run-${esc(s.anchor)}"><h2>Run ${esc(s.label)}</h2><p class="meta">${meta.map(esc).join(' · ')}</p>
${runDetailsHtml(s.metrics, cfg)}
${judgesSectionHtml(judgesView(s.metrics, cfg, run.id), s.anchor)}
${debatersSectionHtml(s.metrics, s.anchor)}
<h3>Models and judges on ${comparison.n} test examples</h3>${htmlTable(COMPARE_HEADER, compareRows(comparison), 'compare')}
<p class="note">Fleiss' kappa across members: ${comparison.fleiss === null ? 'n/a' : comparison.fleiss.toFixed(3)}</p>
${pairs.length ? `<h4>Each model against the ${esc(reference ?? 'reference')}</h4>${htmlTable(PAIRS_HEADER, pairs, 'pairs')}<p class="note pairs-note">Δ = B − A: the accuracy of B minus that of A (A: the ${esc(reference ?? 'reference')}), in points, with a paired bootstrap interval on the same ${comparison.n} test examples; positive when B is more accurate.</p>` : ''}
<div class="charts">${diagrams.join('')}</div>
<h3>Sample transcripts</h3><p class="note sample-rule">${esc(samples.rule)}</p>${transcripts.join('\n') || (view.exampleIds.length ? '' : '<p class="empty">No test examples yet.</p>')}</section>`;
}

/** One sample transcript: the example, and whether the model the samples are chosen by is right on it (null: no model yet). */
interface Sample {
  id: string;
  right: boolean | null;
  p: number | null;
}

/**
 * Which test examples the report shows transcripts of, and the rule, in words: the largest disagreements between the
 * weak ensemble's mean P(label 1) and the gold label (its most confident mistakes), then as many where it is right, the
 * least sure of those first (P(label 1) nearest 0.5), so an auditor sees both. Half of each, topped up from the other
 * kind where one runs short; ties in example order. The weak model stands in where there is no ensemble.
 */
export function sampleTranscripts(view: TestView, count: number): { chosen: Sample[]; rule: string; by: string } {
  const scorer = view.subjects.find((x) => x.name === 'weak_ensemble') ?? view.subjects.find((x) => x.name === 'weak');
  const n = view.exampleIds.length;
  if (count <= 0) return { chosen: [], by: '', rule: 'No sample transcripts: the report was asked for none (--samples 0).' };
  if (!scorer || n === 0) {
    const chosen = view.exampleIds.slice(0, count).map((id) => ({ id, right: null, p: null }));
    return { chosen, by: '', rule: `The first ${chosen.length} test examples: no model has predictions on the test split yet.` };
  }
  const scored = view.exampleIds.map((id, i) => {
    const p = scorer.probs[i]!;
    const label = view.labels[i]!;
    return { id, p, right: (p > 0.5 ? 1 : 0) === label, disagreement: Math.abs(p - label) };
  });
  // Stable sorts: equal disagreements keep the examples' order.
  const wrong = scored.filter((x) => !x.right).sort((a, b) => b.disagreement - a.disagreement);
  const right = scored.filter((x) => x.right).sort((a, b) => b.disagreement - a.disagreement);
  let w = Math.min(wrong.length, Math.ceil(count / 2));
  const r = Math.min(right.length, count - w);
  w = Math.min(wrong.length, count - r);
  const chosen = [...wrong.slice(0, w), ...right.slice(0, r)].map(({ id, right: ok, p }) => ({ id, right: ok, p }));
  const by = scorer.label;
  const p = `${by}'s ${scorer.name === 'weak_ensemble' ? 'mean ' : ''}P(label 1)`;
  const mistakes = w === 0
    ? `no disagreement with the gold label (the ${by} is wrong on none)`
    : `the ${w === 1 ? 'largest disagreement' : `${w} largest disagreements`} between the ${p} and the gold label (${w === 1 ? 'a mistake' : 'all mistakes'}, the most confident first)`;
  const rights = r === 0 ? 'no example where it is right (it is right on none)' : `${r} example${r === 1 ? '' : 's'} where it is right, the least sure first (P(label 1) nearest 0.5)`;
  const rule = `Chosen by rule, not by hand: ${mistakes}, and ${rights}. The ${by} is wrong on ${wrong.length} of ${n} test examples.`;
  return { chosen, rule, by };
}

function buildMarkdown(title: string, generated: string, results: RunResult[], sweeps: Sweep[], sections: RunSection[]): string {
  const out = [`# ${title}`, '', `Generated ${generated} by w2s ${W2S_VERSION}. Accuracy and PGR in percent on the test split, ${levelOf(sections)} bootstrap intervals.`, '', markdownTable(FILE_HEADER, fileRows(results, sections)), ''];
  for (const [i, sw] of sweeps.entries()) {
    out.push(`## Debate-turn sweep ${i + 1}`, '', markdownTable(['turns', 'run', accuracyHeader('weak_ensemble'), accuracyHeader('strong'), pgrHeader('strong')], sw.points.map((p) => {
      const r = results.find((x) => x.run === p.run)!;
      return [String(p.turns), p.run.id, pctCI(r.ensemble), pctCI(r.w2s), pgrCell(r.pgr)];
    })), '');
  }
  for (const s of sections) {
    out.push(`## Run ${s.label}`, '', `Database: ${displayPath(s.file)}`, '', ...runDetailsMarkdown(s.metrics, s.run.config));
    const judges = judgesView(s.metrics, s.run.config, s.run.id);
    if (hasJudges(judges)) out.push(`### Judges and judge ensembles: ${s.label}`, '', ...judgesMarkdown(judges));
    const debaters = debatersMarkdown(s.metrics);
    if (debaters.length) out.push(`### Debaters: ${s.label}`, '', ...debaters);
  }
  for (const s of sections) {
    if (s.comparison.bySize.length === 0) continue;
    out.push(`## Accuracy against ensemble size: ${s.label}`, '', markdownTable(['members', 'accuracy %', 'min %', 'max %'], s.comparison.bySize.map((b) => [String(b.size), pct(b.accuracy), pct(b.min), pct(b.max)])), '');
  }
  return out.join('\n');
}

/**
 * Writes the HTML report of the runs in `source` (a database, a results folder, or several of either; see openResults)
 * and, next to it, the Markdown summary (same basename, .md); each via a temp file and rename.
 */
export function writeReport(source: string | readonly string[], outHtml: string, options: ReportOptions = {}): { html: string; markdown: string; report: Report } {
  const paths = typeof source === 'string' ? [source] : source;
  const set = openResults(paths);
  try {
    const named = (paths.length ? paths : [DEFAULT_RESULTS]).map((p) => basename(p)).join(', ');
    const report = buildReport(set, { title: options.title ?? `w2s report: ${named}`, ...options });
    const md = join(dirname(outHtml), `${basename(outHtml, extname(outHtml))}.md`);
    atomicWrite(outHtml, report.html);
    atomicWrite(md, report.markdown);
    return { html: outHtml, markdown: md, report };
  } finally {
    set.close();
  }
}

/**
 * The figures `w2s table --figure` draws, when the runs vary along their axis: accuracy against ensemble size, and per
 * protocol (at the largest ensemble size, when sizes vary too, so each bar is one run). A figure the runs cannot fill
 * unambiguously (say, two seeds at one point) is left out, with the reason.
 */
function acrossRuns(located: readonly LocatedRun[]): string[] {
  const values = (pick: (r: RunInfo) => unknown): unknown[] => [...new Set(located.map((l) => pick(l.run)))];
  const sizes = values((r) => r.config.ensembleSize).filter((v): v is number => typeof v === 'number');
  const largest: Where[] = sizes.length > 1 ? [['ensemble-size', String(Math.max(...sizes))]] : [];
  const figures: [boolean, () => string][] = [
    [sizes.length > 1, () => ensembleSizeFigure(located)],
    [values((r) => r.config.protocol).length > 1, () => protocolsFigure(located, { where: largest })],
  ];
  return figures
    .filter(([varies]) => varies)
    .map(([, draw]) => {
      try {
        return draw();
      } catch (e) {
        if (!isUserError(e)) throw e;
        return `<p class="empty">Not drawn: ${esc(e.message.replace(/;[^;]*--where[^;]*$/, '.'))} <code>w2s table --figure</code> with <code>--where</code> draws a selection.</p>`;
      }
    });
}
