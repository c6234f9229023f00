import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pgrCell, pctCI } from '../../src/report/results.js';

test('an undefined PGR reads "n/a" with its reason once, never "undefined"', () => {
  const cell = pgrCell({ value: null, lo: null, hi: null, note: 'the ceiling is not above the weak model', undefinedResamples: null, resamples: null });
  assert.equal(cell, 'n/a (the ceiling is not above the weak model)');
  assert.equal(pgrCell({ value: null, lo: null, hi: null, note: null, undefinedResamples: null, resamples: null }), 'n/a');
});

test('a PGR with resamples left out says how many, next to its interval', () => {
  const cell = pgrCell({ value: 0.5, lo: 0.25, hi: 0.75, note: null, undefinedResamples: 3, resamples: 200 });
  assert.equal(cell, '50.0 [25.0, 75.0] (3/200 resamples undefined)');
  assert.equal(pctCI({ value: 0.5, lo: null, hi: null }), '50.0');
});
