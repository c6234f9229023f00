import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Gateway } from '../../src/models/gateway.js';
import { createClient } from '../../src/models/create.js';
import { probeCapabilities } from '../../src/models/probe.js';
import { ProviderError, type ChatMessage, type ModelClient } from '../../src/models/types.js';
import { openStore, type Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';
import { startTransformersServe, transformersServeSkipReason, type TransformersServe } from '../helpers/transformers-serve.js';

/**
 * The openai adapter against a server the project did not write: Hugging Face's `transformers serve` (5.18.0, CPU,
 * offline) serving stories260K converted to a Hugging Face folder. What each test pins is what that server does and
 * what the adapter makes of it; docs/servers.md lists the same behaviour for users.
 */

const SKIP = transformersServeSkipReason();
const user = (content: string): ChatMessage[] => [{ role: 'user', content }];
const STORY = user('Once upon a time');

async function rejectsProvider(p: Promise<unknown>, check: (e: ProviderError) => void): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ProviderError, `expected a ProviderError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    check(e);
    return true;
  });
}

describe('openai adapter against transformers serve (a real third-party server)', { skip: SKIP }, () => {
  let server: TransformersServe;
  let spec: string;
  let client: ModelClient;
  let store: Store;

  before(async () => {
    // No key: a local server gets the placeholder bearer token (src/models/api-key.ts), and a user's real key is not sent.
    delete process.env['OPENAI_API_KEY'];
    server = await startTransformersServe();
    spec = `openai:${server.model}@${server.url}`;
    client = await createClient(spec);
    const dir = tempDir('w2s-tserve-');
    store = openStore(join(dir, 'ledger.sqlite'));
    store.runs.createRun({ id: 'run', config: {}, configHash: 'h' });
  }, { timeout: 15 * 60_000 });

  after(async () => {
    store?.close();
    await server?.close();
  });

  test('the spec names the folder and the base URL; no API key is needed', (t) => {
    t.diagnostic(`transformers serve start, ms: ${JSON.stringify(server.timings)}`);
    assert.equal(client.id, spec, 'the client id is the canonical spec');
    assert.equal(client.endpoint, server.url, 'the endpoint is the base URL as given');
    assert.equal(client.model, server.model, 'the model name is the folder path, whole (it has slashes)');
  });

  test('a chat reply comes back with text, a finish reason and token usage', async () => {
    const res = await client.generate({ messages: [{ role: 'system', content: 'Tell a story.' }, ...STORY], maxTokens: 24, temperature: 0 });
    assert.equal(typeof res.text, 'string', 'text is a string');
    assert.ok(res.text.trim().length > 0, `the model wrote something: ${JSON.stringify(res.text)}`);
    assert.ok(['stop', 'length'].includes(res.finishReason), `finish reason is stop or length: ${res.finishReason}`);
    assert.ok(res.usage.inputTokens > 0, `input tokens counted: ${JSON.stringify(res.usage)}`);
    assert.ok(res.usage.outputTokens > 0 && res.usage.outputTokens <= 24, `output tokens counted, at most maxTokens: ${JSON.stringify(res.usage)}`);
    assert.equal(res.topLogprobs, undefined, 'no logprobs were asked for');
    assert.equal(res.fingerprint, undefined, 'transformers serve sends no system_fingerprint');
  });

  test('maxTokens is honoured: finish reason length and exactly that many output tokens', async () => {
    const res = await client.generate({ messages: STORY, maxTokens: 7, temperature: 0 });
    assert.equal(res.finishReason, 'length', `a 7-token budget cuts the story: ${JSON.stringify(res)}`);
    assert.equal(res.usage.outputTokens, 7, `completion_tokens is the budget: ${JSON.stringify(res.usage)}`);
  });

  test('temperature 0 is greedy; at temperature 1 the seed decides the sample', async () => {
    const greedy = async () => (await client.generate({ messages: STORY, maxTokens: 16, temperature: 0 })).text;
    assert.equal(await greedy(), await greedy(), 'two greedy replies are the same');
    const sampled = async (seed: number) => (await client.generate({ messages: STORY, maxTokens: 16, temperature: 1, seed })).text;
    const first = await sampled(7);
    assert.equal(await sampled(7), first, 'the same seed gives the same sample (the server seeds torch per request; one request at a time here)');
    const others = new Set([first, await sampled(8), await sampled(9), await sampled(10)]);
    assert.ok(others.size >= 2, `other seeds give other samples: ${JSON.stringify([...others])}`);
  });

  test('stop is honoured (finish reason stop), and the adapter returns the text before the stop string, as OpenAI does', async () => {
    const full = (await client.generate({ messages: STORY, maxTokens: 40, temperature: 0 })).text;
    const at = full.indexOf('.');
    assert.ok(at > 0, `the greedy story has a full stop to stop at: ${JSON.stringify(full)}`);
    const res = await client.generate({ messages: STORY, maxTokens: 40, temperature: 0, stop: ['.'] });
    assert.equal(res.finishReason, 'stop', `the stop string ends the generation: ${JSON.stringify(res)}`);
    assert.ok(res.usage.outputTokens < 40, `fewer tokens than the budget: ${JSON.stringify(res.usage)}`);
    // OpenAI leaves the stop sequence out of the content; transformers serve 5.18 keeps it, and the adapter cuts it.
    assert.equal(res.text, full.slice(0, at), 'the text is the greedy story up to, not including, the stop string');
  });

  test('a request for top logprobs gives undefined topLogprobs (the server drops them), not a guess', async () => {
    const res = await client.generate({ messages: STORY, maxTokens: 3, temperature: 0, topLogprobs: 2 });
    assert.ok(res.text.length > 0, `the text still comes back: ${JSON.stringify(res.text)}`);
    assert.equal(res.topLogprobs, undefined, `no logprobs field in the reply gives undefined: ${JSON.stringify(res.topLogprobs)}`);
  });

  test('the embeddings call is a ProviderError with status 404, not retryable, naming the base URL', async () => {
    await rejectsProvider(client.embed!(['a sentence to embed']), (e) => {
      assert.equal(e.info.status, 404, `status 404: ${e.message}`);
      assert.equal(e.info.retryable, false, '404 is not retried');
      assert.ok(e.message.includes(server.url), `the message names the base URL: ${e.message}`);
      assert.match(e.message, /check the model name and base URL/, 'the 404 hint says what to check');
    });
  });

  test('an unknown model is a 500 error naming the base URL; the gateway retries it as a server error', async () => {
    const missing = await createClient(`openai:/nonexistent/w2s-model@${server.url}`);
    await rejectsProvider(missing.generate({ messages: STORY, maxTokens: 4 }), (e) => {
      assert.equal(e.info.status, 500, `transformers serve answers 500 for a model it cannot load: ${e.message}`);
      assert.equal(e.info.retryable, true, 'a 5xx is retryable');
      assert.ok(e.message.includes(server.url), `the message names the base URL: ${e.message}`);
    });
    const gw = new Gateway({ ledger: store.calls, runId: 'run', retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } });
    // After a 500 the server may drop the kept-alive connection the client reuses: the next attempt then fails with
    // a connection error instead (ECONNRESET, UND_ERR_SOCKET: seen under load). Either is a retryable failure naming the base URL.
    const serverSide = /answered 500|Could not reach/;
    await rejectsProvider(gw.model(missing, 'debater').generate({ messages: STORY, maxTokens: 4 }), (e) => {
      assert.match(e.message, serverSide, `the last attempt's error comes out: ${e.message}`);
      assert.equal(e.info.retryable, true, 'and it is retryable');
    });
    const row = store.calls.listCalls('run').find((c) => c.model === missing.id);
    assert.ok(row, 'the failed call is in the ledger');
    assert.equal(row.attempts, 2, 'both attempts were spent');
    assert.match(row.error ?? '', serverSide, `the ledger keeps the error: ${row.error}`);
  });

  test('through the gateway: the ledger records endpoint, model, tokens and the reply; a repeat is a cache hit', async () => {
    const gw = new Gateway({ cache: store.cache, ledger: store.calls, runId: 'run' });
    const model = gw.model(client, 'debater');
    const req = { messages: user('The little dog'), maxTokens: 12, temperature: 0.7, seed: 3 };
    const first = await model.generate(req);
    assert.equal(first.cacheHit, false, 'the first call goes to the server');
    assert.ok(first.callId !== null, 'the call has a ledger row');
    const again = await model.generate(req);
    assert.equal(again.cacheHit, true, 'the same request is answered from the cache');
    assert.equal(again.text, first.text, 'with the same text');
    assert.equal(gw.stats().backendCalls, 1, 'one backend call in all');
    const row = store.calls.listCalls('run').find((c) => c.id === first.callId)!;
    assert.equal(row.model, `openai:${server.model}@${server.url}`, 'the ledger names the spec: model and endpoint');
    assert.equal(row.role, 'debater', 'and the role');
    assert.equal(row.attempts, 1, 'one attempt');
    assert.ok(row.inputTokens > 0 && row.outputTokens > 0, `tokens from the server's usage: ${row.inputTokens}/${row.outputTokens}`);
    assert.equal(row.finishReason, first.finishReason, 'the finish reason');
    const texts = store.calls.callTexts(first.callId!);
    assert.equal(texts.response, first.text, "the server's reply text is stored");
    assert.deepEqual(texts.messages.map((m) => m.role), ['user'], 'the messages sent are stored');
    assert.equal(texts.params?.['seed'], 3, `the parameters sent are stored: ${JSON.stringify(texts.params)}`);
  });

  test('the capability probe finds what this server really does: no logprobs, no embeddings, a working seed', async () => {
    const found = await probeCapabilities(client, { logprobs: true, embeddings: true }, { seed: true, cacheFile: null });
    assert.equal(found.logprobs.status, 'not found', `logprobs: ${found.logprobs.detail}`);
    assert.equal(found.embeddings.status, 'not found', `embeddings: ${found.embeddings.detail}`);
    assert.match(found.embeddings.detail, /404/, `the embeddings finding names the 404: ${found.embeddings.detail}`);
    assert.equal(found.seed.status, 'found', `seed: ${found.seed.detail}`);
  });

  // Last: the server keeps generating the abandoned request for a few seconds after the client gives up.
  test('a per-request timeout is a retryable ProviderError with code timeout', async () => {
    const impatient = await createClient(spec, { timeoutMs: 150 });
    await rejectsProvider(impatient.generate({ messages: STORY, maxTokens: 400, temperature: 0 }), (e) => {
      assert.equal(e.info.code, 'timeout', `code timeout: ${e.message}`);
      assert.equal(e.info.retryable, true, 'a timeout is retryable');
      assert.match(e.message, /timed out after 150 ms/, `the message gives the limit: ${e.message}`);
      assert.ok(e.message.includes(server.url), `the message names the base URL: ${e.message}`);
    });
  });
});
