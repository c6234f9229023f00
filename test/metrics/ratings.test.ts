import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitRatings, pairKey, ratingsCI, type Match } from '../../src/metrics/ratings.js';
import { createRng } from '../../src/rng.js';

const repeat = (m: Match, n: number): Match[] => Array.from({ length: n }, () => ({ ...m }));
const close = (a: number | null | undefined, b: number, tol: number, why: string): void => assert.ok(a != null && Math.abs(a - b) < tol, `${why}: ${a} vs ${b}`);

test('one model against itself: the correct-side minus incorrect-side rating is the log-odds of the win share (ties count half)', () => {
  // 6 wins, 2 ties, 2 losses: a win share of 7/10, so the closed form is log(7/3). A flat prior leaves the MLE.
  const matches = [...repeat({ correct: 'X', incorrect: 'X', outcome: 1 }, 6), ...repeat({ correct: 'X', incorrect: 'X', outcome: 0.5 }, 2), ...repeat({ correct: 'X', incorrect: 'X', outcome: 0 }, 2)];
  const r = fitRatings(matches, { priorSd: 1e4 });
  close(r.correct.get('X')! - r.incorrect.get('X')!, Math.log(7 / 3), 1e-6, 'log-odds of 7 in 10');
  close(r.overall.get('X'), 0, 1e-6, 'a symmetric prior centres the two ratings on 0');
});

test('two models, both sides, ties: the fit equals scikit-learn\'s L2 logistic regression (test/reference/bradley_terry_reference.py)', () => {
  const spec: [string, string, number, number][] = [['X', 'Y', 1, 7], ['X', 'Y', 0, 2], ['X', 'Y', 0.5, 1], ['Y', 'X', 1, 3], ['Y', 'X', 0, 5], ['X', 'X', 1, 4], ['X', 'X', 0, 2], ['Y', 'Y', 1, 2], ['Y', 'Y', 0, 3]];
  const matches = spec.flatMap(([correct, incorrect, outcome, n]) => repeat({ correct, incorrect, outcome }, n));
  // scikit-learn 1.x, lbfgs, tol 1e-12: coefficients X_correct, X_incorrect, Y_correct, Y_incorrect.
  const reference: [number, number[]][] = [[1, [0.62119632, 0.02036302, -0.41368473, -0.22787461]], [2, [0.73951334, 0.01650163, -0.51329948, -0.2427155]]];
  for (const [priorSd, [xc, xi, yc, yi]] of reference) {
    const r = fitRatings(matches, { priorSd });
    close(r.correct.get('X'), xc!, 1e-5, `X correct, prior sd ${priorSd}`);
    close(r.incorrect.get('X'), xi!, 1e-5, `X incorrect, prior sd ${priorSd}`);
    close(r.correct.get('Y'), yc!, 1e-5, `Y correct, prior sd ${priorSd}`);
    close(r.incorrect.get('Y'), yi!, 1e-5, `Y incorrect, prior sd ${priorSd}`);
  }
});

test('planted control: a debater that always wins is rated higher, and every resample says so', () => {
  const matches = [...repeat({ correct: 'strong', incorrect: 'weak', outcome: 1 }, 15), ...repeat({ correct: 'weak', incorrect: 'strong', outcome: 0 }, 15)];
  const r = ratingsCI(matches, { random: createRng(3).random, resamples: 300 });
  const d = r.differences.get(pairKey('strong', 'weak'))!;
  assert.ok(d.value! > 0 && d.lo! > 0, `difference ${d.value} [${d.lo}, ${d.hi}] excludes 0`);
  assert.deepEqual(r.matches.get('strong'), { correct: 15, incorrect: 15 }, 'matches counted by side');
});

test('a side a resample leaves without matches is undefined there, counted, never dropped silently', () => {
  // Y argues the correct side once in 21 matches: many resamples leave it out (P = (20/21)^21 ≈ 36%).
  const matches = [...repeat({ correct: 'X', incorrect: 'Y', outcome: 1 }, 20), { correct: 'Y', incorrect: 'X', outcome: 1 }];
  const r = ratingsCI(matches, { random: createRng(5).random, resamples: 400 });
  const u = r.correct.get('Y')!.undefinedCount;
  assert.ok(u > 80 && u < 220, `about 36% of 400 resamples leave Y's correct side out (got ${u})`);
  assert.equal(r.correct.get('X')!.undefinedCount, 0, 'X argues the correct side in every resample');
});

test('malformed matches are refused with one sentence', () => {
  assert.throws(() => fitRatings([{ correct: 'X', incorrect: 'Y', outcome: 2 }]), /outcome 2; use 1 .*, 0 .* or 0\.5/, 'an outcome that is not 1, 0 or 0.5');
  assert.throws(() => fitRatings([{ correct: '', incorrect: 'Y', outcome: 1 }]), /needs the names of both models/, 'a match without a model');
  assert.throws(() => ratingsCI([], { random: Math.random }), /no matches to rate/, 'nothing to fit');
});
