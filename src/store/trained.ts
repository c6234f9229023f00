import type { DB } from './db.js';

export interface NewModel {
  id: string;
  runId: string;
  /** e.g. "weak", "weak_member", "strong", "strong_ceiling". */
  role: string;
  member?: number;
  backend: string;
  seed: number;
  config: unknown;
  /** Serialisable state (probe weights); typed arrays are stored as plain number arrays. */
  state?: unknown;
  artifactPath?: string | null;
  artifactSha256?: string | null;
  stats: Record<string, unknown>;
}

export interface ModelRow extends Required<NewModel> {
  createdAt: string;
}

export interface PredictionRow {
  exampleId: string;
  /** P(label = 1). */
  p1: number;
  /** The transcript the model saw, if any. */
  debateId?: string | null;
}

export interface TrainedTable {
  /**
   * Stores a trained model. A model already stored for the same (run, role, member) is replaced, and its
   * predictions with it (retraining makes them stale).
   */
  insertModel(m: NewModel): ModelRow;
  getModel(runId: string, role: string, member?: number): ModelRow | undefined;
  getModelById(id: string): ModelRow | undefined;
  /** Models of a run by role then member; optionally one role. */
  listModels(runId: string, role?: string): ModelRow[];
  /** Writes predictions in one transaction; a prediction for the same (model, example) is overwritten. */
  insertPredictions(modelId: string, runId: string, rows: readonly PredictionRow[]): void;
  listPredictions(modelId: string): PredictionRow[];
}

interface RawModel {
  id: string;
  run_id: string;
  role: string;
  member: number;
  backend: string;
  seed: number;
  config_json: string;
  state_json: string | null;
  artifact_path: string | null;
  artifact_sha256: string | null;
  stats_json: string;
  created_at: string;
}

function toModel(r: RawModel): ModelRow {
  return {
    id: r.id,
    runId: r.run_id,
    role: r.role,
    member: r.member,
    backend: r.backend,
    seed: r.seed,
    config: JSON.parse(r.config_json),
    state: r.state_json === null ? null : JSON.parse(r.state_json),
    artifactPath: r.artifact_path,
    artifactSha256: r.artifact_sha256,
    stats: JSON.parse(r.stats_json) as Record<string, unknown>,
    createdAt: r.created_at,
  };
}

/** JSON.stringify turns a Float32Array into {"0":…}; store typed arrays as arrays instead. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as Float32Array) : v));
}

export function trainedTable(db: DB): TrainedTable {
  const remove = db.prepare('DELETE FROM models WHERE run_id = ? AND role = ? AND member = ?');
  const insert = db.prepare(
    `INSERT INTO models (id, run_id, role, member, backend, seed, config_json, state_json, artifact_path, artifact_sha256, stats_json, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const byKey = db.prepare('SELECT * FROM models WHERE run_id = ? AND role = ? AND member = ?');
  const byId = db.prepare('SELECT * FROM models WHERE id = ?');
  const list = db.prepare('SELECT * FROM models WHERE run_id = @runId AND (@role IS NULL OR role = @role) ORDER BY role, member');
  const putPrediction = db.prepare(
    `INSERT INTO predictions (model_id, run_id, example_id, debate_id, p1) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(model_id, example_id) DO UPDATE SET debate_id = excluded.debate_id, p1 = excluded.p1`,
  );
  const predictionsOf = db.prepare('SELECT example_id, debate_id, p1 FROM predictions WHERE model_id = ? ORDER BY rowid');

  const replace = db.transaction((m: NewModel): void => {
    const member = m.member ?? 0;
    remove.run(m.runId, m.role, member);
    insert.run(
      m.id,
      m.runId,
      m.role,
      member,
      m.backend,
      m.seed,
      toJson(m.config),
      m.state === undefined || m.state === null ? null : toJson(m.state),
      m.artifactPath ?? null,
      m.artifactSha256 ?? null,
      toJson(m.stats),
      new Date().toISOString(),
    );
  });
  const predict = db.transaction((modelId: string, runId: string, rows: readonly PredictionRow[]) => {
    for (const r of rows) putPrediction.run(modelId, runId, r.exampleId, r.debateId ?? null, r.p1);
  });

  return {
    insertModel(m) {
      replace(m);
      return toModel(byId.get(m.id) as RawModel);
    },
    getModel(runId, role, member = 0) {
      const r = byKey.get(runId, role, member) as RawModel | undefined;
      return r && toModel(r);
    },
    getModelById(id) {
      const r = byId.get(id) as RawModel | undefined;
      return r && toModel(r);
    },
    listModels: (runId, role) => (list.all({ runId, role: role ?? null }) as RawModel[]).map(toModel),
    insertPredictions: (modelId, runId, rows) => predict(modelId, runId, rows),
    listPredictions: (modelId) =>
      (predictionsOf.all(modelId) as { example_id: string; debate_id: string | null; p1: number }[]).map((r) => ({
        exampleId: r.example_id,
        debateId: r.debate_id,
        p1: r.p1,
      })),
  };
}
