/**
 * The capability probe against real HTTP servers on 127.0.0.1 (the OpenAI and Ollama wire formats): what it finds,
 * what it remembers in capabilities.json (only what it found), and what it never remembers (what it did not find, a
 * model it could not reach or that the server does not have).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createClient } from '../../src/models/create.js';
import { Gateway } from '../../src/models/gateway.js';
import { capabilitiesFile, PROBE_RETRY, probeCapabilities, probeKey, type ProbeOptions } from '../../src/models/probe.js';
import { ProviderError, type ModelClient } from '../../src/models/types.js';
import { startOllamaServer } from '../helpers/ollama-server.js';
import { fakeTopLogprobs, freePort, startOpenAIServer, type OpenAIServerOptions, type SeenRequest, type WireServer } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';
import { closedAfterFile } from '../helpers/closed-after.js';

const dir = tempDir('w2s-probe-');
const saved = process.env['W2S_CACHE_DIR'];
process.env['W2S_CACHE_DIR'] = join(dir, 'w2s-cache');
after(() => {
  if (saved === undefined) delete process.env['W2S_CACHE_DIR'];
  else process.env['W2S_CACHE_DIR'] = saved;
});

const openai = closedAfterFile(startOpenAIServer);
const ollama = closedAfterFile(startOllamaServer);

let files = 0;
/** A findings file of the test's own. */
const freshFile = (): string => join(dir, `capabilities-${++files}.json`);
/** One attempt, so a failing server fails at once (no backoff). */
const once = (): Gateway => new Gateway({ retry: { maxAttempts: 1 } });
const chats = (s: WireServer): SeenRequest[] => s.requests.filter((r) => r.path.endsWith('/chat/completions') || r.path === '/api/chat');
const embeds = (s: WireServer): SeenRequest[] => s.requests.filter((r) => r.path.endsWith('/embeddings') || r.path === '/api/embed');
const client = (s: WireServer, model = 'm'): Promise<ModelClient> => createClient(`openai:${model}@${s.url}`, { apiKeyEnv: 'W2S_PROBE_TEST_KEY' });
process.env['W2S_PROBE_TEST_KEY'] = 'test-key';

function readEntries(file: string): Record<string, Record<string, { status: string; detail: string; probedAt: string }>> {
  return (JSON.parse(readFileSync(file, 'utf8')) as { models: Record<string, Record<string, { status: string; detail: string; probedAt: string }>> }).models;
}

test('logprobs: found when the first token came back with alternatives, not found when the reply had none', async () => {
  const normal = await openai();
  const found = await probeCapabilities(await client(normal), { logprobs: true }, { cacheFile: freshFile(), gateway: once() });
  assert.equal(found.logprobs.status, 'found', found.logprobs.detail);
  assert.equal(found.logprobs.detail, 'asked for the top 10 alternatives of 1 token; 10 came back');
  assert.deepEqual(found.alternatives?.map((t) => t.token), fakeTopLogprobs('Echo:', 10).map((t) => t.token), 'the first token\'s alternatives as the server sent them');
  assert.equal(found.embeddings.status, 'not tried', 'embeddings were not asked for');
  assert.equal(found.seed.status, 'not tried', 'the seed was not asked for');
  assert.equal(found.fromCache, false, 'a first probe is fresh');
  const sent = chats(normal);
  assert.equal(sent.length, 1, 'one short generation');
  assert.equal(sent[0]!.body.max_tokens, 1, 'of one token');
  assert.equal(sent[0]!.body.temperature, 0, 'at temperature 0');
  assert.equal(sent[0]!.body.top_logprobs, 10, 'asking for 10 alternatives, as a logprobs judge does');
  assert.equal(embeds(normal).length, 0, 'no embedding call when not asked for');

  for (const mode of ['omit', 'null'] as const) {
    const none = await openai({ logprobs: mode });
    const r = await probeCapabilities(await client(none), { logprobs: true }, { cacheFile: freshFile(), gateway: once() });
    assert.equal(r.logprobs.status, 'not found', `logprobs ${mode}`);
    assert.equal(r.logprobs.detail, 'asked for the top 10 alternatives of 1 token; the reply had none', `logprobs ${mode}`);
    assert.deepEqual(r.alternatives, [], `logprobs ${mode}: no alternatives`);
  }

  // A server that refuses the parameter outright (400) but answers the same request without it has no logprobs to
  // give: a finding, not an error.
  const refusing = await openai({ onRequest: (r) => (r.body?.logprobs ? { status: 400, body: { error: { message: 'logprobs are not supported', type: 'invalid_request_error' } } } : undefined) });
  const refused = await probeCapabilities(await client(refusing), { logprobs: true }, { cacheFile: freshFile(), gateway: once() });
  assert.equal(refused.logprobs.status, 'not found', refused.logprobs.detail);
  assert.equal(
    refused.logprobs.detail,
    'asked for the top 10 alternatives of 1 token; the server refused the request with 400: logprobs are not supported, and answered it without logprobs',
    'the refusal, then the control that was answered',
  );
  const sentToRefusing = chats(refusing);
  assert.deepEqual(sentToRefusing.map((q) => [q.body.logprobs ?? null, q.body.max_tokens]), [[true, 1], [null, 1]], 'the probe, then a control without logprobs, of one token');
  assert.equal(sentToRefusing[1]!.body.messages[0].content, sentToRefusing[0]!.body.messages[0].content, 'the control sends the same prompt');
});

test('logprobs: a reply with one alternative (the sampled token\'s own: top_logprobs ignored) is not found', async () => {
  // content[0] has the sampled token's logprob and no alternatives, as a server that ignores top_logprobs sends it.
  const single = await openai({
    onRequest: (q) =>
      q.path.endsWith('/chat/completions')
        ? {
            status: 200,
            body: {
              id: 'c1', object: 'chat.completion', created: 1, model: 'm',
              choices: [{ index: 0, message: { role: 'assistant', content: 'Yes' }, logprobs: { content: [{ token: 'Yes', logprob: -0.1, top_logprobs: [] }] }, finish_reason: 'length' }],
              usage: { prompt_tokens: 9, completion_tokens: 1 },
            },
          }
        : undefined,
  });
  const file = freshFile();
  const c = await client(single);
  const r = await probeCapabilities(c, { logprobs: true }, { cacheFile: file, gateway: once() });
  assert.equal(r.logprobs.status, 'not found', r.logprobs.detail);
  assert.equal(
    r.logprobs.detail,
    "asked for the top 10 alternatives of 1 token; 1 came back (the sampled token's own: a logprobs judge needs at least 2)",
    'the detail says how many came back',
  );
  assert.deepEqual(r.alternatives, [{ token: 'Yes', logprob: -0.1 }], 'the one alternative as it came back');
  assert.equal(existsSync(file), false, 'a not found is not remembered');
});

test('a model the server does not have refuses the control too: the error propagates with the adapter\'s hint, nothing is remembered', async () => {
  // OpenAI format: the server knows only "other"; "m" gets its 404 with logprobs and without.
  const file = freshFile();
  const s = await openai({ models: ['other'] });
  await assert.rejects(
    probeCapabilities(await client(s), { logprobs: true, embeddings: true }, { cacheFile: file, gateway: once() }),
    (e) => e instanceof ProviderError && e.info.status === 404 && e.message.endsWith('(check the model name and base URL)'),
    'the 404 propagates with the adapter\'s hint',
  );
  assert.deepEqual(chats(s).map((q) => Boolean(q.body.logprobs)), [true, false], 'the probe, then the control without logprobs');
  assert.equal(existsSync(file), false, 'nothing was remembered');

  // Ollama: a model not yet pulled. After "ollama pull" (here: a server that has it) the next probe finds logprobs.
  const notPulled = await ollama({ models: ['other'] });
  await assert.rejects(
    probeCapabilities(await createClient(`ollama:m@${notPulled.url}`), { logprobs: true }, { cacheFile: file, gateway: once() }),
    (e) => e instanceof ProviderError && e.info.status === 404 && e.message.includes('(pull the model with "ollama pull m" or check its name)'),
    'the 404 propagates with the pull hint',
  );
  assert.equal(chats(notPulled).length, 2, 'the probe and the control');
  const pulled = await ollama({ models: ['m'] });
  const r = await probeCapabilities(await createClient(`ollama:m@${pulled.url}`), { logprobs: true }, { cacheFile: file, gateway: once() });
  assert.equal(r.logprobs.status, 'found', r.logprobs.detail);
});

test('the probe\'s own retry budget: 2 attempts with a short backoff, so a 501 refusal is seen in about a second', async () => {
  assert.deepEqual({ ...PROBE_RETRY }, { maxAttempts: 2, baseDelayMs: 250, maxDelayMs: 500 }, 'two attempts, at most half a second apart');
  const s = await openai({ onRequest: (r) => (r.body?.logprobs ? { status: 501, body: { error: { message: 'top_logprobs is not implemented', type: 'server_error' } } } : undefined) });
  const started = performance.now();
  // No gateway given: the probe's default, PROBE_RETRY.
  const r = await probeCapabilities(await client(s), { logprobs: true }, { cacheFile: freshFile() });
  const ms = performance.now() - started;
  assert.equal(r.logprobs.status, 'not found', r.logprobs.detail);
  assert.deepEqual(chats(s).map((q) => Boolean(q.body.logprobs)), [true, true, false], 'two attempts with logprobs, then the control');
  assert.ok(ms < 2_000, `seen in about a second: ${Math.round(ms)} ms`);
});

test('embeddings: found with the vector\'s size; not found when the endpoint answers 404, 400 or 501', async () => {
  const normal = await openai({ embeddingDim: 12 });
  const r = await probeCapabilities(await client(normal), { embeddings: true }, { cacheFile: freshFile(), gateway: once() });
  assert.equal(r.embeddings.status, 'found', r.embeddings.detail);
  assert.equal(r.embeddings.detail, 'asked to embed one short text; a vector of 12 dimensions came back');
  assert.equal(r.dimensions, 12, 'the size the server was built with');
  assert.equal(r.logprobs.status, 'not tried', 'logprobs were not asked for');
  assert.equal(embeds(normal).length, 1, 'one embedding call');
  assert.equal(embeds(normal)[0]!.body.input.length, 1, 'of one text');
  assert.equal(chats(normal).length, 0, 'no generation when logprobs are not asked for');

  for (const status of [404, 400, 501]) {
    const s = await openai({ onRequest: (q) => (q.path.endsWith('/embeddings') ? { status, body: { error: { message: `no embeddings here (${status})`, type: 'invalid_request_error' } } } : undefined) });
    // Two attempts: 501 is retryable, and is still a finding once the attempts are spent.
    const n = await probeCapabilities(await client(s), { embeddings: true }, { cacheFile: freshFile(), gateway: new Gateway({ retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } }) });
    assert.equal(n.embeddings.status, 'not found', `${status}: ${n.embeddings.detail}`);
    // The adapter's hint on a 404 is kept: it may be the model that is missing.
    const hint = status === 404 ? ' (check the model name and base URL)' : '';
    assert.equal(n.embeddings.detail, `asked to embed one short text; the server answered ${status}: no embeddings here (${status})${hint}`, `${status} named`);
  }
});

test('the Ollama wire format: logprobs found on a server that returns them, not found on an older one; embeddings found', async () => {
  for (const [version, expected] of [['0.12.11', 'found'], ['0.12.0', 'not found']] as const) {
    const s = await ollama({ version, embeddingDim: 6 });
    const c = await createClient(`ollama:m@${s.url}`);
    const r = await probeCapabilities(c, { logprobs: true, embeddings: true }, { cacheFile: freshFile(), gateway: once() });
    assert.equal(r.logprobs.status, expected, `Ollama ${version}: ${r.logprobs.detail}`);
    assert.equal(r.embeddings.status, 'found', `Ollama ${version}: ${r.embeddings.detail}`);
    assert.equal(r.dimensions, 6, 'the size the server was built with');
    assert.equal(chats(s).length, 1, 'one generation');
    assert.equal(embeds(s).length, 1, 'one embedding call');
  }
});

test('seed: the same text twice is found (worded honestly), two different texts are not found; a run never tries it', async () => {
  const same = await openai();
  const r = await probeCapabilities(await client(same), {}, { cacheFile: freshFile(), gateway: once(), seed: true });
  assert.equal(r.seed.status, 'found', r.seed.detail);
  assert.equal(r.seed.detail, 'the same seed gave the same text twice at temperature 1 (a server that ignores temperature would too)');
  const sent = chats(same);
  assert.equal(sent.length, 2, 'two calls');
  assert.deepEqual(sent.map((q) => [q.body.temperature, q.body.seed]), [[1, sent[0]!.body.seed], [1, sent[0]!.body.seed]], 'at temperature 1 with the same seed');

  // A server whose every reply differs, whatever the seed.
  const varying = await openai({
    onRequest: (q) =>
      q.path.endsWith('/chat/completions')
        ? { status: 200, body: { id: `c${q.n}`, object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: `reply ${q.n}` }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2 } } }
        : undefined,
  });
  const v = await probeCapabilities(await client(varying), {}, { cacheFile: freshFile(), gateway: once(), seed: true });
  assert.equal(v.seed.status, 'not found', v.seed.detail);
  assert.equal(v.seed.detail, 'the same seed gave two different texts at temperature 1');

  const run = await probeCapabilities(await client(same), { logprobs: true }, { cacheFile: freshFile(), gateway: once() });
  assert.equal(run.seed.status, 'not tried', 'without options.seed the seed is not tried');
});

test('a server error or a refused connection is no finding: it propagates and nothing is remembered', async () => {
  const file = freshFile();
  const failing = await openai({ onRequest: () => ({ status: 500, body: { error: { message: 'overloaded', type: 'server_error' } } }) });
  const c = await client(failing);
  await assert.rejects(
    probeCapabilities(c, { logprobs: true, embeddings: true }, { cacheFile: file, gateway: once() }),
    (e) => e instanceof ProviderError && e.info.status === 500,
    'a 500 propagates',
  );
  assert.equal(existsSync(file), false, 'no finding was written after a 500');

  const port = await freePort();
  const gone = await createClient(`openai:m@http://127.0.0.1:${port}/v1`, { apiKeyEnv: 'W2S_PROBE_TEST_KEY' });
  await assert.rejects(
    probeCapabilities(gone, { embeddings: true }, { cacheFile: file, gateway: once() }),
    (e) => e instanceof ProviderError && /Could not reach/.test(e.message),
    'a refused connection propagates',
  );
  assert.equal(existsSync(file), false, 'no finding was written after a refused connection');

  // As models check uses it: a failed probe comes back as not tried, with why, and is not remembered either.
  const r = await probeCapabilities(c, { logprobs: true }, { cacheFile: file, gateway: once(), onError: 'not tried' });
  assert.equal(r.logprobs.status, 'not tried', r.logprobs.detail);
  assert.match(r.logprobs.detail, /^the probe failed: .*500/);
  assert.equal(existsSync(file), false, 'a failed probe is never remembered');
});

test('the cache: only what was found is remembered, and reused for 24 h; a stale or old-style entry, a corrupt file or fresh: true probe again', async () => {
  const file = freshFile();
  // The server's options are read per request: changing them is the user fixing the server.
  const serverOptions: OpenAIServerOptions = { logprobs: 'omit' };
  const s = await openai(serverOptions);
  const c = await client(s);
  const opts: ProbeOptions = { cacheFile: file, gateway: once() };
  const first = await probeCapabilities(c, { logprobs: true, embeddings: true }, opts);
  assert.equal(first.logprobs.status, 'not found', first.logprobs.detail);
  assert.equal(first.embeddings.status, 'found', first.embeddings.detail);
  assert.equal(s.requests.length, 2, 'one generation and one embedding');
  assert.deepEqual(Object.keys(readEntries(file)[probeKey(c)]!), ['embeddings'], 'only what was found is remembered: not the missing logprobs, not the untried seed');

  const second = await probeCapabilities(c, { logprobs: true, embeddings: true }, opts);
  assert.equal(s.requests.length, 3, 'the logprobs were asked again; the embeddings came from the cache');
  assert.equal(second.logprobs.status, 'not found', second.logprobs.detail);
  assert.deepEqual(second.embeddings, first.embeddings, 'the remembered embeddings finding');
  assert.equal(second.fromCache, false, 'not every finding came from the cache');

  // The user fixes the server: the next probe finds the logprobs at once (no day-long "not found" in the way).
  serverOptions.logprobs = 'normal';
  const third = await probeCapabilities(c, { logprobs: true, embeddings: true }, opts);
  assert.equal(s.requests.length, 4, 'one generation: the logprobs asked again');
  assert.equal(third.logprobs.status, 'found', third.logprobs.detail);
  const entry = readEntries(file)[probeKey(c)]!;
  assert.deepEqual(Object.keys(entry).sort(), ['embeddings', 'logprobs'], 'both are remembered now');

  const fourth = await probeCapabilities(c, { logprobs: true, embeddings: true }, opts);
  assert.equal(s.requests.length, 4, 'the fourth probe made no call');
  assert.equal(fourth.fromCache, true, 'it says it came from the cache');
  assert.deepEqual([fourth.logprobs, fourth.embeddings], [third.logprobs, third.embeddings], 'the same findings');
  assert.equal(fourth.probedAt, entry.logprobs!.probedAt < entry.embeddings!.probedAt ? entry.logprobs!.probedAt : entry.embeddings!.probedAt, 'probedAt is the oldest finding used');

  // One day later (25 h): the logprobs finding is stale, so it is probed again; the other one is kept.
  const hour = 3600_000;
  const old = new Date(Date.now() - 25 * hour).toISOString();
  const young = new Date(Date.now() - 1 * hour).toISOString();
  writeFileSync(file, JSON.stringify({ version: 1, models: { [probeKey(c)]: { logprobs: { status: 'found', detail: 'an old finding', probedAt: old }, embeddings: { status: 'found', detail: 'a young finding', probedAt: young } } } }));
  const fifth = await probeCapabilities(c, { logprobs: true, embeddings: true }, opts);
  assert.equal(s.requests.length, 5, 'only the stale finding was probed again');
  assert.equal(fifth.logprobs.detail, 'asked for the top 10 alternatives of 1 token; 10 came back', 'the stale finding was replaced by what the server returns');
  assert.equal(fifth.embeddings.detail, 'a young finding', 'the young finding was reused');
  assert.equal(readEntries(file)[probeKey(c)]!.logprobs!.detail, 'asked for the top 10 alternatives of 1 token; 10 came back', 'the file now holds the new finding');

  // A young "not found" written by an older w2s is not trusted: asked again.
  writeFileSync(file, JSON.stringify({ version: 1, models: { [probeKey(c)]: { logprobs: { status: 'not found', detail: 'an old refusal', probedAt: young } } } }));
  const sixth = await probeCapabilities(c, { logprobs: true }, opts);
  assert.equal(s.requests.length, 6, 'a remembered "not found" costs a probe');
  assert.equal(sixth.logprobs.status, 'found', sixth.logprobs.detail);

  // A corrupt file is no file: probe again, then write a good one.
  writeFileSync(file, '{"version": 1, "models": {');
  const seventh = await probeCapabilities(c, { logprobs: true }, opts);
  assert.equal(s.requests.length, 7, 'a corrupt file costs one probe');
  assert.equal(seventh.logprobs.status, 'found', seventh.logprobs.detail);
  assert.equal(readEntries(file)[probeKey(c)]!.logprobs!.status, 'found', 'the file was rewritten');

  // fresh (models check): probes whatever the cache holds and replaces the model's entry.
  const eighth = await probeCapabilities(c, { logprobs: true }, { ...opts, fresh: true, seed: true });
  assert.equal(s.requests.length, 7 + 1 + 2, 'a fresh probe: one generation for logprobs, two for the seed');
  assert.equal(eighth.fromCache, false, 'fresh findings');
  assert.deepEqual(Object.keys(readEntries(file)[probeKey(c)]!).sort(), ['logprobs', 'seed'], 'the entry was replaced by what was found');
  // A fresh probe that finds nothing drops the model's entry: an old "found" does not outlive the server's change.
  serverOptions.logprobs = 'omit';
  await probeCapabilities(c, { logprobs: true }, { ...opts, fresh: true });
  assert.equal(readEntries(file)[probeKey(c)], undefined, 'no entry left for the model');

  // Another model on the same server has its own entry.
  const other = await client(s, 'other');
  await probeCapabilities(other, { logprobs: true }, opts);
  assert.equal(s.requests.length, 12, 'another model is probed on its own');
});

test('the default findings file is capabilities.json under $W2S_CACHE_DIR; a local file model is keyed by its content', async () => {
  assert.equal(capabilitiesFile(), join(dir, 'w2s-cache', 'capabilities.json'));
  const s = await openai();
  await probeCapabilities(await client(s), { logprobs: true }, { gateway: once() });
  assert.ok(existsSync(join(dir, 'w2s-cache', 'capabilities.json')), 'written under $W2S_CACHE_DIR');

  const a = probeKey({ adapter: 'llamacpp', endpoint: '/one/x.gguf', model: '/one/x.gguf', contentId: 'size=1 sha256=ab' });
  const b = probeKey({ adapter: 'llamacpp', endpoint: '/two/y.gguf', model: '/two/y.gguf', contentId: 'size=1 sha256=ab' });
  assert.equal(a, b, 'the same content by another path is the same model');
  assert.doesNotMatch(a, /x\.gguf/, 'the path is not in the key');
  assert.notEqual(probeKey({ adapter: 'openai', endpoint: 'http://a/v1', model: 'm' }), probeKey({ adapter: 'openai', endpoint: 'http://b/v1', model: 'm' }), 'another endpoint is another model');
});

test('an unwritable cache folder costs a probe, never a failed probe', async () => {
  const blocker = join(dir, 'not-a-folder');
  writeFileSync(blocker, 'a file where the cache folder would be');
  const s = await openai();
  const c = await client(s);
  const file = join(blocker, 'capabilities.json');
  const r = await probeCapabilities(c, { logprobs: true }, { cacheFile: file, gateway: once() });
  assert.equal(r.logprobs.status, 'found', r.logprobs.detail);
  await probeCapabilities(c, { logprobs: true }, { cacheFile: file, gateway: once() });
  assert.equal(chats(s).length, 2, 'nothing could be remembered, so the second probe asked again');
});
