import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { renderPlainPrompt } from '../../src/models/adapters/llamacpp.js';
import { createClient } from '../../src/models/create.js';
import { ProviderError, type GenerateRequest, type ModelClient } from '../../src/models/types.js';

const MODEL = '/work/shared/models/stories260K.gguf';
// One thread: on a small shared machine, llama.cpp's spinning worker threads are far slower than one.
const OPTIONS = { contextSize: 256, threads: 1 };
const story = (extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  messages: [{ role: 'user', content: 'Once upon a time' }],
  maxTokens: 12,
  ...extra,
});

const dir = mkdtempSync(join(tmpdir(), 'w2s-llamacpp-'));
let client: ModelClient;
before(async () => {
  client = await createClient(`llamacpp:${MODEL}`, OPTIONS);
});
after(async () => {
  await client?.close?.();
  rmSync(dir, { recursive: true, force: true });
});

describe('llamacpp generation with stories260K', () => {
  test('declares no chat template and generates up to maxTokens', async () => {
    assert.deepEqual(client.capabilities, { chat: false, logprobs: true, embeddings: true, seed: true });
    assert.equal(client.endpoint, MODEL);
    const res = await client.generate(story({ maxTokens: 8 }));
    assert.ok(res.text.trim().length > 0);
    assert.equal(res.finishReason, 'length');
    assert.equal(res.usage.outputTokens, 8);
    assert.ok(res.usage.inputTokens >= 4);
    assert.equal(res.topLogprobs, undefined);
  });

  test('temperature 0 is greedy: the text is the top-1 token at every step', async () => {
    const res = await client.generate(story({ topLogprobs: 3 }));
    const again = await client.generate(story());
    assert.equal(again.text, res.text);
    const top = res.topLogprobs!;
    assert.equal(top.length, res.usage.outputTokens);
    assert.equal(top.map((alts) => alts[0]!.token).join(''), res.text);
    for (const alts of top) {
      assert.equal(alts.length, 3);
      for (let i = 0; i < alts.length; i++) {
        assert.ok(alts[i]!.logprob <= 0, `logprob ${alts[i]!.logprob} > 0`);
        if (i > 0) assert.ok(alts[i - 1]!.logprob >= alts[i]!.logprob, 'not sorted best first');
      }
      assert.ok(alts.reduce((s, a) => s + Math.exp(a.logprob), 0) <= 1 + 1e-6);
    }
  });

  test('the same seed gives the same text; different seeds differ', async () => {
    const sampled = (seed: number) => client.generate(story({ temperature: 1.5, seed }));
    const a = await sampled(11);
    const b = await sampled(11);
    assert.equal(a.text, b.text);
    const others = await Promise.all([12, 13, 14].map(async (s) => (await sampled(s)).text));
    assert.ok(new Set([a.text, ...others]).size > 1, 'four seeds gave one text');
  });

  test('stop strings end the text before the stop, with finish reason stop', async () => {
    const free = await client.generate(story({ maxTokens: 30 }));
    // Pick a word from the middle of the greedy text as the stop string.
    const words = free.text.trim().split(/\s+/);
    const stop = ` ${words[Math.floor(words.length / 2)]}`;
    const cutAt = free.text.indexOf(stop);
    assert.ok(cutAt > 0);
    const res = await client.generate(story({ maxTokens: 30, stop: ['@@never@@', stop], topLogprobs: 1 }));
    assert.equal(res.text, free.text.slice(0, cutAt));
    assert.equal(res.finishReason, 'stop');
    assert.ok(res.usage.outputTokens < free.usage.outputTokens);
    assert.equal(res.topLogprobs!.map((alts) => alts[0]!.token).join('').startsWith(res.text), true);
  });

  test('chat messages without a template are rendered as a plain prompt', async () => {
    const res = await client.generate({
      messages: [
        { role: 'system', content: 'A short story.' },
        { role: 'user', content: 'Tell me about a cat.' },
        { role: 'assistant', content: 'The cat' },
      ],
      maxTokens: 5,
    });
    assert.equal(res.usage.outputTokens, 5);
    assert.equal(
      renderPlainPrompt([
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: 'A' },
        { role: 'user', content: 'Q2' },
      ]),
      'S\n\nUser: Q\n\nAssistant: A\n\nUser: Q2\n\nAssistant:',
    );
    assert.equal(renderPlainPrompt([{ role: 'system', content: 'S' }, { role: 'user', content: 'Once' }]), 'S\n\nOnce');
    assert.equal(renderPlainPrompt([{ role: 'user', content: 'Q' }, { role: 'assistant', content: 'The' }]), 'User: Q\n\nAssistant: The');
  });

  test('concurrent calls on one context are serialised and give the serial answers', async () => {
    const prompts = ['Once upon a time', 'The dog', 'Lily was'];
    const serial = [];
    for (const p of prompts) serial.push((await client.generate({ messages: [{ role: 'user', content: p }], maxTokens: 6 })).text);
    const parallel = await Promise.all(prompts.map(async (p) => (await client.generate({ messages: [{ role: 'user', content: p }], maxTokens: 6 })).text));
    assert.deepEqual(parallel, serial);
  });

  test('with poolSize 2, parallel calls use two contexts and still give the serial answers', async () => {
    const pooled = await createClient(`llamacpp:${MODEL}`, { ...OPTIONS, poolSize: 2 });
    try {
      const prompts = ['Once upon a time', 'The dog', 'Lily was', 'Tom had'];
      const serial = [];
      for (const p of prompts) serial.push((await client.generate({ messages: [{ role: 'user', content: p }], maxTokens: 6 })).text);
      const parallel = await Promise.all(prompts.map(async (p) => (await pooled.generate({ messages: [{ role: 'user', content: p }], maxTokens: 6 })).text));
      assert.deepEqual(parallel, serial);
    } finally {
      await pooled.close!();
    }
  });

  test('a prompt longer than the context is a non-retryable ProviderError', async () => {
    const long = 'the cat sat on the mat and '.repeat(60);
    await assert.rejects(client.generate(story({ messages: [{ role: 'user', content: long }] })), (e: unknown) =>
      e instanceof ProviderError && !e.info.retryable && e.info.code === 'context_length_exceeded' && /contextSize/.test(e.message));
  });

  test('a cancelled call rejects with the caller\'s reason', async () => {
    const ac = new AbortController();
    ac.abort(new Error('cancelled by test'));
    await assert.rejects(client.generate(story(), ac.signal), /cancelled by test/);
  });
});

describe('llamacpp embeddings and sharing', () => {
  test('embeddings are 64-dim, deterministic and differ between texts', async () => {
    const { vectors, usage } = await client.embed!(['a happy dog', 'a sad cat', 'a happy dog']);
    assert.deepEqual(vectors.map((v) => v.length), [64, 64, 64]);
    assert.deepEqual(vectors[0], vectors[2]);
    assert.notDeepEqual(vectors[0], vectors[1]);
    assert.ok(usage.inputTokens > 0);
  });

  test('a second client shares the model and keeps working after the first closes', async () => {
    const second = await createClient(`llamacpp:${MODEL}`, OPTIONS);
    const expected = (await client.generate(story({ maxTokens: 5 }))).text;
    assert.equal((await second.generate(story({ maxTokens: 5 }))).text, expected);
    await second.close!();
    assert.equal((await client.generate(story({ maxTokens: 5 }))).text, expected);
    await assert.rejects(second.generate(story()), (e: unknown) => e instanceof ProviderError && /closed/.test(e.message));
  });
});

describe('llamacpp model references', () => {
  test('a missing file is a UserError naming it', async () => {
    const missing = join(dir, 'nope.gguf');
    await assert.rejects(createClient(`llamacpp:${missing}`, OPTIONS), (e: unknown) =>
      e instanceof UserError && e.message.includes(missing) && /does not exist/.test(e.message));
  });

  test('a file that is not GGUF is a UserError', async () => {
    const fake = join(dir, 'fake.gguf');
    writeFileSync(fake, 'this is not a model file');
    await assert.rejects(createClient(`llamacpp:${fake}`, OPTIONS), (e: unknown) =>
      e instanceof UserError && e.message.includes(fake) && /not a GGUF/.test(e.message));
  });

  test('an hf: reference that cannot be downloaded is a UserError pointing at a local .gguf', { timeout: 60_000 }, async () => {
    const ref = 'hf:w2s-test/definitely-not-a-repo-GGUF:Q4_K_M';
    await assert.rejects(createClient(`llamacpp:${ref}`, { ...OPTIONS, cacheDir: join(dir, 'cache') }), (e: unknown) =>
      e instanceof UserError && e.message.includes(ref) && /could not be downloaded/.test(e.message) && /llamacpp:\/path\/to\/model\.gguf/.test(e.message));
  });
});
