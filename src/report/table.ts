import { basename } from 'node:path';
import { UserError } from '../errors.js';
import type { MetricValue, RunInfo } from './queries.js';
import type { LocatedRun } from './results-set.js';
import { describeSubject } from './subjects.js';

/**
 * The paper-shaped table (Table 2: methods × datasets; Table 4: × protocols; Table 5: the ensemble ablation) built
 * from the metrics each run stored when it finished: a cell is one stored accuracy and one stored PGR with their
 * intervals, never a number recomputed here. Pure: the located runs in, a table model out; table-format.ts prints it.
 */

export const AXES = ['method', 'dataset', 'protocol', 'ensemble-size', 'loss', 'seed', 'run'] as const;
export type Axis = (typeof AXES)[number];
export type TableMetric = 'accuracy' | 'pgr' | 'both';

/** A condition on an axis: `--where dataset=sciq`, `--where ensemble-size=4`, `--where method=naive`. */
export type Where = [axis: Axis, value: string];

export interface TableOptions {
  /** Default "method". */
  rows?: Axis;
  /** Default "dataset". */
  cols?: Axis;
  /** Default "both". */
  metric?: TableMetric;
  where?: Where[];
  /** The stored subject the cells show when neither axis is the method (default "strong": the w2s model on the ensemble's labels). */
  subject?: string;
  /** Read the stored means over training seeds (t intervals) instead of the first seed's test-bootstrap numbers. */
  overSeeds?: boolean;
}

/** One value on an axis: its identity, how it is printed, and where it sorts. */
export interface AxisValue {
  key: string;
  label: string;
  sort: [number, string];
}

/** One subject of one run, placed on every axis, with its stored accuracy and PGR. */
export interface Entry {
  located: LocatedRun;
  subject: string;
  /** The weak model and the strong ceiling: shown for reference, never ranked. */
  reference: boolean;
  at: Record<Axis, AxisValue>;
  accuracy: MetricValue | null;
  pgr: MetricValue | null;
}

export interface TableCell {
  accuracy: MetricValue | null;
  pgr: MetricValue | null;
  reference: boolean;
  /** The runs whose stored numbers these are: several when they agree exactly (the same model in several runs). */
  runs: string[];
  best: { accuracy: boolean; pgr: boolean };
}

export interface TableRow {
  key: string;
  label: string;
  cells: (TableCell | null)[];
}

export interface TableModel {
  rowAxis: Axis;
  colAxis: Axis;
  metric: TableMetric;
  columns: { key: string; label: string }[];
  rows: TableRow[];
  /** Whether the best is marked within each row (rows are datasets, or columns are methods) rather than each column. */
  bestAlongRows: boolean;
  /** What the cells hold when neither axis is the method, else null. */
  subject: string | null;
  overSeeds: boolean;
  /** Footnotes: what the numbers are, how the best is marked, what the intervals cover, what was left out. */
  notes: string[];
}

export const AXIS_TITLES: Record<Axis, string> = {
  method: 'method', dataset: 'dataset', protocol: 'protocol', 'ensemble-size': 'ensemble size', loss: 'strong loss', seed: 'seed', run: 'run',
};

/** The models a method row can be: every strong model trained on weak labels, and the two references. */
const SUBJECT_RANK: Record<string, number> = { weak: 0, strong_naive: 1, strong_single: 2, strong_finetune: 3, strong: 4, strong_ceiling: 9 };
const isJudgeTrained = (s: string): boolean => s.startsWith('strong_by_judge:') && !s.includes('@seed');
const isMethodSubject = (s: string): boolean => s in SUBJECT_RANK || isJudgeTrained(s);
const isReference = (s: string): boolean => s === 'weak' || s === 'strong_ceiling';
const rankOf = (s: string): number => SUBJECT_RANK[s] ?? (isJudgeTrained(s) ? 5 : 8);

const DATASETS: Record<string, string> = { sciq: 'SciQ', boolq: 'BoolQ', cosmos_qa: 'CosmosQA', anthropic_hh: 'AnthropicHH' };
const PROTOCOLS = ['debate', 'consultancy', 'market', 'none'];
const LOSSES = ['xent', 'logconf', 'logconf_linear', 'product'];

type Raw = Record<string, any>;
const rawOf = (run: RunInfo): Raw => run.config.raw as Raw;
const strongLoss = (run: RunInfo): string => rawOf(run).strong?.loss ?? 'xent';
const listed = (list: string[], v: string): number => (list.includes(v) ? list.indexOf(v) : list.length);

/** Where a run sits on each axis but the method (which depends on the subject). */
function axisValues(located: LocatedRun): Omit<Record<Axis, AxisValue>, 'method'> {
  const { run, file } = located;
  const raw = rawOf(run);
  const name = run.dataset ?? raw.dataset?.name ?? '?';
  const path = typeof raw.dataset?.path === 'string' ? raw.dataset.path : '';
  // jsonl datasets differ by file, so the file is part of the identity and its name is the label.
  const dataset = name === 'jsonl' && path
    ? { key: `jsonl:${path}`, label: basename(path), sort: [Object.keys(DATASETS).length, basename(path)] as [number, string] }
    : { key: name, label: DATASETS[name] ?? name, sort: [listed(Object.keys(DATASETS), name), name] as [number, string] };
  const protocol = run.config.protocol ?? '?';
  const size = run.config.ensembleSize;
  const loss = strongLoss(run);
  const seed = typeof raw.seed === 'number' ? raw.seed : 0;
  return {
    dataset,
    protocol: { key: protocol, label: protocol, sort: [listed(PROTOCOLS, protocol), protocol] },
    'ensemble-size': { key: String(size ?? '?'), label: size === undefined ? 'ensemble of ?' : `ensemble of ${size}`, sort: [size ?? Infinity, ''] },
    loss: { key: loss, label: loss, sort: [listed(LOSSES, loss), loss] },
    seed: { key: String(seed), label: `seed ${seed}`, sort: [seed, ''] },
    run: { key: `${file}#${run.id}`, label: run.id, sort: [0, `${run.createdAt} ${run.id}`] },
  };
}

/**
 * What a row is, in the vocabulary every view shares (subjects.ts): the long label of the subject, which says the
 * strong model's supervision, with the ensemble's kind, size and protocol, and the strong loss when it is not xent,
 * except for what an axis of the table already says.
 */
export function methodLabel(subject: string, run: RunInfo, shown: ReadonlySet<Axis>): string {
  return describeSubject(subject, run.config, { protocol: shown.has('protocol'), ensembleSize: shown.has('ensemble-size'), loss: shown.has('loss') });
}

/** The metric names cells read: the first training seed's (test bootstrap), or the means over training seeds. */
const metricNames = (overSeeds: boolean) => (overSeeds ? { accuracy: 'accuracy_over_seeds', pgr: 'pgr_over_seeds' } : { accuracy: 'accuracy', pgr: 'pgr' });

export interface Collected {
  entries: Entry[];
  /** Runs that stored no metrics for these subjects (not finished, or one training seed under overSeeds). */
  without: LocatedRun[];
  /** Runs that trained several seeds (their first seed's models are shown unless overSeeds). */
  multiSeed: LocatedRun[];
}

/**
 * Every subject `pick` accepts, of every run, with its stored metrics, placed on the axes. `shown` are the axes of the
 * table or figure (the method label leaves out what they say).
 */
export function collectEntries(runs: readonly LocatedRun[], opts: { pick: (subject: string) => boolean; shown: ReadonlySet<Axis>; where?: Where[]; overSeeds?: boolean }): Collected {
  const names = metricNames(opts.overSeeds ?? false);
  const out: Collected = { entries: [], without: [], multiSeed: [] };
  for (const located of runs) {
    const metrics = located.q.metrics(located.run.id);
    if (metrics.some((m) => m.name === 'accuracy_over_seeds')) out.multiSeed.push(located);
    const bySubject = new Map<string, { accuracy: MetricValue | null; pgr: MetricValue | null }>();
    for (const m of metrics) {
      if (!opts.pick(m.subject) || (m.name !== names.accuracy && m.name !== names.pgr)) continue;
      const slot = bySubject.get(m.subject) ?? { accuracy: null, pgr: null };
      slot[m.name === names.accuracy ? 'accuracy' : 'pgr'] = m;
      bySubject.set(m.subject, slot);
    }
    if (bySubject.size === 0) out.without.push(located);
    const axes = axisValues(located);
    for (const [subject, stored] of bySubject) {
      const label = methodLabel(subject, located.run, opts.shown);
      // Methods sort as in the paper (weak, naive, …, ensembles, judges, ceiling), then by ensemble size and protocol.
      const order = rankOf(subject) * 1e6 + (located.run.config.ensembleSize ?? 0) * 10 + axes.protocol.sort[0];
      const entry: Entry = { located, subject, reference: isReference(subject), ...stored, at: { ...axes, method: { key: label, label, sort: [order, label] } } };
      if ((opts.where ?? []).every((w) => matches(entry, w))) out.entries.push(entry);
    }
  }
  return out;
}

/** An axis value matches by key or label (any case); a method also by part of its label, a run by a prefix of its id. */
function matches(e: Entry, [axis, value]: Where): boolean {
  const v = e.at[axis];
  const want = value.toLowerCase();
  if (v.key.toLowerCase() === want || v.label.toLowerCase() === want) return true;
  if (axis === 'method') return v.label.toLowerCase().includes(want) || e.subject === value;
  if (axis === 'run') return v.label.startsWith(value);
  return false;
}

export const compareSort = (a: AxisValue, b: AxisValue): number => a.sort[0] - b.sort[0] || a.sort[1].localeCompare(b.sort[1], 'en', { numeric: true });

/** The distinct values of an axis among entries, in display order. */
export function axisOrder(entries: readonly Entry[], axis: Axis): AxisValue[] {
  const byKey = new Map<string, AxisValue>();
  for (const e of entries) if (!byKey.has(e.at[axis].key)) byKey.set(e.at[axis].key, e.at[axis]);
  return [...byKey.values()].sort(compareSort);
}

const sameMetric = (a: MetricValue | null, b: MetricValue | null): boolean =>
  a === null || b === null ? a === b : a.value === b.value && a.lo === b.lo && a.hi === b.hi && a.n === b.n && a.note === b.note;

/**
 * The one entry of a cell. Entries that store exactly the same numbers are one model seen from several runs (the weak
 * model of runs that differ only in ensemble size) and are shown once; different numbers are never averaged or
 * picked between: that is a UserError saying how to tell the runs apart.
 */
export function oneEntry(entries: readonly Entry[], where: string, fix: { axes: boolean; shown: ReadonlySet<Axis> }): { entry: Entry; runs: string[] } {
  const differ = (a: Entry, b: Entry): boolean => !sameMetric(a.accuracy, b.accuracy) || !sameMetric(a.pgr, b.pgr);
  if (entries.some((e) => differ(entries[0]!, e))) {
    // Of the pairs that disagree, the one with the fewest config differences says best what separates them.
    const pairs = entries.flatMap((a, i) => entries.slice(i + 1).filter((b) => differ(a, b)).map((b) => [a, b] as const));
    const distance = ([a, b]: readonly [Entry, Entry]): number => configDifferences(a.located.run.config.raw, b.located.run.config.raw).length;
    const [a, b] = pairs.reduce((best, p) => (distance(p) < distance(best) ? p : best));
    throw conflict(a, b, where, fix);
  }
  return { entry: entries[0]!, runs: [...new Set(entries.map((e) => e.located.run.id))] };
}

/** Config fields that say how a run went, not what it computed, and so never tell two results apart. */
const NOT_IDENTITY = new Set(['name', 'description', '$schema', 'gateway', 'limits', 'audit']);

/** The config fields (dotted paths) whose values differ between two raw configs. */
export function configDifferences(a: unknown, b: unknown, path = ''): string[] {
  const isObj = (x: unknown): x is Raw => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (!isObj(a) || !isObj(b)) return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => path || !NOT_IDENTITY.has(k)).sort();
  return keys.flatMap((k) => configDifferences(a[k], b[k], path ? `${path}.${k}` : k));
}

/** The axis that separates runs differing in a config field, if there is one. */
function axisOfField(field: string): Axis | undefined {
  if (field === 'seed' || field === 'seeds') return 'seed';
  if (field === 'debate.protocol') return 'protocol';
  if (field === 'weak.ensemble.size') return 'ensemble-size';
  if (field === 'strong.loss') return 'loss';
  if (field.startsWith('dataset.')) return 'dataset';
  return undefined;
}

function conflict(a: Entry, b: Entry, where: string, fix: { axes: boolean; shown: ReadonlySet<Axis> }): UserError {
  const [ra, rb] = [a.located.run, b.located.run];
  const fields = configDifferences(ra.config.raw, rb.config.raw);
  const axis = fields.map(axisOfField).find((x): x is Axis => x !== undefined && !fix.shown.has(x));
  const why = fields.length ? `they differ in ${fields.slice(0, 3).join(', ')}${fields.length > 3 ? ', …' : ''}` : 'their configs are the same';
  const how = axis
    ? `${fix.axes ? `add --rows or --cols ${axis}, or ` : ''}keep one with --where ${axis}=<value>`
    : `${fix.axes ? 'show them side by side with --cols run, or ' : ''}keep one with --run <id>`;
  return new UserError(`Runs ${ra.id} and ${rb.id} both fill ${where} with different numbers (${why}): ${how}.`);
}

/** Builds the table from the runs' stored metrics. A cell two runs fill with different numbers is a UserError. */
export function buildTable(runs: readonly LocatedRun[], options: TableOptions = {}): TableModel {
  const rowAxis = options.rows ?? 'method';
  const colAxis = options.cols ?? 'dataset';
  const metric = options.metric ?? 'both';
  const overSeeds = options.overSeeds ?? false;
  if (rowAxis === colAxis) throw new UserError(`--rows and --cols are both ${rowAxis}; give them different axes (${AXES.join(', ')}).`);
  const shown = new Set<Axis>([rowAxis, colAxis]);
  const methodShown = shown.has('method');
  if (methodShown && options.subject) throw new UserError('--subject picks what the cells show when neither axis is the method; with --rows or --cols method every method is a row already, so drop --subject.');
  const subject = methodShown ? null : options.subject ?? 'strong';
  const pick = subject === null ? isMethodSubject : (s: string) => s === subject;
  const { entries, without, multiSeed } = collectEntries(runs, { pick, shown, where: options.where, overSeeds });
  if (entries.length === 0) {
    const what = subject === null ? 'accuracy' : `${subject} metrics`;
    throw new UserError(`No run here has stored ${overSeeds ? 'means over training seeds' : what}${options.where?.length ? ' that match --where' : ''}; finish a run with \`w2s run\`${overSeeds ? ' (with several `seeds`)' : ''}, or loosen the filters.`);
  }

  const rowValues = axisOrder(entries, rowAxis);
  const colValues = axisOrder(entries, colAxis);
  let merged = false;
  const rows: TableRow[] = rowValues.map((r) => ({
    key: r.key,
    label: r.label,
    cells: colValues.map((c) => {
      const here = entries.filter((e) => e.at[rowAxis].key === r.key && e.at[colAxis].key === c.key);
      if (here.length === 0) return null;
      const { entry, runs: ids } = oneEntry(here, `the cell ${r.label} × ${c.label}`, { axes: true, shown });
      merged ||= ids.length > 1;
      return { accuracy: entry.accuracy, pgr: entry.pgr, reference: entry.reference, runs: ids, best: { accuracy: false, pgr: false } };
    }),
  }));

  const bestAlongRows = colAxis === 'method' || (rowAxis === 'dataset' && !methodShown);
  markBest(rows, bestAlongRows);
  const model: TableModel = {
    rowAxis, colAxis, metric, columns: colValues.map((c) => ({ key: c.key, label: c.label })), rows, bestAlongRows, subject, overSeeds, notes: [],
  };
  model.notes = tableNotes(model, { merged, without, multiSeed, subjectLabel: subject === null ? null : axisOrder(entries, 'method').map((v) => v.label).join('; or ') });
  return model;
}

/** Marks the highest point estimate of each column (or row) among the methods; ties are all marked. */
function markBest(rows: TableRow[], alongRows: boolean): void {
  const groups: TableCell[][] = alongRows
    ? rows.map((r) => r.cells.filter((c): c is TableCell => c !== null))
    : (rows[0]?.cells ?? []).map((_, j) => rows.map((r) => r.cells[j]).filter((c): c is TableCell => c !== null && c !== undefined));
  for (const group of groups) {
    for (const name of ['accuracy', 'pgr'] as const) {
      const ranked = group.filter((c) => !c.reference && c[name]?.value != null);
      const top = Math.max(...ranked.map((c) => c[name]!.value!));
      for (const c of ranked) if (c[name]!.value === top) c.best[name] = true;
    }
  }
}

/** "95% percentile bootstrap over test examples (1000 resamples)": what a stored interval covers, without the counts. */
export function intervalText(m: MetricValue): string {
  const level = `${Math.round((m.level ?? 0.95) * 100)}%`;
  const method = m.method ?? 'interval';
  // covers carries its counts ("test examples (200)"); n is printed per cell, so the kind of variance is enough here.
  const covers = (m.covers ?? '').replace(/\s*\([^()]*\)\s*$/, '');
  const over = method.includes(' over ') || !covers ? '' : ` over ${covers}`;
  return `${level} ${method}${over}${m.resamples ? ` (${m.resamples} resamples)` : ''}`;
}

/** Which intervals the cells of one metric carry: one sentence, naming the columns when they differ. */
function intervalNote(model: TableModel, name: 'accuracy' | 'pgr', title: string): string | null {
  const where = new Map<string, Set<string>>();
  for (const row of model.rows) {
    row.cells.forEach((cell, j) => {
      const m = cell?.[name];
      if (!m || m.lo === null || m.hi === null) return;
      const text = intervalText(m);
      const at = where.get(text) ?? new Set<string>();
      at.add(model.bestAlongRows ? row.label : model.columns[j]!.label);
      where.set(text, at);
    });
  }
  if (where.size === 0) return null;
  if (where.size === 1) return `${title} intervals: ${[...where.keys()][0]}.`;
  return `${title} intervals differ between cells: ${[...where].map(([text, at]) => `${text} in ${[...at].join(', ')}`).join('; ')}.`;
}

function tableNotes(model: TableModel, o: { merged: boolean; without: LocatedRun[]; multiSeed: LocatedRun[]; subjectLabel: string | null }): string[] {
  const what = model.metric === 'both' ? 'Test accuracy and PGR' : model.metric === 'accuracy' ? 'Test accuracy' : 'PGR';
  const level = model.rows.flatMap((r) => r.cells).find((c) => c?.accuracy?.level ?? c?.pgr?.level);
  const pctLevel = `${Math.round((level?.accuracy?.level ?? level?.pgr?.level ?? 0.95) * 100)}%`;
  const n = model.overSeeds ? 'n = training seeds' : 'n = test examples';
  const notes = [
    `${what} in percent with ${pctLevel} intervals, as each run stored them${model.overSeeds ? ': means over training seeds' : ''}; ${n}.${o.subjectLabel ? ` Every cell: ${o.subjectLabel}.` : ''}`,
  ];
  const along = model.bestAlongRows ? 'row' : 'column';
  const among = o.subjectLabel ? '' : ' among the methods';
  const refs = o.subjectLabel ? '' : '; the weak model and the strong ceiling are references, not ranked';
  notes.push(`Bold: the highest point estimate in each ${along}${among} (ties all marked${refs}); a mark is not a significance test.`);
  for (const [name, title] of [['accuracy', 'Accuracy'], ['pgr', 'PGR']] as const) {
    const note = model.metric === 'both' || model.metric === name ? intervalNote(model, name, title) : null;
    if (note) notes.push(note);
  }
  if (model.metric !== 'accuracy') {
    notes.push('PGR is n/a, with the stored reason, where the ceiling − weak gap was not significant or the ceiling was not above the weak model.');
  }
  if (o.merged) notes.push('Where several runs store exactly the same numbers for a cell (the same model, e.g. the weak model of runs that differ only in ensemble size), it is shown once.');
  if (!model.overSeeds && o.multiSeed.length) notes.push(`${o.multiSeed.length > 1 ? 'Runs' : 'Run'} ${o.multiSeed.map((r) => r.run.id).join(', ')} trained several seeds: their cells are the first seed's models (--over-seeds shows the means over seeds).`);
  if (o.without.length) notes.push(`Left out, nothing stored to show${model.overSeeds ? ' (no means over seeds)' : ''}: ${o.without.map((r) => `${r.run.id} (${r.run.status})`).join(', ')}.`);
  return notes;
}
