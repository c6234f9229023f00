import { sha256 } from '../hash.js';
import type { Statement } from 'better-sqlite3';
import type { DB } from './db.js';

export type CallKind = 'generate' | 'embed';

/** One text a call sent: a chat message (role system, user or assistant), or an embed call's input (role input). */
export interface CallMessage {
  role: string;
  content: string;
}

/**
 * What a call sent and got back, stored with its ledger row (schema 5). Each text is stored once per database, under
 * its sha256: a call whose texts are all there already (a cache hit of a request made before) adds only link rows.
 */
export interface CallTexts {
  /** The chat messages of a generate call, or an embed call's input texts (role 'input'), in order. */
  messages: readonly CallMessage[];
  /** The raw reply's text; null for embed calls and failed calls. */
  response: string | null;
  /** The request parameters that shaped the answer (maxTokens, temperature, seed, topLogprobs, stop, sample). */
  params: Record<string, unknown>;
}

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
  /** What the call sent and got back; absent: not recorded (the row says so: params null). */
  texts?: CallTexts | null;
  /**
   * Where a backend call went (schema 8): the endpoint of its last attempt, the one that answered (a base URL, host or
   * model file); null for cache hits and for calls made before schema 8.
   */
  endpoint?: string | null;
}

export interface CallRow extends Required<Omit<CallRecord, 'texts'>> {
  id: number;
  createdAt: string;
  /** sha256 of the reply's text in the texts table, or null (no reply, or not recorded). */
  responseHash: string | null;
  /** The request parameters, or null for a call whose texts were not recorded (made before schema 5). */
  params: Record<string, unknown> | null;
}

/** A call's texts as read back. */
export interface StoredCallTexts {
  /**
   * False for a call whose texts were never stored: made by a w2s before schema 5 ("not recorded (run made before w2s
   * stored prompts)"), or written without them. Then messages is empty and response and params are null.
   */
  recorded: boolean;
  messages: CallMessage[];
  response: string | null;
  params: Record<string, unknown> | null;
}

/** What a view says for a call whose texts are not in the database. */
export const TEXTS_NOT_RECORDED = 'not recorded (run made before w2s stored prompts)';

/** One model call an example's debates and judgments made, in display order (turns by transcript, then judgments). */
export type ExampleCall =
  | { what: 'turn'; debateId: string; debateSample: number; turn: number; speaker: string; side: string; callId: number | null }
  | {
      what: 'judgment';
      judge: string;
      /** The transcript the judge read, or null for a judgment without one. */
      debateId: string | null;
      orderSwapped: boolean;
      sample: number;
      /** How P(correct) was read from the reply: logprobs, parsed (a verdict in the text) or unparsed (none: null). */
      method: string;
      pCorrect: number | null;
      callId: number | null;
    };

/** Reads calls with their texts; SELECTs only, so it works on a read-only connection (reports, show, export). */
export interface CallTextsReader {
  /** The call with its texts, or undefined for an id the ledger does not hold. */
  callWithTexts(id: number): (CallRow & { texts: StoredCallTexts }) | undefined;
  /** The texts of a call (recorded false for an unknown id or a call made before schema 5). */
  callTexts(id: number): StoredCallTexts;
  /** The calls behind an example's turns and judgments; with debateId, that transcript's turns and judgments only. */
  exampleCalls(runId: string, exampleId: string, debateId?: string): ExampleCall[];
  /** A call's messages in order (empty for a call without stored texts). */
  messagesOf(callId: number): CallMessage[];
  /** A stored text by its sha256, or undefined. */
  textOf(hash: string): string | undefined;
}

/** What the gateway needs to record calls; implemented by the calls table. */
export interface Ledger {
  insertCall(row: CallRecord): number;
  /**
   * Several rows in one transaction (one commit), in order: each row's id, or the Error that row failed with (a row
   * and its texts are undone alone; the others are kept). The gateway writes a turn's rows this way.
   */
  insertCalls?(rows: readonly CallRecord[]): (number | Error)[];
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

export interface CallsTable extends Ledger, CallTextsReader {
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
  response_hash: string | null;
  params_json: string | null;
  endpoint: string | null;
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
    responseHash: r.response_hash,
    params: r.params_json === null ? null : (JSON.parse(r.params_json) as Record<string, unknown>),
    endpoint: r.endpoint ?? null,
  };
}

const NOT_RECORDED: StoredCallTexts = Object.freeze({ recorded: false, messages: [], response: null, params: null }) as StoredCallTexts;

/** The read side of the call texts, on any connection (read-only included). */
export function callTextsReader(db: DB): CallTextsReader {
  const byId = db.prepare('SELECT * FROM calls WHERE id = ?');
  const messages = db.prepare('SELECT m.role, t.text AS content FROM call_messages m JOIN texts t ON t.hash = m.text_hash WHERE m.call_id = ? ORDER BY m.position');
  const text = db.prepare('SELECT text FROM texts WHERE hash = ?').pluck();
  const turns = db.prepare(
    `SELECT t.debate_id AS debateId, d.sample AS debateSample, t.idx AS turn, t.speaker, t.side, t.call_id AS callId
     FROM turns t JOIN debates d ON d.id = t.debate_id
     WHERE d.run_id = @runId AND d.example_id = @exampleId AND (@debateId IS NULL OR d.id = @debateId)
     ORDER BY d.sample, d.protocol, d.id, t.idx`,
  );
  const judgments = db.prepare(
    `SELECT judge, debate_id AS debateId, order_swapped AS orderSwapped, sample, method, p_correct AS pCorrect, call_id AS callId
     FROM judgments
     WHERE run_id = @runId AND example_id = @exampleId AND (@debateId IS NULL OR debate_id = @debateId)
     ORDER BY IFNULL(debate_id, ''), judge, order_swapped, sample, id`,
  );
  const textsOf = (r: RawCall): StoredCallTexts => {
    if (r.params_json === null) return NOT_RECORDED;
    return {
      recorded: true,
      messages: messages.all(r.id) as CallMessage[],
      // A stored call's reply is always there (inserted in the same transaction); ?? null guards a hand-edited file.
      response: r.response_hash === null ? null : ((text.get(r.response_hash) as string | undefined) ?? null),
      params: JSON.parse(r.params_json) as Record<string, unknown>,
    };
  };
  return {
    callWithTexts(id) {
      const r = byId.get(id) as RawCall | undefined;
      return r && { ...toCall(r), texts: textsOf(r) };
    },
    callTexts(id) {
      const r = byId.get(id) as RawCall | undefined;
      return r ? textsOf(r) : NOT_RECORDED;
    },
    exampleCalls(runId, exampleId, debateId) {
      const args = { runId, exampleId, debateId: debateId ?? null };
      type TurnRaw = Omit<Extract<ExampleCall, { what: 'turn' }>, 'what'>;
      type JudgmentRaw = Omit<Extract<ExampleCall, { what: 'judgment' }>, 'what' | 'orderSwapped'> & { orderSwapped: 0 | 1 };
      return [
        ...(turns.all(args) as TurnRaw[]).map((t): ExampleCall => ({ what: 'turn', ...t })),
        ...(judgments.all(args) as JudgmentRaw[]).map((j): ExampleCall => ({ what: 'judgment', ...j, orderSwapped: j.orderSwapped === 1 })),
      ];
    },
    messagesOf(callId) {
      return messages.all(callId) as CallMessage[];
    },
    textOf(hash) {
      return text.get(hash) as string | undefined;
    },
  };
}

/** Link rows per INSERT statement (4 parameters each, far below SQLite's limit of 32,766). */
const LINKS_PER_STATEMENT = 64;
/** Text hashes a connection remembers as committed; cleared when full (memory stays at a few hundred KiB). */
const COMMITTED_MEMO = 4096;

const TOTALS = `COUNT(*) AS calls, COALESCE(SUM(cache_hit), 0) AS hits,
  COALESCE(SUM(error IS NOT NULL), 0) AS errors, COALESCE(SUM(attempts), 0) AS attempts,
  COALESCE(SUM(input_tokens), 0) AS inputTokens, COALESCE(SUM(output_tokens), 0) AS outputTokens,
  COALESCE(SUM(cost_usd), 0) AS costUsd, COALESCE(SUM(latency_ms), 0) AS latencyMs`;

export function callsTable(db: DB): CallsTable {
  const insert = db.prepare(
    `INSERT INTO calls (run_id, role, model, kind, request_hash, cache_hit, attempts, latency_ms, input_tokens,
       output_tokens, cost_usd, finish_reason, error, created_at, response_hash, params_json, endpoint)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // A text already stored (same sha256) is left as it is: each text is one row however many calls send it.
  const putText = db.prepare('INSERT OR IGNORE INTO texts (hash, text) VALUES (?, ?)');
  // Link rows go in as one statement per call (up to LINKS_PER_STATEMENT rows each), prepared once per row count.
  const linkStatements = new Map<number, Statement>();
  const linkStatement = (rows: number): Statement => {
    let st = linkStatements.get(rows);
    if (!st) {
      st = db.prepare(`INSERT INTO call_messages (call_id, position, role, text_hash) VALUES ${Array(rows).fill('(?, ?, ?, ?)').join(', ')}`);
      linkStatements.set(rows, st);
    }
    return st;
  };
  /**
   * Hashes of texts this connection has committed (bounded): a text sent again (a system prompt, a request answered
   * from the cache) skips its INSERT OR IGNORE. Texts are never deleted, so a hash once committed stays true.
   */
  const committed = new Set<string>();
  const reader = callTextsReader(db);
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

  const row = (r: CallRecord, responseHash: string | null, params: string | null): number => {
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
      responseHash,
      params,
      r.endpoint ?? null,
    );
    return Number(info.lastInsertRowid);
  };
  /** Stores a text unless this connection already committed it; returns its hash. */
  const put = (text: string, added: string[]): string => {
    const hash = sha256(text);
    if (!committed.has(hash)) {
      putText.run(hash, text);
      added.push(hash);
    }
    return hash;
  };
  /** The ledger row, its texts and their links in one transaction: a row never points at a text that is not there. */
  const insertWithTexts = db.transaction((r: CallRecord, texts: CallTexts, added: string[]): number => {
    const responseHash = texts.response === null ? null : put(texts.response, added);
    const id = row(r, responseHash, JSON.stringify(texts.params));
    const { messages } = texts;
    for (let from = 0; from < messages.length; from += LINKS_PER_STATEMENT) {
      const n = Math.min(LINKS_PER_STATEMENT, messages.length - from);
      const values: unknown[] = [];
      for (let i = from; i < from + n; i++) values.push(id, i, messages[i]!.role, put(messages[i]!.content, added));
      linkStatement(n).run(values);
    }
    return id;
  });
  /** Remembers the texts a commit stored, unless the caller's own transaction commits (or rolls back) them later. */
  const remember = (added: readonly string[], outer: boolean): void => {
    if (outer || added.length === 0) return;
    if (committed.size + added.length > COMMITTED_MEMO) committed.clear();
    for (const h of added) committed.add(h);
  };
  const insertCall = (r: CallRecord): number => {
    if (!r.texts) return row(r, null, null);
    const outer = db.inTransaction;
    const added: string[] = [];
    const id = insertWithTexts(r, r.texts, added);
    remember(added, outer);
    return id;
  };
  const insertMany = db.transaction((rows: readonly CallRecord[], added: string[]): (number | Error)[] =>
    rows.map((r) => {
      const mine: string[] = [];
      try {
        // A row with texts is its own savepoint (insertWithTexts nested in this transaction); one without is one statement.
        const id = r.texts ? insertWithTexts(r, r.texts, mine) : row(r, null, null);
        added.push(...mine);
        return id;
      } catch (e) {
        return e instanceof Error ? e : new Error(String(e));
      }
    }),
  );
  const insertCalls = (rows: readonly CallRecord[]): (number | Error)[] => {
    const outer = db.inTransaction;
    const added: string[] = [];
    const ids = insertMany(rows, added);
    remember(added, outer);
    return ids;
  };

  return {
    ...reader,
    insertCall,
    insertCalls,
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
