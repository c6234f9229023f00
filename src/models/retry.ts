import { UserError } from '../errors.js';
import { ProviderError } from './types.js';

export interface RetryOptions {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** The backoff cap before the first retry; it doubles on each later one. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per-attempt limit; a timed-out attempt counts as retryable. */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 6, baseDelayMs: 1_000, maxDelayMs: 60_000, timeoutMs: 300_000 };

/**
 * The wait before the next attempt after `attempt` (1-based) failed: exponential backoff with full jitter
 * (uniform in [0, min(maxDelay, base·2^(attempt−1)))), but never less than the server's Retry-After.
 */
export function backoffDelay(
  attempt: number,
  opts: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * cap);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** Socket-level failures that adapters may let through unclassified; trying again can help. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNREFUSED', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** Whether backing off and trying again can help: a ProviderError marked retryable, or a transient socket error. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof UserError) return false;
  if (e instanceof ProviderError) return e.info.retryable;
  const code = (e as { code?: unknown } | null)?.code ?? (e as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/** HTTP statuses worth another attempt: request timeout, conflict, rate limit, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The first error code down the cause chain (ECONNREFUSED, ENOTFOUND...), else the innermost message. */
export function rootCause(e: unknown): { code?: string; message: string } {
  let cur: unknown = e;
  let message = String((e as Error)?.message ?? e);
  for (let depth = 0; cur && typeof cur === 'object' && depth < 6; depth++) {
    const c = cur as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof c.code === 'string') return { code: c.code, message: String(c.message ?? message) };
    if (typeof c.message === 'string' && c.message) message = c.message;
    cur = c.cause ?? (Array.isArray(c.errors) ? c.errors[0] : undefined);
  }
  return { message };
}

export function retryAfterOf(e: unknown): number | undefined {
  return e instanceof ProviderError ? e.info.retryAfterMs : undefined;
}

/** Sleeps ms, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryHooks {
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /** Called before each wait, with the attempt that failed. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Called when each attempt starts (1-based), so a caller can count attempts even when the last one fails. */
  onAttempt?: (attempt: number) => void;
  /**
   * Runs each attempt, its timeout included: e.g. inside a concurrency slot of the endpoint chosen for it, so time
   * spent queued is not counted against the attempt. Default: at once.
   */
  around?: <T>(attempt: number, run: () => Promise<T>) => Promise<T>;
  /** The wait before the next attempt, given the backoff's: e.g. 0 when another endpoint can take it at once. */
  delay?: (info: { attempt: number; delayMs: number; error: unknown }) => number;
}

/**
 * Runs fn until it succeeds, fails with a non-retryable error, or maxAttempts are spent; the last error is rethrown.
 * Each attempt gets its own signal that aborts on the per-attempt timeout or when the caller's signal aborts; the
 * attempt is abandoned at that moment even if fn ignores the signal. A caller abort is never retried.
 */
export async function withRetry<T>(fn: (signal: AbortSignal, attempt: number) => Promise<T>, opts: RetryOptions, hooks: RetryHooks = {}): Promise<T> {
  const wait = hooks.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    hooks.signal?.throwIfAborted();
    hooks.onAttempt?.(attempt);
    try {
      if (!hooks.around) return await attemptWithTimeout(fn, attempt, opts.timeoutMs, hooks.signal);
      const n = attempt;
      return await hooks.around(n, () => attemptWithTimeout(fn, n, opts.timeoutMs, hooks.signal));
    } catch (e) {
      if (hooks.signal?.aborted) throw hooks.signal.reason;
      if (attempt >= opts.maxAttempts || !isRetryable(e)) throw e;
      const backoff = backoffDelay(attempt, opts, retryAfterOf(e), hooks.random);
      const delayMs = hooks.delay ? hooks.delay({ attempt, delayMs: backoff, error: e }) : backoff;
      hooks.onRetry?.({ attempt, delayMs, error: e });
      await wait(delayMs, hooks.signal);
    }
  }
}

async function attemptWithTimeout<T>(
  fn: (signal: AbortSignal, attempt: number) => Promise<T>,
  attempt: number,
  timeoutMs: number,
  outer?: AbortSignal,
): Promise<T> {
  const ctl = new AbortController();
  // The error is built only when the timer fires: an Error captures a stack, too dear to pay on every call.
  const timer = setTimeout(() => ctl.abort(new ProviderError(`Model call timed out after ${timeoutMs} ms`, { retryable: true, code: 'timeout' })), timeoutMs);
  const onOuter = () => ctl.abort(outer!.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(ctl.signal.reason);
    ctl.signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([fn(ctl.signal, attempt), aborted]);
  } catch (e) {
    // An adapter that honours the signal rejects with its own AbortError; report the reason we aborted for.
    throw ctl.signal.aborted ? ctl.signal.reason : e;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
    ctl.signal.removeEventListener('abort', onAbort!);
  }
}
