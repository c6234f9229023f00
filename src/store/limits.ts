import type { DB } from './db.js';

/** A run's spending limits; null: no limit. */
export interface RunLimits {
  maxCalls: number | null;
  maxCostUsd: number | null;
}

/**
 * The limits a run was last given, kept with the run so they hold across resumes: a resume that names no limit keeps
 * the stored one, and a new one replaces it. What was spent is the calls ledger, not stored here.
 */
export interface LimitsTable {
  getLimits(runId: string): RunLimits;
  setLimits(runId: string, limits: RunLimits): void;
}

export function limitsTable(db: DB): LimitsTable {
  const get = db.prepare('SELECT max_calls AS maxCalls, max_cost_usd AS maxCostUsd FROM runs WHERE id = ?');
  const set = db.prepare('UPDATE runs SET max_calls = ?, max_cost_usd = ? WHERE id = ?');
  return {
    getLimits(runId) {
      return (get.get(runId) as RunLimits | undefined) ?? { maxCalls: null, maxCostUsd: null };
    },
    setLimits(runId, limits) {
      set.run(limits.maxCalls, limits.maxCostUsd, runId);
    },
  };
}
