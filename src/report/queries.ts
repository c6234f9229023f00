import { openDb, type DB } from '../store/db.js';
import type { DebateSource } from '../store/debates.js';
import { runLiveness, type DisplayedRunStatus, type LeaseOwner } from '../store/leases.js';
import type { RunStatus } from '../store/runs.js';
import type { MetricRow } from '../store/metrics.js';
import { UserError } from '../errors.js';

/**
 * Read-only queries for reports, exports and the viewer. Every statement is prepared once per open database;
 * nothing here writes, and the database is opened read-only, so a run can keep writing while we read (WAL).
 */

/** A stored metric as read back: every column present (null where unset); the run is implied by the query. */
export type MetricValue = Required<Omit<MetricRow, 'runId'>>;

export interface RunInfo {
  id: string;
  name: string | null;
  dataset: string | null;
  /**
   * The status every view shows: the stored one, except that a "running" run whose process is gone (no live lease) is
   * "stopped (process gone)". Decided in one place, store/leases.ts runLiveness.
   */
  status: DisplayedRunStatus;
  /** What to do about the status (e.g. how to resume a stopped run), or null. */
  hint: string | null;
  /** The live process running it, or null. */
  owner: LeaseOwner | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  error: string | null;
  config: RunConfigView;
  counts: { examples: number; debates: number; turns: number; judgments: number; models: number; calls: number; cacheHits: number; callErrors: number };
  tokens: { input: number; output: number };
  costUsd: number;
}

/** The parts of a stored experiment config that reports show; absent fields stay undefined (older or foreign configs). */
export interface RunConfigView {
  raw: Record<string, unknown>;
  protocol?: string;
  turns?: number;
  samples?: number;
  ensembleSize?: number;
  ensembleKind?: string;
  debaters: string[];
  judges: string[];
  /** Each judge's settings as the config states them (absent fields left out: the defaults apply). */
  judgeSettings?: JudgeSettingsView[];
  /** The config's judge ensembles (judgeEnsembles), in order; absent in configs without them. */
  judgeEnsembles?: JudgeEnsembleConfigView[];
  weakFeatures?: string;
  strongFeatures?: string;
}

/** One judge of a stored config: its name (or judge<index>) and the settings that change what it reads. */
export interface JudgeSettingsView {
  name: string;
  model: string;
  method?: string;
  template?: string;
  samples?: number;
  temperature?: number;
  orders?: string;
  transcripts?: number[];
  /** judges[].reads: "question" or "question-and-passage" for a judge-alone baseline; absent: the transcripts. */
  reads?: string;
}

/** One judge ensemble of a stored config: its name, its members (judge names) and how it aggregates them. */
export interface JudgeEnsembleConfigView {
  name: string;
  members: string[];
  aggregate: string;
}

/**
 * A judge ensemble as the run stored it: a model of role judge_ensemble whose member is its index in
 * config.judgeEnsembles; its name, members and aggregate come from the stored config where it has them, else from the
 * model's state.
 */
export interface JudgeEnsembleModelView {
  index: number;
  name: string;
  aggregate: string;
  members: string[];
  /** The stacked ensemble's fitted weights, when stored. */
  weights: { intercept: number; byMember: Record<string, number> } | null;
}

export interface ExampleInfo {
  runId: string;
  id: string;
  split: string;
  text: string;
  label: 0 | 1;
  question: string | null;
  answer: string | null;
  /** The example's group (passage, question pair), or null. */
  group: string | null;
}

export interface TurnView {
  idx: number;
  speaker: string;
  side: string;
  text: string;
  wordCount: number;
  truncated: boolean;
  callId: number | null;
  /** Quotes the turn made from the passage and how many checked out; null when the example had no passage. */
  quotes: { made: number; verified: number } | null;
}

export interface TranscriptView {
  id: string;
  runId: string;
  exampleId: string;
  protocol: string;
  sample: number;
  sides: Record<string, string>;
  /** 'open': debater A (the consultant) chose its side; choice says what its reply stated. */
  roles: string;
  choice: { stated: boolean; reply: string } | null;
  /** Best-of-N: each turn's candidates (index, score, kept), by turn index; empty without best-of-N. */
  candidates: Record<number, { candidate: number; score: number | null; kept: boolean }[]>;
  status: string;
  error: string | null;
  turns: TurnView[];
  /** Imported transcripts only (w2s import): the file, its sha256, the row's line and the source's own fields. */
  source?: DebateSource;
}

export interface PredictionView {
  role: string;
  member: number;
  p1: number;
  debateId: string | null;
}

export interface JudgmentView {
  judge: string;
  debateId: string | null;
  orderSwapped: boolean;
  /** Which of a self-consistency judge's replies to this presentation (0 for a judge that samples one). */
  sample: number;
  /** Null for a reply that stated no verdict (method unparsed). */
  pCorrect: number | null;
  method: string;
  /** The judge's reply as received. */
  rawText: string | null;
}

export type IdMatch = { kind: 'example'; runId: string; exampleId: string } | { kind: 'debate'; runId: string; exampleId: string; debateId: string };

export interface ReportQueries {
  readonly db: DB;
  runs(): RunInfo[];
  run(id: string): RunInfo | undefined;
  /** The run named, or the only/newest run when none is named; a wrong id is a UserError. */
  resolveRun(id?: string): RunInfo;
  metrics(runId: string): MetricValue[];
  /** Every run's metrics from one query: run id -> metrics (for listings of many runs). */
  metricsByRun(): Map<string, MetricValue[]>;
  examples(runId: string, split?: string): ExampleInfo[];
  example(runId: string, exampleId: string): ExampleInfo | undefined;
  /** Where an id occurs: as a debate id, or as an example id in one or more runs. */
  findId(id: string): IdMatch[];
  transcripts(runId: string, exampleId: string): TranscriptView[];
  predictions(runId: string, exampleId: string): PredictionView[];
  judgments(runId: string, exampleId: string): JudgmentView[];
  /** All predictions of every model of a run: key "role#member" -> example id -> P(label 1). */
  modelPredictions(runId: string): Map<string, Map<string, number>>;
  /** Each judge's P(correct) per example: mean over its judgments (both orders, all transcripts). */
  judgeMeans(runId: string): Map<string, Map<string, number>>;
  /** The run's stored judge ensembles (models of role judge_ensemble), by index. */
  judgeEnsembles(runId: string): JudgeEnsembleModelView[];
  close(): void;
}

interface RawRun {
  id: string;
  name: string | null;
  dataset: string | null;
  status: RunStatus;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  error: string | null;
  config_json: string;
  lease_token: string | null;
  lease_pid: number;
  lease_host: string;
  lease_acquired_at: string;
  lease_heartbeat_at: string;
  examples: number;
  debates: number;
  turns: number;
  judgments: number;
  models: number;
  calls: number;
  cache_hits: number;
  call_errors: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

const RUN_SELECT = `
SELECT r.id, r.name, r.dataset, r.status, r.created_at, r.updated_at, r.finished_at, r.error, r.config_json,
  (SELECT COUNT(*) FROM examples e WHERE e.run_id = r.id) AS examples,
  (SELECT COUNT(*) FROM debates d WHERE d.run_id = r.id) AS debates,
  (SELECT COUNT(*) FROM turns t JOIN debates d ON d.id = t.debate_id WHERE d.run_id = r.id) AS turns,
  (SELECT COUNT(*) FROM judgments j WHERE j.run_id = r.id) AS judgments,
  (SELECT COUNT(*) FROM models m WHERE m.run_id = r.id) AS models,
  c.calls, c.cache_hits, c.call_errors, c.input_tokens, c.output_tokens, c.cost_usd,
  l.token AS lease_token, l.pid AS lease_pid, l.host AS lease_host, l.acquired_at AS lease_acquired_at, l.heartbeat_at AS lease_heartbeat_at
FROM runs r
LEFT JOIN run_leases l ON l.run_id = r.id
LEFT JOIN (
  SELECT run_id, COUNT(*) AS calls, SUM(cache_hit) AS cache_hits, SUM(error IS NOT NULL) AS call_errors,
    SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, SUM(cost_usd) AS cost_usd
  FROM calls GROUP BY run_id
) c ON c.run_id = r.id`;

/** A model as the config names it: a spec string or {spec}. */
function specOf(ref: unknown): string {
  if (typeof ref === 'string') return ref;
  if (ref && typeof ref === 'object' && typeof (ref as { spec?: unknown }).spec === 'string') return (ref as { spec: string }).spec;
  return '?';
}

function featuresOf(f: unknown): string | undefined {
  if (!f || typeof f !== 'object') return undefined;
  const o = f as Record<string, unknown>;
  if (o.kind === 'hashed') return `hashed(${String(o.dim)})`;
  if (o.kind === 'embedding') return `embedding(${specOf(o.model)})`;
  return String(o.kind);
}

function configView(raw: unknown): RunConfigView {
  const c = (raw && typeof raw === 'object' ? raw : {}) as Record<string, any>;
  const judges = Array.isArray(c.judges) ? c.judges.map((j: any, i: number) => (typeof j?.name === 'string' ? j.name : `judge${i}`)) : [];
  const judgeSettings: JudgeSettingsView[] = Array.isArray(c.judges)
    ? c.judges.map((j: any, i: number) => {
      const o = (j && typeof j === 'object' ? j : {}) as Record<string, unknown>;
      const out: JudgeSettingsView = { name: judges[i]!, model: specOf(o.model) };
      if (typeof o.method === 'string') out.method = o.method;
      if (typeof o.template === 'string') out.template = o.template;
      if (typeof o.samples === 'number') out.samples = o.samples;
      if (typeof o.temperature === 'number') out.temperature = o.temperature;
      if (typeof o.orders === 'string') out.orders = o.orders;
      if (Array.isArray(o.transcripts)) out.transcripts = o.transcripts.filter((t): t is number => typeof t === 'number');
      if (typeof o.reads === 'string' && o.reads !== 'transcript') out.reads = o.reads;
      return out;
    })
    : [];
  const judgeEnsembles: JudgeEnsembleConfigView[] | undefined = Array.isArray(c.judgeEnsembles)
    ? c.judgeEnsembles.map((e: any, i: number) => ({
      name: typeof e?.name === 'string' ? e.name : `ensemble${i}`,
      members: Array.isArray(e?.members) ? e.members.map(String) : [],
      aggregate: typeof e?.aggregate === 'string' ? e.aggregate : 'mean',
    }))
    : undefined;
  return {
    raw: c,
    protocol: c.debate?.protocol,
    turns: c.debate?.turns,
    samples: c.debate?.samples,
    ensembleSize: c.weak?.ensemble?.size,
    ensembleKind: c.weak?.ensemble?.kind,
    debaters: Array.isArray(c.debate?.debaters) ? c.debate.debaters.map(specOf) : [],
    judges,
    judgeSettings,
    ...(judgeEnsembles ? { judgeEnsembles } : {}),
    weakFeatures: featuresOf(c.weak?.features),
    strongFeatures: featuresOf(c.strong?.features),
  };
}

function toRunInfo(r: RawRun): RunInfo {
  let config: unknown = {};
  try {
    config = JSON.parse(r.config_json);
  } catch {
    /* a damaged config still lists */
  }
  const lease = r.lease_token === null ? undefined : {
    runId: r.id, token: r.lease_token, pid: r.lease_pid, host: r.lease_host, acquiredAt: r.lease_acquired_at, heartbeatAt: r.lease_heartbeat_at,
  };
  return {
    id: r.id,
    name: r.name,
    dataset: r.dataset,
    ...runLiveness(r.status, lease),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
    error: r.error,
    config: configView(config),
    counts: {
      examples: r.examples, debates: r.debates, turns: r.turns, judgments: r.judgments, models: r.models,
      calls: r.calls ?? 0, cacheHits: r.cache_hits ?? 0, callErrors: r.call_errors ?? 0,
    },
    tokens: { input: r.input_tokens ?? 0, output: r.output_tokens ?? 0 },
    costUsd: r.cost_usd ?? 0,
  };
}

interface RawTranscriptRow {
  id: string;
  run_id: string;
  example_id: string;
  protocol: string;
  sample: number;
  sides_json: string;
  roles: string;
  /** Open roles: the choice call (reply, stated, callId). */
  choice_json: string | null;
  status: string;
  error: string | null;
  source_json: string | null;
}

interface RawTurn {
  debate_id: string;
  idx: number;
  speaker: string;
  side: string;
  text: string;
  word_count: number;
  truncated: 0 | 1;
  call_id: number | null;
  quotes: number | null;
  quotes_verified: number | null;
}

const toTurnView = (t: RawTurn): TurnView => ({
  idx: t.idx, speaker: t.speaker, side: t.side, text: t.text, wordCount: t.word_count, truncated: t.truncated === 1, callId: t.call_id,
  quotes: t.quotes === null ? null : { made: t.quotes, verified: t.quotes_verified ?? 0 },
});

/** Opens a database read-only for reports; a missing, foreign or too-new file is a UserError. */
export function openReport(file: string): ReportQueries {
  return reportQueries(openDb(file, { readonly: true }));
}

export function reportQueries(db: DB): ReportQueries {
  const allRuns = db.prepare(`${RUN_SELECT} ORDER BY r.created_at DESC, r.rowid DESC`);
  const oneRun = db.prepare(`${RUN_SELECT} WHERE r.id = ?`);
  const metricCols = 'subject, name, value, lo, hi, n, note, method, level, resamples, undefined_resamples AS undefinedResamples, seed, covers';
  const metricsOf = db.prepare(`SELECT ${metricCols} FROM metrics WHERE run_id = ? ORDER BY rowid`);
  const allMetrics = db.prepare(`SELECT run_id AS runId, ${metricCols} FROM metrics ORDER BY rowid`);
  const exampleCols = 'run_id AS runId, id, split, text, label, question, answer, group_id AS "group"';
  const examplesOf = db.prepare(`SELECT ${exampleCols} FROM examples WHERE run_id = @run AND (@split IS NULL OR split = @split) ORDER BY rowid`);
  const exampleOf = db.prepare(`SELECT ${exampleCols} FROM examples WHERE run_id = ? AND id = ?`);
  const debateById = db.prepare('SELECT id, run_id, example_id, protocol, sample, sides_json, roles, choice_json, status, error, source_json FROM debates WHERE id = ?');
  const debatesOf = db.prepare('SELECT id, run_id, example_id, protocol, sample, sides_json, roles, choice_json, status, error, source_json FROM debates WHERE run_id = ? AND example_id = ? ORDER BY protocol, sample');
  // The turns of all of an example's debates in one query, not one query per debate.
  const turnsOfExample = db.prepare(
    `SELECT t.debate_id, t.idx, t.speaker, t.side, t.text, t.word_count, t.truncated, t.call_id, t.quotes, t.quotes_verified FROM turns t JOIN debates d ON d.id = t.debate_id
     WHERE d.run_id = ? AND d.example_id = ? ORDER BY t.debate_id, t.idx`,
  );
  const exampleRuns = db.prepare('SELECT run_id FROM examples WHERE id = ? ORDER BY rowid');
  const predictionsOf = db.prepare(
    `SELECT m.role, m.member, p.p1, p.debate_id AS debateId FROM models m JOIN predictions p ON p.model_id = m.id
     WHERE m.run_id = ? AND p.example_id = ? ORDER BY m.role, m.member`,
  );
  const judgmentsOf = db.prepare(
    `SELECT judge, debate_id AS debateId, order_swapped AS orderSwapped, sample, p_correct AS pCorrect, method, raw_text AS rawText FROM judgments
     WHERE run_id = ? AND example_id = ? ORDER BY judge, debate_id, order_swapped, sample`,
  );
  const allPredictions = db.prepare('SELECT m.role, m.member, p.example_id AS exampleId, p.p1 FROM models m JOIN predictions p ON p.model_id = m.id WHERE m.run_id = ?');
  const judgeAverages = db.prepare('SELECT judge, example_id AS exampleId, AVG(p_correct) AS p FROM judgments WHERE run_id = ? GROUP BY judge, example_id');
  const ensembleModels = db.prepare("SELECT member, state_json FROM models WHERE run_id = ? AND role = 'judge_ensemble' ORDER BY member");

  // Open roles' choice call, and best-of-N's candidates per turn.
  const candidatesOf = db.prepare('SELECT idx, candidate, score, kept FROM turn_candidates WHERE debate_id = ? ORDER BY idx, candidate');
  const extras = (d: RawTranscriptRow): Pick<TranscriptView, 'choice' | 'candidates'> => {
    const choice = d.choice_json === null ? null : (JSON.parse(d.choice_json) as { stated: boolean; reply: string });
    const out: Pick<TranscriptView, 'choice' | 'candidates'> = { choice: choice && { stated: choice.stated, reply: choice.reply }, candidates: {} };
    for (const c of candidatesOf.all(d.id) as { idx: number; candidate: number; score: number | null; kept: 0 | 1 }[]) {
      (out.candidates[c.idx] ??= []).push({ candidate: c.candidate, score: c.score, kept: c.kept === 1 });
    }
    return out;
  };
  const toTranscript = (d: RawTranscriptRow, turns: RawTurn[]): TranscriptView => ({
    roles: d.roles,
    ...extras(d),
    id: d.id,
    runId: d.run_id,
    exampleId: d.example_id,
    protocol: d.protocol,
    sample: d.sample,
    sides: JSON.parse(d.sides_json) as Record<string, string>,
    status: d.status,
    error: d.error,
    turns: turns.map(toTurnView),
    ...(d.source_json !== null && { source: JSON.parse(d.source_json) as DebateSource }),
  });

  const q: ReportQueries = {
    db,
    runs: () => (allRuns.all() as RawRun[]).map(toRunInfo),
    run(id) {
      const r = oneRun.get(id) as RawRun | undefined;
      return r && toRunInfo(r);
    },
    resolveRun(id) {
      if (id !== undefined) {
        const r = q.run(id);
        if (!r) throw new UserError(`Run ${id} is not in this database; list the runs with \`w2s runs <db>\`.`);
        return r;
      }
      const all = q.runs();
      if (all.length === 0) throw new UserError('This database holds no runs yet; run an experiment with `w2s run` first.');
      return all[0]!;
    },
    metrics: (runId) => metricsOf.all(runId) as MetricValue[],
    metricsByRun() {
      const out = new Map<string, MetricValue[]>();
      for (const { runId, ...m } of allMetrics.iterate() as Iterable<MetricValue & { runId: string }>) {
        let list = out.get(runId);
        if (!list) out.set(runId, (list = []));
        list.push(m);
      }
      return out;
    },
    examples: (runId, split) => examplesOf.all({ run: runId, split: split ?? null }) as ExampleInfo[],
    example: (runId, exampleId) => exampleOf.get(runId, exampleId) as ExampleInfo | undefined,
    findId(id) {
      const d = debateById.get(id) as RawTranscriptRow | undefined;
      if (d) return [{ kind: 'debate', runId: d.run_id, exampleId: d.example_id, debateId: d.id }];
      return (exampleRuns.all(id) as { run_id: string }[]).map((r) => ({ kind: 'example' as const, runId: r.run_id, exampleId: id }));
    },
    transcripts(runId, exampleId) {
      const byDebate = new Map<string, RawTurn[]>();
      for (const t of turnsOfExample.all(runId, exampleId) as RawTurn[]) {
        let turns = byDebate.get(t.debate_id);
        if (!turns) byDebate.set(t.debate_id, (turns = []));
        turns.push(t);
      }
      return (debatesOf.all(runId, exampleId) as RawTranscriptRow[]).map((d) => toTranscript(d, byDebate.get(d.id) ?? []));
    },
    predictions: (runId, exampleId) => predictionsOf.all(runId, exampleId) as PredictionView[],
    judgments: (runId, exampleId) =>
      (judgmentsOf.all(runId, exampleId) as Array<Omit<JudgmentView, 'orderSwapped'> & { orderSwapped: number }>).map((j) => ({ ...j, orderSwapped: j.orderSwapped === 1 })),
    modelPredictions(runId) {
      const out = new Map<string, Map<string, number>>();
      for (const r of allPredictions.iterate(runId) as Iterable<{ role: string; member: number; exampleId: string; p1: number }>) {
        const key = modelKey(r.role, r.member);
        let m = out.get(key);
        if (!m) out.set(key, (m = new Map()));
        m.set(r.exampleId, r.p1);
      }
      return out;
    },
    judgeMeans(runId) {
      const out = new Map<string, Map<string, number>>();
      for (const r of judgeAverages.iterate(runId) as Iterable<{ judge: string; exampleId: string; p: number }>) {
        let m = out.get(r.judge);
        if (!m) out.set(r.judge, (m = new Map()));
        m.set(r.exampleId, r.p);
      }
      return out;
    },
    judgeEnsembles(runId) {
      const configured = q.run(runId)?.config.judgeEnsembles ?? [];
      return (ensembleModels.all(runId) as { member: number; state_json: string | null }[]).map((m) => {
        let state: Record<string, any> = {};
        try {
          const parsed = m.state_json === null ? null : JSON.parse(m.state_json);
          if (parsed && typeof parsed === 'object') state = parsed as Record<string, any>;
        } catch {
          /* a damaged state still lists, by its config */
        }
        const c = configured[m.member];
        const w = state.weights;
        const weights = w && typeof w === 'object' && typeof w.intercept === 'number' && w.byMember && typeof w.byMember === 'object'
          ? { intercept: w.intercept as number, byMember: Object.fromEntries(Object.entries(w.byMember as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number')) }
          : null;
        return {
          index: m.member,
          name: c?.name ?? `ensemble${m.member}`,
          aggregate: c?.aggregate ?? (typeof state.aggregate === 'string' ? state.aggregate : '?'),
          members: c?.members ?? (Array.isArray(state.members) ? state.members.map(String) : []),
          weights,
        };
      });
    },
    close() {
      if (db.open) db.close();
    },
  };
  return q;
}

export const modelKey = (role: string, member: number): string => `${role}#${member}`;
