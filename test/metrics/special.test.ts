import { test } from 'node:test';
import assert from 'node:assert/strict';
import { betaInc, chiSquareSurvival, erfc, normalCdf, normalQuantile, studentTCdf, studentTQuantile } from '../../src/metrics/index.js';

const rel = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol * Math.abs(b), `${a} vs ${b}`);

test('erfc matches reference values across its range', () => {
  // Reference values from scipy.special.erfc.
  rel(erfc(0), 1);
  rel(erfc(0.1), 0.8875370839817152);
  rel(erfc(1), 0.15729920705028513);
  rel(erfc(3), 2.209049699858544e-5);
  rel(erfc(6), 2.151973671249892e-17, 1e-10);
  rel(erfc(-1), 1.8427007929497148);
});

test('chi-square survival: the 5% critical values and a 4-dof case', () => {
  rel(chiSquareSurvival(3.841458820694124, 1), 0.05, 1e-12);
  rel(chiSquareSurvival(5.991464547107979, 2), 0.05, 1e-12);
  rel(chiSquareSurvival(10, 4), 0.04042768199451279, 1e-12);
  assert.equal(chiSquareSurvival(0, 1), 1);
  assert.throws(() => chiSquareSurvival(1, 0), /dof must be positive/);
});

test('normal CDF and quantile invert each other', () => {
  rel(normalQuantile(0.975), 1.959963984540054, 1e-12);
  rel(normalQuantile(0.005), -2.5758293035489004, 1e-12);
  rel(normalCdf(1.959963984540054), 0.975, 1e-12);
  assert.throws(() => normalQuantile(1), /p must be in \(0, 1\)/);
});

test('Student t quantiles match the published table (two-sided 95 % and 99 %)', () => {
  // Critical values from any t table (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2), to 3 decimals.
  const table: [number, number, number][] = [[1, 12.706, 63.657], [2, 4.303, 9.925], [3, 3.182, 5.841], [4, 2.776, 4.604], [9, 2.262, 3.250], [30, 2.042, 2.750]];
  for (const [df, t975, t995] of table) {
    assert.ok(Math.abs(studentTQuantile(0.975, df) - t975) < 5e-4, `df ${df}: ${studentTQuantile(0.975, df)}`);
    assert.ok(Math.abs(studentTQuantile(0.995, df) - t995) < 5e-4, `df ${df}: ${studentTQuantile(0.995, df)}`);
  }
  assert.equal(studentTCdf(0, 7), 0.5);
  assert.ok(Math.abs(studentTQuantile(0.025, 4) + 2.776) < 5e-4, 'symmetric');
  // I_x(1, 1) = x and I_x(a, 1) = x^a.
  assert.ok(Math.abs(betaInc(0.3, 1, 1) - 0.3) < 1e-14);
  assert.ok(Math.abs(betaInc(0.3, 3, 1) - 0.027) < 1e-14);
});
