import { secretRedactor } from '../redact.js';
import { callTextsReader, type CallMessage, type CallRow, type CallTextsReader, type ExampleCall } from '../store/calls.js';
import type { DB } from '../store/db.js';

/**
 * The model calls behind one example, for the viewer's example page: for every debate turn and every judgment, the
 * ledger row (tokens, latency, cache hit, attempts) and what the model received and returned (every message, the
 * parameters, the raw reply), read through the store's callTextsReader. Every text and the model id go through
 * src/redact.ts before they leave here.
 */

/** One call, redacted, as a page shows it. */
export interface CallView
  extends Pick<CallRow, 'id' | 'model' | 'role' | 'cacheHit' | 'attempts' | 'latencyMs' | 'inputTokens' | 'outputTokens' | 'costUsd' | 'finishReason' | 'error'> {
  /** False for a call made before w2s stored prompts: messages, params and response are then empty. */
  recorded: boolean;
  /** The request parameters as indented JSON (redacted), or null when not recorded. */
  params: string | null;
  messages: CallMessage[];
  response: string | null;
}

export type JudgmentCall = Extract<ExampleCall, { what: 'judgment' }> & { call: CallView | null };

export interface ExampleCalls {
  /** Each turn's call by `turnKey(debateId, idx)`; null: the turn has no ledger row. */
  turns: Map<string, CallView | null>;
  /** Every judgment of the example with its call, in the reader's order (by transcript, judge, order, sample). */
  judgments: JudgmentCall[];
}

export const turnKey = (debateId: string, idx: number): string => `${debateId}\u0000${idx}`;

const readers = new WeakMap<DB, CallTextsReader>();

export function exampleCalls(db: DB, runId: string, exampleId: string, redact: (text: string) => string = secretRedactor()): ExampleCalls {
  let reader = readers.get(db);
  if (!reader) readers.set(db, (reader = callTextsReader(db)));
  const callOf = (id: number | null): CallView | null => {
    const c = id === null ? undefined : reader!.callWithTexts(id);
    if (!c) return null;
    return {
      id: c.id,
      model: redact(c.model),
      role: c.role,
      cacheHit: c.cacheHit,
      attempts: c.attempts,
      latencyMs: c.latencyMs,
      inputTokens: c.inputTokens,
      outputTokens: c.outputTokens,
      costUsd: c.costUsd,
      finishReason: c.finishReason,
      error: c.error === null ? null : redact(c.error),
      recorded: c.texts.recorded,
      params: c.texts.params === null ? null : redact(JSON.stringify(c.texts.params, null, 2)),
      messages: c.texts.messages.map((m) => ({ role: m.role, content: redact(m.content) })),
      response: c.texts.response === null ? null : redact(c.texts.response),
    };
  };
  const out: ExampleCalls = { turns: new Map(), judgments: [] };
  for (const e of reader.exampleCalls(runId, exampleId)) {
    if (e.what === 'turn') out.turns.set(turnKey(e.debateId, e.turn), callOf(e.callId));
    else out.judgments.push({ ...e, call: callOf(e.callId) });
  }
  return out;
}
