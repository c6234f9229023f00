import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, auroc, brier, ece, logLoss, summarize } from '../../src/metrics/index.js';
import { createRng } from '../../src/rng.js';

test('summarize gathers the standard block and is reproducible from a seed', () => {
  const rng = createRng(10);
  const labels = Array.from({ length: 120 }, () => (rng.random() < 0.4 ? 1 : 0) as 0 | 1);
  const probs = labels.map((y) => Math.min(1, Math.max(0, 0.35 * y + 0.65 * rng.random())));
  const s = summarize(probs, labels, createRng(1).random, { resamples: 200, bins: 5 });
  assert.equal(s.n, 120);
  assert.equal(s.positives, labels.filter((y) => y === 1).length);
  assert.equal(s.accuracy.value, accuracy(probs, labels));
  assert.equal(s.accuracy.resamples, 200);
  assert.equal(s.auroc.value, auroc(probs, labels));
  assert.ok(s.auroc.lo! < s.auroc.value! && s.auroc.value! < s.auroc.hi!);
  assert.equal(s.accuracyWilson.estimate, s.accuracy.value);
  assert.equal(s.brier, brier(probs, labels));
  assert.equal(s.ece, ece(probs, labels, 5));
  assert.equal(s.logLoss, logLoss(probs, labels));
  assert.deepEqual(summarize(probs, labels, createRng(1).random, { resamples: 200, bins: 5 }), s);
});

test('summarize on a single-class test set reports AUROC as undefined rather than failing', () => {
  const s = summarize([0.2, 0.9, 0.7], [1, 1, 1], createRng(1).random, { resamples: 20 });
  assert.equal(s.auroc.value, null);
  assert.equal(s.auroc.undefinedCount, 20);
  assert.equal(s.accuracy.value, 2 / 3);
});
