import type { DB } from './db.js';

export type CallKind = 'generate' | 'embed';

/** One logical model call, as the gateway records it. A cache hit is a call too (cacheHit, attempts 0, cost 0). */
export interface CallRecord {
  runId: string | null;
  role: string;
  /** The client id (canonical model spec). */
  model: string;
  kind: CallKind;
  requestHash: string;
  cacheHit: boolean;
  attempts: number;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  finishReason?: string | null;
  /** The final error's message when the call failed. */
  error?: string | null;
}

export interface CallRow extends Required<CallRecord> {
  id: number;
  createdAt: string;
}

/** What the gateway needs to record calls; implemented by the calls table. */
export interface Ledger {
  insertCall(row: CallRecord): number;
  /** Whether the run's ledger already holds a successful backend call (not a cache hit) for this request. */
  hasPaidCall(runId: string | null, requestHash: string): boolean;
}

export interface LedgerTotals {
  calls: number;
  hits: number;
  errors: number;
  attempts: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  latencyMs: number;
}

export interface LedgerGroup extends LedgerTotals {
  role: string;
  model: string;
  kind: CallKind;
}

export interface LedgerSummary {
  total: LedgerTotals;
  byRoleModel: LedgerGroup[];
}

export interface CallsTable extends Ledger {
  getCall(id: number): CallRow | undefined;
  /** Calls of a run in order; optionally one role, at most `limit` rows. */
  listCalls(runId: string, options?: { role?: string; limit?: number }): CallRow[];
  /** Totals for a run (or for calls made outside any run when runId is null), and per role/model/kind. */
  ledgerSummary(runId: string | null): LedgerSummary;
}

interface RawCall {
  id: number;
  run_id: string | null;
  role: string;
  model: string;
  kind: CallKind;
  request_hash: string;
  cache_hit: 0 | 1;
  attempts: number;
  latency_ms: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  finish_reason: string | null;
  error: string | null;
  created_at: string;
}

function toCall(r: RawCall): CallRow {
  return {
    id: r.id,
    runId: r.run_id,
    role: r.role,
    model: r.model,
    kind: r.kind,
    requestHash: r.request_hash,
    cacheHit: r.cache_hit === 1,
    attempts: r.attempts,
    latencyMs: r.latency_ms,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    costUsd: r.cost_usd,
    finishReason: r.finish_reason,
    error: r.error,
    createdAt: r.created_at,
  };
}

const TOTALS = `COUNT(*) AS calls, COALESCE(SUM(cache_hit), 0) AS hits,
  COALESCE(SUM(error IS NOT NULL), 0) AS errors, COALESCE(SUM(attempts), 0) AS attempts,
  COALESCE(SUM(input_tokens), 0) AS inputTokens, COALESCE(SUM(output_tokens), 0) AS outputTokens,
  COALESCE(SUM(cost_usd), 0) AS costUsd, COALESCE(SUM(latency_ms), 0) AS latencyMs`;

export function callsTable(db: DB): CallsTable {
  const insert = db.prepare(
    `INSERT INTO calls (run_id, role, model, kind, request_hash, cache_hit, attempts, latency_ms, input_tokens,
       output_tokens, cost_usd, finish_reason, error, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const byId = db.prepare('SELECT * FROM calls WHERE id = ?');
  const paid = db.prepare('SELECT 1 FROM calls WHERE request_hash = ? AND run_id IS ? AND cache_hit = 0 AND error IS NULL LIMIT 1');
  const list = db.prepare(
    'SELECT * FROM calls WHERE run_id = @runId AND (@role IS NULL OR role = @role) ORDER BY id LIMIT @limit',
  );
  // "run_id IS ?" matches NULL too, so calls made outside a run can be summarised the same way.
  const total = db.prepare(`SELECT ${TOTALS} FROM calls WHERE run_id IS ?`);
  const grouped = db.prepare(
    `SELECT role, model, kind, ${TOTALS} FROM calls WHERE run_id IS ? GROUP BY role, model, kind ORDER BY role, model, kind`,
  );

  return {
    insertCall(r) {
      const info = insert.run(
        r.runId,
        r.role,
        r.model,
        r.kind,
        r.requestHash,
        r.cacheHit ? 1 : 0,
        r.attempts,
        r.latencyMs,
        r.inputTokens,
        r.outputTokens,
        r.costUsd,
        r.finishReason ?? null,
        r.error ?? null,
        new Date().toISOString(),
      );
      return Number(info.lastInsertRowid);
    },
    hasPaidCall(runId, requestHash) {
      return paid.get(requestHash, runId) !== undefined;
    },
    getCall(id) {
      const r = byId.get(id) as RawCall | undefined;
      return r && toCall(r);
    },
    listCalls(runId, options = {}) {
      return (list.all({ runId, role: options.role ?? null, limit: options.limit ?? -1 }) as RawCall[]).map(toCall);
    },
    ledgerSummary(runId) {
      return {
        total: total.get(runId) as LedgerTotals,
        byRoleModel: grouped.all(runId) as LedgerGroup[],
      };
    },
  };
}
