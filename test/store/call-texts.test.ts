import assert from 'node:assert/strict';
import { databaseAtSchema } from '../helpers/old-db.js';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { createScriptedClient, registerScript } from '../../src/models/adapters/scripted.js';
import { cacheKey, generateKeyParts } from '../../src/models/cache-key.js';
import { Gateway } from '../../src/models/gateway.js';
import { parseModelSpec } from '../../src/models/spec.js';
import { ProviderError, type GenerateRequest } from '../../src/models/types.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { openStore, TEXTS_NOT_RECORDED, type Store } from '../../src/store/index.js';
import { crateRows, writeJsonl } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('w2s-call-texts-');

/** Every request the scripted judge received, with the reply it gave (the scripted client's requests, as the script sees them). */
const judgeSeen: { req: GenerateRequest; reply: string }[] = [];
registerScript('ct-debater', {
  generate(req) {
    const last = req.messages.at(-1)!.content;
    const crate = /crate (\d+)/.exec(last)?.[1];
    return /Your side: the proposed answer is correct/.test(last) ? `Crate ${crate} sits where the record says.` : `Crate ${crate} was moved last spring.`;
  },
});
registerScript('ct-judge', {
  generate(req) {
    const prompt = req.messages.map((m) => m.content).join('\n');
    // Crates 0, 4, 8, ...: a reply with no verdict (unparsed).
    const reply = Number(/crate (\d+)\?/.exec(prompt)?.[1]) % 4 === 0 ? 'I cannot decide.' : /A: The proposed answer is correct/.test(prompt) ? 'Answer: A' : 'Answer: B';
    judgeSeen.push({ req: structuredClone(req), reply });
    return reply;
  },
});

function config(loss: string) {
  return parseExperiment({
    name: `ct-${loss}`,
    seed: 4,
    dataset: { name: 'jsonl', path: join(dir, 'crates.jsonl'), sizes: { train_weak: 6, train_strong: 6, test: 6 } },
    debate: { protocol: 'debate', debaters: ['scripted:ct-debater'], turns: 2, samples: 1, temperature: 0.5 },
    weak: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 1 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, probe: { epochs: 2 }, loss },
    judges: [{ name: 'j', model: 'scripted:ct-judge', method: 'parsed' }],
    metrics: { bootstrap: 100 },
  });
}

const db = join(dir, 'run.sqlite');
const cacheFile = join(dir, 'cache.sqlite');
before(async () => {
  writeJsonl(dir, 'crates.jsonl', crateRows(18, 7));
  const outcome = await runExperiment({ config: config('xent'), out: db, cacheFile });
  assert.equal(outcome.status, 'completed', outcome.reason);
});

const count = (s: Store, sql: string, ...args: unknown[]): number => (s.db.prepare(sql).pluck().get(...args) as number);

test("a judge call's stored messages are exactly the prompt the model received, with its raw reply and parameters", () => {
  const s = openStore(db, { readonly: true });
  try {
    const judgments = s.db.prepare('SELECT call_id AS callId, raw_text AS raw, method FROM judgments ORDER BY id').all() as { callId: number; raw: string; method: string }[];
    assert.ok(judgments.length >= 12);
    assert.equal(judgeSeen.length, judgments.length, 'every judgment was a backend call of its own');
    const seen = new Map(judgeSeen.map((x) => [JSON.stringify(x.req.messages), x]));
    for (const j of judgments) {
      const t = s.calls.callTexts(j.callId);
      assert.equal(t.recorded, true);
      const got = seen.get(JSON.stringify(t.messages));
      assert.ok(got, 'the stored messages match a request the judge received, character for character');
      assert.deepEqual(t.messages, got.req.messages);
      assert.equal(t.response, got.reply);
      assert.equal(t.response, j.raw);
      assert.deepEqual(t.params, { maxTokens: got.req.maxTokens, temperature: got.req.temperature, seed: got.req.seed });
    }
    assert.ok(judgments.some((j) => j.method === 'unparsed'));
  } finally {
    s.close();
  }
});

test('identical texts are stored once: one row per distinct text, every link and reply pointing at a stored text', () => {
  const s = openStore(db, { readonly: true });
  try {
    const debaterCalls = count(s, "SELECT COUNT(*) FROM calls WHERE role LIKE 'debater%'");
    assert.equal(debaterCalls, 18 * 2);
    // The debaters' system prompt is sent with every turn and stored once.
    const system = s.db.prepare("SELECT hash FROM texts WHERE text LIKE 'You are a skilled debater%'").pluck().all() as string[];
    assert.equal(system.length, 1);
    assert.equal(count(s, 'SELECT COUNT(*) FROM call_messages WHERE text_hash = ?', system[0]), debaterCalls);
    // No text twice, none missing, none unused.
    const referenced = count(s, 'SELECT COUNT(*) FROM (SELECT text_hash FROM call_messages UNION SELECT response_hash FROM calls WHERE response_hash IS NOT NULL)');
    assert.equal(count(s, 'SELECT COUNT(*) FROM texts'), referenced);
    assert.equal(count(s, 'SELECT COUNT(DISTINCT text) FROM texts'), referenced);
    assert.equal(count(s, 'SELECT COUNT(*) FROM call_messages m LEFT JOIN texts t ON t.hash = m.text_hash WHERE t.hash IS NULL'), 0);
    // Every text's key is its sha256.
    for (const r of s.db.prepare('SELECT hash, text FROM texts').all() as { hash: string; text: string }[]) assert.equal(r.hash, createHash('sha256').update(r.text).digest('hex'));
  } finally {
    s.close();
  }
});

test('a rerun answered from the cache adds ledger rows and their links, and no text', async () => {
  const before = openStore(db, { readonly: true });
  const texts0 = count(before, 'SELECT COUNT(*) FROM texts');
  const links0 = count(before, 'SELECT COUNT(*) FROM call_messages');
  const calls0 = count(before, 'SELECT MAX(id) FROM calls');
  before.close();
  const judged = judgeSeen.length;
  // Another strong loss: the same debates and judgments, so every request is in the cache.
  const outcome = await runExperiment({ config: config('logconf'), out: db, cacheFile });
  assert.equal(outcome.status, 'completed', outcome.reason);
  assert.equal(judgeSeen.length, judged, 'the judge was not called again');
  const s = openStore(db, { readonly: true });
  try {
    const added = s.db.prepare('SELECT id, request_hash AS h, cache_hit AS hit, response_hash AS r FROM calls WHERE id > ?').all(calls0) as { id: number; h: string; hit: number; r: string }[];
    assert.ok(added.length > 0);
    assert.ok(added.every((c) => c.hit === 1), 'all cache hits');
    assert.equal(count(s, 'SELECT COUNT(*) FROM texts'), texts0, 'no new text');
    const addedLinks = count(s, 'SELECT COUNT(*) FROM call_messages WHERE call_id > ?', calls0);
    assert.equal(count(s, 'SELECT COUNT(*) FROM call_messages'), links0 + addedLinks);
    assert.ok(addedLinks >= added.length);
    // A hit's row points at the same request and reply texts as the call that paid for them.
    const first = s.db.prepare('SELECT id, response_hash AS r FROM calls WHERE request_hash = ? AND id <= ? ORDER BY id LIMIT 1');
    for (const c of added) {
      const orig = first.get(c.h, calls0) as { id: number; r: string };
      assert.equal(c.r, orig.r);
      assert.deepEqual(s.calls.callTexts(c.id).messages, s.calls.callTexts(orig.id).messages);
    }
  } finally {
    s.close();
  }
});

test('the gateway records what it sent for hits, failures and embed calls; params name what shaped the answer', async () => {
  const s = openStore(join(dir, 'gw.sqlite'));
  try {
    s.runs.createRun({ id: 'run', config: {}, configHash: 'h' });
    const gw = new Gateway({ cache: s.cache, ledger: s.calls, runId: 'run' });
    registerScript('ct-flaky', {
      generate(req) {
        if (req.messages.at(-1)!.content.includes('fail')) throw new ProviderError('bad request', { status: 400, retryable: false });
        return 'Answer: A';
      },
    });
    const client = await createScriptedClient(parseModelSpec('scripted:ct-flaky'));
    const m = gw.model(client, 'judge');
    const req: GenerateRequest = {
      messages: [
        { role: 'system', content: 'Judge carefully.' },
        { role: 'user', content: 'Is it A or B?' },
      ],
      maxTokens: 8,
      temperature: 0.3,
      seed: 11,
      stop: ['\n'],
      topLogprobs: 5,
    };
    const paid = await m.generate(req, { sample: 2 });
    const hit = await m.generate(req, { sample: 2 });
    assert.equal(hit.cacheHit, true);
    for (const id of [paid.callId!, hit.callId!]) {
      const c = s.calls.callWithTexts(id)!;
      assert.deepEqual(c.texts.messages, client.requests[0]!.messages, 'exactly what the scripted client received');
      assert.equal(c.texts.response, 'Answer: A');
      assert.deepEqual(c.params, { maxTokens: 8, temperature: 0.3, seed: 11, stop: ['\n'], topLogprobs: 5, sample: 2 });
    }
    assert.equal(client.requests.length, 1);

    await assert.rejects(m.generate({ messages: [{ role: 'user', content: 'please fail' }], maxTokens: 4 }));
    const failed = s.calls.listCalls('run').at(-1)!;
    assert.match(failed.error!, /bad request/);
    assert.deepEqual(s.calls.callTexts(failed.id), { recorded: true, messages: [{ role: 'user', content: 'please fail' }], response: null, params: { maxTokens: 4 } });

    const e = gw.model(client, 'features');
    const emb = await e.embed(['alpha', 'beta', 'alpha']);
    const again = await e.embed(['alpha', 'beta', 'alpha']);
    assert.equal(again.cacheHit, true);
    for (const id of [emb.callId!, again.callId!]) {
      const t = s.calls.callTexts(id);
      assert.deepEqual(t.messages, ['alpha', 'beta', 'alpha'].map((content) => ({ role: 'input', content })), 'position = the text index');
      assert.equal(t.response, null);
      assert.deepEqual(t.params, {});
    }
    assert.equal(count(s, "SELECT COUNT(*) FROM texts WHERE text IN ('alpha', 'beta')"), 2);

    // A call paid before a crash whose ledger row was lost is put back from the cache with its texts.
    const lost: GenerateRequest = { messages: [{ role: 'user', content: 'paid, then the process died' }], maxTokens: 3 };
    s.cache.putCached(cacheKey(generateKeyParts(client, lost, 0)), 'generate', client.id, { text: 'Answer: B', finishReason: 'stop', usage: { inputTokens: 5, outputTokens: 2 } }, 'run');
    const recovered = await m.generate(lost);
    const row = s.calls.callWithTexts(recovered.callId!)!;
    assert.equal(row.cacheHit, false, 'recorded as the paid call it was');
    assert.deepEqual(row.texts, { recorded: true, messages: lost.messages, response: 'Answer: B', params: { maxTokens: 3 } });
  } finally {
    s.close();
  }
});

test('a version-4 database migrates: its calls have no texts and say so, new calls store theirs', () => {
  const f = join(dir, 'v4.sqlite');
  const raw = databaseAtSchema(f, 4);
  raw.prepare("INSERT INTO calls (run_id, role, model, kind, request_hash, cache_hit, attempts, latency_ms, created_at) VALUES ('r', 'judge', 'scripted:j', 'generate', 'k', 0, 1, 3, 'x')").run();
  raw.close();
  const s = openStore(f);
  try {
    const old = s.calls.callWithTexts(1)!;
    assert.equal(old.params, null);
    assert.equal(old.responseHash, null);
    assert.deepEqual(old.texts, { recorded: false, messages: [], response: null, params: null });
    assert.match(TEXTS_NOT_RECORDED, /^not recorded \(run made before w2s stored prompts\)$/);
    const id = s.calls.insertCall({ runId: 'r', role: 'judge', model: 'scripted:j', kind: 'generate', requestHash: 'k2', cacheHit: false, attempts: 1, latencyMs: 1, inputTokens: 1, outputTokens: 1, costUsd: 0, texts: { messages: [{ role: 'user', content: 'q' }], response: 'A', params: { maxTokens: 1 } } });
    assert.deepEqual(s.calls.callTexts(id), { recorded: true, messages: [{ role: 'user', content: 'q' }], response: 'A', params: { maxTokens: 1 } });
  } finally {
    s.close();
  }
});
