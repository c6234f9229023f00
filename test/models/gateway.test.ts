import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InterruptedError, UserError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { BudgetExceededError, Gateway, type GatewayOptions } from '../../src/models/gateway.js';
import { ProviderError, type EmbedResult, type GenerateRequest, type GenerateResult, type ModelClient } from '../../src/models/types.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createScriptedClient, registerScript } from '../../src/models/adapters/scripted.js';

const dir = mkdtempSync(join(tmpdir(), 'w2s-gateway-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function fresh(): Store {
  const s = openStore(join(dir, `g${n++}.sqlite`));
  s.runs.createRun({ id: 'run', config: {}, configHash: 'h' });
  return s;
}

/** A ModelClient for gateway logic: counts calls and tracks the most calls in flight at once. */
interface Fake extends ModelClient {
  calls: GenerateRequest[];
  embedCalls: string[][];
  inFlight: number;
  maxInFlight: number;
}

function fake(
  behaviour: (req: GenerateRequest, call: number, signal?: AbortSignal) => Promise<GenerateResult> | GenerateResult = (req) => reply(req),
  over: Partial<ModelClient> = {},
): Fake {
  const f: Fake = {
    id: `fake:m@${over.endpoint ?? 'local'}`,
    adapter: 'fake',
    endpoint: 'local',
    model: 'm',
    capabilities: { chat: true, logprobs: false, embeddings: true, seed: true },
    calls: [],
    embedCalls: [],
    inFlight: 0,
    maxInFlight: 0,
    async generate(req, signal) {
      f.calls.push(req);
      f.inFlight++;
      f.maxInFlight = Math.max(f.maxInFlight, f.inFlight);
      try {
        return await behaviour(req, f.calls.length, signal);
      } finally {
        f.inFlight--;
      }
    },
    async embed(texts): Promise<EmbedResult> {
      f.embedCalls.push(texts);
      return { vectors: texts.map((t) => [t.length, t.charCodeAt(0)]), usage: { inputTokens: texts.length, outputTokens: 0 } };
    },
    ...over,
  };
  return f;
}

function reply(req: GenerateRequest, text = `echo ${req.messages.at(-1)?.content}`): GenerateResult {
  return { text, finishReason: 'stop', usage: { inputTokens: 10, outputTokens: 4 } };
}

const ask = (content: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({ messages: [{ role: 'user', content }], maxTokens: 16, ...extra });

function gateway(store: Store | null, opts: GatewayOptions = {}): { gw: Gateway; delays: number[] } {
  const delays: number[] = [];
  const gw = new Gateway({
    cache: store?.cache ?? null,
    ledger: store?.calls ?? null,
    runId: store ? 'run' : null,
    sleep: async (ms) => void delays.push(ms),
    random: () => 0,
    ...opts,
  });
  return { gw, delays };
}

test('a cache hit makes no adapter call; the ledger records the miss and the hit', async () => {
  const s = fresh();
  const client = fake();
  const { gw } = gateway(s);
  const m = gw.model(client, 'debater');
  const first = await m.generate(ask('hi', { temperature: 0.7, seed: 3 }));
  const second = await m.generate(ask('hi', { temperature: 0.7, seed: 3 }));
  assert.equal(client.calls.length, 1);
  assert.equal(second.text, first.text);
  assert.deepEqual([first.cacheHit, second.cacheHit], [false, true]);
  assert.equal(second.requestHash, first.requestHash);
  const rows = s.calls.listCalls('run');
  assert.deepEqual(rows.map((r) => [r.id, r.role, r.model, r.cacheHit, r.attempts, r.inputTokens, r.finishReason]), [
    [first.callId, 'debater', client.id, false, 1, 10, 'stop'],
    [second.callId, 'debater', client.id, true, 0, 0, 'stop'],
  ]);
  assert.deepEqual([gw.stats().calls, gw.stats().hits, gw.stats().backendCalls], [2, 1, 1]);

  // The cache outlives the gateway and the connection: a new process gets the hit too.
  s.close();
  const reopened = openStore(s.file);
  const again = await gateway(reopened).gw.model(client, 'debater').generate(ask('hi', { temperature: 0.7, seed: 3 }));
  assert.equal(again.cacheHit, true);
  assert.equal(client.calls.length, 1);
  reopened.close();
});

test('the sample index, and every request parameter, is part of the key', async () => {
  const s = fresh();
  const client = fake();
  const m = gateway(s).gw.model(client, 'debater');
  await m.generate(ask('q'), { sample: 0 });
  await m.generate(ask('q'), { sample: 1 });
  await m.generate(ask('q'), { sample: 1 });
  await m.generate(ask('q', { temperature: 1 }), { sample: 1 });
  await m.generate(ask('q', { maxTokens: 17 }), { sample: 1 });
  await m.generate(ask('q', { stop: ['\n'] }), { sample: 1 });
  assert.equal(client.calls.length, 5);
  // Spellings of "nothing" share a key: no stop list and an empty one, no logprobs and topLogprobs 0.
  await m.generate(ask('q', { stop: [], topLogprobs: 0 }), { sample: 0 });
  assert.equal(client.calls.length, 5);
  // Another endpoint serving the same model name is another cache entry.
  await gateway(s).gw.model(fake(undefined, { endpoint: 'http://other' }), 'debater').generate(ask('q'));
  assert.equal(s.cache.cacheStats().entries, 6);
  s.close();
});

test('errors are never cached, and the failed call is in the ledger with its error', async () => {
  const s = fresh();
  const client = fake(async (req, call) => {
    if (call === 1) throw new ProviderError('HTTP 400: context too long', { status: 400, retryable: false });
    return reply(req);
  });
  const { gw, delays } = gateway(s);
  const m = gw.model(client, 'judge');
  await assert.rejects(m.generate(ask('x')), /context too long/);
  const ok = await m.generate(ask('x'));
  assert.equal(ok.cacheHit, false);
  assert.equal(client.calls.length, 2);
  assert.deepEqual(delays, [], '400 is not retried');
  assert.deepEqual(
    s.calls.listCalls('run').map((r) => [r.attempts, r.cacheHit, r.error, r.finishReason]),
    [
      [1, false, 'HTTP 400: context too long', 'error'],
      [1, false, null, 'stop'],
    ],
  );
  assert.equal(gw.stats().errors, 1);
  s.close();
});

test('retries honour Retry-After and count attempts in the ledger', async () => {
  const s = fresh();
  const client = fake(async (req, call) => {
    if (call <= 2) throw new ProviderError('HTTP 429', { status: 429, retryable: true, retryAfterMs: 7_000 });
    return reply(req);
  });
  const { gw, delays } = gateway(s, { retry: { baseDelayMs: 100, maxDelayMs: 1_000 } });
  const r = await gw.model(client, 'debater').generate(ask('x'));
  assert.equal(r.text, 'echo x');
  assert.deepEqual(delays, [7_000, 7_000]);
  assert.equal(s.calls.getCall(r.callId!)?.attempts, 3);
  const st = gw.stats();
  assert.equal(st.retries, 2);
  assert.equal(st.lastRetry?.reason, 'HTTP 429');
  assert.equal(st.backingOff, 0);
  s.close();
});

test('retries stop at maxAttempts; the final error is recorded and rethrown', async () => {
  const s = fresh();
  const client = fake(async () => {
    throw new ProviderError('HTTP 503: overloaded', { status: 503, retryable: true });
  });
  const { gw, delays } = gateway(s, { retry: { maxAttempts: 3, baseDelayMs: 100 }, random: () => 0.5 });
  await assert.rejects(gw.model(client, 'debater').generate(ask('x')), (e: unknown) => e instanceof ProviderError && e.info.status === 503);
  assert.equal(client.calls.length, 3);
  assert.deepEqual(delays, [50, 100]);
  assert.deepEqual(s.calls.listCalls('run').map((r) => [r.attempts, r.error]), [[3, 'HTTP 503: overloaded']]);
  s.close();
});

test('401 and UserError fail at once', async () => {
  for (const err of [new ProviderError('HTTP 401: bad key', { status: 401, retryable: false }), new UserError('Set OPENAI_API_KEY.')]) {
    const client = fake(async () => {
      throw err;
    });
    const { gw, delays } = gateway(null);
    await assert.rejects(gw.model(client, 'r').generate(ask('x')), (e: unknown) => e === err);
    assert.equal(client.calls.length, 1);
    assert.deepEqual(delays, []);
  }
});

test('a per-attempt timeout aborts the attempt, and a timed-out call is retried', async () => {
  const client = fake(
    (req, call, signal) =>
      call === 1
        ? new Promise<GenerateResult>((_, reject) => signal!.addEventListener('abort', () => reject(new Error('aborted by signal'))))
        : reply(req),
  );
  const { gw, delays } = gateway(null, { retry: { timeoutMs: 20 } });
  const r = await gw.model(client, 'r').generate(ask('slow'));
  assert.equal(r.text, 'echo slow');
  assert.equal(client.calls.length, 2);
  assert.equal(delays.length, 1);
});

test('a caller abort is passed through and not retried', async () => {
  const ctl = new AbortController();
  const client = fake((_req, _call, signal) => {
    ctl.abort(new Error('stop requested'));
    return new Promise<GenerateResult>((_, reject) => signal!.addEventListener('abort', () => reject(new Error('aborted'))));
  });
  const { gw, delays } = gateway(null);
  await assert.rejects(gw.model(client, 'r').generate(ask('x'), { signal: ctl.signal }), /stop requested/);
  assert.equal(client.calls.length, 1);
  assert.deepEqual(delays, []);
});

test('concurrency never exceeds the per-endpoint limit, shared across roles', async () => {
  const tick = () => new Promise((r) => setTimeout(r, 2));
  const client = fake(async (req) => {
    await tick();
    return reply(req);
  });
  const other = fake(
    async (req) => {
      await tick();
      return reply(req);
    },
    { endpoint: 'http://elsewhere' },
  );
  const { gw } = gateway(null, { concurrency: 3, endpointConcurrency: { 'http://elsewhere': 1 } });
  const a = gw.model(client, 'debater');
  const b = gw.model(client, 'judge');
  const c = gw.model(other, 'judge');
  const jobs = [];
  for (let i = 0; i < 12; i++) jobs.push((i % 2 ? a : b).generate(ask(`q${i}`)), c.generate(ask(`q${i}`)));
  await Promise.all(jobs);
  assert.equal(client.maxInFlight, 3);
  assert.equal(other.maxInFlight, 1);
  assert.equal(gw.stats().inFlight, 0);

  gw.setConcurrency('local', 1);
  client.maxInFlight = 0;
  await Promise.all([0, 1, 2, 3].map((i) => a.generate(ask(`again ${i}`))));
  assert.equal(client.maxInFlight, 1);
  assert.throws(() => gw.setConcurrency('local', 0), UserError);
});

test('the budget stops calls before they start; cache hits stay free', async () => {
  const s = fresh();
  const client = fake();
  const { gw } = gateway(s, { budget: { maxCalls: 2 } });
  const m = gw.model(client, 'debater');
  await m.generate(ask('1'));
  await m.generate(ask('2'));
  await assert.rejects(m.generate(ask('3')), BudgetExceededError);
  assert.equal(client.calls.length, 2);
  assert.equal((await m.generate(ask('1'))).cacheHit, true);
  // Concurrent calls queued behind the budget do not start either.
  const { gw: gw2 } = gateway(null, { budget: { maxCalls: 3 }, concurrency: 2 });
  const client2 = fake();
  const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map((i) => gw2.model(client2, 'r').generate(ask(`c${i}`))));
  assert.equal(client2.calls.length, 3);
  assert.equal(results.filter((r) => r.status === 'rejected' && r.reason instanceof BudgetExceededError).length, 3);

  // Cost: priced by client id (or model name). A call starts only if the spend so far, the worst case of the calls in
  // flight and its own worst case (prompt bytes + 16 per message as input tokens, maxTokens as output) fit the budget.
  const prices = { m: { inputPerMTok: 1_000, outputPerMTok: 2_500 } };
  const { gw: gw3 } = gateway(s, { prices, budget: { maxCostUsd: 0.1 } });
  const m3 = gw3.model(client, 'debater');
  const r1 = await m3.generate(ask('priced 1'));
  assert.equal(s.calls.getCall(r1.callId!)?.costUsd, 0.02);
  await m3.generate(ask('priced 2'));
  // Spent 0.04; the next call's worst case ((8 + 16) input tokens, 16 output) is 0.064: 0.104 > 0.1.
  await assert.rejects(m3.generate(ask('priced 3')), (e: unknown) => e instanceof BudgetExceededError && e.limit === 'maxCostUsd');
  assert.equal(gw3.stats().costUsd, 0.04);
  // Calls started together reserve their worst case, so they cannot overrun the budget between them.
  const { gw: gw4 } = gateway(null, { prices, budget: { maxCostUsd: 0.13 }, concurrency: 4 });
  const client4 = fake();
  const together = await Promise.allSettled([0, 1, 2, 3].map((i) => gw4.model(client4, 'r').generate(ask(`t${i}`))));
  assert.equal(client4.calls.length, 2, 'two worst cases (2 × 0.058) fit 0.13, a third does not');
  assert.equal(together.filter((r) => r.status === 'rejected').length, 2);
  assert.ok(gw4.stats().costUsd <= 0.13);
  s.close();
});

test('noCache neither reads nor writes the cache', async () => {
  const s = fresh();
  const client = fake();
  await gateway(s).gw.model(client, 'r').generate(ask('cached'));
  const { gw } = gateway(s, { noCache: true });
  const m = gw.model(client, 'r');
  await m.generate(ask('cached'));
  await m.generate(ask('fresh'));
  await m.generate(ask('fresh'));
  assert.equal(client.calls.length, 4);
  assert.equal(s.cache.cacheStats().entries, 1);
  assert.equal(s.cache.cacheStats().hits, 0);
  assert.equal(s.calls.listCalls('run').length, 4, 'the ledger still records every call');
  s.close();
});

test('embeddings are cached per text; only misses go to the backend, in one batch', async () => {
  const s = fresh();
  const client = fake();
  const m = gateway(s).gw.model(client, 'featurizer');
  const first = await m.embed(['aa', 'b', 'aa']);
  assert.deepEqual(first.vectors, [[2, 97], [1, 98], [2, 97]]);
  assert.deepEqual(client.embedCalls, [['aa', 'b']]);
  const second = await m.embed(['ccc', 'b', 'aa']);
  assert.deepEqual(second.vectors, [[3, 99], [1, 98], [2, 97]]);
  assert.deepEqual(client.embedCalls.at(-1), ['ccc']);
  assert.equal(second.cacheHit, false);
  const third = await m.embed(['b', 'ccc']);
  assert.equal(third.cacheHit, true);
  assert.equal(client.embedCalls.length, 2);
  assert.deepEqual(s.calls.listCalls('run').map((r) => [r.kind, r.cacheHit, r.attempts, r.inputTokens]), [
    ['embed', false, 1, 2],
    ['embed', false, 1, 1],
    ['embed', true, 0, 0],
  ]);
  assert.deepEqual((await m.embed([])).vectors, []);
  assert.equal(client.embedCalls.length, 2);
  await assert.rejects(gateway(s).gw.model(fake(undefined, { embed: undefined }), 'f').embed(['x']), UserError);
  s.close();
});

test('secrets in error messages and logs are redacted; misses are explained at debug level', async () => {
  const s = fresh();
  const secret = 'sk-test-0123456789abcdef';
  process.env.W2S_TEST_API_KEY = secret;
  try {
    const lines: string[] = [];
    const client = fake(async (req, call) => {
      if (call === 1) throw new ProviderError(`HTTP 401: key ${secret} rejected`, { status: 401, retryable: false });
      return reply(req);
    });
    const { gw } = gateway(s, { logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) });
    await assert.rejects(gw.model(client, 'r').generate(ask('x')));
    const row = s.calls.listCalls('run')[0]!;
    assert.equal(row.error?.includes(secret), false);
    assert.match(row.error ?? '', /\[redacted:W2S_TEST_API_KEY\]/);

    createLogger({ level: 'info', write: (l) => lines.push(l) }).warn(`using ${secret}`, { key: secret });
    assert.ok(lines.length >= 2);
    assert.ok(lines.every((l) => !l.includes(secret)));
    const miss = lines.find((l) => l.includes('cache miss'));
    assert.ok(miss, 'a debug line for the miss');
    assert.match(miss, /adapter=fake endpoint=local model=m kind=generate sample=0/);
    assert.match(miss, /"maxTokens":16/);
  } finally {
    delete process.env.W2S_TEST_API_KEY;
    s.close();
  }
});

test('identical requests in flight at once reach the backend once', async () => {
  let calls = 0;
  registerScript('slow-once', {
    generate: async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 30));
      return 'shared answer';
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'w2s-gw-'));
  const store = openStore(join(dir, 'g.sqlite'));
  try {
    const gw = new Gateway({ cache: store.cache, ledger: store.calls });
    const client = await createScriptedClient({ adapter: 'scripted', model: 'slow-once' }, {});
    const model = gw.model(client, 'debater');
    const req = { messages: [{ role: 'user' as const, content: 'same' }], maxTokens: 5 };
    const results = await Promise.all([model.generate(req), model.generate(req), model.generate(req)]);
    assert.equal(calls, 1);
    assert.deepEqual(results.map((r) => r.text), ['shared answer', 'shared answer', 'shared answer']);
    assert.deepEqual(results.map((r) => r.cacheHit).sort(), [false, true, true]);
    const rows = store.db.prepare('SELECT cache_hit FROM calls ORDER BY id').all() as { cache_hit: number }[];
    assert.equal(rows.length, 3, 'one ledger row per logical call');
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a call this run paid for but never wrote to its ledger (a crash between the two writes) is put back on restart', async () => {
  const s = fresh();
  const prices = { m: { inputPerMTok: 1_000, outputPerMTok: 2_500 } };
  // First process: the call is made, cached, and recorded.
  const client = fake();
  const first = await gateway(s, { prices }).gw.model(client, 'debater').generate(ask('paid once'));
  const row = s.calls.getCall(first.callId!)!;
  // Simulate the crash window: the answer reached the cache, the ledger row did not.
  s.db.prepare('DELETE FROM calls WHERE id = ?').run(row.id);
  const { gw } = gateway(s, { prices });
  const again = await gw.model(client, 'debater').generate(ask('paid once'));
  assert.equal(client.calls.length, 1, 'served from the cache, not paid twice');
  const recovered = s.calls.getCall(again.callId!)!;
  assert.equal(recovered.cacheHit, false, 'the ledger shows the call as paid');
  assert.equal(recovered.costUsd, row.costUsd);
  assert.equal(recovered.inputTokens, row.inputTokens);
  // A later hit in the same run, or a hit by another run, is an ordinary free hit.
  const third = await gw.model(client, 'debater').generate(ask('paid once'));
  assert.equal(s.calls.getCall(third.callId!)!.cacheHit, true);
  s.runs.createRun({ id: 'other', config: {}, configHash: 'h2' });
  const other = await gateway(s, { prices, runId: 'other' }).gw.model(client, 'debater').generate(ask('paid once'));
  assert.equal(s.calls.getCall(other.callId!)!.cacheHit, true);
  assert.equal(s.calls.getCall(other.callId!)!.costUsd, 0);
  s.close();
});

test('spend from earlier sessions counts against the budget: a resumed run gets only what is left', async () => {
  const client = fake();
  const { gw } = gateway(null, { budget: { maxCalls: 5 }, spent: { calls: 3, costUsd: 0 } });
  const m = gw.model(client, 'debater');
  await m.generate(ask('1'));
  await m.generate(ask('2'));
  await assert.rejects(m.generate(ask('3')), (e: unknown) => e instanceof BudgetExceededError && /budget of 5 model calls is spent \(5 made/.test(e.message));
  assert.equal(client.calls.length, 2);
  // Cost spent before: 0.09 of 0.1, and one call's worst case is 0.064.
  const prices = { m: { inputPerMTok: 1_000, outputPerMTok: 2_500 } };
  const { gw: gw2 } = gateway(null, { prices, budget: { maxCostUsd: 0.1 }, spent: { calls: 0, costUsd: 0.09 } });
  await assert.rejects(gw2.model(fake(), 'r').generate(ask('priced')), (e: unknown) => e instanceof BudgetExceededError && e.limit === 'maxCostUsd');
});

test('after a stop no call and no retry starts, and a call still running after the grace period is cut off', async () => {
  const stop = new AbortController();
  // A backend that never answers unless aborted.
  const hung = fake((_req, _call, signal) => new Promise<GenerateResult>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true })));
  const s = fresh();
  const { gw } = gateway(s, { stop: stop.signal, stopGraceMs: 20, concurrency: 1 });
  const m = gw.model(hung, 'debater');
  const running = m.generate(ask('hangs'));
  const queued = m.generate(ask('queued behind it'));
  await new Promise((r) => setTimeout(r, 10));
  stop.abort();
  await assert.rejects(running, (e: unknown) => e instanceof InterruptedError && /still running 20 ms after/.test(e.message));
  await assert.rejects(queued, InterruptedError, 'the queued call never started');
  await assert.rejects(m.generate(ask('new')), InterruptedError);
  assert.equal(hung.calls.length, 1, 'only the call in flight reached the backend');
  const rows = s.calls.listCalls('run');
  assert.equal(rows.length, 1, 'the cut-off call is in the ledger; the refused ones never started');
  assert.match(rows[0]!.error ?? '', /stopped by Ctrl-C/);

  // A call backing off before a retry stops at once, with no further attempt.
  const stop2 = new AbortController();
  const failing = fake(async () => {
    throw new ProviderError('HTTP 503', { status: 503, retryable: true });
  });
  const { gw: gw2 } = gateway(null, {
    stop: stop2.signal,
    retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    random: () => 1,
    sleep: (ms, signal) => new Promise((res, rej) => {
      const t = setTimeout(res, ms);
      signal?.addEventListener('abort', () => (clearTimeout(t), rej(signal.reason)), { once: true });
    }),
  });
  const backingOff = gw2.model(failing, 'r').generate(ask('x'));
  await new Promise((r) => setTimeout(r, 10));
  stop2.abort();
  await assert.rejects(backingOff, InterruptedError);
  assert.equal(failing.calls.length, 1, 'no retry after the stop');
});

test('a call that finishes within the grace period is kept', async () => {
  const stop = new AbortController();
  const slow = fake(async (req) => {
    await new Promise((r) => setTimeout(r, 30));
    return reply(req);
  });
  const { gw } = gateway(null, { stop: stop.signal, stopGraceMs: 5_000 });
  const call = gw.model(slow, 'r').generate(ask('slow'));
  await new Promise((r) => setTimeout(r, 5));
  stop.abort();
  assert.equal((await call).text, 'echo slow');
});

test('the writes of calls that end in one event-loop turn share one commit, and each call returns only once its row is committed', async () => {
  const s = fresh();
  const batches: number[] = [];
  const ledger = { ...s.calls, insertCalls: (rows: Parameters<NonNullable<typeof s.calls.insertCalls>>[0]) => (batches.push(rows.length), s.calls.insertCalls!(rows)) };
  let cacheCommits = 0;
  const cache = { ...s.cache, transaction: <T>(fn: () => T): T => (cacheCommits++, s.cache.transaction!(fn)) };
  const gw = new Gateway({ cache, ledger, runId: 'run', concurrency: 20 });
  // A second connection to the file sees only committed rows.
  const reader = openStore(s.file, { readonly: true });
  try {
    const m = gw.model(fake(), 'debater');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => m.generate(ask(`together ${i}`))));
    // The fake backend answers at once: all 20 answers arrive in one turn, and their rows go in one transaction.
    assert.deepEqual(batches, [20], 'one ledger commit for the 20 rows');
    assert.equal(cacheCommits, 2, 'one cache commit for the 20 claims, one for the 20 answers');
    const committed = reader.db.prepare('SELECT id FROM calls ORDER BY id').all() as { id: number }[];
    assert.deepEqual(committed.map((r) => r.id), results.map((r) => r.callId).sort((a, b) => a! - b!), 'every row a caller was handed is committed');
    assert.equal((reader.db.prepare('SELECT COUNT(*) AS n FROM cache').get() as { n: number }).n, 20, 'and every answer is in the cache');
    assert.equal((reader.db.prepare('SELECT COUNT(*) AS n FROM cache_claims').get() as { n: number }).n, 0, 'with no claim left');
    // One call on its own: committed by the time it returns, too.
    const one = await m.generate(ask('alone'));
    assert.equal((reader.db.prepare('SELECT COUNT(*) AS n FROM calls WHERE id = ?').get(one.callId) as { n: number }).n, 1, 'a lone call\'s row is committed when it returns');
  } finally {
    reader.close();
    s.close();
  }
});

test('an answer the cache cannot store is still returned and recorded; its claim is released', async () => {
  const s = fresh();
  const lines: string[] = [];
  const cache = {
    ...s.cache,
    putCached: () => {
      throw new Error('disk full (test)');
    },
  };
  const gw = new Gateway({ cache, ledger: s.calls, runId: 'run', logger: createLogger({ level: 'warn', write: (l) => lines.push(l) }) });
  const r = await gw.model(fake(), 'debater').generate(ask('unstorable'));
  assert.equal(r.text, 'echo unstorable', 'the paid answer is returned');
  assert.equal(s.calls.getCall(r.callId!)?.cacheHit, false, 'and recorded as paid');
  assert.equal(s.cache.isClaimed(r.requestHash), false, 'its claim released, so another process may call');
  assert.ok(lines.some((l) => l.includes('could not store') && l.includes('disk full (test)')), `a warning says why: ${lines.join(' | ')}`);
  s.close();
});
