import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { openDb, schemaVersion, type DB, type OpenOptions } from './db.js';
import { SCHEMA_VERSION } from './migrations.js';
import { runsTable, type RunsTable, type RunStatus } from './runs.js';
import { examplesTable, type ExamplesTable } from './examples.js';
import { debatesTable, type DebatesTable } from './debates.js';
import { callsTable, type CallsTable } from './calls.js';
import { cacheTable, type CacheTable } from './cache.js';
import { judgmentsTable, type JudgmentsTable } from './judgments.js';
import { trainedTable, type TrainedTable } from './trained.js';
import { metricsTable, type MetricsTable } from './metrics.js';
import { stagesTable, type StagesTable } from './stages.js';
import { leasesTable, runLiveness, type DisplayedRunStatus, type LeaseRow, type LeasesTable } from './leases.js';
import { limitsTable, type LimitsTable } from './limits.js';
import { batchesTable, type BatchesTable } from './batches.js';

export * from './runs.js';
export * from './examples.js';
export * from './debates.js';
export * from './calls.js';
export * from './cache.js';
export * from './judgments.js';
export * from './trained.js';
export * from './metrics.js';
export * from './stages.js';
export * from './leases.js';
export * from './limits.js';
export * from './batches.js';
export { openDb, schemaVersion, W2S_APPLICATION_ID, type DB, type OpenOptions } from './db.js';
export { SCHEMA_VERSION } from './migrations.js';

/**
 * One open w2s database and its table modules. Each module prepares its statements once, here.
 * The table groups are reachable by name (store.runs.getRun(id)); the calls and cache tables are also the
 * gateway's Ledger and CacheStore.
 */
export class Store {
  readonly runs: RunsTable;
  readonly examples: ExamplesTable;
  readonly debates: DebatesTable;
  readonly calls: CallsTable;
  readonly cache: CacheTable;
  readonly judgments: JudgmentsTable;
  readonly models: TrainedTable;
  readonly metrics: MetricsTable;
  readonly stages: StagesTable;
  /** Who owns (may write) each run: one process at a time. */
  readonly leases: LeasesTable;
  readonly limits: LimitsTable;
  /** Batches sent to a provider's Batch API, so a resumed run polls them instead of submitting again. */
  readonly batches: BatchesTable;

  constructor(
    readonly db: DB,
    readonly file: string,
  ) {
    this.runs = runsTable(db);
    this.examples = examplesTable(db);
    this.debates = debatesTable(db);
    this.calls = callsTable(db);
    this.cache = cacheTable(db);
    this.judgments = judgmentsTable(db);
    this.models = trainedTable(db);
    this.metrics = metricsTable(db);
    this.stages = stagesTable(db);
    this.leases = leasesTable(db);
    this.limits = limitsTable(db);
    this.batches = batchesTable(db);
  }

  get readonly(): boolean {
    return this.db.readonly;
  }

  /**
   * A random id given to this database file the first time it is asked for, kept in its meta table: it names the
   * file wherever it is moved (a copy keeps it too).
   */
  databaseId(): string {
    const get = this.db.prepare("SELECT value FROM meta WHERE key = 'database_id'").pluck();
    const found = get.get() as string | undefined;
    if (found !== undefined) return found;
    this.db.prepare("INSERT INTO meta (key, value) VALUES ('database_id', ?) ON CONFLICT(key) DO NOTHING").run(randomUUID());
    return get.get() as string;
  }

  /** Runs fn in one transaction (nested calls become savepoints): all of its writes land, or none. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Opens (creating and migrating unless read-only) a w2s database file. */
export function openStore(file: string, options: OpenOptions = {}): Store {
  return new Store(openDb(file, options), file);
}

export interface DbRunSummary {
  id: string;
  name: string | null;
  dataset: string | null;
  /** As every view shows it: a "running" run whose process is gone is "stopped (process gone)" (runLiveness). */
  status: DisplayedRunStatus;
  /** What to do about the status (resume a stopped run), or null. */
  hint: string | null;
  createdAt: string;
  finishedAt: string | null;
  examples: number;
  calls: number;
  costUsd: number;
}

export interface DbInfo {
  file: string;
  /** Bytes of the main file plus its -wal file, if any. */
  sizeBytes: number;
  schemaVersion: number;
  /** The schema this w2s writes. */
  supportedSchemaVersion: number;
  /** The w2s version that last migrated the file. */
  w2sVersion: string | null;
  journalMode: string;
  tables: Record<string, number>;
  runs: DbRunSummary[];
}

const TABLES = ['runs', 'examples', 'debates', 'turns', 'calls', 'cache', 'judgments', 'models', 'predictions', 'metrics', 'stages'];

/** What `w2s db info` shows. Opens the file read-only; a missing, foreign or too-new file is a UserError. */
export function dbInfo(file: string): DbInfo {
  const db = openDb(file, { readonly: true });
  try {
    const tables: Record<string, number> = {};
    // Table names come from the fixed list above, never from input.
    for (const t of TABLES) tables[t] = (db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
    const meta = db.prepare("SELECT value FROM meta WHERE key = 'w2s_version'").get() as { value: string } | undefined;
    const runs = db
      .prepare(
        `SELECT r.id, r.name, r.dataset, r.status, r.created_at AS createdAt, r.finished_at AS finishedAt,
           (SELECT COUNT(*) FROM examples e WHERE e.run_id = r.id) AS examples,
           (SELECT COUNT(*) FROM calls c WHERE c.run_id = r.id) AS calls,
           (SELECT COALESCE(SUM(cost_usd), 0) FROM calls c WHERE c.run_id = r.id) AS costUsd,
           l.run_id AS leaseRunId, l.token, l.pid, l.host, l.acquired_at AS acquiredAt, l.heartbeat_at AS heartbeatAt
         FROM runs r LEFT JOIN run_leases l ON l.run_id = r.id ORDER BY r.created_at DESC, r.rowid DESC`,
      )
      .all()
      .map((row) => {
        const { leaseRunId, token, pid, host, acquiredAt, heartbeatAt, status, ...rest } = row as Omit<DbRunSummary, 'status' | 'hint'> &
          Omit<LeaseRow, 'runId'> & { leaseRunId: string | null; status: RunStatus };
        const lease = leaseRunId === null ? undefined : { runId: leaseRunId, token, pid, host, acquiredAt, heartbeatAt };
        const { status: shown, hint } = runLiveness(status, lease);
        return { ...rest, status: shown, hint };
      });
    let sizeBytes = statSync(file).size;
    try {
      sizeBytes += statSync(`${file}-wal`).size;
    } catch {
      /* no WAL file: checkpointed and closed */
    }
    return {
      file,
      sizeBytes,
      schemaVersion: schemaVersion(db),
      supportedSchemaVersion: SCHEMA_VERSION,
      w2sVersion: meta?.value ?? null,
      journalMode: String(db.pragma('journal_mode', { simple: true })),
      tables,
      runs,
    };
  } finally {
    db.close();
  }
}
