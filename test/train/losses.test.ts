import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeLoss, logconfCoef, quantileLinear } from '../../src/train/losses.js';
import type { LossName } from '../../src/train/types.js';

const close = (a: number, b: number, tol = 1e-9, what = ''): void =>
  assert.ok(Math.abs(a - b) <= tol, `${what} expected ${b}, got ${a}`);
const closeRows = (a: number[][], b: number[][], tol = 1e-9, what = ''): void => {
  assert.equal(a.length, b.length);
  a.forEach((row, i) => row.forEach((v, k) => close(v, b[i]![k]!, tol, `${what}[${i}][${k}]`)));
};
const ln = Math.log;
/** Logits [ln(p0/(1−p0)), 0] have softmax [p0, 1 − p0]. */
const logitsFor = (p0: number): number[] => [ln(p0 / (1 - p0)), 0];

test('xent: mean over the batch of −Σ y·log softmax, gradient (p − y)/n', () => {
  // Row 1: logits [0, 0] → p = [.5, .5]; y = [1, 0]: loss = −ln .5 = ln 2.
  // Row 2: logits [ln 3, 0] → p = [3/4, 1/4]; y = [.25, .75]: loss = −(.25·ln .75 + .75·ln .25).
  // Mean = (0.6931472 + 1.1116413)/2 = 0.9023942.
  // Gradients: ([.5,.5] − [1,0])/2 = [−.25, .25]; ([.75,.25] − [.25,.75])/2 = [.25, −.25].
  const r = computeLoss('xent', [[0, 0], [ln(3), 0]], [[1, 0], [0.25, 0.75]], { step: 0, totalSteps: 1 });
  close(r.loss, (ln(2) - (0.25 * ln(0.75) + 0.75 * ln(0.25))) / 2);
  close(r.loss, 0.9023942, 1e-7);
  closeRows(r.target, [[1, 0], [0.25, 0.75]]);
  closeRows(r.grad, [[-0.25, 0.25], [0.25, -0.25]]);
});

test('product: target ∝ p^β·y^α, normalised; loss is xent against it', () => {
  // Row 1: p = [.75, .25], y = [.5, .5] → p·y = [.375, .125] → target [.75, .25] = p, so the gradient is 0;
  //        loss = −(.75·ln .75 + .25·ln .25) = 0.5623351.
  // Row 2: p = [.5, .5], y = [.2, .8] → target = y; loss = ln 2; gradient ([.5,.5] − [.2,.8])/2 = [.15, −.15].
  const r = computeLoss('product', [[ln(3), 0], [0, 0]], [[0.5, 0.5], [0.2, 0.8]], { step: 3, totalSteps: 10 });
  closeRows(r.target, [[0.75, 0.25], [0.2, 0.8]]);
  close(r.loss, (-(0.75 * ln(0.75) + 0.25 * ln(0.25)) + ln(2)) / 2);
  close(r.loss, (0.5623351 + 0.6931472) / 2, 1e-7);
  closeRows(r.grad, [[0, 0], [0.15, -0.15]]);

  // β = 2, α = 1 on row 1: p² · y = [9/16·.5, 1/16·.5] → [.9, .1]; loss = −(.9·ln .75 + .1·ln .25) = 0.2589139 + 0.1386294 = 0.3975433;
  // gradient = p − target = [.75 − .9, .25 − .1] = [−.15, .15] (n = 1).
  const r2 = computeLoss('product', [[ln(3), 0]], [[0.5, 0.5]], { step: 0, totalSteps: 1, beta: 2, alpha: 1 });
  closeRows(r2.target, [[0.9, 0.1]]);
  close(r2.loss, 0.3975433, 1e-7);
  closeRows(r2.grad, [[-0.15, 0.15]]);
});

// A batch of 4 where the model and the weak labels disagree:
//   p0 = [.9, .6, .3, .2]; y = [[0,1], [1,0], [0,1], [1,0]] so mean(y[:,1]) = .5.
//   threshold = quantile(p0, .5): sorted [.2, .3, .6, .9], position .5·3 = 1.5 → .3 + .5·(.6 − .3) = .45.
//   hard(p): p0 >= .45 → class 0: rows 1, 2 → [1,0], [1,0]; rows 3, 4 → [0,1], [0,1].
const P0 = [0.9, 0.6, 0.3, 0.2];
const LOGITS = P0.map(logitsFor);
const Y = [[0, 1], [1, 0], [0, 1], [1, 0]];
const HARD = [[1, 0], [1, 0], [0, 1], [0, 1]];
const mix = (c: number): number[][] => Y.map((y, i) => [(1 - c) * y[0]! + c * HARD[i]![0]!, (1 - c) * y[1]! + c * HARD[i]![1]!]);
const xentTo = (t: number[][]): number =>
  t.reduce((s, ti, i) => s - ti[0]! * ln(P0[i]!) - ti[1]! * ln(1 - P0[i]!), 0) / t.length;

test('logconf (original step schedule): c = aux·(f > warmup ? 1 : f) — 0 → 0.05 at 10%, then 0.5', () => {
  // step 10 of 100 → f = .1, not > .1, so c = .5·.1 = .05.
  // targets: row1 .95·[0,1] + .05·[1,0] = [.05,.95]; row2 [1,0]; row3 [0,1]; row4 .95·[1,0] + .05·[0,1] = [.95,.05].
  // loss = (−(.05 ln .9 + .95 ln .1) − ln .6 − ln .7 − (.95 ln .2 + .05 ln .8)) / 4
  //      = (2.1927238 + 0.5108256 + 0.3566749 + 1.5401232) / 4 = 1.1500869.
  const r = computeLoss('logconf', LOGITS, Y, { step: 10, totalSteps: 100 });
  closeRows(r.target, [[0.05, 0.95], [1, 0], [0, 1], [0.95, 0.05]]);
  close(r.loss, 1.1500869, 1e-7);
  // step 11 → f = .11 > .1 → c = .5: targets [.5,.5], [1,0], [0,1], [.5,.5].
  const r11 = computeLoss('logconf', LOGITS, Y, { step: 11, totalSteps: 100 });
  closeRows(r11.target, [[0.5, 0.5], [1, 0], [0, 1], [0.5, 0.5]]);
  close(r11.loss, xentTo(mix(0.5)));
  // step 5 → c = .5·.05 = .025.
  closeRows(computeLoss('logconf', LOGITS, Y, { step: 5, totalSteps: 100 }).target, mix(0.025));
  // step 0 → c = 0: plain xent against the weak labels.
  const r0 = computeLoss('logconf', LOGITS, Y, { step: 0, totalSteps: 100 });
  closeRows(r0.target, Y);
  close(r0.loss, computeLoss('xent', LOGITS, Y, { step: 0, totalSteps: 100 }).loss);
});

test('logconf_linear: c ramps as aux·f/warmup to aux at the end of warm-up, then stays', () => {
  // step 5 of 100, warmup .1 → c = .5·(.05/.1) = .25: row1 .75·[0,1] + .25·[1,0] = [.25,.75]; row4 [.75,.25].
  const r = computeLoss('logconf_linear', LOGITS, Y, { step: 5, totalSteps: 100 });
  closeRows(r.target, [[0.25, 0.75], [1, 0], [0, 1], [0.75, 0.25]]);
  close(r.loss, xentTo(mix(0.25)));
  // step 10 → f = warmup → c = .5; step 60 → still .5.
  closeRows(computeLoss('logconf_linear', LOGITS, Y, { step: 10, totalSteps: 100 }).target, mix(0.5));
  closeRows(computeLoss('logconf_linear', LOGITS, Y, { step: 60, totalSteps: 100 }).target, mix(0.5));
  // Custom aux .8, warmup .5, step 1 of 4 → f = .25 → c = .8·.5 = .4.
  closeRows(
    computeLoss('logconf_linear', LOGITS, Y, { step: 1, totalSteps: 4, auxCoef: 0.8, warmupFrac: 0.5 }).target,
    mix(0.4),
  );
});

test('logconfCoef gives the documented values for both schedules', () => {
  assert.equal(logconfCoef('step', 0, 100, 0.5, 0.1), 0);
  close(logconfCoef('step', 10, 100, 0.5, 0.1), 0.05);
  assert.equal(logconfCoef('step', 11, 100, 0.5, 0.1), 0.5);
  close(logconfCoef('linear', 5, 100, 0.5, 0.1), 0.25);
  assert.equal(logconfCoef('linear', 10, 100, 0.5, 0.1), 0.5);
  assert.equal(logconfCoef('linear', 0, 100, 0.5, 0), 0.5); // no warm-up: full weight from the start
  assert.throws(() => logconfCoef('step', 0, 0, 0.5, 0.1), /totalSteps/);
});

test('logconf hardens to the weak labels’ class balance (quantile at mean of y[:,1])', () => {
  // 3 of 4 weak labels say class 1 → threshold = quantile(p0, .75) = .6 + .25·(.9 − .6) = .675,
  // so only p0 = .9 hardens to class 0 and 3 rows harden to class 1.
  const y = [[0, 1], [0, 1], [0, 1], [1, 0]];
  const r = computeLoss('logconf', LOGITS, y, { step: 99, totalSteps: 100, auxCoef: 1 });
  closeRows(r.target, [[1, 0], [0, 1], [0, 1], [0, 1]]);
  close(quantileLinear(P0, 0.75), 0.675);
});

test('logconf on an untrained head hardens every tied row to class 0, as the original', () => {
  const r = computeLoss('logconf', [[0, 0], [0, 0]], [[0, 1], [1, 0]], { step: 50, totalSteps: 100, auxCoef: 1 });
  closeRows(r.target, [[1, 0], [1, 0]]);
});

test('gradients match finite differences of the cross-entropy to the returned target', () => {
  const logits = [[0.3, -1.2], [2.0, 0.5], [-0.7, -0.1], [1.1, 1.4], [0, 3]];
  const y = [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [1, 0], [0.35, 0.65]];
  const h = 1e-6;
  for (const name of ['xent', 'product', 'logconf', 'logconf_linear'] as LossName[]) {
    const ctx = { step: 40, totalSteps: 100, beta: 1.5, alpha: 0.7 };
    const r = computeLoss(name, logits, y, ctx);
    for (let i = 0; i < logits.length; i++) {
      for (let k = 0; k < 2; k++) {
        const plus = logits.map((row) => row.slice());
        const minus = logits.map((row) => row.slice());
        plus[i]![k]! += h;
        minus[i]![k]! -= h;
        const fd =
          (computeLoss('xent', plus, r.target, ctx).loss - computeLoss('xent', minus, r.target, ctx).loss) / (2 * h);
        close(r.grad[i]![k]!, fd, 1e-7, `${name} grad`);
        if (name.startsWith('logconf')) {
          // The hardened part is piecewise constant, so away from the threshold the full loss has the same slope.
          const fdFull = (computeLoss(name, plus, y, ctx).loss - computeLoss(name, minus, y, ctx).loss) / (2 * h);
          close(r.grad[i]![k]!, fdFull, 1e-7, `${name} full-loss grad`);
        }
      }
    }
  }
});

test('bad batches are rejected with a message naming the problem', () => {
  const ctx = { step: 0, totalSteps: 1 };
  assert.throws(() => computeLoss('xent', [], [], ctx), /at least one row/);
  assert.throws(() => computeLoss('xent', [[0, 0]], [[1, 0], [0, 1]], ctx), /1 logit rows but 2/);
  assert.throws(() => computeLoss('xent', [[0, NaN]], [[1, 0]], ctx), /finite/);
  assert.throws(() => computeLoss('xent', [[0, 0]], [[1.5, -0.5]], ctx), /\[0, 1\]/);
  assert.throws(() => computeLoss('hinge' as LossName, [[0, 0]], [[1, 0]], ctx), /Unknown loss/);
});

test('extreme logits stay finite', () => {
  const r = computeLoss('xent', [[1000, -1000]], [[1, 0]], { step: 0, totalSteps: 1 });
  close(r.loss, 0);
  const r2 = computeLoss('product', [[800, -800]], [[0, 1]], { step: 0, totalSteps: 1 });
  assert.ok(Number.isFinite(r2.loss));
});
