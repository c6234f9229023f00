import type { DB } from './db.js';

export interface MetricRow {
  runId: string;
  /** What is measured, e.g. "weak", "strong_w2s", "debate_ensemble". */
  subject: string;
  /** e.g. "accuracy", "auroc", "pgr". */
  name: string;
  /** null where the value is undefined (PGR with ceiling <= weak). */
  value: number | null;
  /** Interval bounds, when computed. */
  lo?: number | null;
  hi?: number | null;
  n?: number | null;
  note?: string | null;
  /** How the interval was computed, e.g. "percentile bootstrap", "clustered percentile bootstrap", "t over seeds". */
  method?: string | null;
  level?: number | null;
  resamples?: number | null;
  /** Resamples where the statistic was undefined; reported, never dropped silently. */
  undefinedResamples?: number | null;
  /** The seed of the resampling, so the interval can be recomputed exactly. */
  seed?: number | null;
  /** Which variance the interval covers, in words (e.g. "test examples", "test passages", "training seeds"). */
  covers?: string | null;
}

export interface MetricsTable {
  /** Inserts or replaces the metric (run, subject, name). */
  upsertMetric(m: MetricRow): void;
  /** Many metrics in one transaction. */
  upsertMetrics(rows: readonly MetricRow[]): void;
  getMetric(runId: string, subject: string, name: string): MetricRow | undefined;
  listMetrics(runId: string, subject?: string): MetricRow[];
}

interface RawMetric {
  run_id: string;
  subject: string;
  name: string;
  value: number | null;
  lo: number | null;
  hi: number | null;
  n: number | null;
  note: string | null;
  method: string | null;
  level: number | null;
  resamples: number | null;
  undefined_resamples: number | null;
  seed: number | null;
  covers: string | null;
}

function toMetric(r: RawMetric): MetricRow {
  return {
    runId: r.run_id, subject: r.subject, name: r.name, value: r.value, lo: r.lo, hi: r.hi, n: r.n, note: r.note,
    method: r.method, level: r.level, resamples: r.resamples, undefinedResamples: r.undefined_resamples, seed: r.seed, covers: r.covers,
  };
}

/** SQLite stores NaN as NULL; say so explicitly so a non-finite value reads back as null, not as a surprise. */
const finite = (x: number | null | undefined): number | null => (x === undefined || x === null || !Number.isFinite(x) ? null : x);

export function metricsTable(db: DB): MetricsTable {
  const upsert = db.prepare(
    `INSERT INTO metrics (run_id, subject, name, value, lo, hi, n, note, method, level, resamples, undefined_resamples, seed, covers)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(run_id, subject, name) DO UPDATE SET value = excluded.value, lo = excluded.lo, hi = excluded.hi,
       n = excluded.n, note = excluded.note, method = excluded.method, level = excluded.level, resamples = excluded.resamples,
       undefined_resamples = excluded.undefined_resamples, seed = excluded.seed, covers = excluded.covers`,
  );
  const one = db.prepare('SELECT * FROM metrics WHERE run_id = ? AND subject = ? AND name = ?');
  const list = db.prepare(
    'SELECT * FROM metrics WHERE run_id = @runId AND (@subject IS NULL OR subject = @subject) ORDER BY subject, name',
  );
  const put = (m: MetricRow): void =>
    void upsert.run(
      m.runId, m.subject, m.name, finite(m.value), finite(m.lo), finite(m.hi), m.n ?? null, m.note ?? null,
      m.method ?? null, finite(m.level), m.resamples ?? null, m.undefinedResamples ?? null, m.seed ?? null, m.covers ?? null,
    );
  const many = db.transaction((rows: readonly MetricRow[]) => rows.forEach(put));

  return {
    upsertMetric: put,
    upsertMetrics: (rows) => many(rows),
    getMetric(runId, subject, name) {
      const r = one.get(runId, subject, name) as RawMetric | undefined;
      return r && toMetric(r);
    },
    listMetrics: (runId, subject) => (list.all({ runId, subject: subject ?? null }) as RawMetric[]).map(toMetric),
  };
}

/** The method of stored on_frontier rows (judges and judge ensembles), by cost axis: views read the axis from it. */
export const FRONTIER_METHOD = { usd: 'accuracy–cost frontier (USD per judged example)', tokens: 'accuracy–cost frontier (tokens per judged example)' } as const;
