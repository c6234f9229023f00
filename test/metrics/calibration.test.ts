import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapCI, brier, calibrationCI, ece, reliabilityBins, type Label } from '../../src/metrics/index.js';
import { createRng } from '../../src/rng.js';

const probs = [0.1, 0.3, 0.35, 0.9, 0.95];
const labels: (0 | 1)[] = [0, 1, 0, 1, 1];

test('brier is the mean squared error of P(label=1) (hand case)', () => {
  // (0.01 + 0.49 + 0.1225 + 0.01 + 0.0025) / 5 = 0.635 / 5 = 0.127
  assert.ok(Math.abs(brier(probs, labels) - 0.127) < 1e-12);
  assert.equal(brier([0.5, 0.5], [0, 1]), 0.25);
});

test('ece with two equal-width bins (hand case)', () => {
  // bin [0, .5): 0.1, 0.3, 0.35 → mean 0.25, positives 1/3 → |0.25 − 0.3333| · 3/5 = 0.05
  // bin [.5, 1]: 0.9, 0.95 → mean 0.925, positives 1 → 0.075 · 2/5 = 0.03; ECE = 0.08
  assert.ok(Math.abs(ece(probs, labels, 2) - 0.08) < 1e-12);
});

test('ece is 0 when each bin is perfectly calibrated', () => {
  // one bin holding 0.5, 0.5 with labels 0, 1 → mean 0.5 = fraction 0.5
  assert.equal(ece([0.5, 0.5, 0.05], [0, 1, 0], 10), 0.05 / 3);
  assert.equal(ece([0.5, 0.5], [0, 1], 10), 0);
});

test('reliabilityBins returns every bin, empty ones with null means, and puts p = 1 in the last bin', () => {
  const bins = reliabilityBins([0, 0.25, 1, 1], [0, 1, 1, 0], 4);
  assert.equal(bins.length, 4);
  assert.deepEqual(bins.map((b) => b.count), [1, 1, 0, 2]);
  assert.deepEqual(bins[2], { lo: 0.5, hi: 0.75, count: 0, meanPredicted: null, fractionPositive: null });
  assert.deepEqual(bins[3], { lo: 0.75, hi: 1, count: 2, meanPredicted: 1, fractionPositive: 0.5 });
  assert.equal(bins[1]!.fractionPositive, 1);
});

test('calibration functions reject bad bins and bad probabilities', () => {
  assert.throws(() => ece(probs, labels, 0), /bins must be an integer ≥ 1/);
  assert.throws(() => reliabilityBins(probs, labels, 2.5), /bins must be an integer/);
  assert.throws(() => brier([-0.1], [0]), /probability in \[0, 1\]/);
});

test('calibrationCI: the value is ece/brier, and the interval is the plain bootstrap of them on the same resamples', () => {
  const rng = createRng(4);
  const labels = Array.from({ length: 300 }, () => (rng.random() < 0.4 ? 1 : 0) as Label);
  const probs = labels.map((y) => Math.min(1, Math.max(0, (y ? 0.65 : 0.35) + (rng.random() - 0.5) * 0.6)));
  for (const [metric, score] of [['ece', ece], ['brier', brier]] as const) {
    const fast = calibrationCI(probs, labels, metric, { random: createRng(9).random, resamples: 300 });
    // The reference copies each resample and scores it with the plain function.
    const plain = bootstrapCI(300, (idx) => score(Array.from(idx, (i) => probs[i]!), Array.from(idx, (i) => labels[i]!)), { random: createRng(9).random, resamples: 300 });
    assert.ok(Math.abs(fast.value! - score(probs, labels)) < 1e-12, metric);
    assert.ok(Math.abs(fast.lo! - plain.lo!) < 1e-12 && Math.abs(fast.hi! - plain.hi!) < 1e-12, `${metric}: [${fast.lo}, ${fast.hi}] vs [${plain.lo}, ${plain.hi}]`);
    assert.ok(fast.lo! < fast.value! && fast.value! < fast.hi!);
  }
  assert.throws(() => calibrationCI([0.5], [1], 'auroc' as 'ece', { random: Math.random, resamples: 100 }), /metric must be 'ece' or 'brier'/);
});
