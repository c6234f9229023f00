import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { UserError } from '../errors.js';
import { secretRedactor } from '../redact.js';
import { callTextsReader } from '../store/calls.js';
import type { DB } from '../store/db.js';
import { SPLITS, type Split } from '../store/examples.js';
import { openReport } from './queries.js';

/**
 * Streaming exports of the ledger, predictions and transcripts. Rows come from better-sqlite3's iterate(), one at a
 * time, and are written in ~64 KiB chunks that wait for the stream to drain: memory stays flat with the row count.
 */

export type ExportWhat = 'transcripts' | 'predictions' | 'calls';
export type ExportFormat = 'jsonl' | 'csv' | 'chat';

export const EXPORT_WHATS: readonly ExportWhat[] = ['transcripts', 'predictions', 'calls'];
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'csv', 'chat'];

export interface ExportOptions {
  what: ExportWhat;
  format: ExportFormat;
  /** Only this run (default: every run in the file). */
  runId?: string;
  /**
   * Calls only: add each call's request parameters, messages and raw reply (JSONL: params, messages, response, null
   * for calls made before w2s stored them; CSV: params_json, messages_json, response). Default true.
   */
  texts?: boolean;
  /** Only examples (transcripts, predictions) of these splits (default: every split; the CLI's default is the training splits). The ledger has no split. */
  splits?: readonly Split[];
}

export const TRAINING_SPLITS: readonly Split[] = ['train_weak', 'train_strong'];

/** `--split` as typed: a comma list of split names; an unknown name is a UserError. */
export function parseSplits(text: string): Split[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((s) => !(SPLITS as readonly string[]).includes(s));
  if (unknown.length || names.length === 0) {
    throw new UserError(`--split takes a comma list of ${SPLITS.join(', ')}; ${unknown.length ? `"${unknown.join('", "')}" ${unknown.length > 1 ? 'are' : 'is'} not a split` : 'it was empty'}.`);
  }
  return [...new Set(names)] as Split[];
}

/** The system prompt of chat-form transcripts: the fine-tuned model is a judge of the debate. */
export const CHAT_SYSTEM =
  'You judge debates about whether a proposed answer to a question is correct. Read the question, the proposed answer and the debate, then reply with one word: correct or incorrect.';

const CALL_COLUMNS = ['id', 'run_id', 'role', 'model', 'kind', 'request_hash', 'cache_hit', 'attempts', 'latency_ms', 'input_tokens', 'output_tokens', 'cost_usd', 'finish_reason', 'error', 'created_at', 'endpoint'];
/** The calls' text columns (CSV; JSONL has params, messages and response). */
const CALL_TEXT_COLUMNS = ['params_json', 'messages_json', 'response'];
const PREDICTION_COLUMNS = ['run_id', 'model_id', 'role', 'member', 'example_id', 'split', 'label', 'debate_id', 'p1'];
const TURN_COLUMNS = ['run_id', 'debate_id', 'example_id', 'split', 'label', 'protocol', 'sample', 'status', 'turn', 'speaker', 'side', 'word_count', 'truncated', 'text', 'call_id', 'quotes', 'quotes_verified'];

/** A CSV field: quoted when it holds a comma, quote, CR or LF (quotes doubled), empty for null. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : String(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const csvLine = (values: unknown[]): string => `${values.map(csvField).join(',')}\r\n`;

interface TurnJoinRow {
  run_id: string;
  debate_id: string;
  example_id: string;
  split: string;
  label: number;
  question: string | null;
  answer: string | null;
  text_: string;
  protocol: string;
  sample: number;
  sides_json: string;
  status: string;
  source_json: string | null;
  turn: number | null;
  speaker: string | null;
  side: string | null;
  word_count: number | null;
  truncated: number | null;
  text: string | null;
  call_id: number | null;
  quotes: number | null;
  quotes_verified: number | null;
}

// Debates with their turns in (debate, idx) order; the LEFT JOIN keeps debates that have no turns yet.
const TRANSCRIPT_SQL = `
SELECT d.run_id, d.id AS debate_id, d.example_id, e.split, e.label, e.question, e.answer, e.text AS text_, d.protocol, d.sample,
  d.sides_json, d.status, d.source_json, t.idx AS turn, t.speaker, t.side, t.word_count, t.truncated, t.text, t.call_id, t.quotes, t.quotes_verified
FROM debates d
JOIN examples e ON e.run_id = d.run_id AND e.id = d.example_id
LEFT JOIN turns t ON t.debate_id = d.id
WHERE (@run IS NULL OR d.run_id = @run) AND (@splits IS NULL OR e.split IN (SELECT value FROM json_each(@splits)))
ORDER BY d.id, t.idx`;

/** The rows of an export as lines (JSONL or CSV), produced lazily. */
export function* exportLines(db: DB, options: ExportOptions): Generator<string> {
  const { what, format } = options;
  const run = options.runId ?? null;
  const splits = options.splits ? JSON.stringify(options.splits) : null;
  if (format === 'chat' && what !== 'transcripts') throw new UserError(`--format chat exports transcripts only; use --what transcripts, or --format jsonl|csv for ${what}.`);
  if (options.splits && what === 'calls') throw new UserError('--split applies to transcripts and predictions; the call ledger has no split, so drop --split.');
  if (options.splits?.some((s) => !SPLITS.includes(s))) parseSplits(options.splits.join(','));
  if (what === 'calls') {
    yield* callLines(db, format, run, options.texts ?? true);
    return;
  }
  if (what === 'predictions') {
    const stmt = db.prepare(
      `SELECT m.run_id, m.id AS model_id, m.role, m.member, p.example_id, e.split, e.label, p.debate_id, p.p1
       FROM predictions p JOIN models m ON m.id = p.model_id JOIN examples e ON e.run_id = p.run_id AND e.id = p.example_id
       WHERE (@run IS NULL OR m.run_id = @run) AND (@splits IS NULL OR e.split IN (SELECT value FROM json_each(@splits)))
       ORDER BY m.run_id, m.role, m.member, p.rowid`,
    );
    if (format === 'csv') yield csvLine(PREDICTION_COLUMNS);
    for (const r of stmt.iterate({ run, splits }) as Iterable<Record<string, unknown>>) {
      yield format === 'csv' ? csvLine(PREDICTION_COLUMNS.map((c) => r[c])) : `${JSON.stringify(r)}\n`;
    }
    return;
  }
  const stmt = db.prepare(TRANSCRIPT_SQL);
  if (format === 'csv') {
    // One row per turn: flat and spreadsheet-friendly.
    yield csvLine(TURN_COLUMNS);
    for (const r of stmt.iterate({ run, splits }) as Iterable<TurnJoinRow>) {
      yield csvLine([r.run_id, r.debate_id, r.example_id, r.split, r.label, r.protocol, r.sample, r.status, r.turn, r.speaker, r.side, r.word_count, r.truncated, r.text, r.call_id, r.quotes, r.quotes_verified]);
    }
    return;
  }
  // JSONL and chat: one line per debate, gathered from its consecutive turn rows.
  let current: { head: TurnJoinRow; turns: TurnJoinRow[] } | undefined;
  const flush = (c: { head: TurnJoinRow; turns: TurnJoinRow[] }): string => `${JSON.stringify(format === 'chat' ? chatRecord(c.head, c.turns) : transcriptRecord(c.head, c.turns))}\n`;
  for (const r of stmt.iterate({ run, splits }) as Iterable<TurnJoinRow>) {
    if (current && current.head.debate_id !== r.debate_id) {
      const done = current;
      current = undefined;
      if (format !== 'chat' || done.head.status === 'completed') yield flush(done);
    }
    current ??= { head: r, turns: [] };
    if (r.turn !== null) current.turns.push(r);
  }
  if (current && (format !== 'chat' || current.head.status === 'completed')) yield flush(current);
}

/**
 * The ledger, one call per line; with texts, each call's params, messages and raw reply (read per call through the
 * primary keys, so the export stays a stream). Model ids, errors and texts pass through the secret redaction.
 */
function* callLines(db: DB, format: ExportFormat, run: string | null, texts: boolean): Generator<string> {
  const stmt = db.prepare(`SELECT ${CALL_COLUMNS.join(', ')}, response_hash, params_json FROM calls WHERE (@run IS NULL OR run_id = @run) ORDER BY id`);
  const reader = texts ? callTextsReader(db) : null;
  const clean = secretRedactor();
  if (format === 'csv') yield csvLine(texts ? [...CALL_COLUMNS, ...CALL_TEXT_COLUMNS] : CALL_COLUMNS);
  for (const raw of stmt.iterate({ run }) as Iterable<Record<string, unknown>>) {
    const { response_hash: responseHash, params_json: paramsJson, ...r } = raw as Record<string, unknown> & { response_hash: string | null; params_json: string | null };
    r.model = clean(r.model as string);
    if (typeof r.error === 'string') r.error = clean(r.error);
    let extra: { params: Record<string, unknown> | null; messages: { role: string; content: string }[] | null; response: string | null } | undefined;
    if (reader) {
      // params_json is null exactly for calls made before w2s stored texts: null, not an empty list, says so.
      const recorded = paramsJson !== null;
      const response = responseHash === null ? undefined : reader.textOf(responseHash);
      extra = {
        params: recorded ? (JSON.parse(paramsJson) as Record<string, unknown>) : null,
        messages: recorded ? reader.messagesOf(r.id as number).map((m) => ({ role: m.role, content: clean(m.content) })) : null,
        response: response === undefined ? null : clean(response),
      };
    }
    if (format === 'csv') {
      const values = CALL_COLUMNS.map((c) => r[c]);
      if (extra) values.push(extra.params && JSON.stringify(extra.params), extra.messages && JSON.stringify(extra.messages), extra.response);
      yield csvLine(values);
    } else yield `${JSON.stringify({ ...r, cache_hit: r.cache_hit === 1, ...extra })}\n`;
  }
}

function transcriptRecord(h: TurnJoinRow, turns: TurnJoinRow[]): Record<string, unknown> {
  return {
    run_id: h.run_id, debate_id: h.debate_id, example_id: h.example_id, split: h.split, label: h.label, question: h.question, answer: h.answer,
    protocol: h.protocol, sample: h.sample, sides: JSON.parse(h.sides_json), status: h.status,
    turns: turns.map((t) => ({
      index: t.turn, speaker: t.speaker, side: t.side, text: t.text, word_count: t.word_count, truncated: t.truncated === 1, call_id: t.call_id,
      // Only for an example with a passage (debate.passage), so exports of other runs read as before.
      ...(t.quotes === null ? {} : { quotes: t.quotes, quotes_verified: t.quotes_verified }),
    })),
    // Imported transcripts only (w2s import): where they came from.
    ...(h.source_json !== null && { source: JSON.parse(h.source_json) as unknown }),
  };
}

/**
 * Fine-tuning form: system instructions, the example and its debate as the user message, the gold verdict as the reply;
 * `split` says which split the example is in (a test row is never training data).
 */
function chatRecord(h: TurnJoinRow, turns: TurnJoinRow[]): { messages: { role: string; content: string }[]; split: string } {
  const debate = turns.map((t) => `Debater ${t.speaker} (argues the answer is ${t.side}):\n${t.text}`).join('\n\n');
  const user = `${h.question !== null ? `Question: ${h.question}\nProposed answer: ${h.answer ?? ''}` : h.text_}\n\nDebate:\n${debate}`;
  return { messages: [{ role: 'system', content: CHAT_SYSTEM }, { role: 'user', content: user }, { role: 'assistant', content: h.label === 1 ? 'correct' : 'incorrect' }], split: h.split };
}

/** Writes lines to a stream in chunks, waiting for 'drain' whenever the stream's buffer is full. Returns the line count. */
export async function writeLines(lines: Iterable<string>, out: Writable, chunkBytes = 64 * 1024): Promise<number> {
  let failed: Error | undefined;
  const onError = (e: Error): void => {
    failed = e;
  };
  out.on('error', onError);
  // One pair of listeners per wait, both removed when either fires, so long exports do not pile up listeners.
  const drained = (): Promise<void> =>
    new Promise((resolve, reject) => {
      if (failed) return reject(failed);
      const finish = (e?: Error): void => {
        out.off('drain', ok);
        out.off('error', bad);
        if (e) reject(e);
        else resolve();
      };
      const ok = (): void => finish();
      const bad = (e: Error): void => finish(e);
      out.on('drain', ok);
      out.on('error', bad);
    });
  const push = async (s: string): Promise<void> => {
    if (failed) throw failed;
    if (!out.write(s)) await drained();
  };
  let buf = '';
  let count = 0;
  try {
    for (const line of lines) {
      buf += line;
      count++;
      if (buf.length >= chunkBytes) {
        const s = buf;
        buf = '';
        await push(s);
      }
    }
    if (buf) await push(buf);
  } finally {
    out.off('error', onError);
  }
  return count;
}

/**
 * Exports from a database file to `out` (a path: written to a temp file, then renamed, so a failed export leaves
 * nothing half-written) or to stdout. Returns how many lines were written (the CSV header counts as one).
 */
export async function exportToFile(dbFile: string, options: ExportOptions & { out?: string; stdout?: Writable }): Promise<number> {
  if (!EXPORT_WHATS.includes(options.what)) throw new UserError(`--what must be one of ${EXPORT_WHATS.join(', ')} (got "${options.what}").`);
  if (!EXPORT_FORMATS.includes(options.format)) throw new UserError(`--format must be one of ${EXPORT_FORMATS.join(', ')} (got "${options.format}").`);
  const q = openReport(dbFile);
  try {
    if (options.runId !== undefined) q.resolveRun(options.runId);
    if (!options.out) return await writeLines(exportLines(q.db, options), options.stdout ?? process.stdout);
    const tmp = `${options.out}.tmp-${process.pid}`;
    const file = createWriteStream(tmp);
    try {
      await once(file, 'open');
      const n = await writeLines(exportLines(q.db, options), file);
      file.end();
      await once(file, 'finish');
      renameSync(tmp, options.out);
      return n;
    } catch (e) {
      file.destroy();
      rmSync(tmp, { force: true });
      if (e instanceof UserError) throw e;
      throw new UserError(`Cannot write ${options.out}: ${(e as Error).message}; check that its folder exists and is writable.`, { cause: e });
    }
  } finally {
    q.close();
  }
}
