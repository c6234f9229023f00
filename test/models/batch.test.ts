/**
 * The Batch API route against a loopback server that speaks the Files and Batches wire formats: requests queued together
 * go out as one JSONL batch, are answered as the direct endpoint answers them, cached and recorded (one ledger row per
 * request, at the batch price); error lines and expired batches fall back to ordinary calls; a stored batch is polled
 * on resume, never submitted again; the budget counts batched requests before they are submitted.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { join } from 'node:path';
import { InterruptedError, UserError } from '../../src/errors.js';
import { createClient } from '../../src/models/create.js';
import { BudgetExceededError, Gateway, type GatewayOptions, type Price } from '../../src/models/gateway.js';
import { batchPriceOf, openaiBatchTransport, OpenAIBatchRoute, parseBatchResults, type BatchScheduler } from '../../src/models/batch.js';
import type { GenerateRequest, ModelClient } from '../../src/models/types.js';
import { openStore, type Store } from '../../src/store/index.js';
import { startBatchServer, type BatchServer, type BatchServerOptions } from '../helpers/batch-server.js';
import { fakeCompletion, fakeEmbedding, fakeTokens } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('w2s-batch-');
const servers: BatchServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

let n = 0;
async function setup(opts: BatchServerOptions = {}, gatewayOptions: Partial<GatewayOptions> = {}, file?: string) {
  const server = await startBatchServer(opts);
  servers.push(server);
  const spec = `openai:m@${server.url}`;
  const store = openStore(file ?? join(dir, `b${n++}.sqlite`));
  const prices: Record<string, Price> = { [spec]: { inputPerMTok: 2, outputPerMTok: 8 } };
  const gateway = new Gateway({ cache: store.cache, ledger: store.calls, prices, ...gatewayOptions });
  const client = await createClient(spec);
  return { server, spec, store, gateway, client, prices, model: gateway.model(client, 'debater') };
}

/** Flushes everything queued at the next turn of the event loop (all items submitted in one turn go out together). */
const nextTurnScheduler: BatchScheduler = {
  queued(route) {
    setImmediate(() => route.flush());
    return () => {};
  },
};

function route(s: { server: BatchServer; store: Store; client: ModelClient; prices: Record<string, Price> }, extra: Partial<ConstructorParameters<typeof OpenAIBatchRoute>[0]> = {}) {
  return new OpenAIBatchRoute({
    client: s.client,
    transport: openaiBatchTransport(`openai:m@${s.server.url}`),
    store: s.store.batches,
    runId: null,
    price: batchPriceOf(s.client, s.prices, undefined),
    scheduler: nextTurnScheduler,
    pollMs: 5,
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    ...extra,
  });
}

const request = (i: number): GenerateRequest => ({
  messages: [
    { role: 'system', content: 'You argue.' },
    { role: 'user', content: `Argue case ${i} in a few words please` },
  ],
  maxTokens: 4 + i,
  temperature: 0,
  seed: i,
});

/** What the server answers a request directly (openai-server.ts's fakeCompletion), and what it costs at a price. */
function expected(req: GenerateRequest, price: Price): { text: string; inputTokens: number; outputTokens: number; costUsd: number } {
  const c = fakeCompletion(req.messages, req.maxTokens, req.stop);
  return { text: c.text, inputTokens: c.promptTokens, outputTokens: c.tokens.length, costUsd: (c.promptTokens * price.inputPerMTok + c.tokens.length * price.outputPerMTok) / 1e6 };
}

const HALF: Price = { inputPerMTok: 1, outputPerMTok: 4 };

const calls = (store: Store) =>
  store.db.prepare('SELECT request_hash AS hash, cache_hit AS hit, attempts, cost_usd AS cost, input_tokens AS inTok, output_tokens AS outTok, error FROM calls ORDER BY id').all() as {
    hash: string; hit: number; attempts: number; cost: number; inTok: number; outTok: number; error: string | null;
  }[];

test('requests queued together go out as one batch, answered as the direct endpoint answers them, one ledger row each at half price', async () => {
  const s = await setup();
  const r = route(s);
  const reqs = [0, 1, 2, 3, 4].map(request);
  const results = await Promise.all(reqs.map((req) => s.model.generate(req, { batch: r })));
  assert.equal(s.server.count('POST', '/v1/files'), 1, 'one file uploaded');
  assert.equal(s.server.count('POST', '/v1/batches'), 1, 'one batch created');
  assert.equal(s.server.count('POST', '/v1/chat/completions'), 0, 'no direct chat call');
  const b = [...s.server.batches.values()][0]!;
  assert.equal(b.lines.length, 5, 'the batch carries the five requests');
  assert.equal(b.endpoint, '/v1/chat/completions', 'to the chat endpoint');
  assert.deepEqual(b.lines[0]!.body, { model: 'm', messages: reqs[0]!.messages, max_tokens: reqs[0]!.maxTokens, temperature: 0, seed: 0 }, 'a line carries the body a direct call sends');
  for (const [i, res] of results.entries()) {
    const e = expected(reqs[i]!, HALF);
    assert.equal(res.text, e.text, `request ${i}: the direct endpoint's text`);
    assert.deepEqual(res.usage, { inputTokens: e.inputTokens, outputTokens: e.outputTokens }, `request ${i}: its usage`);
    assert.equal(res.cacheHit, false, `request ${i}: not a cache hit`);
  }
  const rows = calls(s.store);
  assert.equal(rows.length, 5, 'one ledger row per request');
  for (const [i, row] of rows.entries()) {
    const e = expected(reqs.find((_, k) => results[k]!.requestHash === row.hash)!, HALF);
    assert.equal(row.hit, 0, `row ${i} is paid`);
    assert.equal(row.attempts, 1, `row ${i}: one attempt`);
    assert.equal(row.error, null, `row ${i}: no error`);
    assert.ok(Math.abs(row.cost - e.costUsd) < 1e-15, `row ${i} costs half of gateway.prices: ${row.cost} vs ${e.costUsd}`);
  }
  const stored = s.store.batches.listBatches(null);
  assert.equal(stored.length, 1, 'the batch is stored');
  assert.equal(stored[0]!.status, 'done', 'and marked read');
  assert.equal(stored[0]!.batchId, b.id, 'with the provider id');
  assert.deepEqual(r.stats, { submitted: 1, resumed: 0, answered: 5, fellBack: 0 }, 'the route counts one batch, five answers');
  assert.ok(Math.abs(s.gateway.stats().costUsd - rows.reduce((t, row) => t + row.cost, 0)) < 1e-12, 'the gateway counts the batch cost');

  // Again: every answer is in the cache, nothing reaches the server.
  const before = s.server.requests.length;
  const again = await Promise.all(reqs.map((req) => s.model.generate(req, { batch: r })));
  assert.equal(s.server.requests.length, before, 'a cached rerun makes no request at all');
  assert.deepEqual(again.map((a) => a.text), results.map((a) => a.text), 'the same answers');
  assert.ok(again.every((a) => a.cacheHit), 'all cache hits');
});

test('an item in the error file falls back to an ordinary call; the rest are answered by the batch', async () => {
  const s = await setup({ plan: () => ({ lineError: (i) => (i === 1 ? { status: 500, code: 'server_error', message: 'planned failure' } : undefined) }) });
  const r = route(s);
  const reqs = [0, 1, 2].map(request);
  const results = await Promise.all(reqs.map((req) => s.model.generate(req, { batch: r })));
  for (const [i, res] of results.entries()) assert.equal(res.text, expected(reqs[i]!, HALF).text, `request ${i} answered as directly`);
  assert.equal(s.server.count('POST', '/v1/chat/completions'), 1, 'one ordinary call: the failed line');
  assert.equal(s.server.count('POST', '/v1/batches'), 1, 'one batch');
  assert.deepEqual(r.stats, { submitted: 1, resumed: 0, answered: 2, fellBack: 1 }, 'two answered, one fell back');
  const rows = calls(s.store);
  const failed = rows.filter((row) => row.error !== null);
  assert.equal(failed.length, 1, 'the failed item is recorded as a failed call');
  assert.match(failed[0]!.error!, /could not answer this request \(HTTP 500: server_error: planned failure\)/, 'naming the error line');
  assert.equal(rows.filter((row) => row.error === null && row.hit === 0).length, 3, 'three paid answers: two batched, one ordinary');
  const ordinary = rows.filter((row) => row.error === null).find((row) => row.hash === results[1]!.requestHash)!;
  assert.ok(Math.abs(ordinary.cost - expected(reqs[1]!, { inputPerMTok: 2, outputPerMTok: 8 }).costUsd) < 1e-15, 'the ordinary call pays the full price');
});

test('identical items whose shared line failed fall back to one ordinary call: one pays, the other is answered as shared', async () => {
  const s = await setup({ plan: () => ({ lineError: () => ({ status: 500, code: 'server_error', message: 'planned failure' }) }) });
  const r = route(s);
  const req = request(0);
  const [a, b] = await Promise.all([s.model.generate(req, { batch: r }), s.model.generate(req, { batch: r })]);
  const e = expected(req, { inputPerMTok: 2, outputPerMTok: 8 });
  assert.equal(a.text, e.text, 'the first answered as directly');
  assert.equal(b.text, e.text, 'the second answered as directly');
  assert.equal([...s.server.batches.values()][0]!.lines.length, 1, 'one batch line for both');
  assert.equal(s.server.count('POST', '/v1/chat/completions'), 1, 'one ordinary call, not one per caller');
  const rows = calls(s.store);
  const paid = rows.filter((row) => row.error === null && row.hit === 0);
  assert.equal(paid.length, 1, 'one paid row');
  assert.ok(Math.abs(paid[0]!.cost - e.costUsd) < 1e-15, 'at the full price');
  assert.equal(rows.filter((row) => row.error === null && row.hit === 1).length, 1, 'the other caller is recorded as a shared hit');
  assert.ok(Math.abs(s.gateway.stats().costUsd - e.costUsd) < 1e-15, 'the gateway counts one payment');
});

test('an expired batch: every item falls back to an ordinary call', async () => {
  const s = await setup({ plan: () => ({ end: 'expired' }) });
  const r = route(s);
  const reqs = [0, 1, 2, 3].map(request);
  const results = await Promise.all(reqs.map((req) => s.model.generate(req, { batch: r })));
  for (const [i, res] of results.entries()) assert.equal(res.text, expected(reqs[i]!, HALF).text, `request ${i} answered by its ordinary call`);
  assert.equal(s.server.count('POST', '/v1/chat/completions'), 4, 'four ordinary calls');
  assert.deepEqual(r.stats, { submitted: 1, resumed: 0, answered: 0, fellBack: 4 }, 'all four fell back');
  const errors = calls(s.store).filter((row) => row.error !== null);
  assert.equal(errors.length, 4, 'each recorded as a failed batched call');
  assert.match(errors[0]!.error!, /batch_expired/, 'the error line says expired');
});

test('a batch that expired part way: the answered lines are used, the rest fall back', async () => {
  const s = await setup({ plan: () => ({ end: 'expired', answeredBeforeEnd: 2 }) });
  const r = route(s);
  const reqs = [0, 1, 2].map(request);
  await Promise.all(reqs.map((req) => s.model.generate(req, { batch: r })));
  assert.equal(s.server.count('POST', '/v1/chat/completions'), 1, 'one ordinary call: the line left unanswered');
  assert.deepEqual(r.stats, { submitted: 1, resumed: 0, answered: 2, fellBack: 1 }, 'two answered by the expired batch');
});

test('a batch whose validation failed: every item falls back, naming the batch error', async () => {
  const s = await setup({ plan: () => ({ end: 'failed' }) });
  const r = route(s);
  await Promise.all([0, 1].map((i) => s.model.generate(request(i), { batch: r })));
  assert.equal(s.server.count('POST', '/v1/chat/completions'), 2, 'two ordinary calls');
  const errors = calls(s.store).filter((row) => row.error !== null);
  assert.equal(errors.length, 2, 'two failed batched calls');
  assert.match(errors[0]!.error!, /ended failed without answering this request: invalid_request: planned validation failure/, 'with the batch error');
});

test('embeddings go out as one batch on the embeddings endpoint, a line per call', async () => {
  const s = await setup();
  const r = route(s);
  const model = s.gateway.model(s.client, 'weak_features');
  const chunks = [['alpha text', 'beta text'], ['gamma text']];
  const results = await Promise.all(chunks.map((c) => model.embed(c, { batch: r })));
  assert.equal(s.server.count('POST', '/v1/batches'), 1, 'one batch');
  assert.equal(s.server.count('POST', '/v1/embeddings'), 0, 'no direct embeddings call');
  const b = [...s.server.batches.values()][0]!;
  assert.equal(b.endpoint, '/v1/embeddings', 'to the embeddings endpoint');
  assert.equal(b.lines.length, 2, 'one line per embed call');
  chunks.forEach((c, k) => c.forEach((t, i) => assert.deepEqual(results[k]!.vectors[i], fakeEmbedding(t, 8), `chunk ${k} text ${i}: the server's vector`)));
  const rows = calls(s.store);
  assert.equal(rows.length, 2, 'one ledger row per embed call');
  const tokens = fakeTokens('alpha text').length + fakeTokens('beta text').length;
  assert.ok(rows.some((row) => row.inTok === tokens && Math.abs(row.cost - tokens / 1e6) < 1e-15), 'the first call: its tokens at half the input price');
  const again = await model.embed(['gamma text', 'alpha text']);
  assert.equal(again.cacheHit, true, 'the texts are cached per text');
});

test('identical requests share one line: one pays, the other is answered as a cache hit', async () => {
  const s = await setup();
  const r = route(s);
  const [a, b] = await Promise.all([s.model.generate(request(0), { batch: r }), s.model.generate(request(0), { batch: r })]);
  assert.equal(a.text, b.text, 'the same answer');
  assert.equal([...s.server.batches.values()][0]!.lines.length, 1, 'one line');
  const rows = calls(s.store);
  assert.deepEqual(rows.map((row) => row.hit).sort(), [0, 1], 'one paid row, one hit');
});

test('the budget counts batched requests before they are submitted', async () => {
  const s = await setup({}, { budget: { maxCalls: 2 } });
  const r = route(s);
  const settled = await Promise.allSettled([0, 1, 2].map((i) => s.model.generate(request(i), { batch: r })));
  assert.deepEqual(settled.map((x) => x.status), ['fulfilled', 'fulfilled', 'rejected'], 'two answered, the third refused');
  assert.ok((settled[2] as PromiseRejectedResult).reason instanceof BudgetExceededError, 'refused by the budget');
  assert.equal([...s.server.batches.values()][0]!.lines.length, 2, 'the batch carries only the two admitted');
});

test('--max-cost reserves each batched request\'s worst case at the batch price', async () => {
  const reqs = [0, 1, 2].map(request);
  // The gateway's bound: prompt bytes (+16 a message) as input tokens, maxTokens as output; at half price 1 and 4 $/MTok.
  const worst = reqs.map((req) => (req.messages.reduce((t, m) => t + Buffer.byteLength(m.content) + 16, 0) * 1 + req.maxTokens * 4) / 1e6);
  const s = await setup({}, { budget: { maxCostUsd: worst[0]! + worst[1]! + worst[2]! / 2 } });
  const r = route(s);
  const settled = await Promise.allSettled(reqs.map((req) => s.model.generate(req, { batch: r })));
  assert.deepEqual(settled.map((x) => x.status), ['fulfilled', 'fulfilled', 'rejected'], 'the first two fit at the batch price, the third does not');
  assert.ok((settled[2] as PromiseRejectedResult).reason instanceof BudgetExceededError, 'refused by the budget');
  assert.equal([...s.server.batches.values()][0]!.lines.length, 2, 'the batch carries the two admitted');
  // At the full price the first two would not fit together: the reservation used the batch price.
  assert.ok(2 * (worst[0]! + worst[1]!) > worst[0]! + worst[1]! + worst[2]! / 2, 'the full price of the two exceeds the budget');
});

test('a batched item whose caller\'s signal aborts ends at once and leaves the queue', async () => {
  const s = await setup();
  let settled = 0;
  const manual: BatchScheduler = { queued: () => () => void settled++ };
  const r = route(s, { scheduler: manual });
  const ac = new AbortController();
  const p = r.submit({ kind: 'generate', requestHash: 'h0', req: request(0) }, ac.signal);
  assert.equal(r.hasQueued(), true, 'queued before the abort');
  ac.abort();
  const outcome = await Promise.race([p.then(() => 'resolved', (e: unknown) => e), new Promise((res) => setTimeout(() => res('still waiting'), 200))]);
  assert.ok(outcome instanceof Error && outcome.name === 'AbortError', `rejected with the signal's reason, got ${String(outcome)}`);
  assert.equal(r.hasQueued(), false, 'no longer queued');
  assert.equal(settled, 1, 'the scheduler is told once that it settled');
  r.flush();
  await r.idle();
  assert.equal(s.server.count('POST', '/v1/files'), 0, 'nothing uploaded for it');
});

test('a batch in flight when the run stops is polled on resume, never submitted again', async () => {
  const file = join(dir, 'resume.sqlite');
  const s = await setup({ plan: () => ({ hold: true }) }, {}, file);
  const stop = new AbortController();
  const reqs = [0, 1, 2].map(request);
  const first = route(s, { stop: stop.signal });
  const pending = Promise.allSettled(reqs.map((req) => s.model.generate(req, { batch: first })));
  // Wait until the server has said in_progress once, then stop.
  while (![...s.server.batches.values()].some((b) => b.status === 'in_progress')) await new Promise((res) => setTimeout(res, 5));
  stop.abort();
  const stopped = await pending;
  assert.ok(stopped.every((x) => x.status === 'rejected' && x.reason instanceof InterruptedError), 'every waiting call ends as interrupted');
  assert.equal(calls(s.store).length, 0, 'no ledger row for a batch still in flight');
  const open = s.store.batches.openBatches(null, s.client.id, '/v1/chat/completions');
  assert.equal(open.length, 1, 'the batch stays stored and open');
  assert.equal(open[0]!.requests.length, 3, 'with its three requests');
  s.store.close();

  // A new session: new store handle, gateway and route; the same requests.
  const store = openStore(file);
  const gateway = new Gateway({ cache: store.cache, ledger: store.calls, prices: s.prices });
  const model = gateway.model(s.client, 'debater');
  const second = route({ ...s, store });
  s.server.release();
  const results = await Promise.all(reqs.map((req) => model.generate(req, { batch: second })));
  for (const [i, res] of results.entries()) assert.equal(res.text, expected(reqs[i]!, HALF).text, `request ${i} answered by the stored batch`);
  assert.equal(s.server.count('POST', '/v1/batches'), 1, 'no second batch created');
  assert.equal(s.server.count('POST', '/v1/files'), 1, 'no second file uploaded');
  assert.deepEqual(second.stats, { submitted: 0, resumed: 1, answered: 3, fellBack: 0 }, 'the stored batch was resumed');
  assert.equal(calls(store).filter((row) => row.hit === 0 && row.error === null).length, 3, 'three paid rows, written by the session that read the answers');
  assert.equal(store.batches.listBatches(null)[0]!.status, 'done', 'the batch is marked read');
  store.close();
});

test('batched calls ended by a stop are not counted as backend calls: they have no ledger row', async () => {
  const s = await setup({ plan: () => ({ hold: true }) });
  const stop = new AbortController();
  const r = route(s, { stop: stop.signal });
  const pending = Promise.allSettled([0, 1].map((i) => s.model.generate(request(i), { batch: r })));
  while (![...s.server.batches.values()].some((b) => b.status === 'in_progress')) await new Promise((res) => setTimeout(res, 5));
  stop.abort();
  const settled = await pending;
  assert.ok(settled.every((x) => x.status === 'rejected' && x.reason instanceof InterruptedError), 'both calls end as interrupted');
  assert.equal(calls(s.store).length, 0, 'no ledger row');
  assert.equal(s.gateway.stats().backendCalls, 0, 'and no backend call counted (the budget counts none)');
  s.server.release();
});

test('a request of a resumed stored batch asked for in a later flush joins that batch, never submitted again', async () => {
  const file = join(dir, 'resume-later.sqlite');
  const s = await setup({ plan: () => ({ hold: true }) }, {}, file);
  const stop = new AbortController();
  const reqs = [0, 1, 2].map(request);
  const first = route(s, { stop: stop.signal });
  const pending = Promise.allSettled(reqs.map((req) => s.model.generate(req, { batch: first })));
  while (![...s.server.batches.values()].some((b) => b.status === 'in_progress')) await new Promise((res) => setTimeout(res, 5));
  stop.abort();
  await pending;
  s.store.close();

  // A new session asks for request 0 first: the stored batch is resumed for it. Requests 1 and 2 come in a later flush.
  const store = openStore(file);
  const gateway = new Gateway({ cache: store.cache, ledger: store.calls, prices: s.prices });
  const model = gateway.model(s.client, 'debater');
  const second = route({ ...s, store });
  const a = model.generate(reqs[0]!, { batch: second });
  while (second.stats.resumed === 0) await new Promise((res) => setTimeout(res, 5));
  const rest = Promise.all(reqs.slice(1).map((req) => model.generate(req, { batch: second })));
  // Long enough for a second batch to be uploaded and created if the later flush submitted one.
  await new Promise((res) => setTimeout(res, 100));
  s.server.release();
  const results = [await a, ...(await rest)];
  for (const [i, res] of results.entries()) assert.equal(res.text, expected(reqs[i]!, HALF).text, `request ${i} answered by the stored batch`);
  assert.equal(s.server.count('POST', '/v1/batches'), 1, 'no second batch created for requests 1 and 2');
  assert.equal(s.server.count('POST', '/v1/files'), 1, 'no second file uploaded');
  assert.deepEqual(second.stats, { submitted: 0, resumed: 1, answered: 3, fellBack: 0 }, 'the stored batch answered all three');
  assert.equal(calls(store).filter((row) => row.hit === 0 && row.error === null).length, 3, 'three paid rows, one per request');
  store.close();
});

test('openBatches leaves out the batches named in except (already followed) and still lists the others', () => {
  const store = openStore(join(dir, `open-except-${n++}.sqlite`));
  const a = store.batches.createBatch({ runId: null, model: 'm', endpoint: '/v1/chat/completions', requests: [{ customId: 'r0', requestHash: 'ha', keys: ['ha'] }] });
  const b = store.batches.createBatch({ runId: null, model: 'm', endpoint: '/v1/chat/completions', requests: [{ customId: 'r0', requestHash: 'hb', keys: ['hb'] }] });
  assert.deepEqual(store.batches.openBatches(null, 'm', '/v1/chat/completions').map((o) => o.batch.id), [a, b], 'both open');
  const left = store.batches.openBatches(null, 'm', '/v1/chat/completions', new Set([a]));
  assert.deepEqual(left.map((o) => o.batch.id), [b], 'the followed one is left out');
  assert.deepEqual(left[0]!.requests, [{ customId: 'r0', requestHash: 'hb', keys: ['hb'] }], 'the other comes with its requests');
  store.close();
});

test('a batch stored without its id (killed between create and storing it) is found by its input file', async () => {
  const s = await setup();
  const transport = openaiBatchTransport(s.spec);
  const r = route(s);
  const reqs = [0, 1].map(request);
  // What a killed session left: the batch created at the provider, its file id stored, its batch id not.
  const hashes = await Promise.all(reqs.map(async (req) => (await s.gateway.model(s.client, 'probe').generate(req)).requestHash));
  s.store.db.prepare('DELETE FROM cache').run();
  s.store.db.prepare('DELETE FROM calls').run();
  const lines = reqs.map((req, i) => JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'm', messages: req.messages, max_tokens: req.maxTokens, temperature: 0, seed: req.seed } }));
  const fileId = await transport.upload(lines.join('\n') + '\n', 'left.jsonl');
  await transport.create(fileId, '/v1/chat/completions', {});
  const local = s.store.batches.createBatch({ runId: null, model: s.client.id, endpoint: '/v1/chat/completions', requests: hashes.map((h, i) => ({ customId: `r${i}`, requestHash: h, keys: [h] })) });
  s.store.batches.setInputFile(local, fileId);
  const created = s.server.count('POST', '/v1/batches');
  const results = await Promise.all(reqs.map((req) => s.model.generate(req, { batch: r })));
  assert.equal(s.server.count('POST', '/v1/batches'), created, 'no batch created: the left one was found by its input file');
  assert.equal(s.server.requests.filter((q) => q.method === 'GET' && q.path === '/v1/batches').length, 1, 'it was looked up in the list of batches once');
  for (const [i, res] of results.entries()) assert.equal(res.text, expected(reqs[i]!, HALF).text, `request ${i} answered`);
  assert.equal(r.stats.resumed, 1, 'counted as resumed');
});

test('a server without a Batch API: the requests fail with one sentence saying to remove "batch"', async () => {
  const s = await setup({ onRequest: (req) => (req.path === '/v1/files' ? { status: 404, body: { error: { message: 'Not Found' } } } : undefined) });
  const r = route(s);
  await assert.rejects(
    s.model.generate(request(0), { batch: r }),
    (e) => e instanceof UserError && /has no Batch API .*remove "batch" from this model's settings \(or drop --batch\)/.test(e.message),
    'a UserError naming the fix',
  );
  assert.equal(s.server.count('POST', '/v1/batches'), 0, 'no batch created');
  assert.equal(s.store.batches.listBatches(null)[0]!.status, 'abandoned', 'the stored batch is abandoned');
});

test('parseBatchResults: answers by custom_id, error lines with their code, torn lines skipped', () => {
  const out = [
    JSON.stringify({ id: 'b1', custom_id: 'r0', response: { status_code: 200, request_id: 'q', body: { ok: 1 } }, error: null }),
    '{"torn": ',
  ].join('\n');
  const err = [
    JSON.stringify({ id: 'b2', custom_id: 'r1', response: { status_code: 400, request_id: 'q', body: { error: { code: 'bad', message: 'no good' } } }, error: null }),
    JSON.stringify({ id: 'b3', custom_id: 'r2', response: null, error: { code: 'batch_expired', message: 'too late' } }),
  ].join('\n');
  const m = parseBatchResults(out, err);
  assert.deepEqual(m.get('r0'), { ok: true, body: { ok: 1 } }, 'an answer');
  assert.deepEqual(m.get('r1'), { ok: false, error: 'HTTP 400: bad: no good' }, 'an error response');
  assert.deepEqual(m.get('r2'), { ok: false, error: 'batch_expired: too late' }, 'an error line');
  assert.equal(m.size, 3, 'the torn line names nothing');
});

test('parseBatchResults: an error response without an error body says its status once', () => {
  const err = [
    JSON.stringify({ id: 'b1', custom_id: 'r0', response: { status_code: 500, request_id: 'q', body: {} }, error: null }),
    JSON.stringify({ id: 'b2', custom_id: 'r1', response: null, error: null }),
  ].join('\n');
  const m = parseBatchResults('', err);
  assert.deepEqual(m.get('r0'), { ok: false, error: 'HTTP 500' }, 'the status alone, not "HTTP 500: HTTP 500"');
  assert.deepEqual(m.get('r1'), { ok: false, error: 'no response' }, 'neither a response nor an error');
});

test('batchPriceOf: batchPrices wins, else the price less the discount, else free', () => {
  const client = { id: 'openai:m@x', model: 'm' };
  const prices = { 'openai:m@x': { inputPerMTok: 2, outputPerMTok: 8 } };
  assert.deepEqual(batchPriceOf(client, prices, undefined), { inputPerMTok: 1, outputPerMTok: 4 }, 'half by default');
  assert.deepEqual(batchPriceOf(client, prices, undefined, 0.25), { inputPerMTok: 1.5, outputPerMTok: 6 }, 'a quarter off');
  assert.deepEqual(batchPriceOf(client, prices, { m: { inputPerMTok: 0.1, outputPerMTok: 0.2 } }), { inputPerMTok: 0.1, outputPerMTok: 0.2 }, 'its own batch price');
  assert.equal(batchPriceOf(client, {}, undefined), undefined, 'no price: free');
});
