import type { DB } from './db.js';

export type JudgeMethod = 'logprobs' | 'parsed' | 'unparsed';

export interface NewJudgment {
  runId: string;
  exampleId: string;
  judge: string;
  /** The transcript the judge read; null for a judge that saw the question only. */
  debateId: string | null;
  orderSwapped: boolean;
  /** Which of a self-consistency judge's replies to this presentation (0 for a judge that samples one). */
  sample?: number;
  /** The judge's probability that the proposed answer is correct; null exactly when the reply stated no verdict (method 'unparsed'). */
  pCorrect: number | null;
  method: JudgeMethod;
  rawText?: string | null;
  callId?: number | null;
  /** The call's tokens, whether paid now or answered from the cache. */
  inputTokens?: number | null;
  outputTokens?: number | null;
}

export interface JudgmentRow extends Required<NewJudgment> {
  id: number;
  createdAt: string;
}

export interface JudgmentsTable {
  /** Inserts one judgment; an existing one for (run, example, judge, debate, order) is kept. Returns whether it was new. */
  insertJudgment(j: NewJudgment): boolean;
  /** Many judgments in one transaction; returns how many were new. */
  insertJudgments(rows: readonly NewJudgment[]): number;
  hasJudgment(runId: string, exampleId: string, judge: string, debateId: string | null, orderSwapped: boolean, sample?: number): boolean;
  listJudgments(runId: string, filter?: { judge?: string; exampleId?: string }): JudgmentRow[];
  /**
   * A judge's mean P(correct) per example over its replies that stated a verdict (presentations, samples, transcripts).
   * An example none of whose replies stated one is absent: the judge abstained on it.
   */
  meanByExample(runId: string, judge: string): Map<string, number>;
  /** How many replies a judge gave in the run, how many stated a verdict, and how many were read from logprobs. */
  coverage(runId: string, judge: string): JudgeCoverage;
}

export interface JudgeCoverage {
  replies: number;
  /** Replies that stated a verdict (method 'logprobs' or 'parsed'). */
  readable: number;
  /** Replies read from the choice tokens' logprobs. */
  fromLogprobs: number;
}

interface RawJudgment {
  id: number;
  run_id: string;
  example_id: string;
  judge: string;
  debate_id: string | null;
  order_swapped: 0 | 1;
  sample: number;
  p_correct: number | null;
  method: JudgeMethod;
  raw_text: string | null;
  call_id: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  created_at: string;
}

function toJudgment(r: RawJudgment): JudgmentRow {
  return {
    id: r.id,
    runId: r.run_id,
    exampleId: r.example_id,
    judge: r.judge,
    debateId: r.debate_id,
    orderSwapped: r.order_swapped === 1,
    sample: r.sample,
    pCorrect: r.p_correct,
    method: r.method,
    rawText: r.raw_text,
    callId: r.call_id,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    createdAt: r.created_at,
  };
}

export function judgmentsTable(db: DB): JudgmentsTable {
  const insert = db.prepare(
    `INSERT INTO judgments (run_id, example_id, judge, debate_id, order_swapped, sample, p_correct, method, raw_text, call_id, input_tokens,
       output_tokens, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const exists = db.prepare(
    `SELECT 1 FROM judgments WHERE run_id = ? AND example_id = ? AND judge = ? AND IFNULL(debate_id, '') = ? AND order_swapped = ? AND sample = ?`,
  );
  const list = db.prepare(
    `SELECT * FROM judgments WHERE run_id = @runId AND (@judge IS NULL OR judge = @judge)
       AND (@exampleId IS NULL OR example_id = @exampleId) ORDER BY id`,
  );
  // AVG skips the NULLs of replies without a verdict; HAVING drops the examples on which the judge abstained entirely.
  const means = db.prepare(
    'SELECT example_id AS exampleId, AVG(p_correct) AS p FROM judgments WHERE run_id = ? AND judge = ? GROUP BY example_id HAVING COUNT(p_correct) > 0',
  );
  const counts = db.prepare(
    `SELECT COUNT(*) AS replies, COUNT(p_correct) AS readable, COALESCE(SUM(method = 'logprobs'), 0) AS fromLogprobs
     FROM judgments WHERE run_id = ? AND judge = ?`,
  );
  const one = (j: NewJudgment): boolean =>
    insert.run(
      j.runId,
      j.exampleId,
      j.judge,
      j.debateId,
      j.orderSwapped ? 1 : 0,
      j.sample ?? 0,
      j.pCorrect,
      j.method,
      j.rawText ?? null,
      j.callId ?? null,
      j.inputTokens ?? null,
      j.outputTokens ?? null,
      new Date().toISOString(),
    ).changes > 0;
  const many = db.transaction((rows: readonly NewJudgment[]) => rows.reduce((n, j) => n + (one(j) ? 1 : 0), 0));

  return {
    insertJudgment: one,
    insertJudgments: (rows) => many(rows),
    hasJudgment: (runId, exampleId, judge, debateId, orderSwapped, sample = 0) =>
      exists.get(runId, exampleId, judge, debateId ?? '', orderSwapped ? 1 : 0, sample) !== undefined,
    coverage: (runId, judge) => counts.get(runId, judge) as JudgeCoverage,
    meanByExample: (runId, judge) => new Map((means.all(runId, judge) as { exampleId: string; p: number }[]).map((r) => [r.exampleId, r.p])),
    listJudgments: (runId, filter = {}) =>
      (list.all({ runId, judge: filter.judge ?? null, exampleId: filter.exampleId ?? null }) as RawJudgment[]).map(toJudgment),
  };
}
