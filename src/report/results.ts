import { canonicalJson } from '../hash.js';
import type { Interval } from './analysis.js';
import type { MetricValue, ReportQueries, RunInfo } from './queries.js';

/** The headline numbers of one run, read from the metrics the pipeline stored (null where not computed yet). */
export interface RunResult {
  run: RunInfo;
  n: number | null;
  weak: Interval;
  ensemble: Interval;
  naive: Interval;
  w2s: Interval;
  ceiling: Interval;
  pgr: Interval & { note: string | null };
  pgrNaive: Interval & { note: string | null };
}

const NONE: Interval = { value: null, lo: null, hi: null };

export function runResult(q: ReportQueries, run: RunInfo, metrics: MetricValue[] = q.metrics(run.id)): RunResult {
  const get = (subject: string, name: string): MetricValue | undefined => metrics.find((m) => m.subject === subject && m.name === name);
  const iv = (subject: string, name = 'accuracy'): Interval => {
    const m = get(subject, name);
    return m ? { value: m.value, lo: m.lo, hi: m.hi } : NONE;
  };
  const withNote = (subject: string): Interval & { note: string | null } => ({ ...iv(subject, 'pgr'), note: get(subject, 'pgr')?.note ?? null });
  return {
    run,
    n: get('weak', 'accuracy')?.n ?? null,
    weak: iv('weak'),
    ensemble: iv('weak_ensemble'),
    naive: iv('strong_naive'),
    w2s: iv('strong'),
    ceiling: iv('strong_ceiling'),
    pgr: withNote('strong'),
    pgrNaive: withNote('strong_naive'),
  };
}

/** The results of many runs, their metrics read in one query rather than one per run. */
export function runResults(q: ReportQueries, runs: RunInfo[]): RunResult[] {
  const byRun = q.metricsByRun();
  return runs.map((run) => runResult(q, run, byRun.get(run.id) ?? []));
}

export const pct = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : (100 * v).toFixed(digits));

/** "85.0 [80.1, 89.2]" in percent, or "n/a". */
export function pctCI(i: Interval): string {
  if (i.value === null) return 'n/a';
  return i.lo === null || i.hi === null ? pct(i.value) : `${pct(i.value)} [${pct(i.lo)}, ${pct(i.hi)}]`;
}

export const RESULT_HEADER = ['run', 'dataset', 'n test', 'weak %', 'ensemble %', 'naive w2s %', 'w2s %', 'ceiling %', 'PGR %', 'naive PGR %'];

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
    r.pgr.value === null && r.pgr.note ? 'undefined' : pctCI(r.pgr),
    r.pgrNaive.value === null && r.pgrNaive.note ? 'undefined' : pctCI(r.pgrNaive),
  ]);
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
