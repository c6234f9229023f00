import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brier, ece, reliabilityBins } from '../../src/metrics/index.js';

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
