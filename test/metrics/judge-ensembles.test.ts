import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracy,
  accuracyBySize,
  aggregateJudges,
  applyStacker,
  costFrontier,
  errorCorrelation,
  fitStacker,
  meanSoftLabel,
  pairAgreement,
  positionBias,
  positionBiasCI,
  stackedCrossFit,
  type Label,
  type StackerModel,
} from '../../src/metrics/index.js';
import { createRng } from '../../src/rng.js';

const close = (got: number, want: number, tol = 1e-12, what = ''): void =>
  assert.ok(Math.abs(got - want) <= tol, `${what} ${got} vs ${want} (tol ${tol})`);

/** P(label = 1) of a confident judge that is right or wrong about label y. */
const confident = (y: Label, right: boolean): number => ((y === 1) === right ? 0.9 : 0.1);

/**
 * Three judges over 1000 examples, built from right/wrong patterns in exact counts. With `independent`, the 8
 * patterns come in the counts of three independent 70 % judges (0.7³·1000 = 343 all right, 0.7²·0.3·1000 = 147 per
 * one-wrong pattern, 0.7·0.3²·1000 = 63 per two-wrong pattern, 0.3³·1000 = 27 all wrong); otherwise all three share
 * one pattern (700 right, 300 wrong). Labels alternate so both classes occur.
 */
function threeJudges(independent: boolean): { members: number[][]; labels: Label[] } {
  const members: number[][] = [[], [], []];
  const labels: Label[] = [];
  const countFor = [343, 147, 63, 27]; // by number of judges wrong
  const patterns: boolean[][] = [];
  if (independent) {
    for (let bits = 0; bits < 8; bits++) {
      const wrong = [0, 1, 2].map((j) => ((bits >> j) & 1) === 1);
      const count = countFor[wrong.filter(Boolean).length]!;
      for (let c = 0; c < count; c++) patterns.push(wrong.map((w) => !w));
    }
  } else {
    for (let i = 0; i < 1000; i++) patterns.push(Array(3).fill(i < 700));
  }
  patterns.forEach((rights, i) => {
    const y: Label = i % 2 === 0 ? 1 : 0;
    labels.push(y);
    rights.forEach((r, j) => members[j]!.push(confident(y, r)));
  });
  return { members, labels };
}

test('three independent 70 % judges: each 0.7, majority vote exactly 0.784', () => {
  const { members, labels } = threeJudges(true);
  assert.equal(labels.length, 1000);
  for (const m of members) assert.equal(accuracy(m, labels), 0.7); // 343 + 2·147 + 63 = 700 right each
  // The vote is right when at least two judges are: 343 + 3·147 = 784.
  assert.equal(accuracy(aggregateJudges(members, 'vote'), labels), 0.784);
  // With symmetric confident probs (0.9 right / 0.1 wrong, mirrored by label), two right and one wrong give a mean
  // of (0.9 + 0.9 + 0.1)/3 ≈ 0.633 on the correct side, and logits (ln 9 + ln 9 − ln 9)/3 = ln 9/3 > 0 on the
  // correct side; one right gives the mirror image. So mean and logit-mean decide exactly like the vote.
  assert.equal(accuracy(aggregateJudges(members, 'mean'), labels), 0.784);
  assert.equal(accuracy(aggregateJudges(members, 'logit-mean'), labels), 0.784);
});

test('three perfectly correlated 70 % judges: the vote stays at 0.7', () => {
  const { members, labels } = threeJudges(false);
  for (const m of members) assert.equal(accuracy(m, labels), 0.7);
  assert.equal(accuracy(aggregateJudges(members, 'vote'), labels), 0.7);
  assert.equal(accuracy(aggregateJudges(members, 'mean'), labels), 0.7);
});

test('logit-mean by hand, and where it differs from the mean', () => {
  // logit 0.9 = ln 9, logit 0.5 = 0 → mean ln 9 / 2 = ln 3 → σ(ln 3) = 3/(3 + 1) = 0.75
  close(aggregateJudges([[0.9], [0.5]], 'logit-mean')[0]!, 0.75);
  // (0.99, 0.2): mean 0.595; logits ln 99 and ln(1/4) → mean ln(99/4)/2 → σ = √24.75 / (1 + √24.75) ≈ 0.8326
  const m = aggregateJudges([[0.99], [0.2]], 'mean')[0]!;
  const lm = aggregateJudges([[0.99], [0.2]], 'logit-mean')[0]!;
  close(m, 0.595);
  close(lm, Math.sqrt(24.75) / (1 + Math.sqrt(24.75)));
  // A parsed 0 and 1 are clipped to 1e-6 and 1 − 1e-6: their logits cancel exactly, so the result is 0.5, not NaN.
  close(aggregateJudges([[1], [0]], 'logit-mean')[0]!, 0.5);
  close(aggregateJudges([[1], [1]], 'logit-mean')[0]!, 1 - 1e-6, 1e-15);
  // vote is 0/1, and a 1–1 tie falls back to the mean (0.9 + 0.3)/2 = 0.6 → 1
  assert.deepEqual(aggregateJudges([[0.9, 0.2], [0.3, 0.4]], 'vote'), [1, 0]);
});

/** Independent gradient of Σ log P(yᵢ) − (l2/2)·‖w‖² at the model, from the test's own logits. */
function penalisedGradient(model: StackerModel, members: number[][], labels: Label[], l2: number): number[] {
  const lg = (p: number): number => {
    const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
    return Math.log(q / (1 - q));
  };
  const g = new Array<number>(members.length + 1).fill(0);
  labels.forEach((y, i) => {
    const xs = members.map((m) => lg(m[i]!));
    const eta = model.intercept + xs.reduce((s, x, j) => s + model.weights[j]! * x, 0);
    const r = y - 1 / (1 + Math.exp(-eta));
    g[0]! += r;
    xs.forEach((x, j) => (g[j + 1]! += r * x));
  });
  model.weights.forEach((w, j) => (g[j + 1]! -= l2 * w));
  return g;
}

test('stacking: a noise member gets weight ≈ 0, an informative one its Gaussian log-odds slope', () => {
  // Informative logit x ~ N(±1, 1) by label: with equal variances the true log-odds are (μ₁ − μ₀)/σ² · x = 2x, so
  // its weight should be ≈ 2 and the intercept ≈ 0; the noise member's logit is N(0, 1) regardless of the label.
  const rng = createRng(7);
  const n = 4000;
  const labels: Label[] = [];
  const informative: number[] = [];
  const noise: number[] = [];
  const sig = (z: number): number => 1 / (1 + Math.exp(-z));
  for (let i = 0; i < n; i++) {
    const y: Label = rng.random() < 0.5 ? 1 : 0;
    labels.push(y);
    informative.push(sig((y ? 1 : -1) + rng.normal()));
    noise.push(sig(rng.normal()));
  }
  const model = fitStacker([informative, noise], labels);
  // Standard errors here are roughly 0.05–0.1, so these bounds are several SEs wide.
  close(model.weights[0]!, 2, 0.3, 'informative weight');
  close(model.weights[1]!, 0, 0.2, 'noise weight');
  close(model.intercept, 0, 0.2, 'intercept');
  for (const g of penalisedGradient(model, [informative, noise], labels, 1)) close(g, 0, 1e-6, 'gradient');
});

test('stacking: an always-wrong member gets a negative weight and the stack beats the mean', () => {
  // A: 70 of 100 right (0.8 / 0.2); B: always wrong with 0.9 / 0.1. Mean by hand: label 1 gives (0.8 + 0.1)/2 =
  // 0.45 or (0.2 + 0.1)/2 = 0.15, label 0 gives 0.55 or 0.85 — every example wrong, accuracy 0. B's logit alone
  // separates the labels, so the stack (negative weight on B) gets all 100 right.
  const labels: Label[] = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 1 : 0));
  const a = labels.map((y, i) => (y === 1) === i < 70 ? 0.8 : 0.2);
  const b = labels.map((y) => (y === 1 ? 0.1 : 0.9));
  assert.equal(accuracy(a, labels), 0.7);
  assert.equal(accuracy(aggregateJudges([a, b], 'mean'), labels), 0);
  const model = fitStacker([a, b], labels);
  assert.ok(model.weights[1]! < 0, `weight on the always-wrong member is ${model.weights[1]}`);
  assert.ok(model.weights.every(Number.isFinite) && Number.isFinite(model.intercept));
  assert.equal(accuracy(applyStacker(model, [a, b]), labels), 1);
  for (const g of penalisedGradient(model, [a, b], labels, 1)) close(g, 0, 1e-6, 'gradient');
});

test('stacking one member on separable data: the finite weight solves the penalised score equation', () => {
  // Rows p = 0.9 (label 1) and p = 0.1 (label 0): logits ±a, a = ln 9. By symmetry the intercept is 0 and the
  // objective is 2·log σ(w·a) − (l2/2)·w², maximised where 2a·σ(−w·a) = l2·w. The left side falls and the right
  // rises in w, so bisection on [0, 2a/l2] finds the unique root independently of the code under test.
  const a = Math.log(9);
  const root = (l2: number): number => {
    let lo = 0;
    let hi = (2 * a) / l2;
    for (let k = 0; k < 200; k++) {
      const mid = (lo + hi) / 2;
      if ((2 * a) / (1 + Math.exp(mid * a)) - l2 * mid > 0) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  for (const l2 of [1, 0.01]) {
    const model = fitStacker([[0.9, 0.1]], [1, 0], { l2 });
    close(model.intercept, 0, 1e-9, `intercept at l2 = ${l2}`);
    close(model.weights[0]!, root(l2), 1e-8, `weight at l2 = ${l2}`);
  }
  // A weaker penalty lets the weight grow, but it stays finite.
  assert.ok(fitStacker([[0.9, 0.1]], [1, 0], { l2: 0.01 }).weights[0]! > fitStacker([[0.9, 0.1]], [1, 0]).weights[0]!);
});

/** 60 train rows: rows 0–29 in 10 groups of 3, rows 30–59 ungrouped; two members with some signal. */
function crossFitData(seed: number): { memberProbs: number[][]; labels: Label[]; groups: (string | null)[]; apply: number[][] } {
  const rng = createRng(seed);
  const labels: Label[] = [];
  const memberProbs: number[][] = [[], []];
  const sig = (z: number): number => 1 / (1 + Math.exp(-z));
  for (let i = 0; i < 60; i++) {
    const y: Label = rng.random() < 0.5 ? 1 : 0;
    labels.push(y);
    memberProbs[0]!.push(sig((y ? 1 : -1) + rng.normal()));
    memberProbs[1]!.push(sig(0.5 * (y ? 1 : -1) + rng.normal()));
  }
  const groups = labels.map((_, i) => (i < 30 ? `q${Math.floor(i / 3)}` : null));
  const apply = [[0.2, 0.7, 0.95], [0.6, 0.4, 0.5]];
  return { memberProbs, labels, groups, apply };
}

const column = (members: number[][], rows: number[]): number[][] => members.map((m) => rows.map((i) => m[i]!));

test('stackedCrossFit: out-of-fold probs come from a fit that never saw the row; groups stay whole', () => {
  const { memberProbs, labels, groups, apply } = crossFitData(3);
  const fit = stackedCrossFit({ memberProbs, labels, groups }, apply, { random: createRng(11).random });
  assert.equal(fit.foldModels.length, 5);
  assert.equal(fit.foldOf.length, 60);
  assert.ok(fit.foldOf.every((f) => Number.isInteger(f) && f >= 0 && f < 5));
  // A group never spans two folds.
  for (let g = 0; g < 10; g++) assert.equal(new Set([0, 1, 2].map((k) => fit.foldOf[3 * g + k])).size, 1, `group q${g}`);
  // Folds are balanced to within one unit (the largest unit has 3 rows).
  const sizes = [0, 1, 2, 3, 4].map((f) => fit.foldOf.filter((x) => x === f).length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 3, `fold sizes ${sizes}`);
  for (let f = 0; f < 5; f++) {
    const outside = labels.map((_, i) => i).filter((i) => fit.foldOf[i] !== f);
    const inside = labels.map((_, i) => i).filter((i) => fit.foldOf[i] === f);
    // Refit on the other folds' rows only: the fold model is that fit, so it never saw fold f.
    const refit = fitStacker(column(memberProbs, outside), outside.map((i) => labels[i]!));
    close(fit.foldModels[f]!.intercept, refit.intercept, 1e-10, `fold ${f} intercept`);
    fit.foldModels[f]!.weights.forEach((w, j) => close(w, refit.weights[j]!, 1e-10, `fold ${f} weight ${j}`));
    const p = applyStacker(fit.foldModels[f]!, column(memberProbs, inside));
    inside.forEach((i, k) => close(fit.train[i]!, p[k]!, 1e-12, `row ${i}`));
  }
  const all = fitStacker(memberProbs, labels);
  close(fit.model.intercept, all.intercept, 1e-10);
  fit.model.weights.forEach((w, j) => close(w, all.weights[j]!, 1e-10));
  applyStacker(all, apply).forEach((p, k) => close(fit.apply[k]!, p, 1e-10));
});

test('stackedCrossFit is deterministic per seed and shrinks the folds to the number of units', () => {
  const { memberProbs, labels, groups, apply } = crossFitData(3);
  const run = (seed: number) => stackedCrossFit({ memberProbs, labels, groups }, apply, { random: createRng(seed).random, folds: 4 });
  assert.deepEqual(run(5), run(5));
  assert.notDeepEqual(run(5).foldOf, run(6).foldOf);
  // Three groups and folds = 5: three folds, one group each.
  const three = labels.map((_, i) => `g${i % 3}`);
  const fit = stackedCrossFit({ memberProbs, labels, groups: three }, apply, { random: createRng(1).random });
  assert.equal(fit.foldModels.length, 3);
  assert.equal(new Set(fit.foldOf).size, 3);
  labels.forEach((_, i) => assert.equal(fit.foldOf[i], fit.foldOf[i % 3]));
  // Zero apply examples are allowed.
  assert.deepEqual(stackedCrossFit({ memberProbs, labels }, [[], []], { random: createRng(1).random }).apply, []);
  // One group: nothing to hold out.
  assert.throws(
    () => stackedCrossFit({ memberProbs, labels, groups: labels.map(() => 'same') }, apply, { random: Math.random }),
    /stackedCrossFit: .*at least 2/,
  );
});

test('positionBias: hand mean, always-first judge 1, unbiased judge 0.5', () => {
  close(positionBias([0.8, 0.6, 0.7]), 0.7);
  assert.equal(positionBias([1, 1, 1, 1]), 1);
  assert.equal(positionBias([1, 0, 1, 0]), 0.5);
  assert.equal(positionBias([0.5, 0.5]), 0.5);
});

test('positionBiasCI pools all presentations and resamples whole examples', () => {
  // Values 1, 1 | 0 | 1, 0, 1: the pooled mean is 4/6, not the mean of example means (1 + 0 + 2/3)/3.
  const r = positionBiasCI([[1, 1], [0], [1, 0, 1]], { random: createRng(2).random, resamples: 200 });
  close(r.value!, 4 / 6);
  assert.equal(r.resamples, 200);
  assert.ok(r.lo! >= 0 && r.hi! <= 1 && r.lo! <= r.hi!);
  // A judge that always picks the first option: every resample gives 1.
  const always = positionBiasCI([[1, 1], [1], [1, 1, 1]], { random: createRng(2).random, resamples: 50 });
  assert.deepEqual([always.value, always.lo, always.hi], [1, 1, 1]);
  // Clustered: two clusters of examples, each cluster pooled mean 1 or 0.
  const clustered = positionBiasCI([[1], [1], [0], [0]], { random: createRng(3).random, resamples: 100, groups: [0, 0, 1, 1] });
  assert.equal(clustered.value, 0.5);
  assert.throws(() => positionBiasCI([[0.5], []], { random: Math.random }), /positionBiasCI: pFirstByExample\[1\] must be a non-empty/);
});

test('errorCorrelation is phi of the 2×2 error table; pairAgreement counts matching decisions', () => {
  // Labels all 1, wrong = 0.2, right = 0.8. Error table: n11 = 3 both wrong, n10 = 1 only a wrong,
  // n01 = 2 only b wrong, n00 = 4 neither. phi = (3·4 − 1·2)/√((3+1)(2+4)(3+2)(1+4)) = 10/√600.
  const labels: Label[] = Array(10).fill(1);
  const a = [0.2, 0.2, 0.2, 0.2, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8];
  const b = [0.2, 0.2, 0.2, 0.8, 0.2, 0.2, 0.8, 0.8, 0.8, 0.8];
  close(errorCorrelation(a, b, labels)!, 10 / Math.sqrt(600));
  // Flipping labels and probs together leaves the errors unchanged.
  const flip = (v: number[]): number[] => v.map((p) => 1 - p);
  close(errorCorrelation(flip(a), flip(b), Array(10).fill(0))!, 10 / Math.sqrt(600));
  // Identical raters: phi 1. A never-wrong rater: undefined.
  close(errorCorrelation(a, a, labels)!, 1);
  assert.equal(errorCorrelation(Array(10).fill(0.9), b, labels), null);
  // Decisions agree on both-wrong and both-right rows: (3 + 4)/10.
  close(pairAgreement(a, b), 0.7);
  // 0.5 predicts 0, so it agrees with 0.4 and not with 0.51.
  assert.equal(pairAgreement([0.5, 0.5], [0.4, 0.51]), 0.5);
});

test('costFrontier keeps the undominated points and both copies of an exact tie', () => {
  const points = [
    { name: 'cheap', cost: 1, accuracy: 0.6 },
    { name: 'mid-a', cost: 2, accuracy: 0.7 },
    { name: 'mid-b', cost: 2, accuracy: 0.7 }, // exact tie with mid-a: both stay
    { name: 'worse', cost: 2.5, accuracy: 0.65 }, // costs more than mid-a and is less accurate
    { name: 'best', cost: 4, accuracy: 0.8 },
  ];
  assert.deepEqual([...costFrontier(points)].sort(), ['best', 'cheap', 'mid-a', 'mid-b']);
  // Same accuracy at a higher cost, or the same cost with lower accuracy, is dominated.
  const more = [...points, { name: 'pricey', cost: 5, accuracy: 0.8 }, { name: 'same-cost', cost: 4, accuracy: 0.75 }];
  assert.deepEqual([...costFrontier(more)].sort(), ['best', 'cheap', 'mid-a', 'mid-b']);
  assert.deepEqual([...costFrontier([{ name: 'free', cost: 0, accuracy: 0.5 }])], ['free']);
});

test('accuracyBySize with a custom combine equals "mean" when it is the mean', () => {
  const { members, labels } = threeJudges(true);
  const bySelf = accuracyBySize(members, labels, {
    random: Math.random,
    combine: (all, subset) => meanSoftLabel(subset.map((j) => all[j]!)),
  });
  assert.deepEqual(bySelf, accuracyBySize(members, labels, { random: Math.random }));
  // Size 3 by logit-mean is the 0.784 computed by hand above; size 1 is each judge's 0.7.
  const byLogit = accuracyBySize(members, labels, {
    random: Math.random,
    combine: (all, subset) => aggregateJudges(subset.map((j) => all[j]!), 'logit-mean'),
  });
  assert.equal(byLogit[0]!.accuracy, 0.7);
  assert.equal(byLogit[2]!.accuracy, 0.784);
  assert.throws(() => accuracyBySize(members, labels, { random: Math.random, combine: () => [0.5] }), /accuracyBySize: combine\(subset \[0\]\) has 1 entries/);
});

test('bad inputs throw a RangeError naming the function and argument', () => {
  const rx = (s: string): RegExp => new RegExp(s.replace(/[[\]()]/g, '\\$&'));
  const bad: [() => unknown, string][] = [
    [() => aggregateJudges([], 'mean'), 'aggregateJudges: memberProbs must be a non-empty'],
    [() => aggregateJudges([[0.1, 0.2], [0.3]], 'vote'), 'aggregateJudges: memberProbs[1] has 1 entries'],
    [() => aggregateJudges([[1.5]], 'logit-mean'), 'aggregateJudges: memberProbs[0][0] is 1.5; expected a probability'],
    [() => aggregateJudges([[NaN]], 'mean'), 'aggregateJudges: memberProbs[0][0] is NaN'],
    [() => aggregateJudges([[0.5]], 'median' as never), "aggregateJudges: how must be 'mean', 'vote' or 'logit-mean'"],
    [() => fitStacker([[0.2, 0.8]], [1]), 'fitStacker: members have 2 predictions but labels has 1'],
    [() => fitStacker([[0.2, 0.8]], [1, 1]), 'fitStacker: every label is 1'],
    [() => fitStacker([[0.2, 0.8]], [0, 1], { l2: 0 }), 'fitStacker: l2 must be a finite number > 0'],
    [() => fitStacker([[0.2, 0.8]], [0, 2 as Label]), 'fitStacker: labels[1] is 2'],
    [() => applyStacker({ intercept: 0, weights: [1, 2] }, [[0.5]]), 'applyStacker: the model has 2 weights but memberProbs has 1 members'],
    [() => applyStacker({ intercept: NaN, weights: [1] }, [[0.5]]), 'applyStacker: model.intercept is NaN'],
    [() => stackedCrossFit({ memberProbs: [[0.2, 0.8]], labels: [0, 1] }, [[0.5], [0.5]], { random: Math.random }), 'stackedCrossFit: apply must have one row per member (1)'],
    [() => stackedCrossFit({ memberProbs: [[0.2, 0.8]], labels: [0, 1], groups: ['a'] }, [[0.5]], { random: Math.random }), 'stackedCrossFit: train.groups has 1 entries but there are 2 train rows'],
    [() => stackedCrossFit({ memberProbs: [[0.2, 0.8]], labels: [0, 1] }, [[0.5]], { random: Math.random, folds: 1 }), 'stackedCrossFit: folds must be an integer ≥ 2'],
    [() => stackedCrossFit({ memberProbs: [[0.2, 0.8]], labels: [0, 1] }, [[0.5]], {} as never), 'stackedCrossFit: options.random must be a function'],
    [() => positionBias([]), 'positionBias: pFirst must be a non-empty array'],
    [() => positionBias([0.5, -0.1]), 'positionBias: pFirst[1] is -0.1; expected a probability'],
    [() => pairAgreement([0.5], [0.5, 0.5]), 'pairAgreement: b has 2 entries but a has 1'],
    [() => errorCorrelation([0.5], [NaN], [1]), 'errorCorrelation: b[0] is NaN'],
    [() => errorCorrelation([0.5, 0.5], [0.5], [1, 0]), 'errorCorrelation: b has 1 entries but labels has 2'],
    [() => costFrontier([{ name: 'x', cost: -1, accuracy: 0.5 }]), 'costFrontier: points[0] ("x") has cost -1'],
    [() => costFrontier([{ name: 'x', cost: 1, accuracy: NaN }]), 'costFrontier: points[0] ("x") has accuracy NaN'],
    [() => costFrontier([{ name: 'x', cost: 1, accuracy: 0.5 }, { name: 'x', cost: 2, accuracy: 0.6 }]), 'costFrontier: points[1] repeats the name "x"'],
    [() => costFrontier([]), 'costFrontier: points must be a non-empty array'],
  ];
  for (const [f, message] of bad) assert.throws(f, (e: unknown) => e instanceof RangeError && rx(message).test(e.message), message);
});
