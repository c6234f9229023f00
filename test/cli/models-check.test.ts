/**
 * `w2s models check` probes what a model returns (logprobs, embeddings, seed) and prints each as found, not found or
 * not tried: a server without logprobs or without an embedding endpoint is a finding, not a failed check.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, startOpenAIServer } from '../helpers/openai-server.js';
import { runCli } from '../reliability/fixture.js';
import { closedAfterFile } from '../helpers/closed-after.js';

// fixture.ts gave this file its own W2S_CACHE_DIR, which the spawned CLI inherits.
const cacheDir = process.env['W2S_CACHE_DIR']!;

const server = closedAfterFile(startOpenAIServer);

interface Check {
  chat: boolean;
  probed: Record<'logprobs' | 'embeddings' | 'seed', { status: string; detail: string }> & { probedAt: string };
  generation: { text: string };
  logprobs: { token: string; logprob: number }[] | null;
  embeddings: { dimensions: number } | null;
}

test('no logprobs and a 404 for embeddings: both printed as not found with what the probe saw, exit 0', async () => {
  const s = await server({ logprobs: 'omit', onRequest: (r) => (r.path.endsWith('/embeddings') ? { status: 404, body: { error: { message: 'Not Found', type: 'invalid_request_error' } } } : undefined) });
  const r = await runCli(['models', 'check', `openai:tiny@${s.url}`]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.deepEqual(lines.slice(0, 4), [`model:        openai:tiny@${s.url}`, 'adapter:      openai', `endpoint:     ${s.url}`, 'generation:   "Echo: Once upon a time"'], r.stdout);
  assert.deepEqual(
    lines.slice(5),
    [
      'chat:         yes, as the adapter reports it',
      'logprobs:     not found: asked for the top 10 alternatives of 1 token; the reply had none',
      'embeddings:   not found: asked to embed one short text; the server answered 404: Not Found (check the model name and base URL)',
      'seed:         found: the same seed gave the same text twice at temperature 1 (a server that ignores temperature would too)',
    ],
    r.stdout,
  );
  assert.equal(r.stderr, '', 'nothing on stderr');

  // The findings replace the model's entry in the probe cache, which runs read: only what was found is kept.
  const models = (JSON.parse(readFileSync(join(cacheDir, 'capabilities.json'), 'utf8')) as { models: Record<string, Record<string, { status: string }>> }).models;
  const entry = models[JSON.stringify(['openai', s.url, 'tiny'])];
  assert.ok(entry, `an entry for the model: ${Object.keys(models).join(', ')}`);
  assert.deepEqual(Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, v.status])), { seed: 'found' }, 'the seed found; the missing logprobs and embeddings not remembered');

  // A second check probes again (never answered from the cache).
  const before = s.requests.length;
  const json = await runCli(['models', 'check', `openai:tiny@${s.url}`, '--json']);
  assert.equal(json.code, 0, json.stderr);
  // The test generation, the logprobs probe, the embedding probe, two seed samples.
  assert.equal(s.requests.length - before, 5, 'every probe was made again');
  const c = JSON.parse(json.stdout) as Check;
  assert.equal(c.chat, true, 'chat as the adapter reports it');
  assert.deepEqual([c.probed.logprobs.status, c.probed.embeddings.status, c.probed.seed.status], ['not found', 'not found', 'found']);
  assert.deepEqual(c.logprobs, [], 'logprobs were asked for and none came back');
  assert.equal(c.embeddings, null, 'no embedding size');
  assert.ok(Number.isFinite(Date.parse(c.probed.probedAt)), 'when it was probed');
});

test('a server that returns logprobs and embeddings: found, with the first token\'s alternatives and the vector\'s size', async () => {
  const s = await server({ embeddingDim: 16 });
  const r = await runCli(['models', 'check', `openai:tiny@${s.url}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^logprobs: {5}found: asked for the top 10 alternatives of 1 token; 10 came back\n {14}first token "Echo:" -0\.25, "alt1" -2\.00, "alt2" -3\.00, "alt3" -4\.00, "alt4" -5\.00, "alt5" -6\.00, "alt6" -7\.00, "alt7" -8\.00, "alt8" -9\.00, "alt9" -10\.00$/m);
  assert.match(r.stdout, /^embeddings: {3}found: asked to embed one short text; a vector of 16 dimensions came back$/m);
  const json = await runCli(['models', 'check', `openai:tiny@${s.url}`, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const c = JSON.parse(json.stdout) as Check;
  assert.equal(c.logprobs?.length, 10, 'ten alternatives');
  assert.deepEqual(c.embeddings, { dimensions: 16 });
});

test('a probe that fails after the model answered is not tried, with why; the check still passes', async () => {
  // Every request but the test generation's fails with a 500.
  const s = await server({ onRequest: (r) => (r.body?.messages?.[0]?.content === 'Once upon a time' ? undefined : { status: 500, body: { error: { message: 'overloaded', type: 'server_error' } } }) });
  const r = await runCli(['models', 'check', `openai:tiny@${s.url}`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(r.stdout) as Check;
  for (const cap of ['logprobs', 'embeddings', 'seed'] as const) {
    assert.equal(c.probed[cap].status, 'not tried', `${cap}: ${c.probed[cap].detail}`);
    assert.match(c.probed[cap].detail, /^the probe failed: .*500.*overloaded/, cap);
  }
  assert.equal(c.logprobs, null, 'no alternatives: the probe failed');
});

test('with --endpoints every server of the model is checked in turn; one that does not answer is named, exit 1', async () => {
  const [up, also] = [await server(), await server()];
  const both = await runCli(['models', 'check', 'openai:tiny', '--endpoints', `${up.url},${also.url}`]);
  assert.equal(both.code, 0, both.stderr);
  const blocks = both.stdout.trimEnd().split('\n\n');
  assert.equal(blocks.length, 2, `one block per server:\n${both.stdout}`);
  assert.deepEqual(blocks.map((b) => b.split('\n')[2]), [`endpoint:     ${up.url}`, `endpoint:     ${also.url}`], 'each block names its server');
  assert.ok(blocks.every((b) => b.includes('generation:   "Echo: Once upon a time"')), 'each server answered the test generation');

  const down = `http://127.0.0.1:${await freePort()}/v1`;
  const r = await runCli(['models', 'check', 'openai:tiny', '--endpoints', `${up.url},${down}`, '--json']);
  assert.equal(r.code, 1, r.stderr);
  const doc = JSON.parse(r.stdout) as { spec: string; endpoints: ({ ok: true; endpoint: string } | { ok: false; endpoint: string; error: string })[] };
  assert.equal(doc.spec, 'openai:tiny');
  assert.deepEqual(doc.endpoints.map((e) => [e.ok, e.endpoint]), [[true, up.url], [false, down]], 'the server that answered, then the one that did not');
  assert.match((doc.endpoints[1] as { error: string }).error, /did not answer a test generation: Could not reach/, 'why it failed');
  assert.equal(r.stderr, `w2s: 1 of 2 servers of openai:tiny did not answer: ${down} (see above); start them or remove them from endpoints.\n`, 'one error line naming the server');
});
