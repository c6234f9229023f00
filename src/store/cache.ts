import type { DB } from './db.js';
import type { CallKind } from './calls.js';

/** What the gateway needs from a response cache; implemented by the cache table (in a run's DB or a shared file). */
export interface CacheStore {
  /** The stored response, or undefined on a miss. A hit is counted. */
  getCached(key: string): unknown;
  /** Stores a response; an existing entry for the key is kept (first write wins). paidByRun: the run that paid for it. */
  putCached(key: string, kind: CallKind, model: string, response: unknown, paidByRun?: string | null): void;
  /** Like getCached, with the run that paid for the entry (null when unknown). */
  getCachedEntry(key: string): { response: unknown; paidByRun: string | null } | undefined;
}

export interface CacheModelStats {
  model: string;
  kind: CallKind;
  entries: number;
  bytes: number;
  hits: number;
}

export interface CacheStats {
  entries: number;
  /** Bytes of keys and stored JSON (not the file size). */
  bytes: number;
  hits: number;
  byModel: CacheModelStats[];
}

export interface CacheTable extends CacheStore {
  cacheStats(): CacheStats;
  /**
   * Deletes entries and returns how many. With a filter, only entries whose model equals it or matches it as a
   * glob (e.g. "openai:*"); without one, everything.
   */
  clearCache(modelFilter?: string): number;
}

const SIZE = 'length(key) + length(CAST(response_json AS BLOB))';

export function cacheTable(db: DB): CacheTable {
  // One statement both counts the hit and returns the response; a read-only DB can only look.
  const hit = db.readonly ? null : db.prepare('UPDATE cache SET hits = hits + 1 WHERE key = ? RETURNING response_json, paid_by_run');
  const look = db.prepare('SELECT response_json, paid_by_run FROM cache WHERE key = ?');
  const put = db.prepare(
    `INSERT INTO cache (key, kind, model, response_json, created_at, paid_by_run) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING`,
  );
  const totals = db.prepare(
    `SELECT COUNT(*) AS entries, COALESCE(SUM(${SIZE}), 0) AS bytes, COALESCE(SUM(hits), 0) AS hits FROM cache`,
  );
  const byModel = db.prepare(
    `SELECT model, kind, COUNT(*) AS entries, COALESCE(SUM(${SIZE}), 0) AS bytes, COALESCE(SUM(hits), 0) AS hits
     FROM cache GROUP BY model, kind ORDER BY model, kind`,
  );
  const clearAll = db.prepare('DELETE FROM cache');
  const clearSome = db.prepare('DELETE FROM cache WHERE model = ? OR model GLOB ?');

  return {
    getCached(key) {
      return this.getCachedEntry(key)?.response;
    },
    getCachedEntry(key) {
      const row = (hit ?? look).get(key) as { response_json: string; paid_by_run: string | null } | undefined;
      return row === undefined ? undefined : { response: JSON.parse(row.response_json), paidByRun: row.paid_by_run };
    },
    putCached(key, kind, model, response, paidByRun = null) {
      put.run(key, kind, model, JSON.stringify(response), new Date().toISOString(), paidByRun);
    },
    cacheStats() {
      const t = totals.get() as Omit<CacheStats, 'byModel'>;
      return { ...t, byModel: byModel.all() as CacheModelStats[] };
    },
    clearCache(modelFilter) {
      const info = modelFilter === undefined ? clearAll.run() : clearSome.run(modelFilter, modelFilter);
      return info.changes;
    },
  };
}
