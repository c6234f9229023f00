import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { hashValue, sha256 } from '../../src/hash.js';
import { registerScript, unregisterScript } from '../../src/models/adapters/scripted.js';
import { cacheKey, describeKey, embedKeyParts, generateKey, generateKeyParts } from '../../src/models/cache-key.js';
import { createClient } from '../../src/models/create.js';
import { defaultMemoFile, fileIdentity, forgetFileIdentities, hashFile, type FileIdentity } from '../../src/models/file-identity.js';
import { Gateway } from '../../src/models/gateway.js';
import type { GenerateRequest } from '../../src/models/types.js';
import { openStore, type Store } from '../../src/store/index.js';

const MODEL = '/work/shared/models/stories260K.gguf';
// As in llamacpp.test.ts: a small context and one thread keep the real model quick on a small machine.
const OPTIONS = { contextSize: 256, threads: 1 };

const dir = mkdtempSync(join(tmpdir(), 'w2s-content-key-'));
// Every identity lookup here (the llamacpp adapter's included) memoises under the temp dir, not ~/.cache/w2s.
const savedCacheDir = process.env['W2S_CACHE_DIR'];
process.env['W2S_CACHE_DIR'] = join(dir, 'cache');
after(() => {
  if (savedCacheDir === undefined) delete process.env['W2S_CACHE_DIR'];
  else process.env['W2S_CACHE_DIR'] = savedCacheDir;
  rmSync(dir, { recursive: true, force: true });
});

const ask = (content: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({ messages: [{ role: 'user', content }], maxTokens: 8, ...extra });
const keyOf = (client: Parameters<typeof generateKeyParts>[0], req = ask('Once upon a time')) => cacheKey(generateKeyParts(client, req));

let stores = 0;
function freshStore(): Store {
  const s = openStore(join(dir, `s${stores++}.sqlite`));
  s.runs.createRun({ id: 'run', config: {}, configHash: 'h' });
  return s;
}
const gatewayOn = (s: Store) => new Gateway({ cache: s.cache, ledger: s.calls, runId: 'run' });

describe('remote clients keep their keys', () => {
  const openai = { adapter: 'openai', endpoint: 'http://127.0.0.1:8000/v1', model: 'gpt-4o-mini' };
  const ollama = { adapter: 'ollama', endpoint: 'http://127.0.0.1:11434', model: 'llama3.2:1b' };
  const req: GenerateRequest = {
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Is 7 prime?' }],
    maxTokens: 16,
    temperature: 0.7,
    seed: 3,
    stop: ['\n'],
    topLogprobs: 5,
  };

  test('openai and ollama keys are the ones computed before content keys existed', () => {
    // Pinned from the formula before this change: a change here makes every existing cache miss.
    assert.equal(cacheKey(generateKeyParts(openai, req, 2)), '80f265525a61c79c303f88e91ac90a28a9c10f4ea16c25d22871fe4012ee0c98');
    assert.equal(cacheKey(generateKeyParts(ollama, { messages: req.messages, maxTokens: 8 })), 'c1d7fbdb71628254c007a48e1c43e3f4d44d6687d17f9aed3f3fd0b4d9606eed');
    assert.equal(cacheKey(embedKeyParts(openai, 'hello')), 'c640f8aec00106040fd5186ccf01b8dc1f3299904a234240c12da0762fbd337a');
    // The same, built by hand from the old parts.
    const byHand = { ...openai, kind: 'generate', request: { messages: req.messages, maxTokens: 16, temperature: 0.7, seed: 3, stop: ['\n'], topLogprobs: 5 }, sample: 2 };
    assert.equal(cacheKey(generateKeyParts(openai, req, 2)), hashValue(byHand));
    assert.equal(cacheKey(embedKeyParts(openai, 'hello')), hashValue({ ...openai, kind: 'embed', text: 'hello' }));
  });

  test('a content id replaces endpoint and model in the key and in the debug description', () => {
    const local = { adapter: 'llamacpp', endpoint: '/a/m.gguf', model: 'm.gguf', contentId: 'size=3 sha256=abc' };
    const parts = generateKeyParts(local, req);
    assert.deepEqual([parts.adapter, 'content' in parts && parts.content, 'endpoint' in parts, 'model' in parts], ['llamacpp', 'size=3 sha256=abc', false, false]);
    assert.equal(keyOf(local), keyOf({ ...local, endpoint: '/b/other.gguf', model: '../b/other.gguf' }));
    assert.notEqual(keyOf(local), keyOf({ ...local, contentId: 'size=3 sha256=abd' }));
    assert.equal(describeKey(parts)['content'], 'size=3 sha256=abc');
    assert.equal(describeKey(parts)['endpoint'], undefined);
  });
});

describe('file identity memo', () => {
  const counting = () => {
    const reads: string[] = [];
    const hash = async (path: string): Promise<FileIdentity> => {
      reads.push(path);
      return hashFile(path);
    };
    return { reads, hash };
  };

  test('an unchanged file is hashed once, in this process and the next; a new mtime or size hashes again', async () => {
    const file = join(dir, 'memo-subject.bin');
    const memoFile = join(dir, 'memo', 'ids.json');
    writeFileSync(file, 'first version');
    const { reads, hash } = counting();
    const first = await fileIdentity(file, { memoFile, hash });
    assert.deepEqual(first, { size: 13, sha256: sha256('first version') });
    assert.deepEqual(await fileIdentity(file, { memoFile, hash }), first);
    assert.equal(reads.length, 1);

    // A new process: the in-memory memo is gone, the persisted one answers.
    forgetFileIdentities();
    assert.deepEqual(await fileIdentity(file, { memoFile, hash }), first);
    assert.equal(reads.length, 1);
    const persisted = JSON.parse(readFileSync(memoFile, 'utf8')) as { files: Record<string, { size: number; sha256: string; mtimeMs: number }> };
    assert.deepEqual(Object.values(persisted.files).map((e) => [e.size, e.sha256]), [[13, first.sha256]]);

    // A symlink to it is the same file: no new hash.
    const link = join(dir, 'memo-link.bin');
    symlinkSync(file, link);
    assert.deepEqual(await fileIdentity(link, { memoFile, hash }), first);
    assert.equal(reads.length, 1);

    // Touched (same bytes, new mtime): hashed again, same identity.
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    assert.deepEqual(await fileIdentity(file, { memoFile, hash }), first);
    assert.equal(reads.length, 2);

    // Edited in place to another size: a new identity.
    writeFileSync(file, 'second, longer version');
    const second = await fileIdentity(file, { memoFile, hash });
    assert.equal(reads.length, 3);
    assert.equal(second.size, 22);
    assert.notEqual(second.sha256, first.sha256);
  });

  test('a corrupt or unwritable memo never fails a lookup: the file is hashed', async () => {
    const file = join(dir, 'memo-subject-2.bin');
    writeFileSync(file, 'content');
    const expected = await hashFile(file);

    const corrupt = join(dir, 'corrupt.json');
    writeFileSync(corrupt, '{"files": {"x": [1, 2');
    forgetFileIdentities();
    const { reads, hash } = counting();
    assert.deepEqual(await fileIdentity(file, { memoFile: corrupt, hash }), expected);
    // Rewritten whole, so the next process reads it.
    assert.ok(Object.keys((JSON.parse(readFileSync(corrupt, 'utf8')) as { files: object }).files).length === 1);

    // A memo whose folder cannot exist (its parent is a file).
    forgetFileIdentities();
    assert.deepEqual(await fileIdentity(file, { memoFile: join(file, 'memo.json'), hash }), expected);
    // An entry with a malformed hash is ignored, not trusted.
    forgetFileIdentities();
    const bad = join(dir, 'bad-entry.json');
    writeFileSync(bad, JSON.stringify({ version: 1, files: { [file]: { size: 7, mtimeMs: 0, sha256: 'not a hash' } } }));
    assert.deepEqual(await fileIdentity(file, { memoFile: bad, hash }), expected);
    assert.equal(reads.length, 3);
  });

  test('the default memo lives under $W2S_CACHE_DIR', () => {
    assert.equal(defaultMemoFile(), join(dir, 'cache', 'file-identity.json'));
  });
});

describe('llamacpp is keyed by the GGUF file, not its path', () => {
  test('absolute, relative and symlinked paths give one key; another context size another', async () => {
    const linkDir = join(dir, 'elsewhere');
    mkdirSync(linkDir);
    const link = join(linkDir, 'renamed.gguf');
    symlinkSync(MODEL, link);
    const clients = await Promise.all(
      [MODEL, relative(process.cwd(), MODEL), link].map((p) => createClient(`llamacpp:${p}`, OPTIONS)),
    );
    const bigger = await createClient(`llamacpp:${MODEL}`, { ...OPTIONS, contextSize: 384 });
    try {
      assert.equal(new Set(clients.map((c) => c.endpoint)).size, 2, 'the paths differ (the relative one resolves to MODEL)');
      assert.equal(new Set(clients.map((c) => keyOf(c))).size, 1);
      assert.match(clients[0]!.contentId!, /^size=\d+ sha256=[0-9a-f]{64} contextSize=256$/);
      assert.notEqual(keyOf(bigger), keyOf(clients[0]!));
      // The ledger's model column still names the path, for people.
      assert.equal(clients[2]!.id, `llamacpp:${link}`);
      // One entry, under the file's real path, whichever path reached it: memoised for the next process.
      const memo = JSON.parse(readFileSync(defaultMemoFile(), 'utf8')) as { files: Record<string, unknown> };
      assert.deepEqual(Object.keys(memo.files), [realpathSync(MODEL)]);
    } finally {
      await Promise.all([...clients, bigger].map((c) => c.close?.()));
    }
  });

  test('end to end: calls cached through one path are all hits through a symlink', async () => {
    const link = join(dir, 'linked-model.gguf');
    symlinkSync(MODEL, link);
    const s = freshStore();
    const gw = gatewayOn(s);
    const prompts = ['Once upon a time', 'The dog', 'Lily was'];
    const first = await createClient(`llamacpp:${MODEL}`, OPTIONS);
    const paid = [];
    try {
      for (const p of prompts) paid.push(await gw.model(first, 'debater').generate(ask(p)));
    } finally {
      await first.close?.();
    }
    assert.deepEqual(paid.map((r) => r.cacheHit), [false, false, false]);

    const second = await createClient(`llamacpp:${link}`, OPTIONS);
    try {
      const replayed = [];
      for (const p of prompts) replayed.push(await gw.model(second, 'debater').generate(ask(p)));
      assert.deepEqual(replayed.map((r) => r.text), paid.map((r) => r.text));
      assert.deepEqual(replayed.map((r) => r.cacheHit), [true, true, true]);
      assert.equal(gw.stats().backendCalls, 3);
      const rows = s.calls.listCalls('run');
      assert.deepEqual(rows.map((r) => [r.model, r.cacheHit]), [
        ...prompts.map(() => [`llamacpp:${MODEL}`, false]),
        ...prompts.map(() => [`llamacpp:${link}`, true]),
      ]);
    } finally {
      await second.close?.();
      s.close();
    }
  });
});

describe('scripted fixtures are keyed by their bytes', () => {
  test('a fixture edited in place misses and answers anew; unchanged or moved it hits', async () => {
    const fixture = join(dir, 'fixture.json');
    writeFileSync(fixture, JSON.stringify({ '*': 'old answer' }));
    const s = freshStore();
    const gw = gatewayOn(s);
    const call = async (path: string) => gw.model(await createClient(`scripted:${path}`), 'judge').generate(ask('question'));

    const first = await call(fixture);
    assert.deepEqual([first.text, first.cacheHit], ['old answer', false]);
    const unchanged = await call(fixture);
    assert.deepEqual([unchanged.text, unchanged.cacheHit], ['old answer', true]);
    // The same bytes under another name (a copy in another folder) are the same fixture.
    const copy = join(dir, 'copy-of-fixture.json');
    writeFileSync(copy, readFileSync(fixture));
    assert.equal((await call(copy)).cacheHit, true);

    writeFileSync(fixture, JSON.stringify({ '*': 'new answer' }));
    const edited = await call(fixture);
    assert.deepEqual([edited.text, edited.cacheHit], ['new answer', false]);
    assert.equal(gw.stats().backendCalls, 2);
    s.close();
  });

  test('different fixtures have different keys; scripts in code keep their name in the key', async () => {
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    writeFileSync(a, JSON.stringify({ '*': 'A' }));
    writeFileSync(b, JSON.stringify({ '*': 'B' }));
    const [ca, cb] = [await createClient(`scripted:${a}`), await createClient(`scripted:${b}`)];
    assert.notEqual(keyOf(ca), keyOf(cb));
    assert.equal(ca.contentId, `size=9 sha256=${sha256('{"*":"A"}')}`);

    registerScript('content-key-script', { generate: () => 'x' });
    try {
      const coded = await createClient('scripted:content-key-script');
      assert.equal(coded.contentId, undefined);
      assert.deepEqual(generateKeyParts(coded, ask('q')), {
        adapter: 'scripted',
        endpoint: 'scripted:content-key-script',
        model: 'content-key-script',
        kind: 'generate',
        request: { messages: [{ role: 'user', content: 'q' }], maxTokens: 8, temperature: undefined, seed: undefined, stop: undefined, topLogprobs: undefined },
        sample: 0,
      });
    } finally {
      unregisterScript('content-key-script');
    }
  });
});

test('the gateway\'s fast generate key is the hash of the canonical parts, for every shape of request', () => {
  const remote = { adapter: 'openai', endpoint: 'http://127.0.0.1:8000/v1', model: 'm' };
  const local = { adapter: 'llamacpp', endpoint: '/models/x.gguf', model: '/models/x.gguf', contentId: 'size:1:sha256:ab' };
  const requests = [
    { messages: [{ role: 'user' as const, content: 'q' }], maxTokens: 16 },
    { messages: [{ role: 'system' as const, content: 'be "brief"\n\u2028é' }, { role: 'user' as const, content: '' }], maxTokens: 1, temperature: 0, seed: 0 },
    { messages: [{ role: 'user' as const, content: 'q' }], maxTokens: 16, temperature: 0.7, seed: 42, stop: ['\n', 'END'], topLogprobs: 5 },
    { messages: [{ role: 'user' as const, content: 'q' }], maxTokens: 16, stop: [], topLogprobs: 0 },
    { messages: [], maxTokens: 3 },
  ];
  for (const client of [remote, local]) {
    for (const req of requests) {
      for (const sample of [0, 3]) {
        assert.equal(generateKey(client, req, sample), cacheKey(generateKeyParts(client, req, sample)), `${client.adapter} ${JSON.stringify(req)} sample ${sample}`);
      }
    }
  }
});
