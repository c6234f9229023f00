import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import {
  applyLengthRule,
  embeddingFeaturizer,
  hashedNgramFeaturizer,
  hashString,
  maxCharsForContext,
} from '../../src/train/featurizers.js';

const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const nonzero = (v: Float32Array): number[] => [...v.keys()].filter((j) => v[j] !== 0);

test('hashString is FNV-1a 32 over UTF-8 then fmix32 (values from an independent Python implementation)', () => {
  // python: x = 0x811c9dc5; for b in s.encode('utf-8'): x = ((x ^ b) * 0x01000193) & 0xffffffff; then fmix32.
  assert.equal(hashString(''), 2872998923);
  assert.equal(hashString('a'), 444641715);
  assert.equal(hashString('the answer'), 124240567);
  assert.equal(hashString('café'), 3746663762);
  assert.equal(hashString('🙂 ok'), 3423224490);
});

test('hashed n-grams: a signed bucket per n-gram, sublinear tf, unit norm, deterministic', async () => {
  const f = hashedNgramFeaturizer({ dim: 4096, n: [1, 1], l2Normalize: false });
  const [a, b, again] = await f.featurize(['a', 'a a a a', 'a']);
  // "a" hashes to 444641715: bucket 444641715 & 4095 = 435, bit 31 = 0 → +1.
  assert.deepEqual(nonzero(a!), [435]);
  assert.equal(a![435], 1);
  // Four occurrences: 1 + ln 4 with sublinear tf.
  assert.ok(Math.abs(b![435]! - (1 + Math.log(4))) < 1e-6);
  assert.deepEqual(Array.from(again!), Array.from(a!));
  const raw = hashedNgramFeaturizer({ dim: 4096, n: [1, 1], l2Normalize: false, sublinearTf: false });
  assert.equal((await raw.featurize(['a a a a']))[0]![435], 4);
  // "café" (bit 31 set) counts negatively.
  assert.equal((await raw.featurize(['café']))[0]![3410], -1);

  const unit = hashedNgramFeaturizer({ dim: 1024 });
  const [v, empty] = await unit.featurize(['Q: What gas do plants absorb? A: carbon dioxide', '']);
  assert.equal(v!.length, 1024);
  assert.ok(Math.abs(norm(v!) - 1) < 1e-6);
  assert.equal(norm(empty!), 0);
});

test('hashed n-grams: lowercasing, punctuation and word order behave as configured', async () => {
  const uni = hashedNgramFeaturizer({ dim: 2048, n: [1, 1] });
  const bi = hashedNgramFeaturizer({ dim: 2048, n: [1, 2] });
  const cased = hashedNgramFeaturizer({ dim: 2048, n: [1, 1], lowercase: false });
  const same = async (f: ReturnType<typeof hashedNgramFeaturizer>, x: string, y: string): Promise<boolean> => {
    const [a, b] = await f.featurize([x, y]);
    return a!.every((v, j) => v === b![j]);
  };
  assert.equal(await same(uni, 'Hello, World!', 'hello world'), true);
  assert.equal(await same(cased, 'Hello world', 'hello world'), false);
  // Unigrams ignore order; bigrams see it.
  assert.equal(await same(uni, 'dog bites man', 'man bites dog'), true);
  assert.equal(await same(bi, 'dog bites man', 'man bites dog'), false);
});

test('hashed n-grams: the id names every parameter, and bad parameters are refused', () => {
  assert.equal(
    hashedNgramFeaturizer().id,
    'hashed-ngram:dim=4096,n=1-2,lowercase=1,tf=sublinear,l2=1,hash=fnv1a32-fmix32',
  );
  assert.notEqual(hashedNgramFeaturizer({ dim: 8192 }).id, hashedNgramFeaturizer().id);
  assert.notEqual(hashedNgramFeaturizer({ sublinearTf: false }).id, hashedNgramFeaturizer().id);
  assert.equal(hashedNgramFeaturizer().maxLength, undefined);
  assert.throws(() => hashedNgramFeaturizer({ dim: 1000 }), UserError);
  assert.throws(() => hashedNgramFeaturizer({ n: [2, 1] }), UserError);
});

test('hashed n-grams: an aborted signal stops featurizing', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(hashedNgramFeaturizer().featurize(['x'], ac.signal), { name: 'AbortError' });
});

test('applyLengthRule truncates or drops long texts and counts them', () => {
  const texts = ['short', 'QUESTION then a long debate', 'ok', 'another long text!'];
  const tail = applyLengthRule(texts, 8, 'truncate_tail');
  assert.deepEqual(tail, { texts: ['short', 'QUESTION', 'ok', 'another '], indices: [0, 1, 2, 3], truncated: 2, dropped: 0 });
  const head = applyLengthRule(texts, 8, 'truncate_head');
  assert.deepEqual(head.texts, ['short', 'g debate', 'ok', 'ng text!']);
  assert.equal(head.truncated, 2);
  const drop = applyLengthRule(texts, 8, 'drop');
  assert.deepEqual(drop, { texts: ['short', 'ok'], indices: [0, 2], truncated: 0, dropped: 2 });
  // No limit: everything kept as is; the default rule keeps the head.
  assert.deepEqual(applyLengthRule(texts, undefined, 'drop').texts, texts);
  assert.equal(applyLengthRule(['abcdef'], 3).texts[0], 'abc');
  // A text exactly at the limit is kept whole.
  assert.equal(applyLengthRule(['abcdefgh'], 8, 'drop').dropped, 0);
});

test('applyLengthRule never splits a surrogate pair', () => {
  // "ab🙂cd": the emoji is two UTF-16 units at positions 2–3.
  assert.equal(applyLengthRule(['ab🙂cd'], 3, 'truncate_tail').texts[0], 'ab');
  assert.equal(applyLengthRule(['ab🙂cd'], 4, 'truncate_tail').texts[0], 'ab🙂');
  assert.equal(applyLengthRule(['ab🙂cd'], 3, 'truncate_head').texts[0], 'cd');
  assert.equal(applyLengthRule(['ab🙂cd'], 4, 'truncate_head').texts[0], '🙂cd');
});

test('applyLengthRule refuses unknown rules and bad limits', () => {
  assert.throws(() => applyLengthRule(['x'], 10, 'middle' as 'drop'), UserError);
  assert.throws(() => applyLengthRule(['x'], 0, 'drop'), UserError);
  assert.equal(maxCharsForContext(512), 2048);
});

test('embeddingFeaturizer batches calls, learns the dim, and returns Float32 vectors in order', async () => {
  const calls: string[][] = [];
  const f = embeddingFeaturizer({
    id: 'fake:len',
    batchSize: 2,
    maxLength: 100,
    embed: async (texts) => {
      calls.push(texts);
      return texts.map((t) => [t.length, 1, -1]);
    },
  });
  assert.equal(f.id, 'embed:fake:len');
  assert.equal(f.dim, 0);
  assert.equal(f.maxLength, 100);
  const out = await f.featurize(['a', 'bb', 'ccc', 'dddd', 'eeeee']);
  assert.deepEqual(calls, [['a', 'bb'], ['ccc', 'dddd'], ['eeeee']]);
  assert.equal(f.dim, 3);
  assert.ok(out.every((v) => v instanceof Float32Array));
  assert.deepEqual(out.map((v) => v[0]), [1, 2, 3, 4, 5]);
});

test('embeddingFeaturizer rejects inconsistent or broken embeddings', async () => {
  const varying = embeddingFeaturizer({ id: 'x', embed: async (t) => t.map((s) => new Array(s.length).fill(0.5)) });
  await assert.rejects(varying.featurize(['ab', 'abc']), /length 3 .*expected 2/);
  const short = embeddingFeaturizer({ id: 'x', embed: async () => [[1, 2]] });
  await assert.rejects(short.featurize(['a', 'b']), /1 vectors for 2 texts/);
  const nan = embeddingFeaturizer({ id: 'x', embed: async (t) => t.map(() => [1, NaN]) });
  await assert.rejects(nan.featurize(['a']), /non-finite/);
  const configured = embeddingFeaturizer({ id: 'x', dim: 4, embed: async (t) => t.map(() => [1, 2]) });
  await assert.rejects(configured.featurize(['a']), (e: unknown) => e instanceof UserError && /dim is set to 4/.test(e.message));
  assert.throws(() => embeddingFeaturizer({ id: '', embed: async () => [] }), UserError);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    embeddingFeaturizer({ id: 'x', embed: async (t) => t.map(() => [1]) }).featurize(['a'], ac.signal),
    { name: 'AbortError' },
  );
});
