import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { formatModelSpec, parseModelSpec } from '../../src/models/spec.js';

test('parses each adapter form', () => {
  const cases: [string, ReturnType<typeof parseModelSpec>][] = [
    ['openai:gpt-4o-mini', { adapter: 'openai', model: 'gpt-4o-mini' }],
    ['openai:gpt-4o-mini@http://127.0.0.1:8000/v1', { adapter: 'openai', model: 'gpt-4o-mini', endpoint: 'http://127.0.0.1:8000/v1' }],
    ['openai:Qwen/Qwen2.5-7B-Instruct@https://api.together.xyz/v1/', { adapter: 'openai', model: 'Qwen/Qwen2.5-7B-Instruct', endpoint: 'https://api.together.xyz/v1' }],
    ['openai:local@localhost:1234/v1', { adapter: 'openai', model: 'local', endpoint: 'localhost:1234/v1' }],
    ['ollama:llama3.1:8b', { adapter: 'ollama', model: 'llama3.1:8b' }],
    ['ollama:qwen2.5:7b-instruct-q4_K_M@gpu-box:11434', { adapter: 'ollama', model: 'qwen2.5:7b-instruct-q4_K_M', endpoint: 'gpu-box:11434' }],
    ['llamacpp:/models/stories260K.gguf', { adapter: 'llamacpp', model: '/models/stories260K.gguf' }],
    ['llamacpp:hf:bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M', { adapter: 'llamacpp', model: 'hf:bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M' }],
    ['scripted:judge-a', { adapter: 'scripted', model: 'judge-a' }],
    ['scripted:test/fixtures/answers.json', { adapter: 'scripted', model: 'test/fixtures/answers.json' }],
  ];
  for (const [spec, expected] of cases) assert.deepEqual(parseModelSpec(spec), expected, spec);
});

test("'@' inside a path or a model name stays part of the model", () => {
  assert.deepEqual(parseModelSpec('llamacpp:/home/me@work/models/x.gguf'), { adapter: 'llamacpp', model: '/home/me@work/models/x.gguf' });
  // Only what follows the last '@' and looks like a host counts as an endpoint.
  assert.deepEqual(parseModelSpec('openai:org@team/model name'), { adapter: 'openai', model: 'org@team/model name' });
  assert.deepEqual(parseModelSpec('openai:a@b@http://h:1/v1'), { adapter: 'openai', model: 'a@b', endpoint: 'http://h:1/v1' });
  assert.deepEqual(parseModelSpec('scripted:me@host'), { adapter: 'scripted', model: 'me@host' });
});

test('format is the inverse of parse', () => {
  for (const s of ['openai:gpt-4o@http://127.0.0.1:9/v1', 'ollama:llama3:8b', 'llamacpp:hf:u/r:Q8_0', 'scripted:x']) {
    assert.equal(formatModelSpec(parseModelSpec(s)), s);
  }
});

test('unknown adapters and empty models are UserErrors listing the valid forms', () => {
  for (const bad of ['gpt-4o', 'anthropic:claude', 'OpenAI:gpt-4o', ':x', '', 'openai:', 'ollama:@localhost:11434', 'llamacpp:  ']) {
    assert.throws(
      () => parseModelSpec(bad),
      (e: unknown) => e instanceof UserError && /openai:<model>\[@<baseURL>\]/.test(e.message) && /scripted:/.test(e.message),
      JSON.stringify(bad),
    );
  }
});
