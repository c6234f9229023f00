import type { DB } from './db.js';

export interface StageRow {
  name: string;
  finishedAt: string;
}

export interface StagesTable {
  /** Records that a stage finished (again: the time is updated). */
  markStageDone(runId: string, name: string): void;
  isStageDone(runId: string, name: string): boolean;
  /** Finished stages in the order they finished. */
  listStages(runId: string): StageRow[];
  /** Forgets a finished stage so a rerun does it again; returns whether it was recorded. */
  clearStage(runId: string, name: string): boolean;
}

export function stagesTable(db: DB): StagesTable {
  const mark = db.prepare(
    'INSERT INTO stages (run_id, name, finished_at) VALUES (?, ?, ?) ON CONFLICT(run_id, name) DO UPDATE SET finished_at = excluded.finished_at',
  );
  const done = db.prepare('SELECT 1 FROM stages WHERE run_id = ? AND name = ?');
  const list = db.prepare('SELECT name, finished_at AS finishedAt FROM stages WHERE run_id = ? ORDER BY finished_at, rowid');
  const clear = db.prepare('DELETE FROM stages WHERE run_id = ? AND name = ?');
  return {
    markStageDone: (runId, name) => void mark.run(runId, name, new Date().toISOString()),
    isStageDone: (runId, name) => done.get(runId, name) !== undefined,
    listStages: (runId) => list.all(runId) as StageRow[],
    clearStage: (runId, name) => clear.run(runId, name).changes > 0,
  };
}
