import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { openStore, SCHEMA_VERSION } from '../../src/store/index.js';
import { type DatasetRow, writeJsonl } from '../helpers/datasets.js';
import { startOpenAIServer } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
// models check writes what it finds under the w2s cache folder: this file's own, never the developer's.
process.env['W2S_CACHE_DIR'] = tempDir('w2s-cache-');
const MODEL = '../shared/models/stories260K.gguf';

/** Runs the CLI as a user would; resolves with exit code and output instead of throwing. */
async function w2s(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout, stderr: err.stderr };
  }
}

test('models check runs the embedded llama.cpp model in process', async () => {
  const r = await w2s(['models', 'check', `llamacpp:${MODEL}`, '--threads', '1', '--max-tokens', '12']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^chat: +no \(prompts are sent as plain text\), as the adapter reports it$/m);
  const generated = /generation:\s+"(.*)"/.exec(r.stdout)![1]!;
  assert.ok(generated.trim().length > 5, 'it generated text');
  assert.match(r.stdout, /^logprobs: +found: asked for the top 10 alternatives of 1 token; \d+ came back\n +first token /m);
  assert.match(r.stdout, /^embeddings: +found: asked to embed one short text; a vector of 64 dimensions came back$/m);
  assert.match(r.stdout, /^seed: +(found|not found): /m);
});

test('models check reaches an OpenAI-compatible server through the official client', async () => {
  const server = await startOpenAIServer({});
  try {
    const r = await w2s(['models', 'check', `openai:tiny@${server.url}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /generation:/);
    assert.match(r.stdout, /^embeddings: +found: /m);
    assert.ok(server.requests.some((q) => q.path.endsWith('/chat/completions')), 'a chat request reached the server');
  } finally {
    await server.close();
  }
});

test('bad model specs get one clear line and a non-zero exit', async () => {
  const noKey = { ...process.env };
  delete noKey.OPENAI_API_KEY;
  const cases: [string[], RegExp, NodeJS.ProcessEnv?][] = [
    [['models', 'check', 'gemini:pro'], /Unknown model spec "gemini:pro"; use one of: openai:/],
    [['models', 'check', 'llamacpp:/nonexistent/model.gguf'], /model file \/nonexistent\/model\.gguf does not exist/],
    [['models', 'check', 'openai:gpt-4o-mini'], /needs an API key; set the OPENAI_API_KEY environment variable/, noKey],
    [['models', 'check', 'openai:m@http://127.0.0.1:9/v1'], /Could not reach http:\/\/127\.0\.0\.1:9\/v1/],
  ];
  for (const [args, message, env] of cases) {
    const r = await w2s(args, env);
    assert.notEqual(r.code, 0, args.join(' '));
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line: ${r.stderr}`);
    assert.match(lines[0]!, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack without --verbose');
  }
  const verbose = await w2s(['models', 'check', 'gemini:pro', '--verbose']);
  assert.match(verbose.stderr, /\n\s+at /, '--verbose adds the stack');
});

test('a fake GGUF is refused by name', async () => {
  const dir = tempDir();
  const fake = join(dir, 'fake.gguf');
  writeFileSync(fake, 'this is not a model');
  const r = await w2s(['models', 'check', `llamacpp:${fake}`]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /fake\.gguf.*not a GGUF/i);
});

test('db info describes a database; cache stats and clear work on a real cache file', async () => {
  const dir = tempDir();
  const file = join(dir, 'cache.sqlite');
  const store = openStore(file);
  store.cache.putCached('k1', 'generate', 'scripted:a', { text: 'x' });
  store.cache.putCached('k2', 'embed', 'scripted:b', { vector: [1] });
  store.close();
  const info = await w2s(['db', 'info', file]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, new RegExp(`schema version: ${SCHEMA_VERSION}\\b`));
  assert.match(info.stdout, /cache\s+2/);
  const stats = await w2s(['cache', 'stats', '--cache', file]);
  assert.match(stats.stdout, /entries: 2/);
  const cleared = await w2s(['cache', 'clear', '--cache', file, '--model', 'scripted:a']);
  assert.match(cleared.stdout, /removed 1 entries/);
  assert.match((await w2s(['cache', 'stats', '--cache', file])).stdout, /entries: 1/);
  const missing = await w2s(['db', 'info', join(dir, 'nope.sqlite')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /nope\.sqlite does not exist/);
  assert.ok(!existsSync(join(dir, 'nope.sqlite')), 'nothing half-written');
});

test('a bad config names the field to fix and writes no database', async () => {
  const dir = tempDir();
  const config = join(dir, 'bad.json');
  writeFileSync(config, JSON.stringify({ dataset: { name: 'imagenet' }, weak: {}, strong: {}, debate: { protocol: 'none' } }));
  const out = join(dir, 'out.sqlite');
  const r = await w2s(['run', config, '--out', out]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /field dataset\.name: expected one of "sciq"/);
  assert.ok(!existsSync(out));
});

test('a malformed row stops the run with file and line; --skip-invalid skips and counts it', async () => {
  const dir = tempDir();
  const rows: (DatasetRow | string)[] = Array.from({ length: 40 }, (_, i) => ({ question: `q${i}?`, answer: `a${i}`, label: i % 2 }));
  rows.splice(7, 0, '{"question": "broken", "label": 3}');
  const data = writeJsonl(dir, 'rows.jsonl', rows);
  const config = join(dir, 'c.json');
  writeFileSync(config, JSON.stringify({
    name: 'skip', dataset: { name: 'jsonl', path: data, sizes: { train_weak: 10, train_strong: 10, test: 10 } },
    debate: { protocol: 'none' }, weak: { features: { kind: 'hashed', dim: 64 }, ensemble: { kind: 'finetune', size: 2 } },
    strong: { features: { kind: 'hashed', dim: 64 } }, metrics: { bootstrap: 100 },
  }));
  const out = join(dir, 'skip.sqlite');
  const stopped = await w2s(['run', config, '--out', out, '--cache', join(dir, 'cache.sqlite')]);
  assert.notEqual(stopped.code, 0);
  assert.match(stopped.stderr, /rows\.jsonl line 8/);
  const skipped = await w2s(['run', config, '--out', out, '--cache', join(dir, 'cache.sqlite'), '--skip-invalid']);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.match(skipped.stdout, /strong ceiling \(ground truth\)/);
  const store = openStore(out, { readonly: true });
  try {
    const run = store.runs.listRuns().find((r) => r.status === 'completed')!;
    assert.equal(store.metrics.getMetric(run.id, 'dataset', 'invalid_rows_skipped')!.value, 1);
  } finally {
    store.close();
  }
});
