import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newcombeDiff, unpairedBootstrapDiff } from '../../src/metrics/unpaired.js';
import { pairedBootstrapDiff } from '../../src/metrics/index.js';
import { createRng } from '../../src/rng.js';

const close = (actual: number | null, expected: number, tol: number, what: string): void =>
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);

test('newcombeDiff reproduces Newcombe (1998) Table II, method 10 (hybrid score), to 4 decimals', () => {
  // Published as p1 − p2 with 95% limits; newcombeDiff(A, B) is pB − pA, so the first proportion is B.
  const cases: [string, number, number, number, number, number, number][] = [
    ['56/70 − 48/80', 48, 80, 56, 70, 0.0524, 0.3339],
    ['9/10 − 3/10', 3, 10, 9, 10, 0.1705, 0.809],
    ['5/56 − 0/29', 0, 29, 5, 56, -0.0381, 0.1926],
    ['0/10 − 0/20', 0, 20, 0, 10, -0.1611, 0.2775],
    ['10/10 − 0/10', 0, 10, 10, 10, 0.6075, 1],
  ];
  for (const [name, sA, nA, sB, nB, lo, hi] of cases) {
    const r = newcombeDiff(sA, nA, sB, nB);
    close(r.diff, sB / nB - sA / nA, 1e-12, `${name} diff`);
    close(r.lo, lo, 5e-5, `${name} lo`);
    close(r.hi, hi, 5e-5, `${name} hi`);
  }
  assert.throws(() => newcombeDiff(1, 0, 1, 2), /nA/);
});

/** n hard predictions of which the first `right` match label 1 and the rest miss. */
function scored(n: number, right: number): { probs: number[]; labels: (0 | 1)[] } {
  return { probs: Array.from({ length: n }, (_, i) => (i < right ? 0.9 : 0.1)), labels: Array.from({ length: n }, () => 1 as const) };
}

test('unpairedBootstrapDiff: B − A with the normal-theory spread of two independent binomials', () => {
  // A: 280/400 = 0.7, B: 360/600 = 0.6. By hand: d = −0.1, SE = √(0.7·0.3/400 + 0.6·0.4/600) = √0.000925 = 0.030414,
  // so the 95% interval is close to −0.1 ± 1.96·0.030414 = [−0.1596, −0.0404].
  const a = scored(400, 280);
  const b = scored(600, 360);
  const r = unpairedBootstrapDiff(a.probs, a.labels, b.probs, b.labels, { random: createRng(1).random, resamples: 4000 });
  close(r.diff, -0.1, 1e-12, 'diff');
  close(r.lo, -0.1596, 0.006, 'lo');
  close(r.hi, -0.0404, 0.006, 'hi');
  assert.ok(r.pValue < 0.01, `p = ${r.pValue}`);
  // Reproducible from the stream.
  assert.deepEqual(unpairedBootstrapDiff(a.probs, a.labels, b.probs, b.labels, { random: createRng(1).random, resamples: 4000 }), r);
});

test('unpairedBootstrapDiff does not pair: one model against itself keeps both sides\' noise, where the paired bootstrap has none', () => {
  const a = scored(200, 120);
  const paired = pairedBootstrapDiff(a.probs, a.probs, a.labels, { random: createRng(2).random, resamples: 2000 });
  assert.deepEqual([paired.lo, paired.hi], [0, 0]);
  const r = unpairedBootstrapDiff(a.probs, a.labels, a.probs, a.labels, { random: createRng(2).random, resamples: 2000 });
  assert.equal(r.diff, 0);
  assert.equal(r.pValue, 1);
  // By hand: SE = √(2·0.6·0.4/200) = 0.04899, half-width 1.96·0.04899 = 0.0960.
  close(r.lo, -0.096, 0.01, 'lo');
  close(r.hi, 0.096, 0.01, 'hi');
});

test('unpairedBootstrapDiff resamples whole clusters: four copies of each example widen the interval to that of the clusters', () => {
  // 50 clusters of 4 identical examples, 30 clusters right: the evidence is 30/50, not 120/200.
  const probs = Array.from({ length: 200 }, (_, i) => (Math.floor(i / 4) < 30 ? 0.9 : 0.1));
  const labels = probs.map(() => 1 as const);
  const groups = probs.map((_, i) => Math.floor(i / 4));
  const r = unpairedBootstrapDiff(probs, labels, probs, labels, { random: createRng(3).random, resamples: 4000, groupsA: groups, groupsB: groups });
  // By hand: SE = √(2·0.6·0.4/50) = 0.09798, half-width 1.96·0.09798 = 0.1920.
  close(r.lo, -0.192, 0.02, 'lo');
  close(r.hi, 0.192, 0.02, 'hi');
});
