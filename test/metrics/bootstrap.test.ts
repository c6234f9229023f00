import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, accuracyCI, auroc, aurocCI, bootstrapCI, clustersFromKeys, pgr, pgrCI } from '../../src/metrics/index.js';
import { createRng } from '../../src/rng.js';

/** n examples of which the first `correct` are predicted right (prob 0.9 on the true label). */
function fixture(n: number, correct: number, seed = 1): { probs: number[]; labels: (0 | 1)[] } {
  const rng = createRng(seed);
  const labels = Array.from({ length: n }, () => (rng.random() < 0.5 ? 1 : 0) as 0 | 1);
  const probs = labels.map((y, i) => ((i < correct) === (y === 1) ? 0.9 : 0.1));
  return { probs, labels };
}

test('bootstrapCI reports the full-sample value and type-7 percentile bounds of the resampled values', () => {
  // A statistic that ignores the sample and counts its calls: the full sample is call 0, resamples give 1…1000.
  // Type-7 quantiles of 1…1000: q = 0.025 → h = 999·0.025 = 24.975 → 25 + 0.975 = 25.975; q = 0.975 → 975.025.
  let calls = 0;
  const r = bootstrapCI(5, () => calls++, { random: createRng(1).random });
  assert.equal(r.value, 0);
  assert.ok(Math.abs(r.lo! - 25.975) < 1e-9);
  assert.ok(Math.abs(r.hi! - 975.025) < 1e-9);
  assert.deepEqual([r.resamples, r.undefinedCount, r.level], [1000, 0, 0.95]);
});

test('bootstrapCI passes n in-range indices, the identity first, and survives a random() that returns 1', () => {
  const seen: number[][] = [];
  bootstrapCI(4, (idx) => (seen.push(Array.from(idx)), 0), { random: () => 1, resamples: 2 });
  assert.deepEqual(seen, [[0, 1, 2, 3], [3, 3, 3, 3], [3, 3, 3, 3]]);
});

test('bootstrapCI skips and counts undefined resamples; all undefined gives null bounds', () => {
  const r = bootstrapCI(10, (idx) => (idx[0]! % 2 === 0 ? null : idx[0]!), { random: createRng(3).random, resamples: 400 });
  assert.ok(r.undefinedCount > 100 && r.undefinedCount < 300, `undefinedCount ${r.undefinedCount}`);
  assert.equal(r.value, null); // the identity starts with index 0
  assert.ok(r.lo !== null && r.lo >= 1 && r.hi! <= 9);
  const none = bootstrapCI(3, () => NaN, { random: createRng(3).random, resamples: 10 });
  assert.deepEqual([none.value, none.lo, none.hi, none.undefinedCount], [null, null, null, 10]);
});

test('bootstrapCI is deterministic for a fixed random stream', () => {
  const { probs, labels } = fixture(300, 220);
  const a = accuracyCI(probs, labels, { random: createRng(42).random });
  const b = accuracyCI(probs, labels, { random: createRng(42).random });
  assert.deepEqual(a, b);
});

test('accuracyCI contains the point estimate and shrinks roughly like 1/√n', () => {
  const small = fixture(100, 75);
  const big = fixture(10000, 7500);
  const s = accuracyCI(small.probs, small.labels, { random: createRng(7).random });
  const b = accuracyCI(big.probs, big.labels, { random: createRng(7).random });
  assert.equal(s.value, 0.75);
  assert.equal(b.value, 0.75);
  for (const r of [s, b]) assert.ok(r.lo! < r.value! && r.value! < r.hi!, JSON.stringify(r));
  // Width ≈ 2·1.96·√(0.75·0.25/n): 0.17 at n = 100, 0.017 at n = 10000; the ratio should be near 10.
  const ratio = (s.hi! - s.lo!) / (b.hi! - b.lo!);
  assert.ok(ratio > 6 && ratio < 15, `width ratio ${ratio}`);
  assert.ok(Math.abs(s.hi! - s.lo! - 0.17) < 0.04, `small width ${s.hi! - s.lo!}`);
});

test('accuracyCI honours resamples, level and threshold', () => {
  const { probs, labels } = fixture(200, 150);
  const r90 = accuracyCI(probs, labels, { random: createRng(9).random, resamples: 500, level: 0.9 });
  const r99 = accuracyCI(probs, labels, { random: createRng(9).random, resamples: 500, level: 0.99 });
  assert.equal(r90.resamples, 500);
  assert.ok(r99.hi! - r99.lo! > r90.hi! - r90.lo!);
  const all1 = accuracyCI(probs, labels, { random: createRng(9).random, threshold: -1, resamples: 10 });
  assert.equal(all1.value, accuracy(labels.map(() => 1), labels));
});

test('bootstrap options are checked at the door', () => {
  const { probs, labels } = fixture(10, 5);
  assert.throws(() => accuracyCI(probs, labels, {} as never), /options.random must be a function/);
  assert.throws(() => accuracyCI(probs, labels, { random: Math.random, resamples: 0 }), /resamples must be an integer ≥ 1/);
  assert.throws(() => accuracyCI(probs, labels, { random: Math.random, level: 95 }), /level must be between 0 and 1/);
  assert.throws(() => bootstrapCI(0, () => 1, { random: Math.random }), /n must be an integer ≥ 1/);
  assert.throws(() => accuracyCI(probs.slice(1), labels, { random: Math.random }), /probs has 9 entries/);
});

test('aurocCI: separable data gives [1, 1]; resamples with one class are counted as undefined', () => {
  const sep = aurocCI([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [0, 0, 0, 1, 1, 1], { random: createRng(5).random, resamples: 200 });
  assert.equal(sep.value, 1);
  assert.equal(sep.hi, 1);
  // P(a resample of 6 lacks a class) = 2·(1/2)^6 ≈ 3%; those are skipped, the rest are all 1.
  assert.equal(sep.lo, 1);
  // With 1 positive in 4, P(no positive) = (3/4)^4 ≈ 0.32 per resample.
  const rare = aurocCI([0.9, 0.2, 0.4, 0.6], [1, 0, 0, 0], { random: createRng(5).random, resamples: 400 });
  assert.ok(rare.undefinedCount > 80 && rare.undefinedCount < 180, `undefinedCount ${rare.undefinedCount}`);
  assert.equal(rare.value, 1);
});

test('aurocCI matches auroc on the full sample and brackets it with ties present', () => {
  const rng = createRng(8);
  const labels = Array.from({ length: 400 }, () => (rng.random() < 0.5 ? 1 : 0) as 0 | 1);
  const scores = labels.map((y) => Math.round((y * 0.3 + rng.random()) * 10) / 10);
  const r = aurocCI(scores, labels, { random: createRng(2).random });
  assert.equal(r.value, auroc(scores, labels));
  assert.ok(r.lo! < r.value! && r.value! < r.hi!);
});

test('pgrCI resamples the same indices for all three models: weak = w2s gives exactly 0 on every resample', () => {
  const { probs: weak, labels } = fixture(300, 210); // 70% right
  const ceiling = labels.map((y) => (y === 1 ? 0.8 : 0.2)); // always right
  const r = pgrCI(weak, weak.slice(), ceiling, labels, { random: createRng(4).random });
  assert.deepEqual([r.value, r.lo, r.hi, r.undefinedCount], [0, 0, 0, 0]);
  assert.deepEqual([r.weak, r.w2s, r.ceiling], [0.7, 0.7, 1]);
});

test('pgrCI: value equals pgr of the three accuracies; interval contains it', () => {
  const rng = createRng(12);
  const labels = Array.from({ length: 1000 }, () => (rng.random() < 0.5 ? 1 : 0) as 0 | 1);
  const noisy = (q: number): number[] => labels.map((y) => (rng.random() < q ? (y ? 0.8 : 0.2) : y ? 0.3 : 0.7));
  const [weak, w2s, ceiling] = [noisy(0.7), noisy(0.8), noisy(0.9)];
  const r = pgrCI(weak, w2s, ceiling, labels, { random: createRng(1).random });
  assert.equal(r.value, pgr(accuracy(weak, labels), accuracy(w2s, labels), accuracy(ceiling, labels)));
  assert.ok(r.lo! < r.value! && r.value! < r.hi!);
  const byAuroc = pgrCI(weak, w2s, ceiling, labels, { random: createRng(1).random, metric: 'auroc', resamples: 100 });
  assert.equal(byAuroc.value, pgr(auroc(weak, labels)!, auroc(w2s, labels)!, auroc(ceiling, labels)!));
});

test('pgrCI skips resamples where the ceiling does not beat the weak model and reports how many', () => {
  const { probs: weak, labels } = fixture(200, 150);
  const same = pgrCI(weak, weak, weak, labels, { random: createRng(4).random, resamples: 50 });
  assert.deepEqual([same.value, same.lo, same.hi, same.undefinedCount], [null, null, null, 50]);
  // The ceiling is right on only 2 more examples than weak: some resamples miss both and are undefined.
  const ceiling = weak.slice();
  for (const i of [150, 151]) ceiling[i] = 1 - ceiling[i]!;
  const close = pgrCI(weak, weak, ceiling, labels, { random: createRng(4).random, resamples: 300 });
  // P(neither of the 2 examples drawn) = (1 − 2/200)^200 ≈ e^−2 ≈ 0.135.
  assert.ok(close.undefinedCount > 15 && close.undefinedCount < 75, `undefinedCount ${close.undefinedCount}`);
  assert.equal(close.value, 0);
});

test('pgrCI rejects an unknown metric and unequal lengths', () => {
  const { probs, labels } = fixture(10, 5);
  assert.throws(() => pgrCI(probs, probs, probs, labels, { random: Math.random, metric: 'f1' as never }), /metric must be 'accuracy' or 'auroc'/);
  assert.throws(() => pgrCI(probs, probs.slice(2), probs, labels, { random: Math.random }), /w2sProbs has 8 entries/);
});

test('a clustered bootstrap over duplicated rows equals the row bootstrap of the rows without duplicates', () => {
  // Every row appears twice and its two copies form one cluster: drawing G clusters is drawing the n distinct rows
  // with the same random stream, so the interval must equal the plain bootstrap of the deduplicated rows exactly.
  const { probs, labels } = fixture(60, 40, 3);
  const plain = accuracyCI(probs, labels, { random: createRng(9).random, resamples: 500 });
  const twice = <T>(xs: readonly T[]): T[] => xs.flatMap((x) => [x, x]);
  const groups = twice(labels.map((_, i) => i));
  const clustered = accuracyCI(twice(probs), twice(labels), { random: createRng(9).random, resamples: 500, groups });
  assert.equal(clustered.value, plain.value);
  assert.equal(clustered.lo, plain.lo);
  assert.equal(clustered.hi, plain.hi);
  // Ignoring the clusters counts every row twice and gives a too-narrow interval (about 1/√2 of the honest width).
  const naive = accuracyCI(twice(probs), twice(labels), { random: createRng(9).random, resamples: 500 });
  const width = (r: { lo: number | null; hi: number | null }): number => r.hi! - r.lo!;
  assert.ok(width(naive) < 0.85 * width(clustered), `naive ${width(naive)} vs clustered ${width(clustered)}`);
});

test('a clustered bootstrap draws whole clusters and refuses malformed cluster ids', () => {
  const seen: number[][] = [];
  // Clusters {0, 1} and {2}; random() = 0.99 always picks the last cluster.
  bootstrapCI(3, (idx) => (seen.push(Array.from(idx)), 0), { random: () => 0.99, resamples: 1, groups: [0, 0, 1] });
  assert.deepEqual(seen, [[0, 1, 2], [2, 2]]);
  assert.throws(() => bootstrapCI(3, () => 0, { random: Math.random, groups: [0, 1] }), /one cluster id per example/);
  assert.throws(() => bootstrapCI(3, () => 0, { random: Math.random, groups: [0, 2, 2] }), /cluster 1 has no examples/);
  assert.throws(() => bootstrapCI(2, () => 0, { random: Math.random, groups: [0, -1] }), /integers ≥ 0/);
});

test('clustersFromKeys numbers groups by first appearance; keyless examples are clusters of their own', () => {
  assert.deepEqual(clustersFromKeys(['p1', null, 'p1', 'p2', undefined]), [0, 1, 0, 2, 3]);
  assert.equal(clustersFromKeys([null, undefined]), undefined);
});
