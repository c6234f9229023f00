import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { normaliseOllamaHost } from '../../src/models/adapters/ollama.js';
import { createClient } from '../../src/models/create.js';
import { ProviderError, type ModelClient } from '../../src/models/types.js';
import { startOllamaServer } from '../helpers/ollama-server.js';
import { freePort, type WireServer } from '../helpers/openai-server.js';

const user = (content: string) => [{ role: 'user' as const, content }];

async function rejectsProvider(p: Promise<unknown>, check: (e: ProviderError) => void): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ProviderError, `expected ProviderError, got ${String(e)}`);
    check(e);
    return true;
  });
}

describe('ollama adapter against a wire-format server', () => {
  let server: WireServer;
  let client: ModelClient;
  before(async () => {
    server = await startOllamaServer({ models: ['llama3.1:8b'] });
    client = await createClient(`ollama:llama3.1:8b@${server.url}`);
  });
  after(() => server.close());

  test('keeps the tag in the model name and the host as endpoint', () => {
    assert.equal(client.model, 'llama3.1:8b');
    assert.equal(client.endpoint, server.url);
  });

  test('generation parameters go in options and the streamed answer is assembled', async () => {
    const res = await client.generate({
      messages: [{ role: 'system', content: 'Be brief.' }, ...user('is water wet')],
      maxTokens: 40,
      temperature: 0.3,
      seed: 7,
      stop: ['###'],
    });
    const seen = server.requests.at(-1)!;
    assert.equal(seen.path, '/api/chat');
    assert.equal(seen.body.model, 'llama3.1:8b');
    assert.equal(seen.body.stream, true);
    assert.deepEqual(seen.body.options, { num_predict: 40, temperature: 0.3, seed: 7, stop: ['###'] });
    assert.equal('logprobs' in seen.body, false);
    assert.deepEqual(seen.body.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'is water wet' },
    ]);
    assert.equal(res.text, 'Echo: is water wet');
    assert.equal(res.finishReason, 'stop');
    assert.deepEqual(res.usage, { inputTokens: 5, outputTokens: 4 });
    assert.equal(res.topLogprobs, undefined);
  });

  test('num_predict cuts the answer and finishes with length; stop strings cut it too', async () => {
    const cut = await client.generate({ messages: user('a b c d e'), maxTokens: 3 });
    assert.equal(cut.text, 'Echo: a b');
    assert.equal(cut.finishReason, 'length');
    const stopped = await client.generate({ messages: user('a b STOP c'), maxTokens: 30, stop: [' STOP'] });
    assert.equal(stopped.text, 'Echo: a b');
    assert.equal(stopped.finishReason, 'stop');
  });

  test('asks for logprobs and parses one sorted top-k list per token', async () => {
    const res = await client.generate({ messages: user('true or false'), maxTokens: 10, topLogprobs: 3 });
    const body = server.requests.at(-1)!.body;
    assert.equal(body.logprobs, true);
    assert.equal(body.top_logprobs, 3);
    assert.equal(res.topLogprobs?.length, 4);
    assert.deepEqual(res.topLogprobs![3], [
      { token: ' false', logprob: -0.25 },
      { token: 'alt1', logprob: -2 },
      { token: 'alt2', logprob: -3 },
    ]);
  });

  test('embeds through /api/embed in input order', async () => {
    const res = await client.embed!(['x y', 'z', 'x y']);
    const seen = server.requests.at(-1)!;
    assert.equal(seen.path, '/api/embed');
    assert.deepEqual(seen.body.input, ['x y', 'z', 'x y']);
    assert.equal(res.vectors.length, 3);
    assert.deepEqual(res.vectors[0], res.vectors[2]);
    assert.notDeepEqual(res.vectors[0], res.vectors[1]);
    assert.equal(res.usage.inputTokens, 5);
  });

  test('an unknown model is a non-retryable 404 that suggests pulling it', async () => {
    const other = await createClient(`ollama:missing@${server.url}`);
    await rejectsProvider(other.generate({ messages: user('x'), maxTokens: 5 }), (e) => {
      assert.equal(e.info.status, 404);
      assert.equal(e.info.retryable, false);
      assert.match(e.message, /ollama pull missing/);
    });
  });

  test('cancelling one call rejects with the caller\'s reason and leaves other calls alone', async () => {
    const slow = await startOllamaServer({ chunkDelayMs: 40 });
    try {
      const c = await createClient(`ollama:m@${slow.url}`);
      const ac = new AbortController();
      const cancelled = c.generate({ messages: user('one two three four five six'), maxTokens: 50 }, ac.signal);
      const untouched = c.generate({ messages: user('seven eight'), maxTokens: 50 });
      setTimeout(() => ac.abort(new Error('user cancelled')), 60);
      await assert.rejects(cancelled, /user cancelled/);
      assert.equal((await untouched).text, 'Echo: seven eight');
    } finally {
      await slow.close();
    }
  });
});

describe('ollama adapter: failures and old servers', () => {
  test('an old server that ignores logprobs gives undefined topLogprobs', async () => {
    const server = await startOllamaServer({ version: '0.11.0' });
    try {
      const client = await createClient(`ollama:m@${server.url}`);
      const res = await client.generate({ messages: user('hi'), maxTokens: 5, topLogprobs: 2 });
      assert.equal(res.text, 'Echo: hi');
      assert.equal(res.topLogprobs, undefined);
    } finally {
      await server.close();
    }
  });

  for (const { status, retryable } of [
    { status: 400, retryable: false },
    { status: 401, retryable: false },
    { status: 429, retryable: true },
    { status: 500, retryable: true },
    { status: 503, retryable: true },
  ]) {
    test(`status ${status} is ${retryable ? '' : 'not '}retryable`, async () => {
      const server = await startOllamaServer({ onRequest: () => ({ status, body: { error: `injected ${status}` } }) });
      try {
        const client = await createClient(`ollama:m@${server.url}`);
        await rejectsProvider(client.generate({ messages: user('x'), maxTokens: 5 }), (e) => {
          assert.equal(e.info.status, status);
          assert.equal(e.info.retryable, retryable);
          assert.match(e.message, new RegExp(`injected ${status}`));
        });
        await rejectsProvider(client.embed!(['x']), (e) => assert.equal(e.info.status, status));
      } finally {
        await server.close();
      }
    });
  }

  test('an error line mid-stream, a malformed body, a reset and a timeout are retryable', async () => {
    const cases = [
      { opts: { failStreamAfter: 1 }, pattern: /unexpectedly stopped/ },
      { opts: { onRequest: () => 'malformed' as const }, pattern: /./ },
      { opts: { onRequest: () => 'reset' as const }, pattern: /./ },
      { opts: { onRequest: () => 'hang' as const }, pattern: /timed out/ },
    ];
    for (const { opts, pattern } of cases) {
      const server = await startOllamaServer(opts);
      try {
        const client = await createClient(`ollama:m@${server.url}`, { timeoutMs: 300 });
        await rejectsProvider(client.generate({ messages: user('a b c'), maxTokens: 5 }), (e) => {
          assert.equal(e.info.retryable, true);
          assert.equal(e.info.status, undefined);
          assert.match(e.message, pattern);
        });
      } finally {
        await server.close();
      }
    }
  });

  test('connection refused names the host and suggests OLLAMA_HOST', async () => {
    const port = await freePort();
    const client = await createClient(`ollama:m@127.0.0.1:${port}`);
    await rejectsProvider(client.generate({ messages: user('x'), maxTokens: 5 }), (e) => {
      assert.equal(e.info.retryable, true);
      assert.ok(e.message.includes(`http://127.0.0.1:${port}`), e.message);
      assert.match(e.message, /ECONNREFUSED/);
      assert.match(e.message, /OLLAMA_HOST/);
    });
  });
});

describe('ollama host resolution', () => {
  test('spec host, then options.host, then OLLAMA_HOST, then the default', async () => {
    const saved = process.env.OLLAMA_HOST;
    try {
      process.env.OLLAMA_HOST = 'envhost:1234';
      assert.equal((await createClient('ollama:m@spechost:1')).endpoint, 'http://spechost:1');
      assert.equal((await createClient('ollama:m', { host: 'opthost:2' })).endpoint, 'http://opthost:2');
      assert.equal((await createClient('ollama:m')).endpoint, 'http://envhost:1234');
      delete process.env.OLLAMA_HOST;
      assert.equal((await createClient('ollama:m')).endpoint, 'http://127.0.0.1:11434');
    } finally {
      if (saved === undefined) delete process.env.OLLAMA_HOST;
      else process.env.OLLAMA_HOST = saved;
    }
  });

  test('OLLAMA_HOST shorthands become full URLs', () => {
    assert.equal(normaliseOllamaHost('0.0.0.0'), 'http://127.0.0.1:11434');
    assert.equal(normaliseOllamaHost(':8080'), 'http://127.0.0.1:8080');
    assert.equal(normaliseOllamaHost('gpu-box'), 'http://gpu-box:11434');
    assert.equal(normaliseOllamaHost('https://ollama.example.com/'), 'https://ollama.example.com');
    assert.equal(normaliseOllamaHost('http://10.0.0.2'), 'http://10.0.0.2');
    assert.equal(normaliseOllamaHost('10.0.0.2:80'), 'http://10.0.0.2');
  });
});
