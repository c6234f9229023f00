import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, auroc, logLoss } from '../../src/metrics/index.js';
import { createRng } from '../../src/rng.js';

test('accuracy thresholds P(label=1) and counts a prob of exactly 0.5 as a 0 prediction', () => {
  // predictions at 0.5: [1, 0, 0(0.5), 1] vs labels [1, 0, 1, 1] → 3 of 4 right.
  assert.equal(accuracy([0.9, 0.2, 0.5, 0.51], [1, 0, 1, 1]), 0.75);
  // with threshold 0.3 the 0.5 becomes a 1 → 4 of 4.
  assert.equal(accuracy([0.9, 0.2, 0.5, 0.51], [1, 0, 1, 1], 0.3), 1);
});

test('accuracy rejects mismatched lengths, bad labels, probs outside [0, 1] and empty input', () => {
  assert.throws(() => accuracy([0.5], [1, 0]), /probs has 1 entries but labels has 2/);
  assert.throws(() => accuracy([0.5], [2 as 0]), /labels must be 0 or 1/);
  assert.throws(() => accuracy([1.2], [1]), /probability in \[0, 1\]/);
  assert.throws(() => accuracy([NaN], [1]), /finite number/);
  assert.throws(() => accuracy([], []), /at least one example/);
});

test('auroc counts tied positive/negative pairs as half (hand count)', () => {
  // positives score 0.4, 0.8, 0.9; negatives 0.1, 0.4, 0.4 → 9 pairs.
  // positive 0.4: beats 0.1 (1) + ties two 0.4s (0.5 + 0.5) = 2; 0.8: 3; 0.9: 3 → 8/9.
  const v = auroc([0.1, 0.4, 0.4, 0.8, 0.4, 0.9], [0, 0, 1, 1, 0, 1]);
  assert.ok(Math.abs(v! - 8 / 9) < 1e-12);
});

test('auroc is 1 for separable scores, 0 when reversed, 0.5 when all tied; works on logits', () => {
  assert.equal(auroc([-3, -1, 2, 5], [0, 0, 1, 1]), 1);
  assert.equal(auroc([0.9, 0.8, 0.1], [0, 0, 1]), 0);
  assert.equal(auroc([0.3, 0.3, 0.3, 0.3], [0, 1, 0, 1]), 0.5);
});

test('auroc is null when only one class is present', () => {
  assert.equal(auroc([0.1, 0.7], [1, 1]), null);
  assert.equal(auroc([0.1, 0.7], [0, 0]), null);
});

test('auroc matches brute-force pair counting on heavily tied random data', () => {
  const rng = createRng(11);
  const scores = Array.from({ length: 300 }, () => rng.int(5) / 4);
  const labels = scores.map((s) => (rng.random() < 0.3 + 0.4 * s ? 1 : 0) as 0 | 1);
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  assert.ok(Math.abs(auroc(scores, labels)! - wins / pairs) < 1e-12);
});

test('logLoss is the mean negative log-likelihood and stays finite for confident mistakes', () => {
  // −(ln 0.8 + ln 0.6) / 2 = (0.223144 + 0.510826) / 2 = 0.366985
  assert.ok(Math.abs(logLoss([0.8, 0.4], [1, 0]) - 0.3669845875) < 1e-9);
  const worst = logLoss([0], [1]);
  assert.ok(Number.isFinite(worst) && worst > 34 && worst < 35);
});
