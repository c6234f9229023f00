import type { DB } from './db.js';

/**
 * Batches sent to a provider's Batch API (schema 7), kept so a run killed while one is in flight polls it on resume
 * instead of submitting its requests again. See src/models/batch.ts for the lifecycle.
 */

/** request_counts as the provider reports them. */
export interface BatchCounts {
  total: number;
  completed: number;
  failed: number;
}

/** Where a batch stands: 'submitting' until the provider created it, its status as last polled, then 'done' or 'abandoned'. */
export type StoredBatchStatus = 'submitting' | 'done' | 'abandoned' | string;

/** One request of a batch: its custom_id, the hash its ledger row is keyed by, and the cache keys it answers, in order. */
export interface BatchRequestRow {
  customId: string;
  requestHash: string;
  keys: string[];
}

export interface StoredBatch {
  id: number;
  runId: string | null;
  model: string;
  endpoint: string;
  inputFileId: string | null;
  batchId: string | null;
  status: StoredBatchStatus;
  requests: number;
  counts: BatchCounts | null;
  outputFileId: string | null;
  errorFileId: string | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface BatchUpdate {
  status: string;
  counts?: BatchCounts | null;
  outputFileId?: string | null;
  errorFileId?: string | null;
  error?: string | null;
}

export interface BatchesTable {
  /** Stores a batch about to be submitted (status 'submitting') with its requests, in one transaction; its local id. */
  createBatch(b: { runId: string | null; model: string; endpoint: string; requests: readonly BatchRequestRow[] }): number;
  setInputFile(id: number, inputFileId: string): void;
  /** The provider created the batch: its id and first status. */
  setCreated(id: number, batchId: string, status: string): void;
  /** What the last poll said. */
  updateBatch(id: number, u: BatchUpdate): void;
  /** Its results are stored ('done'), or it was never created and its requests go elsewhere ('abandoned'). */
  finishBatch(id: number, status: 'done' | 'abandoned', error?: string | null): void;
  /**
   * The run's batches that are neither done nor abandoned, for this model and endpoint, with their requests; those
   * whose local id is in `except` (already followed) are left out before their requests are read.
   */
  openBatches(runId: string | null, model: string, endpoint: string, except?: ReadonlySet<number>): { batch: StoredBatch; requests: BatchRequestRow[] }[];
  /** Every batch of the run, oldest first. */
  listBatches(runId: string | null): StoredBatch[];
}

interface RawBatch {
  id: number;
  run_id: string | null;
  model: string;
  endpoint: string;
  input_file_id: string | null;
  batch_id: string | null;
  status: string;
  requests: number;
  counts_json: string | null;
  output_file_id: string | null;
  error_file_id: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

function toBatch(r: RawBatch): StoredBatch {
  return {
    id: r.id,
    runId: r.run_id,
    model: r.model,
    endpoint: r.endpoint,
    inputFileId: r.input_file_id,
    batchId: r.batch_id,
    status: r.status,
    requests: r.requests,
    counts: r.counts_json === null ? null : (JSON.parse(r.counts_json) as BatchCounts),
    outputFileId: r.output_file_id,
    errorFileId: r.error_file_id,
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

export function batchesTable(db: DB): BatchesTable {
  const insert = db.prepare(
    `INSERT INTO batches (run_id, model, endpoint, status, requests, created_at, updated_at) VALUES (?, ?, ?, 'submitting', ?, ?, ?)`,
  );
  const insertRequest = db.prepare('INSERT INTO batch_requests (batch, custom_id, request_hash, position, cache_key) VALUES (?, ?, ?, ?, ?)');
  const setFile = db.prepare('UPDATE batches SET input_file_id = ?, updated_at = ? WHERE id = ?');
  const setCreated = db.prepare('UPDATE batches SET batch_id = ?, status = ?, updated_at = ? WHERE id = ?');
  const update = db.prepare(
    `UPDATE batches SET status = @status, counts_json = COALESCE(@counts, counts_json), output_file_id = COALESCE(@output, output_file_id),
       error_file_id = COALESCE(@errorFile, error_file_id), error = COALESCE(@error, error), updated_at = @now WHERE id = @id`,
  );
  const finish = db.prepare('UPDATE batches SET status = ?, error = COALESCE(?, error), updated_at = ?, finished_at = ? WHERE id = ?');
  const open = db.prepare(
    `SELECT * FROM batches WHERE run_id IS ? AND model = ? AND endpoint = ? AND status NOT IN ('done', 'abandoned') ORDER BY id`,
  );
  const requestsOf = db.prepare('SELECT custom_id, request_hash, position, cache_key FROM batch_requests WHERE batch = ? ORDER BY custom_id, position');
  const list = db.prepare('SELECT * FROM batches WHERE run_id IS ? ORDER BY id');
  const now = () => new Date().toISOString();

  const create = db.transaction((b: { runId: string | null; model: string; endpoint: string; requests: readonly BatchRequestRow[] }): number => {
    const t = now();
    const id = Number(insert.run(b.runId, b.model, b.endpoint, b.requests.length, t, t).lastInsertRowid);
    for (const r of b.requests) r.keys.forEach((key, position) => insertRequest.run(id, r.customId, r.requestHash, position, key));
    return id;
  });

  const readRequests = (id: number): BatchRequestRow[] => {
    const rows = requestsOf.all(id) as { custom_id: string; request_hash: string; position: number; cache_key: string }[];
    const out = new Map<string, BatchRequestRow>();
    for (const r of rows) {
      let req = out.get(r.custom_id);
      if (!req) out.set(r.custom_id, (req = { customId: r.custom_id, requestHash: r.request_hash, keys: [] }));
      req.keys[r.position] = r.cache_key;
    }
    return [...out.values()];
  };

  return {
    createBatch: (b) => create(b),
    setInputFile(id, inputFileId) {
      setFile.run(inputFileId, now(), id);
    },
    setCreated(id, batchId, status) {
      setCreated.run(batchId, status, now(), id);
    },
    updateBatch(id, u) {
      update.run({
        id,
        status: u.status,
        counts: u.counts ? JSON.stringify(u.counts) : null,
        output: u.outputFileId ?? null,
        errorFile: u.errorFileId ?? null,
        error: u.error ?? null,
        now: now(),
      });
    },
    finishBatch(id, status, error = null) {
      const t = now();
      finish.run(status, error, t, t, id);
    },
    openBatches(runId, model, endpoint, except) {
      const rows = (open.all(runId, model, endpoint) as RawBatch[]).filter((r) => !except?.has(r.id));
      return rows.map((r) => ({ batch: toBatch(r), requests: readRequests(r.id) }));
    },
    listBatches(runId) {
      return (list.all(runId) as RawBatch[]).map(toBatch);
    },
  };
}
