import { setMaxListeners } from 'node:events';
import pLimit, { type LimitFunction } from 'p-limit';
import { InterruptedError, UserError } from '../errors.js';
import { hashValue } from '../hash.js';
import { silentLogger, type Logger } from '../log.js';
import { redactSecrets as redact } from '../redact.js';
import { newClaimOwner, type CacheEntry, type CacheStore } from '../store/cache.js';
import type { CallKind, CallMessage, CallRecord, CallTexts, Ledger } from '../store/calls.js';
import { cacheKey, describeKey, embedKeyParts, generateKey, generateKeyParts } from './cache-key.js';
import { DEFAULT_COOLDOWN, EndpointHealth, endpointFailure, type Cooldown } from './replicas.js';
import { DEFAULT_RETRY, retryAfterOf, sleep, withRetry, type RetryOptions } from './retry.js';
import { WriteBatch } from './write-batch.js';
import { ProviderError, type EmbedResult, type GenerateRequest, type GenerateResult, type ModelClient, type Usage } from './types.js';

/** USD per million tokens. */
export interface Price {
  inputPerMTok: number;
  outputPerMTok: number;
}

export interface Budget {
  /** Backend calls (cache hits are free and never count). */
  maxCalls?: number;
  maxCostUsd?: number;
}

/** What the run spent before this gateway started (earlier sessions of a resumed run), read from its ledger. */
export interface Spent {
  calls: number;
  costUsd: number;
}

export interface GatewayOptions {
  /** Response cache; null or absent: no caching. */
  cache?: CacheStore | null;
  /** Call ledger; null or absent: calls are not recorded (callId is null). */
  ledger?: Ledger | null;
  /** The run ledger rows belong to. */
  runId?: string | null;
  /**
   * Who pays for calls, as recorded with each cache entry: unique to this run in this ledger (a run id alone is not:
   * the same config in another database has the same id). Default: runId.
   */
  payer?: string | null;
  /** Neither read nor write the cache. */
  noCache?: boolean;
  /**
   * Single-flight across processes sharing the cache (see CacheStore.claim): how long a claim lives unless renewed
   * (default 30 s; renewed every third of that while its call runs, so only a dead process's claim expires) and the
   * longest wait between polls of another process's claim (default 250 ms). Each gateway claims under its own owner
   * id (newClaimOwner: host, pid and a random part).
   */
  claimTtlMs?: number;
  claimPollMs?: number;
  /** Calls in flight per endpoint (default 4). */
  concurrency?: number;
  /** Per-endpoint overrides of concurrency, keyed by ModelClient.endpoint. */
  endpointConcurrency?: Record<string, number>;
  /**
   * Limiters shared with other gateways (the runs of a sweep), so the per-endpoint limit holds across them all; the
   * first gateway to call an endpoint creates its limiter with its own concurrency, and a model's `concurrency`
   * setting, applied by any sharer (setConcurrency), changes it for all of them: the last one set wins
   * (stats().queued counts every sharer's queue). Default: this gateway's own.
   */
  limits?: EndpointLimits;
  retry?: Partial<RetryOptions>;
  /**
   * How long an endpoint of a replica set (a model ref's endpoints) stays out after failing: baseMs after a first
   * failure, doubling with each failure in a row, at most maxMs (default 2 s and 60 s; see replicas.ts).
   */
  endpointCooldown?: Partial<Cooldown>;
  /** Keyed by client id or, failing that, backend model name; a model without a price costs 0 (local models). */
  prices?: Record<string, Price>;
  /** Limits on the run's total spend: `spent` plus what this gateway pays. */
  budget?: Budget;
  spent?: Spent;
  /**
   * Aborted to stop (Ctrl-C): no call and no retry starts after it; calls in flight get stopGraceMs to finish, then
   * are cut off. Either way the call fails with an InterruptedError.
   */
  stop?: AbortSignal;
  /** Default 5000. */
  stopGraceMs?: number;
  logger?: Logger;
  /** Injectable for tests: the backoff wait, the jitter source, and the clock for latency. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Send the call in a provider batch through this route instead of calling the backend (see the batch hook below). */
  batch?: BatchRoute;
}

export interface GenerateOptions extends CallOptions {
  /** Sample index of this request (debate ensembles draw several samples of the same prompt). Default 0. */
  sample?: number;
}

/** What the gateway adds to every result. */
export interface CallMeta {
  /** The ledger row id, or null without a ledger. */
  callId: number | null;
  cacheHit: boolean;
  /** The cache key (generate) or the hash of all per-text keys (embed), as in the ledger. */
  requestHash: string;
}

export interface GatewayModel {
  readonly client: ModelClient;
  readonly role: string;
  generate(req: GenerateRequest, options?: GenerateOptions): Promise<GenerateResult & CallMeta>;
  /** Cached per text; only the texts not in the cache go to the backend, in one batch. */
  embed(texts: string[], options?: CallOptions): Promise<EmbedResult & CallMeta>;
}

/** Live counters for progress displays. */
export interface GatewayStats {
  /** Logical calls started (hits included). */
  calls: number;
  hits: number;
  /** Logical calls that went to the backend. */
  backendCalls: number;
  /** Attempts after the first, over all calls. */
  retries: number;
  errors: number;
  /** Calls holding a concurrency slot (calling or backing off). */
  inFlight: number;
  /** Calls waiting for a concurrency slot. */
  queued: number;
  /** Calls sleeping before a retry (rate limited or failing); with lastRetry, tells "stuck" from "waiting". */
  backingOff: number;
  lastRetry: { model: string; attempt: number; delayMs: number; reason: string; at: number } | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** Thrown before a call that would start past the budget; no backend call is made. */
export class BudgetExceededError extends Error {
  override readonly name = 'BudgetExceededError';
  constructor(
    message: string,
    readonly limit: keyof Budget,
  ) {
    super(message);
  }
}

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_CLAIM_TTL_MS = 30_000;
const DEFAULT_CLAIM_POLL_MS = 250;
const DEFAULT_STOP_GRACE_MS = 5_000;

/**
 * One concurrency limiter per endpoint (keyed by ModelClient.endpoint), and which endpoints of replica sets are taken
 * out; give one to several gateways to share them.
 */
export class EndpointLimits {
  readonly byEndpoint = new Map<string, LimitFunction>();
  readonly health = new EndpointHealth();
}

function checkWholePositive(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${what} must be a whole number of at least 1, got ${n}.`);
}

const ZERO_USAGE: Usage = { inputTokens: 0, outputTokens: 0 };

type LedgerRow = Omit<CallRecord, 'runId'>;
/** What every ledger row says about a call, answered from anywhere (texts: what it sent and got back). */
type CallBase = Pick<CallRecord, 'role' | 'model' | 'kind' | 'requestHash' | 'latencyMs' | 'texts'>;
/** What a call sent, recorded with its ledger row whatever answers it; the reply's text is added once known. */
type Sent = Omit<CallTexts, 'response'>;

/** The parameters of a generate request that shape its answer, as the ledger stores them (absent ones left out). */
export function requestParams(req: GenerateRequest, sample: number): Record<string, unknown> {
  const p: Record<string, unknown> = { maxTokens: req.maxTokens };
  if (req.temperature !== undefined) p.temperature = req.temperature;
  if (req.seed !== undefined) p.seed = req.seed;
  if (req.topLogprobs) p.topLogprobs = req.topLogprobs;
  if (req.stop?.length) p.stop = req.stop;
  if (sample !== 0) p.sample = sample;
  return p;
}

const withResponse = (sent: Sent, response: string | null): CallTexts => ({ messages: sent.messages, params: sent.params, response });

/** A call answered without the backend (the cache, or a shared in-flight call): no attempts, no tokens, free. */
function hitRow(base: CallBase, finishReason: string | null = null): LedgerRow {
  return { ...base, cacheHit: true, attempts: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, finishReason };
}

/** A call that reached the backend, answered or (with error) failed; endpoint: where its last attempt went. */
function missRow(base: CallBase, o: { attempts: number; usage: Usage; costUsd: number; finishReason: string | null; error?: string; endpoint?: string }): LedgerRow {
  const row: LedgerRow = {
    ...base,
    cacheHit: false,
    attempts: o.attempts,
    inputTokens: o.usage.inputTokens,
    outputTokens: o.usage.outputTokens,
    costUsd: o.costUsd,
    finishReason: o.finishReason,
  };
  if (o.endpoint !== undefined) row.endpoint = o.endpoint;
  if (o.error !== undefined) row.error = o.error;
  return row;
}

/**
 * An upper bound on a generate call's usage, for the cost budget: a token is at least one UTF-8 byte of the prompt,
 * plus a margin per message for the chat template; the reply is at most maxTokens.
 */
export function generateBound(req: GenerateRequest): Usage {
  let inputTokens = 0;
  for (const m of req.messages) inputTokens += Buffer.byteLength(m.content) + 16;
  return { inputTokens, outputTokens: req.maxTokens };
}

/** A model's price: by its client id (the canonical spec), else its backend model name; none for local models. */
export function priceOf(prices: Record<string, Price> | undefined, client: Pick<ModelClient, 'id' | 'model'>): Price | undefined {
  return prices?.[client.id] ?? prices?.[client.model];
}

// ---------------------------------------------------------------------------------------------------------------
// Batch hook. A call made with CallOptions.batch is answered by a provider batch (src/models/batch.ts) instead of a
// backend call: the cache, single-flight claims, the budget and the ledger row are the ordinary ones; only the
// concurrency slot and the retries are skipped (a batch holds no connection, and an item it did not answer falls back
// to an ordinary call, retries included). See Gateway.callBatched.

/** One request for a batch: a generate request, or the texts of an embed call that the cache did not hold. */
export type BatchItem =
  | { kind: 'generate'; requestHash: string; req: GenerateRequest }
  | { kind: 'embed'; requestHash: string; texts: string[]; keys: string[] };

/** A route's answer to an item; shared: an identical item of another caller was in the same batch, and paid there. */
export interface BatchAnswer {
  value: GenerateResult | EmbedResult;
  shared: boolean;
  /** Called once the answer is cached and recorded (or failed to be): the route marks its batch read after that. */
  recorded?: () => void;
}

/**
 * Where batched calls go: one per model. submit resolves once the item's batch is done, or rejects with a
 * BatchItemError for an item the batch did not answer (an error line, an expired or failed batch), which the gateway
 * then makes as an ordinary call; any other rejection (a stop) ends the call with no ledger row, since the batch goes
 * on and a resumed run reads its answer.
 */
export interface BatchRoute {
  /** What a batched call costs, USD per million tokens (undefined: free). */
  readonly price: Price | undefined;
  submit(item: BatchItem, signal?: AbortSignal): Promise<BatchAnswer>;
}

/** An item a batch did not answer; the message says why (the batch's id, the error line's code and message). */
export class BatchItemError extends Error {
  override readonly name = 'BatchItemError';
}

interface BatchCall {
  route: BatchRoute;
  item: BatchItem;
}

/** One call that reaches a backend or a batch: what its ledger row, budget check and cache write need. */
interface BackendCall<T> {
  client: ModelClient;
  role: string;
  kind: CallKind;
  requestHash: string;
  sent: Sent;
  /** The worst-case usage, reserved against the budget until the call settles. */
  bound: Usage;
  signal: AbortSignal | undefined;
  /** response: the reply's text as the ledger stores it (null for embed calls). */
  summarise: (value: T) => { usage: Usage; finishReason: string | null; response: string | null };
  /**
   * Caches the answer: queues its cache write right before the ledger row, so both commit at the end of this turn,
   * the cache first (see WriteBatch).
   */
  keep: (value: T) => Promise<void> | void;
}

/** USD for usage at a price (none: free). */
export function costAt(p: Price | undefined, usage: Usage): number {
  return p ? (usage.inputTokens * p.inputPerMTok + usage.outputTokens * p.outputPerMTok) / 1e6 : 0;
}

/**
 * Every model call goes through here, so the cache, the per-endpoint concurrency limit, retries and the ledger are
 * the same for all adapters. Holds the limiters and counters; models share them per endpoint.
 */
export class Gateway {
  private readonly cache: CacheStore | null;
  private readonly ledger: Ledger | null;
  private readonly runId: string | null;
  private readonly payer: string | null;
  private readonly noCache: boolean;
  private readonly claimTtlMs: number;
  private readonly claimPollMs: number;
  private readonly claimOwner: string;
  private readonly retry: RetryOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly limiters: Map<string, LimitFunction>;
  private readonly endpointConcurrency = new Map<string, number>();
  /** Endpoints of replica sets taken out after failing, until their cool-down ends. */
  private readonly health: EndpointHealth;
  private readonly cooldown: Cooldown;
  /** Where the next replica scan starts, so endpoints equally busy take turns. */
  private rotation = 0;
  /** Worst-case cost of the calls in flight (for budget.maxCostUsd). */
  private reservedUsd = 0;
  private readonly spent: Spent;
  /** Aborts the calls still in flight once the stop's grace period is over. */
  private readonly cutOff = new AbortController();
  /** Generate calls on their way to the backend, by cache key. */
  private readonly inflight = new Map<string, Promise<GenerateResult>>();
  /** By request hash: the ordinary call made for a batched item its batch did not answer (see callBatched). */
  private readonly fallbacks = new Map<string, Promise<{ value: unknown; callId: number | null }>>();
  /** Cache and ledger writes, committed once per event-loop turn (write-batch.ts). */
  private readonly writes: WriteBatch;
  /** Keys this gateway holds a cache claim on, renewed together by one timer while any is held. */
  private readonly heldClaims = new Set<string>();
  private renewal: ReturnType<typeof setInterval> | undefined;
  private readonly counters: Omit<GatewayStats, 'queued'> = {
    calls: 0,
    hits: 0,
    backendCalls: 0,
    retries: 0,
    errors: 0,
    inFlight: 0,
    backingOff: 0,
    lastRetry: null,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
  };

  constructor(private readonly options: GatewayOptions = {}) {
    this.cache = options.cache ?? null;
    this.limiters = options.limits?.byEndpoint ?? new Map();
    this.health = options.limits?.health ?? new EndpointHealth();
    this.cooldown = { ...DEFAULT_COOLDOWN, ...options.endpointCooldown };
    this.ledger = options.ledger ?? null;
    this.runId = options.runId ?? null;
    this.payer = options.payer ?? this.runId;
    this.noCache = options.noCache ?? false;
    this.claimTtlMs = options.claimTtlMs ?? DEFAULT_CLAIM_TTL_MS;
    this.claimPollMs = options.claimPollMs ?? DEFAULT_CLAIM_POLL_MS;
    this.claimOwner = newClaimOwner();
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    checkWholePositive(this.retry.maxAttempts, 'retry.maxAttempts');
    checkWholePositive(options.concurrency ?? DEFAULT_CONCURRENCY, 'concurrency');
    for (const [endpoint, n] of Object.entries(options.endpointConcurrency ?? {})) this.setConcurrency(endpoint, n);
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? (() => performance.now());
    this.spent = options.spent ?? { calls: 0, costUsd: 0 };
    this.writes = new WriteBatch(this.cache, this.ledger);
    // Every call in flight listens on these two (AbortSignal.any): as many listeners as calls, not a leak.
    setMaxListeners(0, this.cutOff.signal);
    if (options.stop) setMaxListeners(0, options.stop);
    const grace = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    if (!Number.isFinite(grace) || grace < 0) throw new UserError(`gateway.stopGraceMs must be a number of milliseconds of at least 0, got ${grace}.`);
    options.stop?.addEventListener(
      'abort',
      () => {
        const reason = new InterruptedError(`stopped by Ctrl-C: the call was still running ${grace} ms after it`);
        // unref: a run whose calls all finished in time must not wait out the timer before exiting.
        setTimeout(() => this.cutOff.abort(reason), grace).unref();
      },
      { once: true },
    );
  }

  /** Refuses to start a call (or a retry) once a stop was requested. */
  private checkStop(): void {
    if (this.options.stop?.aborted) throw new InterruptedError();
  }

  model(client: ModelClient, role: string): GatewayModel {
    return {
      client,
      role,
      generate: (req, opts = {}) => this.generate(client, role, req, opts),
      embed: (texts, opts = {}) => this.embed(client, role, texts, opts),
    };
  }

  stats(): GatewayStats {
    let queued = 0;
    for (const l of this.limiters.values()) queued += l.pendingCount;
    return { ...this.counters, lastRetry: this.counters.lastRetry && { ...this.counters.lastRetry }, queued };
  }

  /** Sets the number of calls in flight to one endpoint (for every model of that endpoint, queued calls included). */
  setConcurrency(endpoint: string, n: number): void {
    checkWholePositive(n, `Concurrency for ${endpoint}`);
    this.endpointConcurrency.set(endpoint, n);
    const l = this.limiters.get(endpoint);
    if (l) l.concurrency = n;
  }

  private limiter(client: ModelClient): LimitFunction {
    const endpoint = client.endpoint;
    let l = this.limiters.get(endpoint);
    if (!l) {
      const wanted = this.endpointConcurrency.get(endpoint) ?? this.options.concurrency ?? DEFAULT_CONCURRENCY;
      l = pLimit(Math.min(wanted, client.maxConcurrency ?? Infinity));
      this.limiters.set(endpoint, l);
    }
    return l;
  }

  private useCache(): CacheStore | null {
    return this.noCache ? null : this.cache;
  }

  /**
   * Refuses a call that could take the run past its budget. For cost, every call in flight holds a reservation of
   * its worst case (see generateBound), so calls running at once can never overrun the limit together.
   */
  private checkBudget(worstCaseUsd: number): void {
    const b = this.options.budget;
    if (!b) return;
    const calls = this.spent.calls + this.counters.backendCalls;
    const costUsd = this.spent.costUsd + this.counters.costUsd;
    if (b.maxCalls !== undefined && calls >= b.maxCalls) {
      throw new BudgetExceededError(
        `The run's budget of ${b.maxCalls} model calls is spent (${calls} made, cached answers are free); raise limits.maxCalls in the config or pass a higher --max-calls to continue.`,
        'maxCalls',
      );
    }
    if (b.maxCostUsd !== undefined && costUsd + this.reservedUsd + worstCaseUsd > b.maxCostUsd) {
      throw new BudgetExceededError(
        `The run's budget of $${b.maxCostUsd} cannot cover the next call ($${costUsd.toFixed(4)} spent, $${this.reservedUsd.toFixed(4)} reserved by calls in flight, ` +
          `up to $${worstCaseUsd.toFixed(4)} for the next call); raise limits.maxCostUsd in the config or pass a higher --max-cost to continue.`,
        'maxCostUsd',
      );
    }
  }

  /** The shared part of a ledger row; latency runs from start to now. */
  private callBase(client: ModelClient, role: string, kind: CallKind, requestHash: string, start: number, texts: CallTexts): CallBase {
    return { role, model: client.id, kind, requestHash, latencyMs: this.now() - start, texts };
  }

  /**
   * True when this run paid for a cached answer but its ledger lacks the call: the process died between caching the
   * answer and writing its ledger row (they live in different files, so no transaction spans both).
   */
  private unrecordedPayment(paidByRun: string | null, key: string): boolean {
    return this.ledger !== null && paidByRun !== null && paidByRun === this.payer && !this.ledger.hasPaidCall(this.runId, key);
  }

  /** Puts the lost ledger row back, from the usage stored with the answer (attempts and latency are unknown: 1 and 0). */
  private recordRecovered(client: ModelClient, role: string, key: string, start: number, hit: GenerateResult, sent: Sent): Promise<number | null> {
    const usage = hit.usage ?? ZERO_USAGE;
    const costUsd = costAt(priceOf(this.options.prices, client), usage);
    // Paid, and missing from the ledger the budget's earlier spend was read from: it counts now.
    this.counters.backendCalls++;
    this.counters.costUsd += costUsd;
    this.log.warn(`recorded a call paid before a crash but missing from the ledger`, { model: client.id, request: key.slice(0, 16) });
    const base = this.callBase(client, role, 'generate', key, start, withResponse(sent, hit.text ?? null));
    return this.record(missRow({ ...base, latencyMs: 0 }, { attempts: 1, usage, costUsd, finishReason: hit.finishReason ?? null }));
  }

  /** Queues the ledger row (committed with the others of this event-loop turn); its id once committed. */
  private record(row: LedgerRow): Promise<number | null> {
    if (!this.ledger) return Promise.resolve(null);
    return this.writes.record({ ...row, runId: this.runId, error: row.error == null ? null : redact(row.error) });
  }

  /**
   * The ledger id once both of a call's writes are committed. The answer's cache write (kept) is not the call's: one
   * that fails is a warning, the call still answers (it is paid and in the ledger), and the claim is released.
   */
  private async committed(kept: Promise<void> | void, recorded: Promise<number | null>, client: ModelClient, requestHash: string): Promise<number | null> {
    // Both settle in the same flush; allSettled handles both at once, so neither is ever an unhandled rejection.
    const [k, r] = await Promise.allSettled([kept, recorded]);
    if (k.status === 'rejected') {
      this.log.warn(`could not store ${client.id}'s answer in the cache: ${(k.reason as Error).message}`, { request: requestHash.slice(0, 16) });
    }
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  }

  /** A cached entry, read without a write; the hit is counted in the next batch. */
  private lookup(cache: CacheStore, key: string): CacheEntry | undefined {
    if (!cache.peekCached) return cache.getCachedEntry(key);
    const entry = cache.peekCached(key);
    if (entry !== undefined && cache.countHit) this.writes.cacheWrite(() => cache.countHit!(key)).catch(() => {}); // a hit count is statistics only
    return entry;
  }

  /**
   * The backend part of a call: wait for a slot on the endpoint, check the budget, then retry. Writes the ledger row
   * for a call that reached the backend, failed or not.
   */
  private async callBackend<T>(
    call: BackendCall<T>,
    /** One attempt, on target: the client itself, or for a replica set the endpoint chosen for the attempt. */
    fn: (signal: AbortSignal, target: ModelClient) => Promise<T>,
    /** Send it in a provider batch instead (the batch hook below); fn is then the fallback for an item the batch did not answer. */
    batch?: BatchCall,
  ): Promise<{ value: T; callId: number | null }> {
    if (batch) return this.callBatched(call, batch, () => this.callBackend(call, fn));
    const { client, role, kind, requestHash, sent, bound, signal, summarise } = call;
    const c = this.counters;
    const worstCaseUsd = costAt(priceOf(this.options.prices, client), bound);
    this.checkStop();
    this.checkBudget(worstCaseUsd);
    // Several servers of one model (a model ref's endpoints): each attempt takes a slot on the endpoint chosen for it.
    const replicas = client.replicas && client.replicas.length > 0 ? client.replicas : undefined;
    /** The client of the current attempt: the endpoint the ledger names. */
    let target = client;
    let admitted = false;
    /** When the call took its first slot: its latency in the ledger excludes the wait for it. */
    let start = 0;
    /** On taking the call's first slot: calls queued behind a stop, or behind the one that spent the budget, must not start. */
    const admit = () => {
      signal?.throwIfAborted();
      this.checkStop();
      this.checkBudget(worstCaseUsd);
      this.reservedUsd += worstCaseUsd;
      c.backendCalls++;
      c.inFlight++;
      admitted = true;
      start = this.now();
    };
    const run = async () => {
      if (!replicas) admit();
      let attempts = 0;
      try {
        const value = await withRetry((s) => fn(s, target), this.retry, {
          signal: signal ? AbortSignal.any([signal, this.cutOff.signal]) : this.cutOff.signal,
          sleep: this.backoffSleep(),
          random: this.options.random,
          onAttempt: (n) => {
            attempts = n;
            if (n > 1) c.retries++;
          },
          onRetry: ({ attempt, delayMs, error }) => {
            const reason = error instanceof ProviderError && error.info.status ? `HTTP ${error.info.status}` : (error as Error).message;
            c.lastRetry = { model: client.id, attempt, delayMs, reason, at: Date.now() };
            this.log.info(`retrying ${client.id} after ${reason} in ${(delayMs / 1000).toFixed(1)} s`, {
              attempt,
              of: this.retry.maxAttempts,
              ...(replicas && { endpoint: target.endpoint }),
            });
          },
          ...(replicas && {
            around: <R>(_attempt: number, attempt: () => Promise<R>) =>
              this.replicaAttempt(replicas, attempt, (r) => {
                target = r;
                if (!admitted) admit();
              }),
            // Another endpoint that is up takes the retry at once; the backoff is for waiting on the same servers.
            delay: ({ delayMs }) => (this.healthyReplica(replicas, target) ? 0 : delayMs),
          }),
        });
        const { kept, recorded } = this.recordPaid(call, value, start, priceOf(this.options.prices, client), attempts, target.endpoint);
        // Committed after the slot is given back: the next call need not wait for this one's writes.
        return { value, kept, recorded };
      } catch (e) {
        // Refused before its first attempt (a stop, the budget): it never reached a backend, so it has no ledger row.
        if (!admitted) throw e;
        c.errors++;
        // A server may echo the request's credentials in its error text; scrub them before the error travels on
        // to debate rows, run status, stderr and stack traces.
        if (e instanceof Error) {
          e.message = redact(e.message);
          if (e.stack) e.stack = redact(e.stack);
        }
        await this.recordFailure(call, start, attempts, e instanceof Error ? e.message : String(e), target.endpoint);
        throw e;
      } finally {
        if (admitted) {
          c.inFlight--;
          this.reservedUsd -= worstCaseUsd;
        }
      }
    };
    // One endpoint: the call holds its slot from the first attempt to the last, backoff included (as it always did).
    const done = replicas ? await run() : await this.limiter(client)(run);
    return { value: done.value, callId: await this.committed(done.kept, done.recorded, client, requestHash) };
  }

  /**
   * One attempt of a call to a replica set: on the least busy endpoint that is up, in a slot of its own limiter. An
   * endpoint that fails the attempt the way a server that is down or overloaded does is taken out for its cool-down
   * (EndpointHealth); one that answers is back for good. onSlot runs as the attempt takes its slot.
   */
  private async replicaAttempt<R>(replicas: readonly ModelClient[], attempt: () => Promise<R>, onSlot: (r: ModelClient) => void): Promise<R> {
    for (;;) {
      const r = this.pickReplica(replicas);
      const outcome = await this.limiter(r)(async (): Promise<{ value: R } | undefined> => {
        // Taken out while this call waited in its queue, and another is up: queue there instead.
        if (this.health.isOut(r.endpoint, this.now()) && this.healthyReplica(replicas, r)) return undefined;
        onSlot(r);
        try {
          const value = await attempt();
          this.health.succeeded(r.endpoint);
          return { value };
        } catch (e) {
          if (endpointFailure(e) && !this.cutOff.signal.aborted) {
            const ms = this.health.failed(r.endpoint, this.now(), this.cooldown, retryAfterOf(e));
            if (ms > 0) this.log.warn(`${r.endpoint} taken out for ${(ms / 1000).toFixed(1)} s after: ${redact((e as Error).message)}`);
          }
          throw e;
        }
      });
      if (outcome) return outcome.value;
    }
  }

  /**
   * The endpoint for the next attempt: the least busy (calls running and queued per slot) of those that are up,
   * starting the scan at a rotating place so that ties take turns; when every one is out, the one back soonest.
   */
  private pickReplica(replicas: readonly ModelClient[]): ModelClient {
    const now = this.now();
    const n = replicas.length;
    const first = this.rotation++ % n;
    let best: ModelClient | undefined;
    let bestLoad = Infinity;
    let soonest = replicas[first]!;
    for (let i = 0; i < n; i++) {
      const r = replicas[(first + i) % n]!;
      if (this.health.isOut(r.endpoint, now)) {
        if (this.health.outUntil(r.endpoint) < this.health.outUntil(soonest.endpoint)) soonest = r;
        continue;
      }
      const l = this.limiter(r);
      const load = (l.activeCount + l.pendingCount) / l.concurrency;
      if (load < bestLoad) {
        best = r;
        bestLoad = load;
      }
    }
    return best ?? soonest;
  }

  /** Whether an endpoint other than `except` is up now. */
  private healthyReplica(replicas: readonly ModelClient[], except: ModelClient): boolean {
    const now = this.now();
    return replicas.some((r) => r !== except && !this.health.isOut(r.endpoint, now));
  }

  /**
   * The batch hook's part of a call (see BatchRoute): admitted against the budget at the batch price before its batch
   * is submitted (so --max-calls and --max-cost count it then), answered by the route, then cached and recorded as one
   * paid ledger row, as callBackend does. An item the batch did not answer is recorded as a failed call and made again
   * through `direct`, an ordinary call with its own row.
   */
  private async callBatched<T>(call: BackendCall<T>, batch: BatchCall, direct: () => Promise<{ value: T; callId: number | null }>): Promise<{ value: T; callId: number | null }> {
    const c = this.counters;
    const worstCaseUsd = costAt(batch.route.price, call.bound);
    this.checkStop();
    this.checkBudget(worstCaseUsd);
    this.reservedUsd += worstCaseUsd;
    c.backendCalls++;
    const start = this.now();
    let answer: BatchAnswer | BatchItemError;
    try {
      answer = await batch.route.submit(batch.item, call.signal);
    } catch (e) {
      if (!(e instanceof BatchItemError)) {
        // A stop (its batch goes on) or a batch that could not be submitted: the call ends with no ledger row, so it
        // is not counted as a backend call either.
        c.backendCalls--;
        throw e;
      }
      answer = e;
    } finally {
      // Released before a fallback call reserves its own.
      this.reservedUsd -= worstCaseUsd;
    }
    if (answer instanceof BatchItemError) {
      c.errors++;
      const error = redact(answer.message);
      const key = call.requestHash;
      // Identical items share one batch line, so they fail together: one of them makes the ordinary call, the others
      // wait for it and are answered as shared (as a cache hit would be), so the request is paid once. Looked up and
      // registered before any await, so the first caller leads.
      const leader = this.fallbacks.get(key) as Promise<{ value: T; callId: number | null }> | undefined;
      const failed = this.recordFailure(call, start, 1, error, call.client.endpoint);
      if (leader) {
        await failed;
        const shared = await leader.catch(() => undefined);
        if (shared) {
          c.hits++;
          const { finishReason, response } = call.summarise(shared.value);
          return { value: shared.value, callId: await this.record(hitRow(this.callBase(call.client, call.role, call.kind, key, start, withResponse(call.sent, response)), finishReason)) };
        }
        // The shared call failed: this one makes its own attempt.
        return direct();
      }
      const running = (async () => {
        await failed;
        this.log.info(`${call.client.id}: ${error}; making it as an ordinary call`);
        return direct();
      })();
      running.catch(() => {}); // followers handle a failure themselves; the leader rethrows it below
      this.fallbacks.set(key, running);
      try {
        return await running;
      } finally {
        if (this.fallbacks.get(key) === running) this.fallbacks.delete(key);
      }
    }
    try {
      const value = answer.value as T;
      if (answer.shared) {
        // Another caller's identical item paid for it: this one is answered as a cache hit would be.
        c.backendCalls--;
        c.hits++;
        const { finishReason, response } = call.summarise(value);
        return { value, callId: await this.record(hitRow(this.callBase(call.client, call.role, call.kind, call.requestHash, start, withResponse(call.sent, response)), finishReason)) };
      }
      const { kept, recorded } = this.recordPaid(call, value, start, batch.route.price, 1, call.client.endpoint);
      return { value, callId: await this.committed(kept, recorded, call.client, call.requestHash) };
    } finally {
      answer.recorded?.();
    }
  }

  /** A paid answer: counts its usage and cost, then queues its cache write and its ledger row (they commit together). */
  private recordPaid<T>(call: BackendCall<T>, value: T, start: number, price: Price | undefined, attempts: number, endpoint: string): { kept: Promise<void> | void; recorded: Promise<number | null> } {
    const { usage, finishReason, response } = call.summarise(value);
    const costUsd = costAt(price, usage);
    const c = this.counters;
    c.inputTokens += usage.inputTokens;
    c.outputTokens += usage.outputTokens;
    c.costUsd += costUsd;
    const kept = call.keep(value);
    const recorded = this.record(missRow(this.callBase(call.client, call.role, call.kind, call.requestHash, start, withResponse(call.sent, response)), { attempts, usage, costUsd, finishReason, endpoint }));
    return { kept, recorded };
  }

  /** The ledger row of a call that reached a backend (or a batch) and failed: it paid nothing. */
  private recordFailure<T>(call: BackendCall<T>, start: number, attempts: number, error: string, endpoint: string): Promise<number | null> {
    return this.record(missRow(this.callBase(call.client, call.role, call.kind, call.requestHash, start, withResponse(call.sent, null)), { attempts, usage: ZERO_USAGE, costUsd: 0, finishReason: 'error', error, endpoint }));
  }

  /** The wait before a retry; a stop ends it at once, and no retry starts after a stop. */
  private backoffSleep(): (ms: number, signal?: AbortSignal) => Promise<void> {
    const wait = this.options.sleep ?? sleep;
    const stop = this.options.stop;
    return async (ms, signal) => {
      this.checkStop();
      this.counters.backingOff++;
      try {
        await wait(ms, stop ? AbortSignal.any([...(signal ? [signal] : []), stop]) : signal);
      } catch (e) {
        this.checkStop();
        throw e;
      } finally {
        this.counters.backingOff--;
      }
    };
  }

  /**
   * Single-flight across processes sharing the cache: resolves undefined once this gateway holds the claim on key (so
   * it makes the call), or with the cache entry once another process's call for key has answered. An owner that fails
   * releases its claim, and a dead owner's claim expires; either way a waiter then claims it and calls itself.
   */
  private async claimOrWait(cache: CacheStore, key: string, signal: AbortSignal | undefined): Promise<CacheEntry | undefined> {
    // A stop's cut-off ends the wait too: a waiter is a call in flight.
    const abort = signal ? AbortSignal.any([signal, this.cutOff.signal]) : this.cutOff.signal;
    let wait = this.claimPollMs / 5;
    while (!(await this.tryClaim(cache, key))) {
      this.log.debug(`waiting for another process's call ${key.slice(0, 16)}`);
      // Reads only, no write lock, until the other claim is gone (answered, failed or expired).
      do {
        await sleep(wait, abort);
        wait = Math.min(wait * 2, this.claimPollMs);
      } while (cache.isClaimed(key));
      const entry = this.lookup(cache, key);
      if (entry !== undefined) return entry;
    }
    return undefined;
  }

  private async generate(client: ModelClient, role: string, req: GenerateRequest, opts: GenerateOptions): Promise<GenerateResult & CallMeta> {
    const sample = opts.sample ?? 0;
    const key = generateKey(client, req, sample);
    const cache = this.useCache();
    this.counters.calls++;
    const start = this.now();
    // What the model reads, recorded with every ledger row of this request: a miss, a hit, a shared answer, a failure.
    const sent: Sent = { messages: req.messages, params: requestParams(req, sample) };
    const answerFromCache = async (entry: CacheEntry): Promise<GenerateResult & CallMeta> => {
      const hit = entry.response as GenerateResult;
      this.counters.hits++;
      const callId = await (this.unrecordedPayment(entry.paidByRun, key)
        ? this.recordRecovered(client, role, key, start, hit, sent)
        : this.record(hitRow(this.callBase(client, role, 'generate', key, start, withResponse(sent, hit.text ?? null)), hit.finishReason ?? null)));
      return { ...hit, callId, cacheHit: true, requestHash: key };
    };
    if (cache) {
      const entry = this.lookup(cache, key);
      if (entry !== undefined) return answerFromCache(entry);
      // describeKey hashes the messages again: pay for it only when the line is printed.
      if (this.log.level === 'debug') this.log.debug(`cache miss ${key.slice(0, 16)}`, { role, ...describeKey(generateKeyParts(client, req, sample)) });
      // The same request already in flight (two roles or stages asking at once): share its answer, as a cache hit
      // would, instead of paying twice. If it fails, this call makes its own attempt.
      // (A batched call skips this: its route shares identical requests itself, so waiting callers are seen as waiting.)
      const pending = opts.batch ? undefined : this.inflight.get(key); // looked up before any await, so the first caller registers first
      const shared = pending && (await pending.catch(() => undefined));
      if (shared) {
        this.counters.hits++;
        const callId = await this.record(hitRow(this.callBase(client, role, 'generate', key, start, withResponse(sent, shared.text ?? null)), shared.finishReason ?? null));
        return { ...shared, callId, cacheHit: true, requestHash: key };
      }
    }
    const call = async (): Promise<GenerateResult & CallMeta> => {
      if (cache) {
        const entry = await this.claimOrWait(cache, key, opts.signal);
        if (entry !== undefined) return answerFromCache(entry);
      }
      // Renewed while the call runs (queued for a slot included), so only a dead process's claim expires.
      if (cache) this.holdClaim(cache, key);
      try {
        const { value, callId } = await this.callBackend<GenerateResult>(
          {
            client,
            role,
            kind: 'generate',
            requestHash: key,
            sent,
            bound: generateBound(req),
            signal: opts.signal,
            summarise: (r) => ({ usage: r.usage ?? ZERO_USAGE, finishReason: r.finishReason ?? null, response: r.text ?? null }),
            keep: (r) => (cache ? this.storeAnswer(cache, key, client.id, r) : undefined),
          },
          (signal, target) => target.generate(req, signal),
          opts.batch && { route: opts.batch, item: { kind: 'generate', requestHash: key, req } },
        );
        // Storing the answer ended the claim (putCached): a waiting process now finds the answer.
        return { ...value, callId, cacheHit: false, requestHash: key };
      } catch (e) {
        // A failed call gives its claim up, so a waiting process calls itself.
        if (cache) await this.guardClaim(() => cache.releaseClaim(key, this.claimOwner), key);
        throw e;
      } finally {
        if (cache) this.dropClaim(key);
      }
    };
    if (!cache) return call();
    // Registered before any await; settles only after the claim is released, so a follower that retries after a
    // failure never finds this gateway's own claim still there.
    const running = call();
    running.catch(() => {}); // followers handle a failure themselves; the leader rethrows it below
    this.inflight.set(key, running);
    try {
      return await running;
    } finally {
      // A follower that retried after this call failed may have registered its own call by now.
      if (this.inflight.get(key) === running) this.inflight.delete(key);
    }
  }

  /**
   * Claims key in the next batch of cache writes. A claim that cannot be written (the cache locked past its busy
   * timeout) is no reason to fail the call: make it unclaimed.
   */
  private async tryClaim(cache: CacheStore, key: string): Promise<boolean> {
    try {
      return await this.writes.cacheWrite(() => cache.claim(key, this.claimOwner, this.claimTtlMs));
    } catch (e) {
      this.log.warn(`could not claim call ${key.slice(0, 16)} in the cache, calling without a claim: ${(e as Error).message}`);
      return true;
    }
  }

  /** Stores an answer (ending the claim on it in the same write); if that write fails, the claim is released instead. */
  private storeAnswer(cache: CacheStore, key: string, model: string, answer: GenerateResult): Promise<void> {
    return this.writes.cacheWrite(() => {
      try {
        cache.putCached(key, 'generate', model, answer, this.payer);
      } catch (e) {
        cache.releaseClaim(key, this.claimOwner);
        throw e;
      }
    });
  }

  /** Keeps the claim on key renewed until dropClaim: one timer renews every claim held, in one write. */
  private holdClaim(cache: CacheStore, key: string): void {
    this.heldClaims.add(key);
    this.renewal ??= setInterval(() => {
      const keys = [...this.heldClaims];
      void this.writes
        .cacheWrite(() => keys.filter((k) => !cache.renewClaim(k, this.claimOwner, this.claimTtlMs)))
        .then(
          (lost) => {
            for (const k of lost) if (this.heldClaims.has(k)) this.log.warn(`lost the claim on call ${k.slice(0, 16)}: it expired and another process took it over`);
          },
          (e) => this.log.warn(`could not renew ${keys.length} cache claims: ${(e as Error).message}`),
        );
    }, this.claimTtlMs / 3).unref();
  }

  private dropClaim(key: string): void {
    this.heldClaims.delete(key);
    if (this.heldClaims.size === 0 && this.renewal !== undefined) {
      clearInterval(this.renewal);
      this.renewal = undefined;
    }
  }

  /** A failed claim write (a lock held past the busy timeout) must not fail a call: the claim just expires. */
  private async guardClaim(fn: () => void, key: string): Promise<void> {
    try {
      await this.writes.cacheWrite(fn);
    } catch (e) {
      this.log.warn(`could not update the cache claim on call ${key.slice(0, 16)}: ${(e as Error).message}`);
    }
  }

  private async embed(client: ModelClient, role: string, texts: string[], opts: CallOptions): Promise<EmbedResult & CallMeta> {
    const embedFn = client.embed?.bind(client);
    if (!embedFn || !client.capabilities.embeddings) {
      throw new UserError(`Model ${client.id} does not support embeddings; choose a model with an embeddings endpoint for this featurizer.`);
    }
    if (texts.length === 0) return { vectors: [], usage: ZERO_USAGE, callId: null, cacheHit: true, requestHash: hashValue([]) };
    const keys = texts.map((t) => cacheKey(embedKeyParts(client, t)));
    const requestHash = hashValue(keys);
    const cache = this.useCache();
    this.counters.calls++;
    const start = this.now();
    const found = new Map<string, number[]>();
    const missing = new Map<string, string>(); // key -> text, deduplicated
    texts.forEach((text, i) => {
      const key = keys[i]!;
      if (found.has(key) || missing.has(key)) return;
      const hit = cache && (this.lookup(cache, key)?.response as number[] | undefined);
      if (hit !== undefined && hit !== null) found.set(key, hit);
      else missing.set(key, text);
    });
    let usage = ZERO_USAGE;
    let callId: number | null;
    const cacheHit = missing.size === 0;
    // Every input text, at its index, whichever came from the cache; an embed call's reply is vectors, not text.
    const sent: Sent = { messages: texts.map((content): CallMessage => ({ role: 'input', content })), params: {} };
    if (cacheHit) {
      this.counters.hits++;
      callId = await this.record(hitRow(this.callBase(client, role, 'embed', requestHash, start, withResponse(sent, null))));
    } else {
      if (cache) {
        const { adapter, endpoint, model } = client;
        this.log.debug(`embed cache misses ${missing.size}/${texts.length}`, { role, adapter, endpoint, model, kind: 'embed' });
      }
      const missKeys = [...missing.keys()];
      const missTexts = [...missing.values()];
      const res = await this.callBackend<EmbedResult>(
        {
          client,
          role,
          kind: 'embed',
          requestHash,
          sent,
          bound: { inputTokens: missTexts.reduce((n, t) => n + Buffer.byteLength(t) + 2, 0), outputTokens: 0 },
          signal: opts.signal,
          summarise: (r) => ({ usage: r.usage ?? ZERO_USAGE, finishReason: null, response: null }),
          keep: (r) => (cache ? this.writes.cacheWrite(() => r.vectors.forEach((v, i) => cache.putCached(missKeys[i]!, 'embed', client.id, v))) : undefined),
        },
        async (signal, target) => {
          const r = await (target === client ? embedFn(missTexts, signal) : target.embed!(missTexts, signal));
          if (r.vectors.length !== missTexts.length) {
            throw new ProviderError(`${client.id} returned ${r.vectors.length} embeddings for ${missTexts.length} texts`, { retryable: false });
          }
          return r;
        },
        opts.batch && { route: opts.batch, item: { kind: 'embed', requestHash, texts: missTexts, keys: missKeys } },
      );
      usage = res.value.usage ?? ZERO_USAGE;
      callId = res.callId;
      res.value.vectors.forEach((v, i) => found.set(missKeys[i]!, v));
    }
    return { vectors: keys.map((k) => found.get(k)!), usage, callId, cacheHit, requestHash };
  }
}
