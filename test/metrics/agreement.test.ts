import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cohenKappa, fleissKappa, fleissKappaFromCounts } from '../../src/metrics/index.js';

const near = (a: number | null, b: number, tol = 1e-9): void => assert.ok(a !== null && Math.abs(a - b) < tol, `${a} vs ${b}`);

/** Two raters' ratings built from a 2×2 table [[yes,yes],[yes,no],[no,yes],[no,no]] counts. */
function fromTable(yy: number, yn: number, ny: number, nn: number): [number[], number[]] {
  const a: number[] = [];
  const b: number[] = [];
  const add = (k: number, x: number, y: number): void => {
    for (let i = 0; i < k; i++) (a.push(x), b.push(y));
  };
  add(yy, 1, 1);
  add(yn, 1, 0);
  add(ny, 0, 1);
  add(nn, 0, 0);
  return [a, b];
}

test("Cohen's kappa on the textbook 50-application table is 0.4", () => {
  // Both yes 20, A yes/B no 5, A no/B yes 10, both no 15 (N = 50).
  // pₒ = (20 + 15)/50 = 0.7; A says yes 25/50, B 30/50 → pₑ = 0.5·0.6 + 0.5·0.4 = 0.5; κ = (0.7 − 0.5)/0.5 = 0.4
  const [a, b] = fromTable(20, 5, 10, 15);
  near(cohenKappa(a, b), 0.4);
});

test("Cohen's kappa: perfect agreement is 1, systematic disagreement negative, constant raters undefined", () => {
  assert.equal(cohenKappa([0, 1, 1, 0], [0, 1, 1, 0]), 1);
  // pₒ = 0, pₑ = 0.5 → κ = −1
  assert.equal(cohenKappa([0, 1, 0, 1], [1, 0, 1, 0]), -1);
  // Both raters say 1 on every item: pₑ = 1, κ = 0/0 → null.
  assert.equal(cohenKappa([1, 1, 1], [1, 1, 1]), null);
  // Three categories: agree on items 1, 3, 5 → pₒ = 3/6; both marginals (2,2,2)/6 → pₑ = 3·(1/3)² = 1/3;
  // κ = (1/2 − 1/3) / (2/3) = 0.25
  near(cohenKappa([0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 0]), 0.25);
});

test("Cohen's kappa rejects unpaired or non-category input", () => {
  assert.throws(() => cohenKappa([0, 1], [0]), /must rate the same items/);
  assert.throws(() => cohenKappa([], []), /at least one item/);
  assert.throws(() => cohenKappa([0.5], [1]), /non-negative integers/);
});

test("Fleiss' kappa on the classic 10 items × 14 raters × 5 categories example is 0.210", () => {
  // Column totals 20, 28, 39, 21, 32 of 140 → pⱼ = .143 .200 .279 .150 .229, P̄ₑ = Σ pⱼ² = 0.2128.
  // Row agreements Pᵢ = 1.000 .253 .308 .440 .330 .462 .242 .176 .286 .286 → P̄ = 0.378.
  // κ = (0.378 − 0.2128) / (1 − 0.2128) = 0.210
  const counts = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
  ];
  const k = fleissKappaFromCounts(counts)!;
  assert.equal(Math.round(k * 1000) / 1000, 0.21);
  near(k, 0.20993, 1e-5);
});

test("Fleiss' kappa from binary ratings (hand computation) and its degenerate case", () => {
  // 4 items × 3 raters: Pᵢ = 1, 1/3, 1, 1/3 → P̄ = 2/3; six 1s of 12 → P̄ₑ = 0.5² + 0.5² = 0.5; κ = (2/3 − 1/2)/(1/2) = 1/3
  const ratings = [
    [1, 1, 1],
    [1, 1, 0],
    [0, 0, 0],
    [1, 0, 0],
  ];
  near(fleissKappa(ratings), 1 / 3);
  // Two raters: Fleiss's chance term uses pooled marginals, so it equals Scott's pi: here pₒ = 0.5, pooled p = 0.5 → 0.
  near(fleissKappa([[0, 0], [1, 1], [0, 1], [1, 0]]), 0);
  assert.equal(fleissKappa([[1, 1], [1, 1]]), null);
  assert.equal(fleissKappa([[1, 1], [1, 1]], 3), null);
});

test("Fleiss' kappa needs the same number (≥ 2) of raters per item", () => {
  assert.throws(() => fleissKappa([[1, 0], [1]]), /same number/);
  assert.throws(() => fleissKappa([[1], [0]]), /at least 2 ratings/);
  assert.throws(() => fleissKappa([[0, 3]], 2), /categories is 2/);
  assert.throws(() => fleissKappa([]), /non-empty/);
  assert.throws(() => fleissKappaFromCounts([[1, 1], [2]]), /must have 2 category counts/);
});
