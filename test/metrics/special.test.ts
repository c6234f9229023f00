import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chiSquareSurvival, erfc, normalCdf, normalQuantile } from '../../src/metrics/index.js';

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
