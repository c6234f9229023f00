import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { createRng } from '../../src/rng.js';
import {
  headFromJSON,
  headToJSON,
  predictLogits,
  predictProba,
  trainLogistic,
  type TrainSet,
} from '../../src/train/logistic.js';

const close = (a: number, b: number, tol = 1e-12, what = ''): void =>
  assert.ok(Math.abs(a - b) <= tol, `${what} expected ${b}, got ${a}`);

/**
 * n rows, d features; label 1 iff w*·x > 0 for a planted w*, rows within a margin of the boundary resampled (so the
 * set is separable with room to spare), with an optional offset added to every feature.
 */
function planted(n: number, d: number, seed: number, offset = 0, margin = 0.5): TrainSet & { labels: number[] } {
  const rng = createRng(seed);
  const wStar = Array.from({ length: d }, () => rng.normal());
  const x = new Float32Array(n * d);
  const soft = new Float64Array(2 * n);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    let s = 0;
    do {
      s = 0;
      for (let j = 0; j < d; j++) {
        const v = rng.normal();
        x[i * d + j] = v + offset;
        s += wStar[j]! * v;
      }
    } while (Math.abs(s) < margin * Math.sqrt(d));
    const y = s > 0 ? 1 : 0;
    labels.push(y);
    soft[2 * i] = 1 - y;
    soft[2 * i + 1] = y;
  }
  return { x, n, d, soft, labels };
}

const accuracy = (p: Float64Array, labels: number[]): number =>
  labels.reduce((s, y, i) => s + ((p[i]! > 0.5 ? 1 : 0) === y ? 1 : 0), 0) / labels.length;

test('Adam and L-BFGS both separate a linearly separable set', async () => {
  const data = planted(300, 10, 1);
  const adam = await trainLogistic(data, { optimizer: 'adam', loss: 'xent', seed: 1, epochs: 30, lr: 0.05 });
  assert.equal(accuracy(predictProba(adam.head, data.x, data.n), data.labels), 1);
  const lb = await trainLogistic(data, { optimizer: 'lbfgs', loss: 'xent', seed: 1, lbfgsIterations: 200 });
  assert.equal(accuracy(predictProba(lb.head, data.x, data.n), data.labels), 1);
  // The loss falls over training.
  assert.ok(adam.lossCurve.at(-1)! < adam.lossCurve[0]!);
  assert.ok(adam.lossCurve[0]! < Math.log(2));
});

// Two examples, two features: x1 = [1, 0] with y = [0, 1]; x2 = [0, 2] with y = [1, 0].
// At zero init p = [.5, .5] for both, so dL/dz = (p − y)/2: row 1 [.25, −.25], row 2 [−.25, .25].
// dL/dW[k][j] = Σ_i dz_ik · x_ij: W0 = [.25·1, −.25·2] = [.25, −.5]; W1 = [−.25, .5].
const TINY: TrainSet = { x: Float32Array.from([1, 0, 0, 2]), n: 2, d: 2, soft: Float64Array.from([0, 1, 1, 0]) };
const G = [0.25, -0.5, -0.25, 0.5];

test('one Adam step from zero init matches the hand computation', async () => {
  // Adam step 1: m = .1·g, v = .001·g², m̂ = g, v̂ = g², Δ = −lr·g/(|g| + 1e-8) (lr .1; cosine at step 0 is the full lr).
  const fit = await trainLogistic(TINY, { optimizer: 'adam', loss: 'xent', seed: 0, epochs: 1, batchSize: 2, lr: 0.1 });
  assert.equal(fit.steps, 1);
  const expected = G.map((g) => (-0.1 * g) / (Math.abs(g) + 1e-8));
  expected.forEach((v, j) => close(fit.head.w[j]!, v, 1e-15, `w[${j}]`));
  assert.equal(fit.head.b, null);
  // Loss recorded for the epoch is the loss before the update: ln 2 for both rows.
  close(fit.lossCurve[0]!, Math.log(2), 1e-15);
  // Logits of x1 = [W0·x1, W1·x1] ≈ [−.1, .1].
  const z = predictLogits(fit.head, TINY.x, 2);
  close(z[0]!, expected[0]!, 1e-15);
  close(z[1]!, expected[2]!, 1e-15);
});

test('one L-BFGS iteration from zero init is a unit-length steepest-descent step', async () => {
  // First iteration: direction −g/‖g‖, ‖g‖ = √(.0625 + .25 + .0625 + .25) = √.625; step 1 passes Armijo since the
  // loss drops from ln 2 = .693 to (ln(1 + e^−.632) + ln(1 + e^−2.530))/2 ≈ .251 (below).
  const fit = await trainLogistic(TINY, { optimizer: 'lbfgs', loss: 'xent', seed: 0, lbfgsIterations: 1 });
  const norm = Math.sqrt(0.625);
  G.forEach((g, j) => close(fit.head.w[j]!, -g / norm, 1e-12, `w[${j}]`));
  // Row 1: z = [−.25, .25]/‖g‖ → loss ln(1 + e^(−.5/‖g‖)); row 2: z = [1, −1]/‖g‖ → ln(1 + e^(−2/‖g‖)).
  close(fit.lossCurve[0]!, (Math.log1p(Math.exp(-0.5 / norm)) + Math.log1p(Math.exp(-2 / norm))) / 2, 1e-12);
});

test('the same seed gives the same weights; another seed shuffles differently', async () => {
  const data = planted(200, 8, 2);
  const opts = { optimizer: 'adam' as const, loss: 'logconf' as const, epochs: 2, lr: 0.01, batchSize: 16 };
  const a = await trainLogistic(data, { ...opts, seed: 5 });
  const b = await trainLogistic(data, { ...opts, seed: 5 });
  const c = await trainLogistic(data, { ...opts, seed: 6 });
  assert.deepEqual(Array.from(a.head.w), Array.from(b.head.w));
  assert.deepEqual(a.lossCurve, b.lossCurve);
  assert.notDeepEqual(Array.from(a.head.w), Array.from(c.head.w));
});

test('a head survives a JSON round trip and predicts identically', async () => {
  const data = planted(120, 6, 3, 5);
  const fit = await trainLogistic(data, {
    optimizer: 'adam',
    loss: 'product',
    seed: 3,
    epochs: 3,
    lr: 0.02,
    bias: true,
    standardize: true,
    l2: 1e-3,
  });
  const json = JSON.parse(JSON.stringify(headToJSON(fit.head)));
  const back = headFromJSON(json);
  assert.deepEqual(Array.from(predictProba(back, data.x, data.n)), Array.from(predictProba(fit.head, data.x, data.n)));
  assert.ok(back.b && back.standardization);
  assert.throws(() => headFromJSON({ ...json, w: [[1], [2]] }), UserError);
});

test('standardisation stores training means and std and fixes badly scaled features', async () => {
  // Every feature is offset by +5: with standardisation the mean is removed and the set is still separated.
  const data = planted(300, 5, 4, 5);
  const fit = await trainLogistic(data, {
    optimizer: 'adam',
    loss: 'xent',
    seed: 4,
    epochs: 40,
    lr: 0.05,
    standardize: true,
  });
  const st = fit.head.standardization!;
  for (let j = 0; j < data.d; j++) {
    let m = 0;
    for (let i = 0; i < data.n; i++) m += data.x[i * data.d + j]!;
    close(st.mean[j]!, m / data.n, 1e-9, `mean[${j}]`);
    assert.ok(st.std[j]! > 0.7 && st.std[j]! < 1.3);
  }
  assert.ok(accuracy(predictProba(fit.head, data.x, data.n), data.labels) >= 0.98);
});

test('sample weights: weight 0 removes a row and weight 2 duplicates it (full-batch L-BFGS)', async () => {
  const base = planted(60, 4, 5);
  // Add 3 rows with flipped labels, weighted 0: the fit must equal the fit without them.
  const extra = 3;
  const x = new Float32Array((base.n + extra) * base.d);
  x.set(base.x);
  x.set(base.x.subarray(0, extra * base.d), base.n * base.d);
  const soft = new Float64Array(2 * (base.n + extra));
  soft.set(base.soft);
  for (let i = 0; i < extra; i++) {
    soft[2 * (base.n + i)] = base.soft[2 * i + 1]!;
    soft[2 * (base.n + i) + 1] = base.soft[2 * i]!;
  }
  const weight = new Float64Array(base.n + extra).fill(1);
  weight.fill(0, base.n);
  const opts = { optimizer: 'lbfgs' as const, loss: 'xent' as const, seed: 0, lbfgsIterations: 15, l2: 0.01 };
  const withZeros = await trainLogistic({ x, n: base.n + extra, d: base.d, soft, weight }, opts);
  const without = await trainLogistic(base, opts);
  withZeros.head.w.forEach((v, j) => close(v, without.head.w[j]!, 1e-9, `w[${j}]`));

  // Weight 2 on row 0 equals row 0 appearing twice.
  const w2 = new Float64Array(base.n).fill(1);
  w2[0] = 2;
  const weighted = await trainLogistic({ ...base, weight: w2 }, opts);
  const dupX = new Float32Array((base.n + 1) * base.d);
  dupX.set(base.x);
  dupX.set(base.x.subarray(0, base.d), base.n * base.d);
  const dupSoft = new Float64Array(2 * (base.n + 1));
  dupSoft.set(base.soft);
  dupSoft.set(base.soft.subarray(0, 2), 2 * base.n);
  const dup = await trainLogistic({ x: dupX, n: base.n + 1, d: base.d, soft: dupSoft }, opts);
  weighted.head.w.forEach((v, j) => close(v, dup.head.w[j]!, 1e-9, `w[${j}]`));
});

test('L-BFGS with a self-referential loss refreshes the target once per round', async () => {
  const data = planted(150, 6, 6);
  const fit = await trainLogistic(data, {
    optimizer: 'lbfgs',
    loss: 'logconf_linear',
    seed: 0,
    epochs: 3,
    lbfgsIterations: 20,
    l2: 1e-3,
  });
  assert.equal(fit.lossCurve.length, 3);
  assert.ok(accuracy(predictProba(fit.head, data.x, data.n), data.labels) > 0.95);
});

test('progress reaches the last step, and an abort stops training between batches', async () => {
  const data = planted(200, 5, 7);
  const seen: number[] = [];
  await trainLogistic(data, {
    optimizer: 'adam',
    loss: 'xent',
    seed: 0,
    epochs: 2,
    onProgress: (step, total) => {
      seen.push(step);
      assert.equal(total, 14); // 2 epochs × ceil(200/32)
    },
  });
  assert.equal(seen.at(-1), 14);

  const before = new AbortController();
  before.abort();
  await assert.rejects(
    trainLogistic(data, { optimizer: 'adam', loss: 'xent', seed: 0, signal: before.signal }),
    { name: 'AbortError' },
  );

  const during = new AbortController();
  let lastStep = 0;
  await assert.rejects(
    trainLogistic(data, {
      optimizer: 'adam',
      loss: 'xent',
      seed: 0,
      epochs: 5,
      signal: during.signal,
      onProgress: (step) => {
        lastStep = step;
        if (step === 3) during.abort();
      },
    }),
    { name: 'AbortError' },
  );
  assert.equal(lastStep, 3);

  const lb = new AbortController();
  await assert.rejects(
    trainLogistic(data, {
      optimizer: 'lbfgs',
      loss: 'xent',
      seed: 0,
      signal: lb.signal,
      onProgress: (step) => {
        if (step === 2) lb.abort();
      },
    }),
    { name: 'AbortError' },
  );
});

test('bad options and data are refused with a UserError naming the field', async () => {
  const data = planted(10, 3, 8);
  const base = { optimizer: 'adam' as const, loss: 'xent' as const, seed: 0 };
  await assert.rejects(trainLogistic(data, { ...base, lr: -1 }), /lr must be a positive number/);
  await assert.rejects(trainLogistic(data, { ...base, epochs: 0 }), /epochs must be a positive integer/);
  await assert.rejects(trainLogistic(data, { ...base, optimizer: 'sgd' as 'adam' }), /optimizer must be/);
  await assert.rejects(trainLogistic(data, { ...base, loss: 'hinge' as 'xent' }), /loss must be one of/);
  await assert.rejects(
    trainLogistic({ ...data, weight: new Float64Array(10) }, base),
    (e: unknown) => e instanceof UserError && /not all be zero/.test(e.message),
  );
  await assert.rejects(trainLogistic({ ...data, n: 0, x: new Float32Array(0), soft: new Float64Array(0) }, base), UserError);
});

/** n rows of d features, each row with a few non-zeros (some rows none), labelled by a planted sparse rule. */
function sparseSet(n: number, d: number, seed: number): TrainSet & { labels: number[] } {
  const rng = createRng(seed);
  const x = new Float32Array(n * d);
  const soft = new Float64Array(2 * n);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 17 === 0 ? 0 : 1 + rng.int(6);
    let s = 0;
    for (let t = 0; t < k; t++) {
      const j = rng.int(d);
      const v = 0.5 + rng.random();
      x[i * d + j] = v;
      s += (j % 2 === 0 ? 1 : -1) * v;
    }
    const y = s > 0 ? 1 : 0;
    labels.push(y);
    soft[2 * i] = 0.9 - 0.8 * y;
    soft[2 * i + 1] = 0.1 + 0.8 * y;
  }
  return { x, n, d, soft, labels };
}

test('sparse and dense feature layouts train and predict exactly the same numbers', async () => {
  const data = sparseSet(240, 96, 9);
  const runs = [
    { optimizer: 'lbfgs' as const, loss: 'xent' as const, seed: 0, l2: 1e-3, bias: true, lbfgsIterations: 40 },
    { optimizer: 'lbfgs' as const, loss: 'logconf' as const, seed: 0, epochs: 2, lbfgsIterations: 15 },
    { optimizer: 'adam' as const, loss: 'product' as const, seed: 3, epochs: 3, lr: 0.05, batchSize: 16, bias: true, l2: 1e-4 },
    { optimizer: 'adam' as const, loss: 'xent' as const, seed: 1, epochs: 2, lr: 0.05, standardize: true },
  ];
  for (const opts of runs) {
    const dense = await trainLogistic(data, { ...opts, layout: 'dense' });
    const sparse = await trainLogistic(data, { ...opts, layout: 'sparse' });
    const auto = await trainLogistic(data, opts);
    const what = `${opts.optimizer}/${opts.loss}`;
    assert.ok(dense.head.w.some((v) => v !== 0), `${what} learned nothing`);
    assert.deepEqual(Array.from(sparse.head.w), Array.from(dense.head.w), what);
    assert.deepEqual(Array.from(auto.head.w), Array.from(dense.head.w), what);
    assert.deepEqual(sparse.head.b && Array.from(sparse.head.b), dense.head.b && Array.from(dense.head.b), what);
    assert.deepEqual(sparse.lossCurve, dense.lossCurve, what);
    assert.equal(sparse.steps, dense.steps, what);
    const zd = predictLogits(dense.head, data.x, data.n, 'dense');
    assert.deepEqual(Array.from(predictLogits(dense.head, data.x, data.n, 'sparse')), Array.from(zd), what);
    assert.deepEqual(Array.from(predictLogits(dense.head, data.x, data.n)), Array.from(zd), what);
  }
  // The planted rule is learnable: the layouts agree on a head that works.
  const fit = await trainLogistic(data, { ...runs[0]!, layout: 'sparse' });
  assert.ok(accuracy(predictProba(fit.head, data.x, data.n, 'sparse'), data.labels) > 0.9);
});

test('lbfgsTolerance sets where L-BFGS stops; bad layout, tolerance and features are refused', async () => {
  const data = planted(200, 8, 10, 0, 0.1);
  const base = { optimizer: 'lbfgs' as const, loss: 'xent' as const, seed: 0, l2: 1e-2, lbfgsIterations: 200 };
  const loose = await trainLogistic(data, { ...base, lbfgsTolerance: 1e-2 });
  const strict = await trainLogistic(data, { ...base, lbfgsTolerance: 1e-8 });
  assert.ok(loose.steps < strict.steps, `loose ${loose.steps} vs strict ${strict.steps}`);
  assert.ok(strict.lossCurve[0]! <= loose.lossCurve[0]! + 1e-12);

  await assert.rejects(trainLogistic(data, { ...base, lbfgsTolerance: -1 }), /lbfgsTolerance must be a number >= 0/);
  await assert.rejects(trainLogistic(data, { ...base, layout: 'csc' as 'auto' }), /layout must be/);
  const bad = Float32Array.from(data.x);
  bad[5 * data.d + 2] = Infinity;
  await assert.rejects(trainLogistic({ ...data, x: bad }, base), /row 5 is not finite/);
});
