import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadExperiment } from '../../src/config/load.js';
import { cacheKey, generateKeyParts } from '../../src/models/cache-key.js';
import { Gateway, type GatewayOptions } from '../../src/models/gateway.js';
import { ProviderError, type GenerateRequest, type GenerateResult, type ModelClient } from '../../src/models/types.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore, type Store } from '../../src/store/index.js';
import { startFaultServer } from '../helpers/fault-server.js';
import type { SeenRequest } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { backendCallsByHash, isProbeRequest, runCli, smallConfig, snapshot, spawnCli, writeConfig, writeDataset } from './fixture.js';

/**
 * Runs sharing one response cache never pay for one request twice, even when they make it at the same time: a process
 * claims a request in the cache before calling, and another process that wants it waits for the answer.
 * In-process tests stand two gateways, each with its own connection to one cache file, for two processes.
 */

const dir = tempDir('w2s-shared-cache-');
let files = 0;

/** One "process": its own run database (ledger) and its own connection to the shared cache file. */
interface Proc {
  gw: Gateway;
  ledger: Store;
  cache: Store;
}

function proc(cacheFile: string, opts: GatewayOptions = {}): Proc {
  const ledger = openStore(join(dir, `run${files++}.sqlite`));
  ledger.runs.createRun({ id: 'run', config: {}, configHash: `h${files}` });
  const cache = openStore(cacheFile);
  test.after(() => {
    ledger.close();
    cache.close();
  });
  // Fast polls and a short claim life keep the tests quick; the logic is the same as with the defaults.
  const gw = new Gateway({ cache: cache.cache, ledger: ledger.calls, runId: 'run', payer: `run@${files}`, claimPollMs: 20, retry: { maxAttempts: 1 }, ...opts });
  return { gw, ledger, cache };
}

const cacheFile = () => join(dir, `cache${files++}.sqlite`);

/** A backend that answers (or fails) after delayMs, counting its calls. */
function backend(delayMs: number, fail = false): ModelClient & { calls: number } {
  const c = {
    id: 'fake:m@local',
    adapter: 'fake',
    endpoint: 'local',
    model: 'm',
    capabilities: { chat: true, logprobs: false, embeddings: false, seed: true },
    calls: 0,
    async generate(req: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult> {
      c.calls++;
      await new Promise((r) => setTimeout(r, delayMs));
      signal?.throwIfAborted();
      if (fail) throw new ProviderError('backend down (test)', { retryable: false });
      return { text: `answer to ${req.messages.at(-1)!.content}`, finishReason: 'stop', usage: { inputTokens: 5, outputTokens: 3 } };
    },
  };
  return c;
}

const ask: GenerateRequest = { messages: [{ role: 'user', content: 'the same question' }], maxTokens: 8 };

test('two processes asking at once: one backend call, the other answered from the cache', async () => {
  const file = cacheFile();
  const [a, b] = [proc(file), proc(file)];
  const [ca, cb] = [backend(150), backend(150)];
  const [ra, rb] = await Promise.all([a.gw.model(ca, 'debater').generate(ask), b.gw.model(cb, 'debater').generate(ask)]);
  assert.equal(ca.calls + cb.calls, 1, 'paid once');
  assert.equal(ra.text, rb.text);
  assert.deepEqual([ra.cacheHit, rb.cacheHit].sort(), [false, true]);
  const waiter = ra.cacheHit ? a : b;
  assert.deepEqual(waiter.ledger.calls.listCalls('run').map((r) => [r.cacheHit, r.costUsd, r.attempts]), [[true, 0, 0]], 'the waiter\'s ledger: a free hit');
  assert.equal(a.cache.cache.isClaimed(ra.requestHash), false, 'no claim left behind');
});

test('a claim left by a dead process is taken over (once expired, or at once when its pid is gone), and the call proceeds', async () => {
  const file = cacheFile();
  const p = proc(file);
  const client = backend(0);
  const key = cacheKey(generateKeyParts(client, ask, 0));
  // Already expired: taken over at once.
  p.cache.db.prepare('INSERT INTO cache_claims (key, owner, expires_at) VALUES (?, ?, ?)').run(key, 'dead', Date.now() - 1_000);
  const t0 = Date.now();
  const r = await p.gw.model(client, 'debater').generate(ask);
  assert.equal(r.cacheHit, false);
  assert.equal(client.calls, 1);
  assert.ok(Date.now() - t0 < 1_000, 'no wait on an expired claim');

  // Live but never renewed (its owner died a moment ago): waited out, then taken over.
  const q = proc(cacheFile());
  q.cache.db.prepare('INSERT INTO cache_claims (key, owner, expires_at) VALUES (?, ?, ?)').run(key, 'dead', Date.now() + 300);
  const qc = backend(0);
  const t1 = Date.now();
  const r2 = await q.gw.model(qc, 'debater').generate(ask);
  assert.equal(qc.calls, 1);
  assert.equal(r2.cacheHit, false);
  assert.ok(Date.now() - t1 >= 250, 'waited for the claim to expire');
  assert.equal(q.cache.cache.isClaimed(key), false, 'released after the call');

  // Far from expiry, but its owner was a process on this host that is gone (killed mid-call): taken over at once.
  const gone = spawnSync(process.execPath, ['-e', '']).pid!;
  const k = proc(cacheFile());
  k.cache.db.prepare('INSERT INTO cache_claims (key, owner, expires_at) VALUES (?, ?, ?)').run(key, `${hostname()}/${gone}/x`, Date.now() + 3_600_000);
  const kc = backend(0);
  const t2 = Date.now();
  assert.equal((await k.gw.model(kc, 'debater').generate(ask)).cacheHit, false);
  assert.equal(kc.calls, 1);
  assert.ok(Date.now() - t2 < 1_000, 'no wait for a dead process\'s claim');
});

test('a waiter whose owner fails makes the call itself', async () => {
  const file = cacheFile();
  const [a, b] = [proc(file), proc(file)];
  const failing = backend(150, true);
  const healthy = backend(0);
  const first = a.gw.model(failing, 'debater').generate(ask);
  await new Promise((r) => setTimeout(r, 30)); // a holds the claim by now
  const second = b.gw.model(healthy, 'debater').generate(ask);
  await assert.rejects(first, /backend down/);
  const r = await second;
  assert.equal(failing.calls, 1);
  assert.equal(healthy.calls, 1, 'the waiter called once its owner gave up');
  assert.equal(r.cacheHit, false);
  assert.equal(b.ledger.calls.listCalls('run').length, 1);
});

test('a long call keeps its claim by renewing it; waiting is abortable', async () => {
  const file = cacheFile();
  // Claims live 400 ms unless renewed; the call takes almost four times that.
  const [a, b] = [proc(file, { claimTtlMs: 400 }), proc(file, { claimTtlMs: 400 })];
  const [ca, cb] = [backend(1_500), backend(1_500)];
  const first = a.gw.model(ca, 'debater').generate(ask);
  await new Promise((r) => setTimeout(r, 30));
  const stop = new AbortController();
  const aborted = b.gw.model(cb, 'debater').generate(ask, { signal: stop.signal });
  setTimeout(() => stop.abort(new Error('gave up (test)')), 50);
  await assert.rejects(aborted, /gave up/);
  const second = b.gw.model(cb, 'debater').generate(ask);
  const [ra, rb] = await Promise.all([first, second]);
  assert.equal(cb.calls, 0, 'not taken over while renewed');
  assert.deepEqual([ra.cacheHit, rb.cacheHit], [false, true]);
});

test('with the cache off, no claims are made', async () => {
  const file = cacheFile();
  const p = proc(file, { noCache: true });
  await p.gw.model(backend(0), 'debater').generate(ask);
  assert.equal((p.cache.db.prepare('SELECT COUNT(*) AS n FROM cache_claims').get() as { n: number }).n, 0);
});

// ---- Two real `w2s run` processes ----

/** Answers that differ per sampling seed, as in crash.test.ts, so no two requests collide by accident. */
const reply = (req: SeenRequest): string =>
  (req.body?.messages ?? []).some((m: { role: string }) => m.role === 'system') ? `Argument drawn with seed ${req.body.seed}: my side holds.` : 'A';

/** POSTs (model calls) per distinct request body. */
function postsByBody(requests: SeenRequest[], since = 0): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of requests.slice(since)) {
    if (r.method !== 'POST') continue;
    const h = createHash('sha256').update(`${r.path}\n${JSON.stringify(r.body)}`).digest('hex');
    counts.set(h, (counts.get(h) ?? 0) + 1);
  }
  return counts;
}

/** The ledger with what differs between a paying and a waiting run (hit flag, spend, timing, ids) left out. */
function ledgerShape(file: string): unknown[] {
  const store = openStore(file, { readonly: true });
  try {
    return store.db.prepare('SELECT role, model, kind, request_hash, error FROM calls ORDER BY role, model, kind, request_hash').all();
  } finally {
    store.close();
  }
}

test('two runs of one config started together, sharing a cache, pay for each request once between them', async () => {
  const server = await startFaultServer({ reply, delayMs: () => 40 });
  try {
    const data = writeDataset(dir, 18);
    const config = smallConfig({ dataset: data, debater: `openai:m@${server.url}`, judge: `openai:m@${server.url}`, perSplit: 6, samples: 2, turns: 2, concurrency: 3 });
    const configFile = writeConfig(dir, config, 'two-runs.json');

    // Reference: one run alone, with its own cache: every request it makes, and how often.
    const ref = join(dir, 'reference.sqlite');
    const outcome = await runExperiment({ config: loadExperiment(configFile), out: ref, cacheFile: join(dir, 'reference-cache.sqlite') });
    assert.equal(outcome.status, 'completed');
    // The capability probe of its judge is not among them: it is remembered (W2S_CACHE_DIR), so the two runs do not send it.
    const refPosts = postsByBody(server.requests.filter((r) => !isProbeRequest(r)));
    const since = server.requests.length;

    const shared = join(dir, 'shared-cache.sqlite');
    const outs = [join(dir, 'first.sqlite'), join(dir, 'second.sqlite')];
    const runs = outs.map((out) => spawnCli(['--verbose', 'run', configFile, '--out', out, '--cache', shared]));
    const codes = await Promise.all(runs.map((r) => r.exited));
    assert.deepEqual(codes, [0, 0], runs.map((r) => r.stderr().slice(-2_000)).join('\n---\n'));

    // The server saw each distinct request as often as the lone run sent it: never once per run.
    const posts = postsByBody(server.requests, since);
    const total = [...posts.values()].reduce((a, b) => a + b, 0);
    assert.deepEqual(new Map([...posts].sort()), new Map([...refPosts].sort()), 'the same requests, each as often as in the lone run');
    assert.ok([...posts.values()].every((n) => n === 1), 'each request reached the server once');
    // And between the two ledgers, each request was paid for once.
    const paid = new Map<string, number>();
    for (const out of outs) for (const [h, n] of backendCallsByHash(out)) paid.set(h, (paid.get(h) ?? 0) + n);
    assert.ok([...paid.values()].every((n) => n === 1), 'no request in both ledgers as paid');
    assert.equal([...paid.values()].reduce((a, b) => a + b, 0), total);

    // Same results in both databases (and as the lone run); the ledgers differ only in who paid.
    const [s1, s2] = outs.map(snapshot);
    assert.deepEqual(s1, s2);
    assert.deepEqual(s1, snapshot(ref));
    assert.deepEqual(ledgerShape(outs[0]!), ledgerShape(outs[1]!));

    // The runs overlapped: at least one call waited on the other process's identical call in flight.
    const waits = runs.map((r) => (r.stderr().match(/waiting for another process's call/g) ?? []).length);
    const store = openStore(shared, { readonly: true });
    const claimsLeft = (store.db.prepare('SELECT COUNT(*) AS n FROM cache_claims').get() as { n: number }).n;
    store.close();
    assert.equal(claimsLeft, 0, 'every claim released');
    console.log(`# two runs: ${total} requests served for ${[...refPosts.values()].reduce((a, b) => a + b, 0)} in a lone run; waits on the other process: ${waits.join(' + ')}`);
    assert.ok(waits[0]! + waits[1]! > 0, 'the two runs were in flight at the same time');
  } finally {
    await server.close();
  }
});

test('a run whose cache file is its own database shares it with a run using it as --cache', async () => {
  const server = await startFaultServer({ reply, delayMs: () => 40 });
  try {
    const data = writeDataset(dir, 14, 'small.jsonl');
    const config = smallConfig({ dataset: data, debater: `openai:m@${server.url}`, judge: `openai:m@${server.url}`, perSplit: 4, turns: 2, concurrency: 3 });
    const configFile = writeConfig(dir, config, 'same-file.json');
    const own = join(dir, 'own.sqlite');
    const other = join(dir, 'other.sqlite');
    const runs = [spawnCli(['run', configFile, '--out', own, '--cache', own]), spawnCli(['run', configFile, '--out', other, '--cache', own])];
    const codes = await Promise.all(runs.map((r) => r.exited));
    assert.deepEqual(codes, [0, 0], runs.map((r) => r.stderr().slice(-2_000)).join('\n---\n'));
    // The judge's capability probe is left out: two runs started together may each make it (it is not a cached call).
    assert.ok([...postsByBody(server.requests.filter((r) => !isProbeRequest(r))).values()].every((n) => n === 1), 'each request reached the server once');
    assert.deepEqual(snapshot(own), snapshot(other));
    // A third run on the shared cache is all hits.
    const before = server.requests.length;
    const third = await runCli(['run', configFile, '--out', join(dir, 'third.sqlite'), '--cache', own]);
    assert.equal(third.code, 0, third.stderr);
    assert.equal(server.requests.slice(before).filter((r) => r.method === 'POST').length, 0);
  } finally {
    await server.close();
  }
});
