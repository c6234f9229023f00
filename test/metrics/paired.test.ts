import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, mcnemar, mcnemarFromCounts, pairedBootstrapDiff } from '../../src/metrics/index.js';
import { createRng } from '../../src/rng.js';

/** Paired correctness arrays with b (A right, B wrong), c (A wrong, B right) and `both` concordant pairs. */
function pairs(b: number, c: number, both: number): [boolean[], boolean[]] {
  const a: boolean[] = [];
  const bb: boolean[] = [];
  for (let i = 0; i < b; i++) (a.push(true), bb.push(false));
  for (let i = 0; i < c; i++) (a.push(false), bb.push(true));
  for (let i = 0; i < both; i++) (a.push(i % 2 === 0), bb.push(i % 2 === 0));
  return [a, bb];
}

test('mcnemar exact: b = 10, c = 2 gives p = 2·(1 + 12 + 66)/4096 = 0.0386', () => {
  const r = mcnemar(...pairs(10, 2, 30));
  assert.equal(r.method, 'exact');
  assert.deepEqual([r.b, r.c], [10, 2]);
  assert.ok(Math.abs(r.pValue - 158 / 4096) < 1e-12, String(r.pValue));
  assert.equal(Math.round(r.pValue * 10000) / 10000, 0.0386);
  // statistic (|10 − 2| − 1)² / 12 = 49/12
  assert.ok(Math.abs(r.statistic - 49 / 12) < 1e-12);
});

test('mcnemar chi2 with continuity correction: b = 25, c = 10 → (15 − 1)²/35 = 5.6, p = erfc(√2.8) = 0.01796', () => {
  const r = mcnemar(...pairs(25, 10, 5));
  assert.equal(r.method, 'chi2');
  assert.ok(Math.abs(r.statistic - 5.6) < 1e-12);
  // scipy.stats.chi2.sf(5.6, 1) = 0.0179604775260788
  assert.ok(Math.abs(r.pValue - 0.0179604775260788) < 1e-12, String(r.pValue));
});

test('mcnemar switches to chi2 at 25 discordant pairs and treats equal counts as no evidence', () => {
  assert.equal(mcnemarFromCounts(13, 12).method, 'chi2');
  assert.equal(mcnemarFromCounts(12, 12).method, 'exact');
  assert.deepEqual(mcnemarFromCounts(13, 13), { b: 13, c: 13, statistic: 0, pValue: 1, method: 'chi2' });
  assert.deepEqual(mcnemarFromCounts(5, 5), { b: 5, c: 5, statistic: 0, pValue: 1, method: 'exact' });
  // No discordant pairs at all: nothing to test.
  assert.deepEqual(mcnemar(...pairs(0, 0, 4)), { b: 0, c: 0, statistic: 0, pValue: 1, method: 'exact' });
  // b = 0, c = 6: exact p = 2·(1/2)^6 = 0.03125, symmetric in b and c.
  assert.equal(mcnemarFromCounts(0, 6).pValue, 0.03125);
  assert.equal(mcnemarFromCounts(6, 0).pValue, 0.03125);
  // exactBelow moves the switch: b=10, c=2 with exactBelow 0 → chi2 on 49/12, p = erfc(√(49/24)) = 0.04331
  const forced = mcnemar(...pairs(10, 2, 0), { exactBelow: 0 });
  assert.equal(forced.method, 'chi2');
  assert.ok(Math.abs(forced.pValue - 0.0433081428) < 1e-8, String(forced.pValue));
});

test('mcnemar exact stays accurate for large discordant counts when exactBelow is raised', () => {
  // scipy.stats.binomtest(40, 100).pvalue = 0.05688793364098089; binomtest(500, 1100).pvalue = 0.0028195449914364
  assert.ok(Math.abs(mcnemarFromCounts(60, 40, 2000).pValue - 0.05688793364098089) < 1e-13);
  const big = mcnemarFromCounts(600, 500, 2000); // n > 1000 takes the log-space path
  assert.equal(big.method, 'exact');
  assert.ok(Math.abs(big.pValue - 0.0028195449914364) / 0.0028195449914364 < 1e-9);
});

test('mcnemar rejects unpaired or non-boolean input', () => {
  assert.throws(() => mcnemar([true], [true, false]), /must be paired/);
  assert.throws(() => mcnemar([1 as unknown as boolean], [true]), /not a boolean/);
  assert.throws(() => mcnemarFromCounts(-1, 2), /b must be an integer ≥ 0/);
});

test('pairedBootstrapDiff: identical models give diff 0, a [0, 0] interval and p = 1', () => {
  const rng = createRng(3);
  const labels = Array.from({ length: 200 }, () => (rng.random() < 0.5 ? 1 : 0) as 0 | 1);
  const probs = labels.map(() => rng.random());
  const r = pairedBootstrapDiff(probs, probs.slice(), labels, { random: createRng(1).random, resamples: 300 });
  assert.deepEqual([r.diff, r.lo, r.hi, r.pValue, r.undefinedCount], [0, 0, 0, 1, 0]);
});

test('pairedBootstrapDiff: a clearly better B has a positive interval and a small p-value', () => {
  const rng = createRng(4);
  const labels = Array.from({ length: 400 }, () => (rng.random() < 0.5 ? 1 : 0) as 0 | 1);
  const a = labels.map((y) => (rng.random() < 0.6 ? (y ? 0.7 : 0.3) : y ? 0.3 : 0.7));
  const b = labels.map((y) => (rng.random() < 0.85 ? (y ? 0.7 : 0.3) : y ? 0.3 : 0.7));
  const r = pairedBootstrapDiff(a, b, labels, { random: createRng(2).random, resamples: 999 });
  assert.ok(Math.abs(r.diff! - (accuracy(b, labels) - accuracy(a, labels))) < 1e-12);
  assert.ok(r.diff! > 0.15 && r.lo! > 0 && r.hi! > r.diff!);
  // No resample comes near 0, so only the +1 remains: p = 1/1000.
  assert.equal(r.pValue, 1 / 1000);
  const swapped = pairedBootstrapDiff(b, a, labels, { random: createRng(2).random, resamples: 999 });
  assert.ok(Math.abs(swapped.diff! + r.diff!) < 1e-12);
  assert.ok(swapped.hi! < 0);
});

test('pairedBootstrapDiff: a small difference is not significant; pairing makes it tighter than the two CIs suggest', () => {
  const rng = createRng(5);
  const labels = Array.from({ length: 300 }, () => (rng.random() < 0.5 ? 1 : 0) as 0 | 1);
  const a: number[] = labels.map((y) => (rng.random() < 0.75 ? (y ? 0.8 : 0.2) : y ? 0.2 : 0.8));
  // B equals A except that it fixes 3 of A's mistakes.
  const b = a.slice();
  let fixed = 0;
  for (let i = 0; i < b.length && fixed < 3; i++) if ((a[i]! > 0.5 ? 1 : 0) !== labels[i]) (b[i] = 1 - a[i]!, fixed++);
  const r = pairedBootstrapDiff(a, b, labels, { random: createRng(6).random });
  assert.ok(Math.abs(r.diff! - 0.01) < 1e-12);
  // Differences can only be ≥ 0 (B is never worse on any example), and zero when no fixed example is drawn.
  assert.ok(r.lo! >= 0 && r.hi! <= 0.03);
  assert.ok(r.pValue! > 0.05, `p ${r.pValue}`);
});

test('pairedBootstrapDiff on AUROC and its input checks', () => {
  const labels: (0 | 1)[] = [0, 0, 1, 1, 0, 1];
  const r = pairedBootstrapDiff([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], [0.1, 0.2, 0.8, 0.9, 0.3, 0.7], labels, {
    random: createRng(1).random,
    resamples: 200,
    metric: 'auroc',
  });
  assert.equal(r.diff, 0.5); // 1 − 0.5
  assert.ok(r.undefinedCount > 0 && r.undefinedCount < 30, `undefinedCount ${r.undefinedCount}`);
  assert.throws(() => pairedBootstrapDiff([0.5], [0.5, 0.5], [1], { random: Math.random }), /probsB has 2 entries/);
});
