/**
 * One model on several servers (a model ref's `endpoints`): calls spread over them, a server that fails is taken out
 * for its cool-down and its calls retried on another, it comes back after the cool-down, and the ledger says which
 * server answered each call. Real loopback servers speaking the OpenAI (and Ollama) wire format.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import { createClient, inspectModel } from '../../src/models/create.js';
import { Gateway, type GatewayOptions } from '../../src/models/gateway.js';
import { EndpointHealth } from '../../src/models/replicas.js';
import type { ModelClient } from '../../src/models/types.js';
import { openStore, type Store } from '../../src/store/index.js';
import { startOllamaServer } from '../helpers/ollama-server.js';
import { sleep, startOpenAIServer, type WireServer } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('w2s-replicas-');
let files = 0;
function fresh(): Store {
  const s = openStore(join(dir, `r${files++}.sqlite`));
  s.runs.createRun({ id: 'run', config: {}, configHash: `h${files}` });
  after(() => s.close());
  return s;
}

/** A server of the model: answers after latencyMs, or 503 at once while down; logs what it served and how many calls it had at once. */
interface Replica {
  server: WireServer;
  url: string;
  down: boolean;
  inFlight: number;
  maxInFlight: number;
  /** The last user message of each chat call it answered, in order. */
  served: string[];
  /** Chat calls it failed (503) while down. */
  failed: number;
}

const servers: WireServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function replica(latencyMs = 15): Promise<Replica> {
  const r: Omit<Replica, 'server' | 'url'> = { down: false, inFlight: 0, maxInFlight: 0, served: [], failed: 0 };
  const server = await startOpenAIServer({
    onRequest: async (req) => {
      if (req.method !== 'POST') return undefined;
      if (r.down) {
        r.failed++;
        return { status: 503, body: { error: { message: 'replica down (test)', type: 'server_error' } } };
      }
      r.inFlight++;
      r.maxInFlight = Math.max(r.maxInFlight, r.inFlight);
      await sleep(latencyMs);
      r.inFlight--;
      r.served.push(req.body.messages.at(-1).content);
      return undefined;
    },
  });
  servers.push(server);
  return Object.assign(r, { server, url: server.url });
}

const ask = (content: string) => ({ messages: [{ role: 'user' as const, content }], maxTokens: 8 });

function gateway(store: Store, opts: GatewayOptions = {}): Gateway {
  return new Gateway({ cache: store.cache, ledger: store.calls, runId: 'run', ...opts });
}

/** Each ledger row's endpoint, and the server that logged answering its message. */
function endpointsVersusServers(store: Store, replicas: Replica[]): { ledger: string | null; server: string | undefined }[] {
  return store.calls.listCalls('run').filter((r) => !r.cacheHit).map((row) => {
    const content = store.calls.messagesOf(row.id).at(-1)!.content;
    return { ledger: row.endpoint, server: replicas.find((r) => r.served.includes(content))?.url };
  });
}

test('calls spread over both servers while both are up, each within its own concurrency limit; the ledger names the one that answered', async () => {
  const [a, b] = [await replica(), await replica()];
  const store = fresh();
  const client = await createClient('openai:m', { endpoints: [a.url, b.url] });
  assert.equal(client.replicas?.length, 2, 'a replica set of two clients');
  const model = gateway(store, { concurrency: 2 }).model(client, 'debater');
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => model.generate(ask(`q${i}`))));
  assert.ok(results.every((r) => r.text === `Echo: ${r.text.slice(6)}` && !r.cacheHit), 'every call answered by a backend');
  // 20 calls started together, each sent to the less busy of two idle servers: they alternate.
  assert.deepEqual([a.served.length, b.served.length], [10, 10], 'ten calls on each server');
  assert.deepEqual([a.maxInFlight, b.maxInFlight], [2, 2], 'each server had at most its own concurrency (2) at once');
  const pairs = endpointsVersusServers(store, [a, b]);
  assert.equal(pairs.length, 20, 'one ledger row per call');
  for (const p of pairs) assert.equal(p.ledger, p.server, 'the ledger names the server that logged the answer');
  assert.equal(client.id, 'openai:m', 'the set is named by its spec; the endpoint column names the server');
});

test('a server that fails is taken out: its calls are retried on the other at once, all calls go there during its cool-down, and it comes back after it', async () => {
  const [a, b] = [await replica(), await replica()];
  const store = fresh();
  const delays: number[] = [];
  const gw = gateway(store, {
    concurrency: 2,
    endpointCooldown: { baseMs: 500, maxMs: 500 },
    // Records the backoff waits (none should be needed: the other server is up).
    sleep: async (ms) => void delays.push(ms),
  });
  const model = gw.model(await createClient('openai:m', { endpoints: [a.url, b.url] }), 'judge');

  b.down = true;
  const first = await Promise.all(Array.from({ length: 10 }, (_, i) => model.generate(ask(`down ${i}`))));
  assert.equal(first.length, 10, 'every call answered');
  assert.equal(a.served.length, 10, 'every call answered by the server that is up');
  // b had 2 calls in flight (its concurrency) when the first failed; the calls queued behind them moved to a.
  assert.equal(b.failed, 2, 'the down server failed only the calls already sent to it');
  assert.deepEqual(delays, [0, 0], 'each failed call was retried on the other server at once, with no backoff');
  const rows = store.calls.listCalls('run');
  assert.deepEqual(rows.map((r) => r.endpoint), Array(10).fill(a.url), 'the ledger names the server that answered each call');
  assert.equal(rows.reduce((n, r) => n + r.attempts, 0), 12, 'attempts: 10 calls + the 2 that failed on b');

  // Still within b's cool-down: nothing is sent to it, even though a is the busier.
  const during = b.server.requests.length;
  await Promise.all(Array.from({ length: 6 }, (_, i) => model.generate(ask(`cooling ${i}`))));
  assert.equal(b.server.requests.length, during, 'no request reached b during its cool-down');
  assert.equal(a.served.length, 16);

  // b is up again; after its cool-down it takes calls again.
  b.down = false;
  await sleep(550);
  await Promise.all(Array.from({ length: 10 }, (_, i) => model.generate(ask(`back ${i}`))));
  assert.equal(b.served.length, 5, 'b is back: it took half of the calls started together');
  assert.equal(a.served.length, 21);
  for (const p of endpointsVersusServers(store, [a, b])) assert.equal(p.ledger, p.server, 'the ledger names the server that logged the answer');
});

test('with every server down, a call backs off as before and fails after its attempts; each failed row names the last server tried', async () => {
  const [a, b] = [await replica(), await replica()];
  a.down = true;
  b.down = true;
  const store = fresh();
  const delays: number[] = [];
  const gw = gateway(store, { retry: { maxAttempts: 3, baseDelayMs: 100 }, random: () => 0.5, sleep: async (ms) => void delays.push(ms), endpointCooldown: { baseMs: 60_000 } });
  const model = gw.model(await createClient('openai:m', { endpoints: [a.url, b.url] }), 'debater');
  await assert.rejects(model.generate(ask('nobody home')), /503/, 'the last error is thrown');
  assert.equal(a.failed + b.failed, 3, 'three attempts in all');
  // Backoff before attempt n + 1: half (random 0.5) of 100 ms · 2^(n − 1).
  assert.deepEqual(delays, [0, 100], 'the retry went to the other server at once; with both out, the backoff applies');
  const [row] = store.calls.listCalls('run');
  assert.equal(row?.attempts, 3, 'the ledger counts the attempts');
  assert.ok(row?.endpoint === a.url || row?.endpoint === b.url, `the failed row names a server of the set, got ${row?.endpoint}`);
});

test('an endpoint\'s cool-down doubles with each failure in a row, up to its cap; Retry-After lengthens it; failures while out extend nothing', () => {
  const h = new EndpointHealth();
  const cd = { baseMs: 100, maxMs: 250 };
  assert.equal(h.failed('e', 0, cd), 100, 'first failure: the base');
  assert.equal(h.isOut('e', 50), true, 'out during its cool-down');
  assert.equal(h.failed('e', 50, cd), 0, 'a failure while out (a call that was in flight) extends nothing');
  assert.equal(h.outUntil('e'), 100, 'still back at 100');
  assert.equal(h.isOut('e', 100), false, 'back once the cool-down is over');
  assert.equal(h.failed('e', 100, cd), 200, 'second failure in a row: twice the base');
  assert.equal(h.failed('e', 300, cd), 250, 'third: capped');
  assert.equal(h.failed('e', 550, cd, 1_000), 1_000, 'Retry-After beyond the cool-down wins');
  h.succeeded('e');
  assert.equal(h.isOut('e', 550), false, 'a success puts it back');
  assert.equal(h.failed('e', 600, cd), 100, 'and the count starts again');
});

test('the cache key names the model and its set of servers, never the server that answered; the order of the list does not matter', async () => {
  const [a, b] = [await replica(), await replica()];
  const store = fresh();
  const gw = gateway(store);
  const ab = gw.model(await createClient('openai:m', { endpoints: [a.url, b.url] }), 'debater');
  const ba = gw.model(await createClient('openai:m', { endpoints: [b.url, a.url] }), 'debater');
  const first = await ab.generate(ask('same question'));
  assert.equal(first.cacheHit, false, 'first asked: a backend call');
  assert.equal((await ab.generate(ask('same question'))).cacheHit, true, 'asked again: a hit, whichever server answered');
  assert.equal((await ba.generate(ask('same question'))).cacheHit, true, 'the same servers listed in another order: a hit');
  assert.equal(a.served.length + b.served.length, 1, 'one backend call in all');
  // Another set of servers is another model to the cache; a one-server list is the spec with that server after '@'.
  assert.equal((await gw.model(await createClient('openai:m', { endpoints: [a.url] }), 'debater').generate(ask('same question'))).cacheHit, false, 'a different set: a miss');
  assert.equal((await gw.model(await createClient(`openai:m@${a.url}`), 'debater').generate(ask('same question'))).cacheHit, true, 'the one-server set and the spec naming that server share their entries');
});

test('endpoints are refused where they cannot apply, each in one sentence naming the fix', async () => {
  const refused = async (spec: string, options: Parameters<typeof createClient>[1], pattern: RegExp) => {
    await assert.rejects(createClient(spec, options), (e: unknown) => e instanceof UserError && pattern.test(e.message), `createClient(${spec}) refused with ${pattern}`);
    await assert.rejects(inspectModel(spec, options), (e: unknown) => e instanceof UserError && pattern.test(e.message), `inspectModel(${spec}) refused with ${pattern} (the preflight's check)`);
  };
  await refused('scripted:echo', { endpoints: ['http://127.0.0.1:1/v1'] }, /runs in process.*remove its endpoints/);
  await refused('openai:m@http://127.0.0.1:1/v1', { endpoints: ['http://127.0.0.1:2/v1'] }, /names its server after '@' and has endpoints too/);
  await refused('openai:m', { endpoints: ['http://127.0.0.1:1/v1', 'http://127.0.0.1:1/v1/'] }, /lists the endpoint http:\/\/127\.0\.0\.1:1\/v1 twice/);
  await refused('openai:m', { endpoints: ['not a url'] }, /Endpoint "not a url" of model openai:m is not a URL or host/);
  await assert.rejects(createClient('openai:m', { endpoints: ['127.0.0.1:1', 'http://127.0.0.1:1'] }), (e: unknown) => e instanceof UserError && /lists the endpoint http:\/\/127\.0\.0\.1:1 twice \(written two ways\)/.test(e.message), 'two spellings of one server are refused');
  await refused('ollama:m', { endpoints: ['127.0.0.1:1'], host: '127.0.0.1:2' }, /both host and endpoints/);
  await refused('openai:m', { endpoints: [] }, /empty endpoints list/);
  assert.equal((await inspectModel('openai:m', { endpoints: ['http://127.0.0.1:1/v1', 'http://127.0.0.1:2/v1'] })).id, 'openai:m', 'the preflight names the set by its spec, as its client does');
  // The config accepts endpoints on any model ref and refuses an empty list.
  const base = { dataset: { name: 'jsonl', path: 'x.jsonl' }, debate: { debaters: [{ spec: 'openai:m', endpoints: ['http://a:8000/v1', 'http://b:8000/v1'] }] } };
  assert.deepEqual((parseExperiment(base).debate.debaters![0] as { endpoints: string[] }).endpoints, ['http://a:8000/v1', 'http://b:8000/v1'], 'endpoints kept as written');
  assert.throws(() => parseExperiment({ ...base, debate: { debaters: [{ spec: 'openai:m', endpoints: [] }] } }), UserError, 'an empty list is refused by the schema');
});

test('ollama models take endpoints too: calls spread over both hosts', async () => {
  const counts = [0, 0];
  const hosts = await Promise.all(
    [0, 1].map((i) =>
      startOllamaServer({
        onRequest: async (req) => {
          if (req.method === 'POST' && req.path === '/api/chat') {
            counts[i]!++;
            await sleep(10);
          }
          return undefined;
        },
      }),
    ),
  );
  servers.push(...hosts);
  const store = fresh();
  const client: ModelClient = await createClient('ollama:m', { endpoints: hosts.map((h) => h.url) });
  const model = gateway(store, { concurrency: 1 }).model(client, 'debater');
  await Promise.all(Array.from({ length: 4 }, (_, i) => model.generate(ask(`o${i}`))));
  assert.deepEqual(counts, [2, 2], 'two calls on each host');
  const endpoints = store.calls.listCalls('run').map((r) => r.endpoint);
  assert.deepEqual([...new Set(endpoints)].sort(), [...client.replicas!.map((r) => r.endpoint)].sort(), 'the ledger names both hosts');
});
