import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { parseRetryAfter } from '../../src/models/adapters/openai.js';
import { createClient } from '../../src/models/create.js';
import { ProviderError, type ModelClient } from '../../src/models/types.js';
import { freePort, startOpenAIServer, type WireServer } from '../helpers/openai-server.js';

const user = (content: string) => [{ role: 'user' as const, content }];

async function rejectsProvider(p: Promise<unknown>, check: (e: ProviderError) => void): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ProviderError, `expected ProviderError, got ${String(e)}`);
    check(e);
    return true;
  });
}

describe('openai adapter against a wire-format server', () => {
  let server: WireServer;
  let client: ModelClient;
  before(async () => {
    server = await startOpenAIServer({ fingerprint: 'fp_abc' });
    client = await createClient(`openai:test-model@${server.url}`);
  });
  after(() => server.close());

  test('names itself after the spec and the endpoint', () => {
    assert.equal(client.id, `openai:test-model@${server.url}`);
    assert.equal(client.endpoint, server.url);
    assert.equal(client.model, 'test-model');
    assert.deepEqual(client.capabilities, { chat: true, logprobs: true, embeddings: true, seed: true });
  });

  test('generation parameters reach the wire and the answer comes back', async () => {
    const res = await client.generate({
      messages: [{ role: 'system', content: 'Be brief.' }, ...user('is the sky blue')],
      maxTokens: 50,
      temperature: 0.7,
      seed: 42,
      stop: ['\n\n'],
    });
    const seen = server.requests.at(-1)!;
    assert.equal(seen.path, '/v1/chat/completions');
    assert.equal(seen.body.model, 'test-model');
    assert.equal(seen.body.max_tokens, 50);
    assert.equal(seen.body.temperature, 0.7);
    assert.equal(seen.body.seed, 42);
    assert.deepEqual(seen.body.stop, ['\n\n']);
    assert.equal(seen.body.logprobs, undefined);
    assert.deepEqual(seen.body.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'is the sky blue' },
    ]);
    // A local server without a key still gets a placeholder bearer token (the client insists on one).
    assert.match(String(seen.headers.authorization), /^Bearer \S+/);
    assert.equal(res.text, 'Echo: is the sky blue');
    assert.equal(res.finishReason, 'stop');
    assert.deepEqual(res.usage, { inputTokens: 6, outputTokens: 5 });
    assert.equal(res.fingerprint, 'fp_abc');
    assert.equal(res.topLogprobs, undefined);
  });

  test('unset optional parameters are left off the wire', async () => {
    await client.generate({ messages: user('hi'), maxTokens: 5 });
    const body = server.requests.at(-1)!.body;
    for (const key of ['temperature', 'seed', 'stop', 'logprobs', 'top_logprobs']) assert.equal(key in body, false, key);
  });

  test('max tokens cut the answer and finish with length', async () => {
    const res = await client.generate({ messages: user('one two three four five'), maxTokens: 3 });
    assert.equal(res.text, 'Echo: one two');
    assert.equal(res.finishReason, 'length');
  });

  test('asks for top logprobs and parses one sorted list per token', async () => {
    const res = await client.generate({ messages: user('yes or no'), maxTokens: 10, topLogprobs: 3 });
    const body = server.requests.at(-1)!.body;
    assert.equal(body.logprobs, true);
    assert.equal(body.top_logprobs, 3);
    assert.equal(res.topLogprobs?.length, 4);
    assert.deepEqual(res.topLogprobs![1], [
      { token: ' yes', logprob: -0.25 },
      { token: 'alt1', logprob: -2 },
      { token: 'alt2', logprob: -3 },
    ]);
  });

  test('embeds a batch in input order', async () => {
    const res = await client.embed!(['alpha', 'beta', 'alpha']);
    const body = server.requests.at(-1)!.body;
    assert.equal(server.requests.at(-1)!.path, '/v1/embeddings');
    assert.deepEqual(body.input, ['alpha', 'beta', 'alpha']);
    assert.equal(body.encoding_format, 'float');
    assert.equal(res.vectors.length, 3);
    assert.equal(res.vectors[0]!.length, 8);
    assert.deepEqual(res.vectors[0], res.vectors[2]);
    assert.notDeepEqual(res.vectors[0], res.vectors[1]);
    assert.equal(res.usage.inputTokens, 3);
  });

  test('a cancelled call rejects with the caller\'s reason, not a ProviderError', async () => {
    const slow = await startOpenAIServer({ onRequest: () => 'hang' });
    try {
      const c = await createClient(`openai:m@${slow.url}`);
      const ac = new AbortController();
      const p = c.generate({ messages: user('x'), maxTokens: 5 }, ac.signal);
      setTimeout(() => ac.abort(new Error('stop now')), 20);
      await assert.rejects(p, /stop now/);
    } finally {
      await slow.close();
    }
  });
});

describe('openai adapter: servers that differ', () => {
  for (const mode of ['omit', 'null'] as const) {
    test(`logprobs ${mode === 'omit' ? 'left out' : 'null'} give undefined topLogprobs, not an error`, async () => {
      const server = await startOpenAIServer({ logprobs: mode });
      try {
        const client = await createClient(`openai:m@${server.url}`);
        const res = await client.generate({ messages: user('a b'), maxTokens: 5, topLogprobs: 5 });
        assert.equal(res.text, 'Echo: a b');
        assert.equal(res.topLogprobs, undefined);
      } finally {
        await server.close();
      }
    });
  }

  test('the legacy logprob format is parsed too', async () => {
    const server = await startOpenAIServer({ logprobs: 'legacy' });
    try {
      const client = await createClient(`openai:m@${server.url}`);
      const res = await client.generate({ messages: user('a'), maxTokens: 5, topLogprobs: 2 });
      assert.deepEqual(res.topLogprobs, [
        [{ token: 'Echo:', logprob: -0.25 }, { token: 'alt1', logprob: -2 }],
        [{ token: ' a', logprob: -0.25 }, { token: 'alt1', logprob: -2 }],
      ]);
    } finally {
      await server.close();
    }
  });
});

describe('openai adapter: failures are classified', () => {
  const statuses = [
    { status: 400, retryable: false },
    { status: 403, retryable: false },
    { status: 404, retryable: false },
    { status: 408, retryable: true },
    { status: 409, retryable: true },
    { status: 500, retryable: true },
    { status: 503, retryable: true },
  ];
  for (const { status, retryable } of statuses) {
    test(`status ${status} is ${retryable ? '' : 'not '}retryable, and the client does not retry it itself`, async () => {
      const server = await startOpenAIServer({ onRequest: () => ({ status }) });
      try {
        const client = await createClient(`openai:m@${server.url}`);
        await rejectsProvider(client.generate({ messages: user('x'), maxTokens: 5 }), (e) => {
          assert.equal(e.info.status, status);
          assert.equal(e.info.retryable, retryable);
        });
        assert.equal(server.requests.length, 1);
      } finally {
        await server.close();
      }
    });
  }

  test('a wrong key gives a non-retryable 401 that names the env var', async () => {
    const server = await startOpenAIServer({ apiKey: 'right-key' });
    process.env.W2S_TEST_OPENAI_KEY = 'wrong-key';
    try {
      const client = await createClient(`openai:m@${server.url}`, { apiKeyEnv: 'W2S_TEST_OPENAI_KEY' });
      await rejectsProvider(client.generate({ messages: user('x'), maxTokens: 5 }), (e) => {
        assert.equal(e.info.status, 401);
        assert.equal(e.info.retryable, false);
        assert.match(e.message, /W2S_TEST_OPENAI_KEY/);
      });
      assert.equal(server.requests[0]!.headers.authorization, 'Bearer wrong-key');
    } finally {
      delete process.env.W2S_TEST_OPENAI_KEY;
      await server.close();
    }
  });

  test('429 with Retry-After seconds is retryable and carries the delay', async () => {
    const server = await startOpenAIServer({
      onRequest: () => ({ status: 429, headers: { 'retry-after': '2' }, body: { error: { message: 'Rate limit reached', type: 'requests' } } }),
    });
    try {
      const client = await createClient(`openai:m@${server.url}`);
      await rejectsProvider(client.generate({ messages: user('x'), maxTokens: 5 }), (e) => {
        assert.equal(e.info.status, 429);
        assert.equal(e.info.retryable, true);
        assert.equal(e.info.retryAfterMs, 2000);
        assert.match(e.message, /Rate limit reached/);
      });
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });

  test('retry-after-ms wins over retry-after', async () => {
    const server = await startOpenAIServer({ onRequest: () => ({ status: 503, headers: { 'retry-after-ms': '250', 'retry-after': '9' } }) });
    try {
      const client = await createClient(`openai:m@${server.url}`);
      await rejectsProvider(client.embed!(['x']), (e) => assert.equal(e.info.retryAfterMs, 250));
    } finally {
      await server.close();
    }
  });

  test('empty choices are a retryable ProviderError', async () => {
    const server = await startOpenAIServer({
      onRequest: (r) => (r.path.endsWith('/chat/completions') ? { status: 200, body: { id: 'x', object: 'chat.completion', created: 0, model: 'm', choices: [] } } : undefined),
    });
    try {
      const client = await createClient(`openai:m@${server.url}`);
      await rejectsProvider(client.generate({ messages: user('x'), maxTokens: 5 }), (e) => assert.equal(e.info.retryable, true));
    } finally {
      await server.close();
    }
  });

  test('a malformed body, a reset and a timeout are retryable ProviderErrors', async () => {
    for (const fault of ['malformed', 'reset', 'hang'] as const) {
      const server = await startOpenAIServer({ onRequest: () => fault });
      try {
        const client = await createClient(`openai:m@${server.url}`, { timeoutMs: 300 });
        await rejectsProvider(client.generate({ messages: user('x'), maxTokens: 5 }), (e) => {
          assert.equal(e.info.retryable, true, fault);
          assert.equal(e.info.status, undefined);
        });
      } finally {
        await server.close();
      }
    }
  });

  test('an unreachable server gives a ProviderError naming the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}/v1`;
    const client = await createClient(`openai:m@${url}`);
    await rejectsProvider(client.generate({ messages: user('x'), maxTokens: 5 }), (e) => {
      assert.equal(e.info.retryable, true);
      assert.ok(e.message.includes(url), e.message);
      assert.match(e.message, /ECONNREFUSED/);
    });
  });
});

describe('openai adapter: API keys', () => {
  test('the default endpoint without OPENAI_API_KEY is a UserError naming the variable', async () => {
    const saved = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      await assert.rejects(createClient('openai:gpt-4o-mini'), (e: unknown) => e instanceof UserError && /OPENAI_API_KEY/.test(e.message));
    } finally {
      if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
    }
  });

  test('a named apiKeyEnv without a value is a UserError naming it, even for a local server', async () => {
    await assert.rejects(
      createClient('openai:m@http://127.0.0.1:1/v1', { apiKeyEnv: 'W2S_TEST_UNSET_KEY' }),
      (e: unknown) => e instanceof UserError && /W2S_TEST_UNSET_KEY/.test(e.message),
    );
  });

  test('the default endpoint accepts a key from OPENAI_API_KEY (nothing is sent)', async () => {
    const saved = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = 'sk-test';
    try {
      const client = await createClient('openai:gpt-4o-mini');
      assert.equal(client.endpoint, 'https://api.openai.com/v1');
      assert.equal(client.id, 'openai:gpt-4o-mini');
    } finally {
      if (saved === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved;
    }
  });
});

test('parseRetryAfter reads seconds, milliseconds and HTTP dates', () => {
  const h = (o: Record<string, string>) => new Headers(o);
  assert.equal(parseRetryAfter(h({ 'retry-after': '3' })), 3000);
  assert.equal(parseRetryAfter(h({ 'retry-after': '0.5' })), 500);
  assert.equal(parseRetryAfter(h({ 'retry-after-ms': '120' })), 120);
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
  assert.equal(parseRetryAfter(h({ 'retry-after': 'Wed, 21 Oct 2015 07:28:05 GMT' }), now), 5000);
  assert.equal(parseRetryAfter(h({ 'retry-after': 'Wed, 21 Oct 2015 07:27:00 GMT' }), now), 0);
  assert.equal(parseRetryAfter(h({ 'retry-after': 'soon' })), undefined);
  assert.equal(parseRetryAfter(h({})), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
});
