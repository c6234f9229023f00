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
}

function toMetric(r: RawMetric): MetricRow {
  return { runId: r.run_id, subject: r.subject, name: r.name, value: r.value, lo: r.lo, hi: r.hi, n: r.n, note: r.note };
}

/** SQLite stores NaN as NULL; say so explicitly so a non-finite value reads back as null, not as a surprise. */
const finite = (x: number | null | undefined): number | null => (x === undefined || x === null || !Number.isFinite(x) ? null : x);

export function metricsTable(db: DB): MetricsTable {
  const upsert = db.prepare(
    `INSERT INTO metrics (run_id, subject, name, value, lo, hi, n, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(run_id, subject, name) DO UPDATE SET value = excluded.value, lo = excluded.lo, hi = excluded.hi,
       n = excluded.n, note = excluded.note`,
  );
  const one = db.prepare('SELECT * FROM metrics WHERE run_id = ? AND subject = ? AND name = ?');
  const list = db.prepare(
    'SELECT * FROM metrics WHERE run_id = @runId AND (@subject IS NULL OR subject = @subject) ORDER BY subject, name',
  );
  const put = (m: MetricRow): void =>
    void upsert.run(m.runId, m.subject, m.name, finite(m.value), finite(m.lo), finite(m.hi), m.n ?? null, m.note ?? null);
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
