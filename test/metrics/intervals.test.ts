import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusteredProportion, tInterval, wilson, zForLevel } from '../../src/metrics/index.js';

const near = (a: number, b: number, tol = 1e-6): void => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

test('wilson interval for 8/10 at 95% (hand computation)', () => {
  // z = 1.959964, z²/n = 0.3841459; centre = (0.8 + 0.1920729) / 1.3841459 = 0.716741
  // half = z / 1.3841459 · √(0.8·0.2/10 + z²/400) = 1.416010 · √0.0256036 = 0.226578 → [0.490163, 0.943319]
  const w = wilson(8, 10);
  near(w.estimate, 0.8);
  near(w.lo, 0.4901625);
  near(w.hi, 0.9433178);
  assert.equal(w.level, 0.95);
});

test('wilson stays inside [0, 1] and reaches the edge at 0/n and n/n', () => {
  const zero = wilson(0, 20);
  assert.equal(zero.lo, 0);
  // hi = z²/n / (1 + z²/n) = 0.192073 / 1.192073 = 0.161125
  near(zero.hi, 0.1611251);
  const all = wilson(20, 20);
  assert.equal(all.hi, 1);
  near(all.lo, 1 - 0.1611251);
});

test('wilson narrows with n and widens with level', () => {
  const a = wilson(75, 100);
  const b = wilson(7500, 10000);
  assert.ok(b.hi - b.lo < (a.hi - a.lo) / 5);
  const c = wilson(75, 100, 0.99);
  assert.ok(c.hi - c.lo > a.hi - a.lo);
  near(zForLevel(0.99), 2.5758293, 1e-6);
});

test('wilson rejects impossible counts', () => {
  assert.throws(() => wilson(3, 0), /n must be an integer ≥ 1/);
  assert.throws(() => wilson(11, 10), /cannot exceed n/);
  assert.throws(() => wilson(2.5, 10), /successes must be an integer/);
  assert.throws(() => wilson(2, 10, 1), /level must be between 0 and 1/);
});

test('clusteredProportion: cluster-robust standard error by hand', () => {
  // Clusters (successes/trials) 2/3, 0/2, 3/3: p = 5/8; residuals a − p·n = 0.125, −1.25, 1.125; their squares sum
  // to 2.84375; se² = 3/2 · 2.84375 / 8² = 0.066650390625, se = 0.2581673694.
  const r = clusteredProportion([2, 0, 3], [3, 2, 3]);
  assert.equal(r.estimate, 0.625);
  assert.ok(Math.abs(r.se - 0.258167369404036) < 1e-12);
  assert.ok(Math.abs(r.lo - (0.625 - 1.959963984540054 * 0.258167369404036)) < 1e-9);
  assert.equal(r.hi, 1); // 1.131 clamped
  assert.deepEqual([r.n, r.clusters], [8, 3]);
});

test('clusteredProportion: one trial per cluster is close to the Wald interval; bad counts are refused', () => {
  // With single-trial clusters se² = G/(G−1) · p(1−p)/n: the Wald variance with a small-sample factor.
  const a = Array.from({ length: 100 }, (_, i) => (i < 30 ? 1 : 0));
  const r = clusteredProportion(a, a.map(() => 1));
  assert.ok(Math.abs(r.se - Math.sqrt((100 / 99) * 0.3 * 0.7 / 100)) < 1e-12);
  assert.throws(() => clusteredProportion([2], [1]), /successes ≤ trials/);
  assert.throws(() => clusteredProportion([0], [0]), /at least one trial/);
  assert.throws(() => clusteredProportion([1, 0], [1]), /one entry per cluster/);
});

test('tInterval: mean ± t·sd/√n by hand, no interval from one value', () => {
  // 0.80, 0.84, 0.86: mean 0.8333…, sd = √((0.0011111 + 0.0000444 + 0.0007111)/2) = 0.030551; t(0.975, 2) = 4.302653.
  const r = tInterval([0.8, 0.84, 0.86]);
  assert.ok(Math.abs(r.mean - 0.8333333333333334) < 1e-12);
  assert.ok(Math.abs(r.sd - 0.030550504633038926) < 1e-12);
  const half = 4.302652729749464 * 0.030550504633038926 / Math.sqrt(3);
  assert.ok(Math.abs(r.lo! - (r.mean - half)) < 1e-9 && Math.abs(r.hi! - (r.mean + half)) < 1e-9);
  const one = tInterval([0.7]);
  assert.deepEqual([one.mean, one.lo, one.hi], [0.7, null, null]);
  assert.throws(() => tInterval([]), /at least one value/);
  assert.throws(() => tInterval([0.5, Number.NaN]), /values\[1\]/);
});
