import { canonicalJson } from '../hash.js';
import { UserError } from '../errors.js';
import { W2S_VERSION } from '../version.js';
import type { DB } from './db.js';

export type RunStatus = 'running' | 'completed' | 'failed' | 'interrupted';

export interface RunRow {
  id: string;
  name: string | null;
  config: unknown;
  configHash: string;
  w2sVersion: string;
  dataset: string | null;
  status: RunStatus;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  error: string | null;
}

export interface NewRun {
  id: string;
  name?: string | null;
  config: unknown;
  configHash: string;
  dataset?: string | null;
}

export interface RunsTable {
  /** Inserts a run with status "running"; a duplicate id is a UserError. */
  createRun(run: NewRun): RunRow;
  getRun(id: string): RunRow | undefined;
  /** The most recent run with this config hash (to resume instead of starting over). */
  findRunByConfigHash(hash: string): RunRow | undefined;
  /** All runs, newest first. */
  listRuns(): RunRow[];
  /** Sets the status; a terminal status also sets finished_at, "running" clears it and the error. */
  setRunStatus(id: string, status: RunStatus, error?: string | null): void;
  /** Bumps updated_at (a heartbeat the viewer can show). */
  touch(id: string): void;
}

interface RawRun {
  id: string;
  name: string | null;
  config_json: string;
  config_hash: string;
  w2s_version: string;
  dataset: string | null;
  status: RunStatus;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  error: string | null;
}

function toRun(r: RawRun): RunRow {
  return {
    id: r.id,
    name: r.name,
    config: JSON.parse(r.config_json),
    configHash: r.config_hash,
    w2sVersion: r.w2s_version,
    dataset: r.dataset,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
    error: r.error,
  };
}

export function runsTable(db: DB): RunsTable {
  const insert = db.prepare(
    `INSERT INTO runs (id, name, config_json, config_hash, w2s_version, dataset, status, created_at, updated_at)
     VALUES (@id, @name, @config_json, @config_hash, @w2s_version, @dataset, 'running', @now, @now)`,
  );
  const byId = db.prepare('SELECT * FROM runs WHERE id = ?');
  // rowid breaks ties between runs created in the same millisecond.
  const byHash = db.prepare('SELECT * FROM runs WHERE config_hash = ? ORDER BY created_at DESC, rowid DESC LIMIT 1');
  const all = db.prepare('SELECT * FROM runs ORDER BY created_at DESC, rowid DESC');
  const setStatus = db.prepare(
    `UPDATE runs SET status = @status, updated_at = @now, error = @error,
       finished_at = CASE WHEN @status = 'running' THEN NULL ELSE @now END
     WHERE id = @id`,
  );
  const touchStmt = db.prepare('UPDATE runs SET updated_at = ? WHERE id = ?');

  return {
    createRun(run) {
      if (byId.get(run.id)) throw new UserError(`Run ${run.id} already exists in this database; choose another run id or resume it.`);
      insert.run({
        id: run.id,
        name: run.name ?? null,
        config_json: canonicalJson(run.config),
        config_hash: run.configHash,
        w2s_version: W2S_VERSION,
        dataset: run.dataset ?? null,
        now: new Date().toISOString(),
      });
      return toRun(byId.get(run.id) as RawRun);
    },
    getRun(id) {
      const r = byId.get(id) as RawRun | undefined;
      return r && toRun(r);
    },
    findRunByConfigHash(hash) {
      const r = byHash.get(hash) as RawRun | undefined;
      return r && toRun(r);
    },
    listRuns() {
      return (all.all() as RawRun[]).map(toRun);
    },
    setRunStatus(id, status, error = null) {
      const info = setStatus.run({ id, status, error, now: new Date().toISOString() });
      if (info.changes === 0) throw new UserError(`Run ${id} does not exist in this database; check the run id.`);
    },
    touch(id) {
      touchStmt.run(new Date().toISOString(), id);
    },
  };
}
