import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../src/errors.js';
import { createRng } from '../../src/rng.js';
import { embeddingFeaturizer, hashedNgramFeaturizer, maxCharsForContext } from '../../src/train/featurizers.js';
import { createProbeBackend, type ProbeState, type ProbeStats } from '../../src/train/probe.js';
import type { Featurizer, TrainedModel, TrainProgress, TrainRow } from '../../src/train/types.js';

const CORRECT = ['oxygen', 'photosynthesis', 'gravity', 'mitochondria', 'electron', 'evaporation'];
const WRONG = ['banana', 'trombone', 'velvet', 'pancake', 'lighthouse', 'saxophone'];
const FILLER = ['the', 'question', 'asks', 'which', 'answer', 'is', 'about', 'science', 'and', 'a'];

/** Rows whose label is told by which word list supplies the answer; filler words are shared. */
function rows(n: number, seed: number): TrainRow[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const y = rng.random() < 0.5 ? 1 : 0;
    const filler = Array.from({ length: 6 }, () => rng.choice(FILLER)).join(' ');
    const answer = rng.choice(y ? CORRECT : WRONG);
    return { id: `r${i}`, text: `Q: ${filler}? A: ${answer}`, softLabel: [1 - y, y] as [number, number] };
  });
}

const acc = (p: number[], rs: TrainRow[]): number =>
  rs.reduce((s, r, i) => s + ((p[i]! > 0.5 ? 1 : 0) === (r.softLabel[1] > 0.5 ? 1 : 0) ? 1 : 0), 0) / rs.length;

test('trains on soft labels, predicts held-out rows, and round-trips through JSON', async () => {
  const backend = createProbeBackend({ featurizer: hashedNgramFeaturizer({ dim: 1024 }), epochs: 10, lr: 0.05 });
  assert.equal(backend.name, 'probe');
  const train = rows(200, 1);
  const test_ = rows(100, 2);
  const model = await backend.train(train, { role: 'weak_member', seed: 7, loss: 'xent' });
  assert.equal(model.backend, 'probe');
  const stats = model.stats as unknown as ProbeStats;
  assert.equal(stats.n, 200);
  assert.equal(stats.nInput, 200);
  assert.equal(stats.dropped, 0);
  assert.equal(stats.truncated, 0);
  assert.equal(stats.lossCurve.length, 10);
  assert.ok(stats.lossCurve.at(-1)! < stats.lossCurve[0]!);
  assert.ok(stats.trainSeconds >= 0);
  const state = model.state as ProbeState;
  assert.equal(state.featurizerId, hashedNgramFeaturizer({ dim: 1024 }).id);
  assert.equal(state.weights[0].length, 1024);
  assert.equal(state.standardization, null);

  const p = await backend.predict(model, test_);
  assert.equal(p.length, 100);
  assert.ok(p.every((v) => v > 0 && v < 1));
  assert.equal(acc(p, test_), 1);

  // What the store keeps is JSON: a model read back predicts the same numbers.
  const stored = JSON.parse(JSON.stringify(model)) as TrainedModel;
  assert.deepEqual(await backend.predict(stored, test_), p);
  assert.deepEqual(await backend.predict(model, []), []);
});

test('the same seed gives the same model; each loss and both optimizers train', async () => {
  const backend = createProbeBackend({ featurizer: hashedNgramFeaturizer({ dim: 512 }), epochs: 10, lr: 0.1 });
  const train = rows(200, 3);
  const test_ = rows(60, 4);
  const a = await backend.train(train, { role: 'strong', seed: 1, loss: 'logconf' });
  const b = await backend.train(train, { role: 'strong', seed: 1, loss: 'logconf' });
  assert.deepEqual(a.state, b.state);
  for (const loss of ['product', 'logconf_linear'] as const) {
    const m = await backend.train(train, { role: 'strong', seed: 1, loss });
    const a = acc(await backend.predict(m, test_), test_);
    assert.ok(a >= 0.95, loss);
  }
  const lb = await backend.train(train, {
    role: 'strong',
    seed: 1,
    loss: 'xent',
    params: { optimizer: 'lbfgs', l2: 1e-3, standardize: true, bias: true },
  });
  const st = lb.state as ProbeState;
  assert.equal(st.hyperparams.optimizer, 'lbfgs');
  assert.ok(st.standardization && st.bias);
  assert.equal(acc(await backend.predict(lb, test_), test_), 1);
});

test('sample weights: weight-0 rows with flipped labels change nothing (full-batch L-BFGS)', async () => {
  const backend = createProbeBackend({ featurizer: hashedNgramFeaturizer({ dim: 256 }), optimizer: 'lbfgs', l2: 0.01 });
  const train = rows(80, 5);
  const flipped: TrainRow[] = train.slice(0, 10).map((r) => ({
    ...r,
    id: `${r.id}-flip`,
    softLabel: [r.softLabel[1], r.softLabel[0]],
    weight: 0,
  }));
  const opts = { role: 'weak_member', seed: 0, loss: 'xent' as const, params: { lbfgsIterations: 30 } };
  const plain = await backend.train(train, opts);
  const withFlips = await backend.train([...train, ...flipped], opts);
  const probe = rows(20, 6);
  const p1 = await backend.predict(plain, probe);
  const p2 = await backend.predict(withFlips, probe);
  p1.forEach((v, i) => assert.ok(Math.abs(v - p2[i]!) < 1e-9));
});

/** The hashed featurizer with a character limit, to exercise the length rule. */
const limited = (maxLength: number): Featurizer => ({ ...hashedNgramFeaturizer({ dim: 256 }), maxLength });

test('the length rule drops or truncates long training rows and counts them; predict truncates', async () => {
  const train = rows(60, 7);
  const long: TrainRow = { id: 'long', text: `Q: which gas? A: oxygen ${'and then a long debate '.repeat(20)}`, softLabel: [0, 1] };
  const all = [...train, long];
  const maxLength = Math.max(...train.map((r) => r.text.length));

  const dropping = createProbeBackend({ featurizer: limited(maxLength), lengthRule: 'drop', epochs: 5, lr: 0.05 });
  const m1 = await dropping.train(all, { role: 'weak_member', seed: 0, loss: 'xent' });
  assert.deepEqual([(m1.stats as unknown as ProbeStats).dropped, (m1.stats as unknown as ProbeStats).truncated, (m1.stats as unknown as ProbeStats).n], [1, 0, 60]);

  const truncating = createProbeBackend({ featurizer: limited(maxLength), epochs: 5, lr: 0.05 });
  const m2 = await truncating.train(all, { role: 'weak_member', seed: 0, loss: 'xent' });
  assert.deepEqual([(m2.stats as unknown as ProbeStats).dropped, (m2.stats as unknown as ProbeStats).truncated, (m2.stats as unknown as ProbeStats).n], [0, 1, 61]);

  // Every row gets a prediction: a long row is scored on its head, even by a model trained with 'drop'.
  const head = long.text.slice(0, maxLength);
  const [pLong, pHead] = await dropping.predict(m1, [long, { id: 'head', text: head }]);
  assert.equal(pLong, pHead);

  const tiny = createProbeBackend({ featurizer: limited(3), lengthRule: 'drop' });
  await assert.rejects(
    tiny.train(train, { role: 'weak_member', seed: 0, loss: 'xent' }),
    (e: unknown) => e instanceof UserError && /All 60 training rows are longer/.test(e.message),
  );
});

test('progress reports steps and throughput; an abort stops training', async () => {
  const backend = createProbeBackend({ featurizer: hashedNgramFeaturizer({ dim: 256 }), epochs: 3 });
  const seen: TrainProgress[] = [];
  await backend.train(rows(100, 8), { role: 'strong', seed: 0, loss: 'xent', onProgress: (p) => seen.push(p) });
  assert.equal(seen.at(-1)!.step, 12); // 3 epochs × ceil(100/32)
  assert.equal(seen.at(-1)!.totalSteps, 12);
  assert.ok(seen.every((p) => Number.isFinite(p.loss)));

  const ac = new AbortController();
  await assert.rejects(
    backend.train(rows(100, 8), {
      role: 'strong',
      seed: 0,
      loss: 'xent',
      signal: ac.signal,
      onProgress: (p) => {
        if (p.step === 2) ac.abort();
      },
    }),
    { name: 'AbortError' },
  );
});

test('bad inputs are refused with one clear sentence', async () => {
  const featurizer = hashedNgramFeaturizer({ dim: 256 });
  const backend = createProbeBackend({ featurizer });
  const opts = { role: 'strong', seed: 0, loss: 'xent' as const };
  await assert.rejects(backend.train([], opts), UserError);
  await assert.rejects(
    backend.train([{ id: 'x', text: 'a', softLabel: [0.5, 2] }], opts),
    (e: unknown) => e instanceof UserError && /row x has soft label/.test(e.message),
  );
  await assert.rejects(backend.train(rows(10, 9), { ...opts, params: { learningRate: 1 } }), /Unknown probe params: learningRate/);
  await assert.rejects(backend.train(rows(10, 9), { ...opts, params: { epochs: 1.5 } }), /epochs must be a positive integer/);
  assert.throws(() => createProbeBackend({ featurizer, optimizer: 'sgd' as 'adam' }), UserError);

  const model = await backend.train(rows(10, 9), opts);
  const other = createProbeBackend({ featurizer: hashedNgramFeaturizer({ dim: 512 }) });
  await assert.rejects(other.predict(model, rows(2, 1)), (e: unknown) => e instanceof UserError && /trained on features/.test(e.message));
  await assert.rejects(
    backend.predict({ backend: 'external', state: { artifact: 'x' }, stats: {} }, rows(2, 1)),
    (e: unknown) => e instanceof UserError && /"external" backend/.test(e.message),
  );
});

// Real llama.cpp embeddings from the tiny stories260K model (64-dim) through the embedding featurizer.
const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K.gguf', import.meta.url));
let disposeLlama: (() => Promise<void>) | undefined;
after(async () => disposeLlama?.());

test('a probe on real llama.cpp embeddings fits its training set and predicts deterministically', async () => {
  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, logLevel: 'error' as never });
  const model = await llama.loadModel({ modelPath: MODEL });
  // One thread and a small context: llama.cpp's spinning worker threads crawl on a busy 2-core machine.
  const ctx = await model.createEmbeddingContext({ contextSize: 256, threads: 1 });
  disposeLlama = async () => {
    await ctx.dispose();
    await model.dispose();
    await llama.dispose();
  };
  const featurizer = embeddingFeaturizer({
    id: 'llamacpp:stories260K',
    maxLength: maxCharsForContext(256, 2),
    embed: async (texts) => {
      const out: number[][] = [];
      for (const t of texts) out.push([...(await ctx.getEmbeddingFor(t)).vector]);
      return out;
    },
  });
  const backend = createProbeBackend({ featurizer, optimizer: 'lbfgs', standardize: true, bias: true, lbfgsIterations: 300 });
  // 30 rows < 64 dims: a linear head can fit any labelling of embeddings in general position.
  const train = rows(30, 10);
  const trained = await backend.train(train, { role: 'weak_member', seed: 0, loss: 'xent' });
  assert.equal((trained.state as ProbeState).dim, 64);
  assert.equal(featurizer.dim, 64);
  const p = await backend.predict(trained, train);
  assert.equal(acc(p, train), 1);
  assert.deepEqual(await backend.predict(JSON.parse(JSON.stringify(trained)), train), p);
});
