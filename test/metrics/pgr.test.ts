import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pgr } from '../../src/metrics/index.js';

const round1 = (x: number | null): number => Math.round(x! * 1000) / 10;

test('pgr reproduces the debate-ensemble row of the paper (Lang et al. 2025, Table 2)', () => {
  // SciQ: (92.6 − 90.0) / (93.4 − 90.0) = 2.6 / 3.4 = 0.76470… → 76.5
  assert.equal(round1(pgr(90.0, 92.6, 93.4)), 76.5);
  assert.ok(Math.abs(pgr(90.0, 92.6, 93.4)! - 2.6 / 3.4) < 1e-12);
  // BoolQ: (88.7 − 86.0) / (89.9 − 86.0) = 2.7 / 3.9 = 0.6923… → 69.2
  assert.equal(round1(pgr(86.0, 88.7, 89.9)), 69.2);
  // CosmosQA: 1.3 / 2.3 = 0.5652 → 56.5; AnthropicHH: 1.4 / 2.0 = 0.70 → 70.0
  assert.equal(round1(pgr(87.5, 88.8, 89.8)), 56.5);
  assert.equal(round1(pgr(48.8, 50.2, 50.8)), 70.0);
});

test('pgr is the same on the fraction and percent scales and can leave [0, 1]', () => {
  assert.ok(Math.abs(pgr(0.9, 0.926, 0.934)! - pgr(90, 92.6, 93.4)!) < 1e-9);
  // (0.25 − 0.5) / (0.75 − 0.5) = −1 and (1 − 0.5) / 0.25 = 2, exact in binary floating point
  assert.equal(pgr(0.5, 0.25, 0.75), -1);
  assert.equal(pgr(0.5, 1, 0.75), 2);
  assert.equal(pgr(0.8, 0.8, 0.9), 0);
});

test('pgr is null (undefined) when the ceiling does not beat the weak model', () => {
  assert.equal(pgr(0.9, 0.95, 0.9), null);
  assert.equal(pgr(0.9, 0.95, 0.85), null);
});

test('pgr rejects non-finite inputs', () => {
  assert.throws(() => pgr(NaN, 0.5, 0.6), /weak must be a finite number/);
  assert.throws(() => pgr(0.5, 0.5, Infinity), /ceiling must be a finite number/);
});
