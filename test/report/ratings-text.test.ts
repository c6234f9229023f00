import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debaterTables, eloText } from '../../src/report/ratings.js';

test('eloText: whole Elo points, no "-0", a + on positives, n/a when missing', () => {
  assert.equal(eloText(-0.3), '0', 'a rating that rounds to 0 reads "0", not "-0"');
  assert.equal(eloText(0), '0', 'zero has no sign');
  assert.equal(eloText(12.6), '+13', 'positives carry a +');
  assert.equal(eloText(-12.6), '-13', 'negatives carry a -');
  assert.equal(eloText(null), 'n/a', 'null reads n/a');
  assert.equal(eloText(undefined), 'n/a', 'undefined reads n/a');
});

test('debaterTables: a self-play run (per-side ratings, no overall one) still has its ratings table', () => {
  const row = (name: string, value: number, lo: number, hi: number) => ({ subject: 'debater:solo', name, value, lo, hi, n: 10, note: null });
  const t = debaterTables([row('rating_correct', 60.4, 10, 110), row('rating_incorrect', -60.4, -110, -10)]);
  assert.deepEqual(t.ratings?.debaters.rows, [['solo', 'n/a', '+60 [+10, +110]', '-60 [-110, -10]']], 'the model with its per-side ratings, overall n/a');
  assert.deepEqual(t.ratings?.pairs.rows, [], 'no pairs with one model');
});
