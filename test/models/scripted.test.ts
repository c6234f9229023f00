import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { hashEmbedding, registerScript, unregisterScript, type ScriptedClient } from '../../src/models/adapters/scripted.js';
import { createClient, requireCapability } from '../../src/models/create.js';
import { ProviderError } from '../../src/models/types.js';

const dir = mkdtempSync(join(tmpdir(), 'w2s-scripted-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const user = (content: string) => [{ role: 'user' as const, content }];

test('a registered script answers, sees the call number, and every request is recorded', async () => {
  registerScript('counter', { generate: (req, ctx) => `call ${ctx.n}: ${req.messages.length} messages` });
  try {
    const client = (await createClient('scripted:counter')) as ScriptedClient;
    const req = { messages: user('first'), maxTokens: 10, temperature: 0.5, seed: 3 };
    assert.equal((await client.generate(req)).text, 'call 1: 1 messages');
    req.messages.push({ role: 'user', content: 'mutated after the call' });
    assert.equal((await client.generate({ messages: user('second'), maxTokens: 10 })).text, 'call 2: 1 messages');
    assert.equal(client.requests.length, 2);
    assert.deepEqual(client.requests[0], { messages: user('first'), maxTokens: 10, temperature: 0.5, seed: 3 });
    assert.equal(client.requests[1]!.messages[0]!.content, 'second');
    assert.equal(client.id, 'scripted:counter');
  } finally {
    unregisterScript('counter');
  }
});

test('answers are cut at stop strings and to maxTokens, with usage and logprobs filled in', async () => {
  registerScript('long', { generate: () => 'one two three. four five six' });
  try {
    const client = await createClient('scripted:long');
    const stopped = await client.generate({ messages: user('a b'), maxTokens: 50, stop: ['.'] });
    assert.deepEqual(stopped, { text: 'one two three', finishReason: 'stop', usage: { inputTokens: 2, outputTokens: 3 } });
    const cut = await client.generate({ messages: user('a'), maxTokens: 2, topLogprobs: 3 });
    assert.equal(cut.text, 'one two');
    assert.equal(cut.finishReason, 'length');
    assert.deepEqual(cut.topLogprobs, [[{ token: 'one', logprob: 0 }], [{ token: ' two', logprob: 0 }]]);
  } finally {
    unregisterScript('long');
  }
});

test('a script can return a partial result with its own logprobs and declare capabilities', async () => {
  const lp = [[{ token: 'A', logprob: -0.1 }, { token: 'B', logprob: -2.4 }]];
  registerScript('judge', { generate: () => ({ text: 'A', topLogprobs: lp }), capabilities: { embeddings: false } });
  try {
    const client = await createClient('scripted:judge');
    assert.deepEqual((await client.generate({ messages: user('A or B?'), maxTokens: 1, topLogprobs: 2 })).topLogprobs, lp);
    assert.equal(client.capabilities.embeddings, false);
    assert.throws(() => requireCapability(client, 'embeddings', 'weak featurizer'), (e: unknown) =>
      e instanceof UserError && /weak featurizer model scripted:judge has no embeddings/.test(e.message));
    requireCapability(client, 'logprobs', 'judge');
  } finally {
    unregisterScript('judge');
  }
});

test('the capabilities option overrides what the script declares, and requireCapability names the role', async () => {
  const client = await createClient('scripted:echo', { capabilities: { logprobs: false } });
  assert.equal(client.capabilities.logprobs, false);
  assert.throws(
    () => requireCapability(client, 'logprobs', 'judge', "set judge.method to 'parsed'"),
    (e: unknown) =>
      e instanceof UserError &&
      e.message === "judge model scripted:echo has no logprobs; use a model that returns logprobs or set judge.method to 'parsed'.",
  );
  // The wrapped client still works and still records.
  assert.equal((await client.generate({ messages: user('hello there'), maxTokens: 5 })).text, 'hello there');
  assert.equal((client as ScriptedClient).requests.length, 1);
});

test('a JSON fixture maps prompt substrings to answers, first match in file order', async () => {
  const file = join(dir, 'fixture.json');
  writeFileSync(file, JSON.stringify({ 'Answer: A or B': 'B', debate: { text: 'I argue yes.' }, '*': 'no idea' }));
  const client = await createClient(`scripted:${file}`);
  const ask = async (content: string) => (await client.generate({ messages: [{ role: 'system', content: 'sys' }, ...user(content)], maxTokens: 20 })).text;
  assert.equal(await ask('Read the debate. Answer: A or B'), 'B');
  assert.equal(await ask('Open the debate.'), 'I argue yes.');
  assert.equal(await ask('something else'), 'no idea');

  const strict = join(dir, 'strict.json');
  writeFileSync(strict, JSON.stringify({ only: 'x' }));
  const c2 = await createClient(`scripted:${strict}`);
  await assert.rejects(c2.generate({ messages: user('nothing matches'), maxTokens: 5 }), (e: unknown) =>
    e instanceof ProviderError && !e.info.retryable && /no answer/.test(e.message));
});

test('missing or broken fixtures and unknown scripts are UserErrors', async () => {
  await assert.rejects(createClient(`scripted:${join(dir, 'nope.json')}`), (e: unknown) => e instanceof UserError && /does not exist/.test(e.message));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{ not json');
  await assert.rejects(createClient(`scripted:${bad}`), (e: unknown) => e instanceof UserError && /not valid JSON/.test(e.message));
  writeFileSync(bad, '["a list"]');
  await assert.rejects(createClient(`scripted:${bad}`), (e: unknown) => e instanceof UserError && /JSON object/.test(e.message));
  await assert.rejects(createClient('scripted:never-registered'), (e: unknown) => e instanceof UserError && /registerScript/.test(e.message));
});

test('default embeddings are deterministic unit vectors where shared words mean similar vectors', async () => {
  const client = (await createClient('scripted:echo')) as ScriptedClient;
  const { vectors } = await client.embed!(['the cat sat', 'The cat sat!', 'quantum chromodynamics lattice']);
  assert.deepEqual(client.embedRequests, [['the cat sat', 'The cat sat!', 'quantum chromodynamics lattice']]);
  assert.equal(vectors[0]!.length, 64);
  assert.deepEqual(vectors[0], vectors[1]);
  assert.ok(Math.abs(vectors[0]!.reduce((s, x) => s + x * x, 0) - 1) < 1e-9);
  const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
  assert.ok(dot(hashEmbedding('red apple pie'), hashEmbedding('red apple tart')) > dot(hashEmbedding('red apple pie'), hashEmbedding('blue ocean wave')));
});

test('a cancelled signal rejects before the script runs', async () => {
  const client = (await createClient('scripted:echo')) as ScriptedClient;
  const ac = new AbortController();
  ac.abort(new Error('cancelled'));
  await assert.rejects(client.generate({ messages: user('x'), maxTokens: 5 }, ac.signal), /cancelled/);
  assert.equal(client.requests.length, 0);
});
