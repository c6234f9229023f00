import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/errors.js';
import { backoffDelay, isRetryable, withRetry } from '../../src/models/retry.js';
import { ProviderError } from '../../src/models/types.js';

const opts = { baseDelayMs: 100, maxDelayMs: 1_000 };

test('backoffDelay: full jitter below an exponentially growing cap, capped at maxDelayMs', () => {
  assert.equal(backoffDelay(1, opts, undefined, () => 0), 0);
  assert.equal(backoffDelay(1, opts, undefined, () => 0.5), 50);
  assert.equal(backoffDelay(2, opts, undefined, () => 0.5), 100);
  assert.equal(backoffDelay(3, opts, undefined, () => 0.5), 200);
  assert.equal(backoffDelay(10, opts, undefined, () => 0.5), 500, 'cap reached');
  assert.equal(backoffDelay(60, opts, undefined, () => 0.999999), 999, 'huge attempt numbers stay capped');
});

test('backoffDelay: Retry-After is a floor, never shortened by jitter or the cap', () => {
  assert.equal(backoffDelay(1, opts, 5_000, () => 0), 5_000);
  assert.equal(backoffDelay(4, opts, 10, () => 0.9), 720);
});

test('isRetryable classifies provider errors, socket errors, and user errors', () => {
  assert.equal(isRetryable(new ProviderError('rate limited', { status: 429, retryable: true })), true);
  assert.equal(isRetryable(new ProviderError('bad key', { status: 401, retryable: false })), false);
  assert.equal(isRetryable(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), true);
  assert.equal(isRetryable(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }) })), true);
  assert.equal(isRetryable(new UserError('Fix your config.')), false);
  assert.equal(isRetryable(new Error('bug')), false);
});

test('withRetry retries retryable errors with the computed delays and stops at maxAttempts', async () => {
  const delays: number[] = [];
  let calls = 0;
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        throw new ProviderError('overloaded', { status: 503, retryable: true, retryAfterMs: calls === 1 ? 700 : undefined });
      },
      { maxAttempts: 4, timeoutMs: 10_000, ...opts },
      { sleep: async (ms) => void delays.push(ms), random: () => 0.5 },
    ),
    /overloaded/,
  );
  assert.equal(calls, 4);
  assert.deepEqual(delays, [700, 100, 200]);
});

test('withRetry: a caller abort during backoff stops at once and is not retried', async () => {
  const ctl = new AbortController();
  let calls = 0;
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        throw new ProviderError('busy', { status: 429, retryable: true });
      },
      { maxAttempts: 6, timeoutMs: 10_000, ...opts },
      {
        signal: ctl.signal,
        sleep: async () => ctl.abort(new Error('user pressed ctrl-c')),
      },
    ),
    /ctrl-c/,
  );
  assert.equal(calls, 1);
});

test('withRetry: an attempt that ignores its signal is abandoned at the timeout and retried', async () => {
  let calls = 0;
  const err = await withRetry(
    (_signal, attempt) => {
      calls++;
      return attempt === 1 ? new Promise<string>(() => {}) : Promise.resolve('second try');
    },
    { maxAttempts: 2, timeoutMs: 15, ...opts },
    { sleep: async () => {} },
  );
  assert.equal(err, 'second try');
  assert.equal(calls, 2);
});
