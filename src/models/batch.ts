/**
 * The OpenAI Batch API as a gateway route (see BatchRoute in gateway.ts): requests queued by many callers go out as
 * one JSONL file, uploaded (`POST /v1/files`, purpose "batch"), made a batch (`POST /v1/batches`, completion window
 * 24h), polled (`GET /v1/batches/{id}`) until it ends, and answered from its output and error files
 * (`GET /v1/files/{id}/content`), matched by custom_id. Each batch is stored with its requests' keys before it is
 * uploaded (store/batches.ts), so a run killed while one is in flight finds it again on resume and polls it. Once a
 * stored batch is followed, every request it carries counts as in flight: an item asking for one of them, in this flush
 * or a later one, waits on it instead of being submitted (and paid for) again. An item the batch did not answer (an
 * error line, an expired, failed or cancelled batch) rejects with a BatchItemError, which the gateway makes as an
 * ordinary call.
 *
 * When to submit is the caller's choice: the route queues items and submits them on flush(), and tells a
 * BatchScheduler (src/pipeline/batching.ts) as each item is queued and settled, so it can flush once every job of a
 * stage waits on the route.
 */
import OpenAI, { toFile } from 'openai';
import { InterruptedError, UserError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { BatchesTable, BatchCounts, BatchRequestRow } from '../store/batches.js';
import { chatCompletionResult, embeddingsBody, embeddingsResult, chatCompletionBody, toProviderError } from './adapters/openai.js';
import { openaiApiKey, openaiBaseURL } from './api-key.js';
import { BatchItemError, priceOf, type BatchAnswer, type BatchItem, type BatchRoute, type Price } from './gateway.js';
import { DEFAULT_RETRY, sleep as defaultSleep, withRetry, type RetryOptions } from './retry.js';
import { parseModelSpec } from './spec.js';
import { ProviderError, type ModelClient } from './types.js';

export const CHAT_ENDPOINT = '/v1/chat/completions';
export const EMBEDDINGS_ENDPOINT = '/v1/embeddings';
export type BatchEndpoint = typeof CHAT_ENDPOINT | typeof EMBEDDINGS_ENDPOINT;

/** The Batch API's statuses; the last four end a batch. */
export type BatchStatus = 'validating' | 'in_progress' | 'finalizing' | 'completed' | 'failed' | 'expired' | 'cancelling' | 'cancelled';
const ENDED = new Set<string>(['completed', 'failed', 'expired', 'cancelled']);

/** OpenAI's limits per batch: requests, input file size, and embedding inputs over all its requests. */
export const BATCH_LIMITS = { requests: 50_000, bytes: 190 * 1024 * 1024, embeddingInputs: 50_000 };
/** Default wait between polls of a batch. */
export const DEFAULT_BATCH_POLL_MS = 30_000;
/** Default share of the synchronous price a batched call costs (OpenAI: half). */
export const DEFAULT_BATCH_DISCOUNT = 0.5;

/** A batch as the provider reports it. */
export interface BatchInfo {
  id: string;
  status: string;
  inputFileId: string | null;
  outputFileId: string | null;
  errorFileId: string | null;
  counts: BatchCounts | null;
  /** The batch's own errors (a failed validation), in words. */
  errors: string | null;
}

/** The provider side: files and batches. */
export interface BatchTransport {
  /** Uploads a JSONL file with purpose "batch"; its file id. */
  upload(jsonl: string, filename: string): Promise<string>;
  create(inputFileId: string, endpoint: BatchEndpoint, metadata: Record<string, string>): Promise<BatchInfo>;
  retrieve(batchId: string, signal?: AbortSignal): Promise<BatchInfo>;
  /** A file's content as text. */
  content(fileId: string, signal?: AbortSignal): Promise<string>;
  /** The batch made from this input file, if the provider lists one (found when a kill landed between create and storing its id). */
  findByInputFile(inputFileId: string): Promise<BatchInfo | undefined>;
}

function toInfo(b: OpenAI.Batches.Batch): BatchInfo {
  const errors = b.errors?.data?.map((e) => [e.code, e.line != null ? `line ${e.line}` : null, e.message].filter(Boolean).join(': ')).join('; ');
  return {
    id: b.id,
    status: b.status,
    inputFileId: b.input_file_id ?? null,
    outputFileId: b.output_file_id ?? null,
    errorFileId: b.error_file_id ?? null,
    counts: b.request_counts ? { total: b.request_counts.total, completed: b.request_counts.completed, failed: b.request_counts.failed } : null,
    errors: errors || null,
  };
}

/** How many batches findByInputFile looks through, newest first. */
const FIND_LIMIT = 1000;

/**
 * The Batch API of an openai: spec through the official client (files and batches resources), with the same base URL
 * and key as its chat calls. One attempt per request (maxRetries 0): the route retries.
 */
export function openaiBatchTransport(spec: string, options: { apiKeyEnv?: string; timeoutMs?: number } = {}): BatchTransport {
  const parsed = parseModelSpec(spec);
  const baseURL = openaiBaseURL(parsed);
  const { apiKey, envName } = openaiApiKey(parsed, options.apiKeyEnv);
  const timeoutMs = options.timeoutMs ?? 600_000;
  const client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: timeoutMs });
  const fail = (e: unknown, signal?: AbortSignal) => toProviderError(e, { baseURL, envName, timeoutMs, signal });
  const call = async <T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw fail(e, signal);
    }
  };
  return {
    async upload(jsonl, filename) {
      const file = await toFile(Buffer.from(jsonl, 'utf8'), filename, { type: 'application/jsonl' });
      return (await call(() => client.files.create({ file, purpose: 'batch' }))).id;
    },
    async create(inputFileId, endpoint, metadata) {
      return toInfo(await call(() => client.batches.create({ input_file_id: inputFileId, endpoint, completion_window: '24h', metadata })));
    },
    async retrieve(batchId, signal) {
      return toInfo(await call(() => client.batches.retrieve(batchId, { signal }), signal));
    },
    async content(fileId, signal) {
      return call(async () => (await client.files.content(fileId, { signal })).text(), signal);
    },
    async findByInputFile(inputFileId) {
      return call(async () => {
        let seen = 0;
        for await (const b of client.batches.list({ limit: 100 })) {
          if (b.input_file_id === inputFileId) return toInfo(b);
          if (++seen >= FIND_LIMIT) break;
        }
        return undefined;
      });
    },
  };
}

/** One line of a batch's output or error file, as a result: the response body, or why there is none. */
export type LineResult = { ok: true; body: unknown } | { ok: false; error: string };

/**
 * The lines of output and error files by custom_id: `{id, custom_id, response: {status_code, request_id, body}, error}`.
 * A line answers its request when its status code is 2xx and it has no error; otherwise its error (the line's own,
 * or the error object of the response body) says why.
 */
export function parseBatchResults(...files: string[]): Map<string, LineResult> {
  const out = new Map<string, LineResult>();
  for (const text of files) {
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line) continue;
      let row: { custom_id?: unknown; response?: { status_code?: number; body?: unknown } | null; error?: { code?: string; message?: string } | null };
      try {
        row = JSON.parse(line);
      } catch {
        continue; // a torn line names no request; its request is then unanswered and falls back
      }
      if (typeof row?.custom_id !== 'string') continue;
      const status = row.response?.status_code;
      if (!row.error && row.response && typeof status === 'number' && status >= 200 && status < 300) {
        out.set(row.custom_id, { ok: true, body: row.response.body });
        continue;
      }
      const bodyError = (row.response?.body as { error?: { code?: string; message?: string } } | undefined)?.error;
      const e = row.error ?? bodyError;
      const words = [e?.code, e?.message].filter(Boolean).join(': ');
      const error =
        typeof status === 'number' && !row.error ? (words ? `HTTP ${status}: ${words}` : `HTTP ${status}`) : words || (typeof status === 'number' ? `HTTP ${status}` : 'no response');
      // An answer seen in the output file is not undone by a stray error line for the same request.
      if (out.get(row.custom_id)?.ok !== true) out.set(row.custom_id, { ok: false, error });
    }
  }
  return out;
}

/** Told by a route as each item is queued (in the caller's async context) and settled; decides when to flush. */
export interface BatchScheduler {
  /** An item was queued or attached to a batch in flight; returns what to call once it settles. */
  queued(route: OpenAIBatchRoute): () => void;
}

/** What progress displays are told. */
export interface BatchEvent {
  model: string;
  endpoint: BatchEndpoint;
  /** The provider's batch id (null before it exists). */
  batchId: string | null;
  /** 'submitted', 'resumed', a provider status, or 'done'. */
  status: string;
  requests: number;
  counts: BatchCounts | null;
  /** With 'done': how the batch's items ended. */
  answered?: number;
  fellBack?: number;
}

/** A route's running totals: batches submitted and resumed, items answered and sent back to ordinary calls. */
export interface BatchRouteStats {
  submitted: number;
  resumed: number;
  answered: number;
  fellBack: number;
}

export interface BatchRouteOptions {
  /** The model the route batches for (its id, backend model name and base URL). */
  client: Pick<ModelClient, 'id' | 'model' | 'endpoint'>;
  transport: BatchTransport;
  /** Where batches are kept (the run's database); null: not kept (no resume). */
  store: BatchesTable | null;
  runId: string | null;
  /** USD per million tokens of a batched call (undefined: free). */
  price: Price | undefined;
  scheduler?: BatchScheduler;
  /** Between polls (default DEFAULT_BATCH_POLL_MS). */
  pollMs?: number;
  /** For provider requests (upload, create, poll, download). */
  retry?: Partial<RetryOptions>;
  /** Aborted on Ctrl-C: nothing new is submitted and polling stops; stored batches are polled again on resume. */
  stop?: AbortSignal;
  onEvent?: (e: BatchEvent) => void;
  logger?: Logger;
  /** Per batch; default BATCH_LIMITS (tests lower them). */
  limits?: Partial<typeof BATCH_LIMITS>;
  /** Injectable for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

interface Waiter {
  /** Settled: answered, failed, or given up by its caller's signal; later calls do nothing. */
  done: boolean;
  resolve(a: BatchAnswer): void;
  reject(e: unknown): void;
}

interface Pending {
  item: BatchItem;
  waiters: Waiter[];
}

/** A batch this route follows: submitted now, or found stored from an earlier session. */
interface Tracked {
  localId: number | null;
  endpoint: BatchEndpoint;
  batchId: string;
  requests: number;
  /** custom_id → request hash, for every request of the batch. */
  byCustomId: Map<string, string>;
  /** The request hashes it carries. */
  hashes: Set<string>;
  /** The items waiting on it, by request hash. */
  waiting: Map<string, Pending>;
  info: BatchInfo | null;
}

const endpointOf = (item: BatchItem): BatchEndpoint => (item.kind === 'generate' ? CHAT_ENDPOINT : EMBEDDINGS_ENDPOINT);

/**
 * Batches one OpenAI model's requests (see the file's comment). Identical items (same request hash) are sent once; the
 * first caller pays, the others are answered as shared.
 */
export class OpenAIBatchRoute implements BatchRoute {
  readonly price: Price | undefined;
  readonly stats: BatchRouteStats = { submitted: 0, resumed: 0, answered: 0, fellBack: 0 };
  scheduler: BatchScheduler | undefined;
  private readonly queue = new Map<string, Pending>();
  /** Request hash → the batch in flight that carries it. */
  private readonly inFlight = new Map<string, Tracked>();
  /** Items flushed and on their way into a batch (its file uploading): an identical item joins them. */
  private readonly dispatching = new Map<string, Pending>();
  /** The batches being polled, each with the promise that ends when it has been read (or stopped being polled). */
  private readonly following = new Map<Tracked, Promise<void>>();
  private readonly isOfficial: boolean;
  private readonly pollMs: number;
  private readonly retry: RetryOptions;
  private readonly limits: typeof BATCH_LIMITS;
  private readonly log: Logger;
  private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(private readonly options: BatchRouteOptions) {
    this.price = options.price;
    this.scheduler = options.scheduler;
    this.isOfficial = new URL(options.client.endpoint).hostname === 'api.openai.com';
    this.pollMs = options.pollMs ?? DEFAULT_BATCH_POLL_MS;
    if (!(Number.isFinite(this.pollMs) && this.pollMs > 0)) throw new UserError(`The batch poll interval must be a positive number of milliseconds, got ${this.pollMs}.`);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.limits = { ...BATCH_LIMITS, ...options.limits };
    this.log = options.logger ?? silentLogger;
    this.wait = options.sleep ?? defaultSleep;
    options.stop?.addEventListener('abort', () => this.stopQueued(), { once: true });
  }

  get model(): string {
    return this.options.client.id;
  }

  /** Items queued and not yet submitted. */
  hasQueued(): boolean {
    return this.queue.size > 0;
  }

  /**
   * Queues an item (or attaches it to an identical one queued or in flight). The caller's signal ends its wait: the
   * promise rejects with the signal's reason, and an item nobody else waits for leaves the queue; one already
   * submitted stays in its batch, and an identical item waiting with it is then the one that pays.
   */
  submit(item: BatchItem, signal?: AbortSignal): Promise<BatchAnswer> {
    if (this.options.stop?.aborted) return Promise.reject(new InterruptedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<BatchAnswer>((resolve, reject) => {
      const settled = this.scheduler?.queued(this) ?? (() => {});
      const end = (): boolean => {
        if (waiter.done) return false;
        waiter.done = true;
        signal?.removeEventListener('abort', onAbort);
        settled();
        return true;
      };
      const waiter: Waiter = {
        done: false,
        resolve: (a) => {
          if (end()) resolve(a);
        },
        reject: (e) => {
          if (end()) reject(e);
        },
      };
      const hash = item.requestHash;
      let pending: Pending;
      const onAbort = () => {
        waiter.reject(signal!.reason);
        if (this.queue.get(hash) === pending && pending.waiters.every((w) => w.done)) this.queue.delete(hash);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const flying = this.inFlight.get(hash);
      if (flying) {
        // Carried by a batch already submitted (this session's, or a stored one being polled): wait for it.
        const p = flying.waiting.get(hash);
        if (p) (pending = p).waiters.push(waiter);
        else flying.waiting.set(hash, (pending = { item, waiters: [waiter] }));
        return;
      }
      const queued = this.queue.get(hash) ?? this.dispatching.get(hash);
      if (queued) (pending = queued).waiters.push(waiter);
      else this.queue.set(hash, (pending = { item, waiters: [waiter] }));
    });
  }

  /** Submits every queued item: to a stored batch of an earlier session that carries it, else in new batches. */
  flush(): void {
    if (this.queue.size === 0) return;
    const items = [...this.queue.values()];
    this.queue.clear();
    for (const endpoint of [CHAT_ENDPOINT, EMBEDDINGS_ENDPOINT] as const) {
      const mine = items.filter((p) => endpointOf(p.item) === endpoint);
      if (mine.length) void this.dispatch(endpoint, mine);
    }
  }

  /** Resolves once every batch this route follows has ended and been read (or stopped being polled). */
  async idle(): Promise<void> {
    while (this.following.size) await Promise.allSettled(this.following.values());
  }

  private stopQueued(): void {
    const items = [...this.queue.values()];
    this.queue.clear();
    for (const p of items) for (const w of p.waiters) w.reject(new InterruptedError());
  }

  private async dispatch(endpoint: BatchEndpoint, items: Pending[]): Promise<void> {
    const rest = new Map(items.map((p) => [p.item.requestHash, p]));
    for (const [hash, p] of rest) this.dispatching.set(hash, p);
    try {
      for (const t of await this.resumeStored(endpoint, rest)) {
        for (const [hash, p] of rest) {
          if (!t.waiting.has(hash) && t.hashes.has(hash)) {
            t.waiting.set(hash, p);
            this.inFlight.set(hash, t);
            this.dispatching.delete(hash);
            rest.delete(hash);
          }
        }
        this.startFollowing(t);
      }
      // Carried by a batch already followed (a stored one resumed while these were on their way): they join it.
      for (const [hash, p] of rest) {
        const t = this.inFlight.get(hash);
        if (!t) continue;
        const joined = t.waiting.get(hash);
        if (joined) joined.waiters.push(...p.waiters);
        else t.waiting.set(hash, p);
        this.dispatching.delete(hash);
        rest.delete(hash);
      }
      for (const chunk of this.chunks(endpoint, [...rest.values()])) {
        const t = await this.submitNew(endpoint, chunk);
        for (const { pending } of chunk) rest.delete(pending.item.requestHash);
        this.startFollowing(t);
      }
    } catch (e) {
      // Nothing was submitted for these (a stop, or the provider refused the file): they end with the error.
      for (const p of rest.values()) for (const w of p.waiters) w.reject(e);
    } finally {
      for (const hash of rest.keys()) if (this.dispatching.get(hash) === rest.get(hash)) this.dispatching.delete(hash);
    }
  }

  /**
   * The stored batches of an earlier session that carry some of these items, ready to poll. A batch stored but never
   * created (the process died between storing and creating it) is looked up by its input file; one not found is
   * abandoned, and its items are submitted again.
   */
  private async resumeStored(endpoint: BatchEndpoint, wanted: Map<string, Pending>): Promise<Tracked[]> {
    const store = this.options.store;
    if (!store) return [];
    const out: Tracked[] = [];
    // Those already followed are skipped before their requests (up to 50,000 rows each) are read.
    const followed = new Set<number>();
    for (const t of this.following.keys()) if (t.localId !== null) followed.add(t.localId);
    for (const { batch, requests } of store.openBatches(this.options.runId, this.model, endpoint, followed)) {
      if (!requests.some((r) => wanted.has(r.requestHash))) continue;
      let batchId = batch.batchId;
      if (batchId === null) {
        const found = batch.inputFileId ? await this.retrying(() => this.options.transport.findByInputFile(batch.inputFileId!)) : undefined;
        if (!found) {
          store.finishBatch(batch.id, 'abandoned', 'never created: its requests were submitted again');
          continue;
        }
        batchId = found.id;
        store.setCreated(batch.id, found.id, found.status);
      }
      this.stats.resumed++;
      const t: Tracked = {
        localId: batch.id,
        endpoint,
        batchId,
        requests: batch.requests,
        byCustomId: new Map(requests.map((r) => [r.customId, r.requestHash])),
        hashes: new Set(requests.map((r) => r.requestHash)),
        waiting: new Map(),
        info: null,
      };
      this.event(t, 'resumed', batch.counts);
      out.push(t);
    }
    return out;
  }

  /** Splits items into batches within the provider's limits. */
  private *chunks(endpoint: BatchEndpoint, items: Pending[]): Generator<{ pending: Pending; line: string }[]> {
    let chunk: { pending: Pending; line: string }[] = [];
    let bytes = 0;
    let inputs = 0;
    for (const pending of items) {
      const request = this.request(pending.item);
      const size = Buffer.byteLength(request) + 32; // with its custom_id and the newline
      const n = pending.item.kind === 'embed' ? pending.item.texts.length : 1;
      const full =
        chunk.length >= this.limits.requests || bytes + size > this.limits.bytes || (endpoint === EMBEDDINGS_ENDPOINT && inputs + n > this.limits.embeddingInputs);
      if (chunk.length > 0 && full) {
        yield chunk;
        chunk = [];
        bytes = 0;
        inputs = 0;
      }
      // One JSONL line, {"custom_id": "r<index in its batch>", "method", "url", "body"}.
      chunk.push({ pending, line: `{"custom_id":"r${chunk.length}",${request.slice(1)}` });
      bytes += size;
      inputs += n;
    }
    if (chunk.length) yield chunk;
  }

  /** A request as its JSONL line carries it, without the custom_id: {"method", "url", "body"}. */
  private request(item: BatchItem): string {
    const { client } = this.options;
    const body = item.kind === 'generate' ? chatCompletionBody(client.model, this.isOfficial, item.req) : embeddingsBody(client.model, item.texts);
    return JSON.stringify({ method: 'POST', url: endpointOf(item), body });
  }

  /** Stores the batch, uploads its file, creates it, and stores its id: a resume finds it at every step. */
  private async submitNew(endpoint: BatchEndpoint, chunk: { pending: Pending; line: string }[]): Promise<Tracked> {
    const { store, transport, runId } = this.options;
    const requests: BatchRequestRow[] = chunk.map(({ pending }, i) => ({
      customId: `r${i}`,
      requestHash: pending.item.requestHash,
      keys: pending.item.kind === 'generate' ? [pending.item.requestHash] : pending.item.keys,
    }));
    if (this.options.stop?.aborted) throw new InterruptedError();
    const localId = store ? store.createBatch({ runId, model: this.model, endpoint, requests }) : null;
    const jsonl = chunk.map((c) => c.line).join('\n') + '\n';
    let info: BatchInfo;
    try {
      const fileId = await this.retrying(() => transport.upload(jsonl, `w2s-batch-${localId ?? Date.now()}.jsonl`));
      if (localId !== null) store!.setInputFile(localId, fileId);
      // Once uploaded, the batch is created even after a stop: it is stored, so the resume polls it.
      info = await this.retrying(() => transport.create(fileId, endpoint, { w2s_model: this.model.slice(0, 500), ...(runId ? { w2s_run: runId.slice(0, 500) } : {}) }));
    } catch (e) {
      if (localId !== null) store!.finishBatch(localId, 'abandoned', (e as Error).message);
      throw this.submissionError(e);
    }
    if (localId !== null) store!.setCreated(localId, info.id, info.status);
    this.stats.submitted++;
    const t: Tracked = {
      localId,
      endpoint,
      batchId: info.id,
      requests: requests.length,
      byCustomId: new Map(requests.map((r) => [r.customId, r.requestHash])),
      hashes: new Set(requests.map((r) => r.requestHash)),
      waiting: new Map(chunk.map(({ pending }) => [pending.item.requestHash, pending])),
      info,
    };
    for (const hash of t.waiting.keys()) {
      this.inFlight.set(hash, t);
      this.dispatching.delete(hash);
    }
    this.event(t, 'submitted', info.counts);
    return t;
  }

  /** A provider that has no Batch API says so in one sentence naming the fix. */
  private submissionError(e: unknown): unknown {
    if (e instanceof ProviderError && e.info.status === 404) {
      return new UserError(
        `${this.model} has no Batch API (${e.message}); remove "batch" from this model's settings (or drop --batch) to call it directly.`,
        { cause: e },
      );
    }
    return e;
  }

  private startFollowing(t: Tracked): void {
    // Every request the batch carries is in flight, not only those waited on now: a later item asking for one of them
    // joins the batch instead of being submitted (and paid for) again.
    for (const hash of t.hashes) if (!this.inFlight.has(hash)) this.inFlight.set(hash, t);
    const done = this.follow(t).finally(() => this.following.delete(t));
    this.following.set(t, done);
  }

  /** Polls a batch until it ends, then answers its items from its output and error files. Never rejects. */
  private async follow(t: Tracked): Promise<void> {
    const { transport, store, stop } = this.options;
    try {
      let info = t.info;
      let last = info ? `${info.status} ${JSON.stringify(info.counts)}` : '';
      while (!info || !ENDED.has(info.status)) {
        if (info) await this.wait(this.pollMs, stop);
        try {
          info = await this.retrying(() => transport.retrieve(t.batchId, stop), stop);
        } catch (e) {
          if (e instanceof ProviderError && e.info.status === 404) {
            // Gone at the provider (another key, or deleted): its items are made as ordinary calls.
            info = { id: t.batchId, status: 'failed', inputFileId: null, outputFileId: null, errorFileId: null, counts: null, errors: `not found at the provider (${e.message})` };
            break;
          }
          throw e;
        }
        const now = `${info.status} ${JSON.stringify(info.counts)}`;
        if (t.localId !== null) store?.updateBatch(t.localId, { status: info.status, counts: info.counts, outputFileId: info.outputFileId, errorFileId: info.errorFileId, error: info.errors });
        if (now !== last) this.event(t, info.status, info.counts);
        last = now;
      }
      const files = await Promise.all(
        [info.outputFileId, info.errorFileId].map((id) => (id ? this.retrying(() => transport.content(id, stop), stop) : Promise.resolve(''))),
      );
      const { answered, fellBack, recorded } = this.answer(t, info, parseBatchResults(...files));
      // Marked read only once every answer is cached and in the ledger: a kill before then finds it open and reads it again.
      await Promise.all(recorded);
      if (t.localId !== null) store?.finishBatch(t.localId, 'done');
      this.event(t, 'done', info.counts, { answered, fellBack });
    } catch (e) {
      // A stop (or a provider that cannot be reached after retries): the batch stays stored and open, and a resume
      // polls it again; its items end now.
      const reason = stop?.aborted ? new InterruptedError() : e;
      this.release(t);
      for (const p of t.waiting.values()) for (const w of p.waiters) w.reject(reason);
      t.waiting.clear();
    }
  }

  /** The batch no longer carries anything in flight: an item asking for one of its requests from now on is queued. */
  private release(t: Tracked): void {
    for (const hash of t.hashes) if (this.inFlight.get(hash) === t) this.inFlight.delete(hash);
  }

  /** Resolves every waiting item from the results; the rest reject with a BatchItemError. Synchronous. */
  private answer(t: Tracked, info: BatchInfo, results: Map<string, LineResult>): { answered: number; fellBack: number; recorded: Promise<void>[] } {
    const { client } = this.options;
    const recorded: Promise<void>[] = [];
    let answered = 0;
    let fellBack = 0;
    let orphans = 0;
    const waitingHashes = new Set(t.waiting.keys());
    for (const [customId, hash] of t.byCustomId) {
      const p = t.waiting.get(hash);
      const line = results.get(customId);
      if (!p) {
        if (line?.ok) orphans++;
        continue;
      }
      waitingHashes.delete(hash);
      t.waiting.delete(hash);
      if (this.inFlight.get(hash) === t) this.inFlight.delete(hash);
      let value: BatchAnswer['value'];
      try {
        if (!line) {
          const why = info.errors ? `: ${info.errors}` : '';
          throw new BatchItemError(`batch ${t.batchId} ended ${info.status} without answering this request${why}`);
        }
        if (!line.ok) throw new BatchItemError(`batch ${t.batchId} could not answer this request (${line.error})`);
        value =
          p.item.kind === 'generate'
            ? chatCompletionResult(line.body as OpenAI.Chat.ChatCompletion, p.item.req, client.endpoint, client.model)
            : embeddingsResult(line.body as OpenAI.CreateEmbeddingResponse, p.item.texts.length, client.endpoint);
      } catch (e) {
        fellBack++;
        const err = e instanceof BatchItemError ? e : new BatchItemError(`batch ${t.batchId} returned an unusable answer (${(e as Error).message})`);
        for (const w of p.waiters) w.reject(err);
        continue;
      }
      answered++;
      // The first caller still waiting pays; one whose signal ended its wait is skipped.
      p.waiters.filter((w) => !w.done).forEach((w, i) => {
        let done!: () => void;
        recorded.push(new Promise<void>((res) => (done = res)));
        w.resolve({ value, shared: i > 0, recorded: done });
      });
    }
    // Waiting on a batch that does not carry it (cannot happen: items join only batches that carry them).
    for (const hash of waitingHashes) {
      const p = t.waiting.get(hash)!;
      t.waiting.delete(hash);
      if (this.inFlight.get(hash) === t) this.inFlight.delete(hash);
      fellBack++;
      for (const w of p.waiters) w.reject(new BatchItemError(`batch ${t.batchId} does not carry this request`));
    }
    this.release(t);
    if (orphans) this.log.warn(`batch ${t.batchId} answered ${orphans} request(s) this run no longer asks for; they are left unused`);
    this.stats.answered += answered;
    this.stats.fellBack += fellBack;
    return { answered, fellBack, recorded };
  }

  /** A provider request with the gateway's retry policy; with signal (polls, downloads), a stop ends it. */
  private retrying<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetry(fn, { ...this.retry, timeoutMs: Math.max(this.retry.timeoutMs, 600_000) }, {
      signal,
      sleep: this.wait,
      onRetry: ({ attempt, delayMs, error }) => this.log.info(`batch request to ${this.model} failed (${(error as Error).message}); retrying in ${(delayMs / 1000).toFixed(1)} s`, { attempt }),
    });
  }

  private event(t: Tracked, status: string, counts: BatchCounts | null, extra: { answered?: number; fellBack?: number } = {}): void {
    this.options.onEvent?.({ model: this.model, endpoint: t.endpoint, batchId: t.batchId, status, requests: t.requests, counts, ...extra });
  }
}

/** A batch event in words, for progress lines. */
export function describeBatchEvent(e: BatchEvent): string {
  const what = `batch ${e.batchId ?? '(new)'} (${e.model}, ${e.requests} ${e.endpoint === EMBEDDINGS_ENDPOINT ? 'embedding' : 'chat'} request${e.requests === 1 ? '' : 's'})`;
  if (e.status === 'done') {
    const back = e.fellBack ? `, ${e.fellBack} to ordinary calls` : '';
    return `${what}: read, ${e.answered ?? 0} answered${back}`;
  }
  const c = e.counts;
  const counts = c && c.total > 0 ? `, ${c.completed}/${c.total} done${c.failed ? `, ${c.failed} failed` : ''}` : '';
  return `${what}: ${e.status}${counts}`;
}

/** The price of a batched call: batchPrices' entry for the model, else its synchronous price less the discount. */
export function batchPriceOf(
  client: Pick<ModelClient, 'id' | 'model'>,
  prices: Record<string, Price> | undefined,
  batchPrices: Record<string, Price> | undefined,
  discount = DEFAULT_BATCH_DISCOUNT,
): Price | undefined {
  const own = priceOf(batchPrices, client);
  if (own) return own;
  const p = priceOf(prices, client);
  return p && { inputPerMTok: p.inputPerMTok * (1 - discount), outputPerMTok: p.outputPerMTok * (1 - discount) };
}
