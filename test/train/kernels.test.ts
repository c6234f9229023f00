import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { createRng } from '../../src/rng.js';
import { assembleKernels, featureLogits, objectiveKernels, type ObjectiveKernels } from '../../src/train/kernels.js';
import { trainLogistic, xentObjective } from '../../src/train/logistic.js';
import { featureMatrix } from '../../src/train/sparse.js';

/** n×d features: standard normal, or (sparse) about 5% non-zero; soft targets, positive weights with some zeros. */
function randomSet(n: number, d: number, seed: number, sparse: boolean) {
  const rng = createRng(seed);
  const x = new Float32Array(n * d);
  for (let k = 0; k < x.length; k++) if (!sparse || rng.random() < 0.05) x[k] = rng.normal();
  const target = new Float64Array(2 * n);
  const weight = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = rng.random();
    target[2 * i] = 1 - p;
    target[2 * i + 1] = p;
    weight[i] = i % 11 === 5 ? 0 : 0.25 + rng.random();
  }
  const params = new Float64Array(2 * d + 2);
  for (let j = 0; j < params.length; j++) params[j] = 0.1 * rng.normal();
  return { x, n, d, target, weight, params, sw: weight.reduce((s, v) => s + v, 0) };
}
type RandomSet = ReturnType<typeof randomSet>;

/**
 * The objective written out plainly, independently of src/train: Σ_i w_i·(−Σ_k t_ik·log softmax(z_i)_k) / Σ_i w_i
 * + (l2/2)·‖W‖² and its gradient, one row and one column at a time.
 */
function reference(set: RandomSet, l2: number, bias: boolean): { f: number; g: Float64Array } {
  const { x, n, d, target, weight, params } = set;
  const g = new Float64Array(2 * d + (bias ? 2 : 0));
  let sw = 0;
  for (let i = 0; i < n; i++) sw += weight[i]!;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    if (weight[i] === 0) continue;
    const z = [bias ? params[2 * d]! : 0, bias ? params[2 * d + 1]! : 0];
    for (let k = 0; k < 2; k++) for (let j = 0; j < d; j++) z[k]! += params[k * d + j]! * x[i * d + j]!;
    const top = Math.max(z[0]!, z[1]!);
    const lse = top + Math.log(Math.exp(z[0]! - top) + Math.exp(z[1]! - top));
    const tsum = target[2 * i]! + target[2 * i + 1]!;
    for (let k = 0; k < 2; k++) {
      const t = target[2 * i + k]!;
      loss += (weight[i]! * -t * (z[k]! - lse)) / sw;
      const dz = (weight[i]! * (Math.exp(z[k]! - lse) * tsum - t)) / sw;
      for (let j = 0; j < d; j++) g[k * d + j]! += dz * x[i * d + j]!;
      if (bias) g[2 * d + k]! += dz;
    }
  }
  let reg = 0;
  for (let j = 0; j < 2 * d; j++) {
    reg += params[j]! * params[j]!;
    g[j]! += l2 * params[j]!;
  }
  return { f: loss + (l2 / 2) * reg, g };
}

type Which = 'wasm' | 'single' | 'js' | 'csr';

function kernelsFor(set: RandomSet, which: Which): ObjectiveKernels {
  const m = featureMatrix(set.x, set.n, set.d, which === 'csr' ? 'sparse' : 'dense');
  const k = objectiveKernels(m, set.weight, set.sw, which === 'js' ? 'js' : which === 'single' ? 'single' : 'auto');
  assert.equal(k.kind, which === 'single' ? 'wasm' : which, `asked for ${which} kernels, got ${k.kind}`);
  k.target.set(set.target);
  return k;
}

test('every kernel gives the loss and gradient of a plain reference implementation, dense and sparse', () => {
  // 701 rows make three parts of 236, 236 and 229 rows (the last ends on a partial group of four); d = 3001 makes
  // blocks of 84 rows, so a part spans three blocks. Up to 256 rows are one part. d odd and d = 1 exercise the odd
  // last column of the vectorised gradient.
  const cases = [
    { n: 701, d: 3001, sparse: false },
    { n: 37, d: 64, sparse: false },
    { n: 9, d: 1, sparse: false },
    { n: 1, d: 5, sparse: false },
    { n: 600, d: 300, sparse: true },
  ];
  for (const { n, d, sparse } of cases) {
    const set = randomSet(n, d, n * 7 + d, sparse);
    if (n === 1) set.weight[0] = 1;
    set.sw = set.weight.reduce((s, v) => s + v, 0);
    for (const [l2, bias] of [[1e-3, true], [0, false]] as const) {
      const ref = reference(set, l2, bias);
      const p = bias ? set.params : set.params.subarray(0, 2 * d);
      const scale = ref.g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const results: { which: string; f: number; g: Float64Array }[] = [];
      for (const which of sparse ? (['csr', 'wasm', 'js'] as const) : (['wasm', 'single', 'js'] as const)) {
        const kernels = kernelsFor(set, which);
        const obj = xentObjective(kernels, set.sw, l2, bias);
        const g = new Float64Array(p.length);
        const f = obj.evaluate(p, g);
        const what = `${which} n=${n} d=${d} l2=${l2} bias=${bias}`;
        assert.ok(Math.abs(f - ref.f) <= 1e-12 * Math.abs(ref.f), `${what}: loss ${f} vs reference ${ref.f}`);
        for (let j = 0; j < g.length; j++) {
          assert.ok(Math.abs(g[j]! - ref.g[j]!) <= 1e-12 * scale, `${what}: gradient[${j}] ${g[j]} vs reference ${ref.g[j]}`);
        }
        assert.ok(obj.lastPointIs(p), `${what}: the objective remembers the point it evaluated`);
        kernels.close();
        results.push({ which, f, g });
      }
      // And the kernels agree with each other exactly: the same sums in the same order.
      for (const r of results.slice(1)) {
        assert.equal(r.f, results[0]!.f, `${r.which} vs ${results[0]!.which} loss, n=${n} d=${d}`);
        assert.deepEqual(Array.from(r.g), Array.from(results[0]!.g), `${r.which} vs ${results[0]!.which} gradient, n=${n} d=${d}`);
      }
    }
  }
});

test('logits are bit for bit those of the plain row-by-row loop; closed kernels refuse work', () => {
  for (const [n, d] of [[23, 1031], [10, 2], [7, 3], [300, 70]] as const) {
    const set = randomSet(n, d, n + d, false);
    const w = set.params.subarray(0, 2 * d);
    const z = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      let z0 = 0.5;
      let z1 = -0.25;
      for (let j = 0; j < d; j++) {
        z0 += w[j]! * set.x[i * d + j]!;
        z1 += w[d + j]! * set.x[i * d + j]!;
      }
      z[2 * i] = z0;
      z[2 * i + 1] = z1;
    }
    for (const which of ['wasm', 'single', 'js'] as const) {
      const k = kernelsFor(set, which);
      k.logits(w, 0.5, -0.25);
      assert.deepEqual(Array.from(k.z), Array.from(z), `${which} logits n=${n} d=${d}`);
      k.evaluate(w, 0.5, -0.25, new Float64Array(2 * d));
      assert.deepEqual(Array.from(k.z), Array.from(z), `${which} logits after evaluate n=${n} d=${d}`);
      k.close();
      if (which !== 'js') assert.throws(() => k.logits(w, 0, 0), /after close/, `${which}: closed kernels refuse work`);
    }
  }
});

test('the helper thread takes parts of the work and changes no number', async () => {
  // 2,000 × 300 is above the size that wakes the helper; 2,000 rows are 8 parts.
  const set = randomSet(2000, 300, 11, false);
  const w = set.params.subarray(0, 600);
  const plain = kernelsFor(set, 'js');
  const gPlain = new Float64Array(600);
  const fPlain = plain.evaluate(w, 0.1, 0.2, gPlain);
  const k = kernelsFor(set, 'wasm');
  try {
    // The helper joins once its thread has started; give it up to 10 s of evaluations.
    const until = Date.now() + 10_000;
    let rounds = 0;
    do {
      const g = new Float64Array(600);
      const f = k.evaluate(w, 0.1, 0.2, g);
      assert.deepEqual(f, fPlain, `loss and bias sums, round ${rounds}`);
      assert.deepEqual(Array.from(g), Array.from(gPlain), `gradient, round ${rounds}`);
      rounds++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    } while (k.helperTasks() === 0 && Date.now() < until);
    if (availableParallelism() > 1) assert.ok(k.helperTasks() > 0, `the helper thread took no part in ${rounds} rounds`);
  } finally {
    k.close();
  }
});

test('the assembled WebAssembly module validates for every shape of d', () => {
  for (const d of [1, 2, 3, 4, 5, 127, 1024, 3584, 4097]) {
    assert.ok(WebAssembly.validate(assembleKernels(d)), `module for d=${d} does not validate`);
  }
});

test('L-BFGS on dense features fits the same head with every kernel', async () => {
  const set = randomSet(1000, 300, 3, false);
  const data = { x: set.x, n: set.n, d: set.d, soft: set.target, weight: set.weight };
  const opts = { optimizer: 'lbfgs' as const, loss: 'xent' as const, seed: 0, l2: 1e-3, bias: true, lbfgsIterations: 50 };
  const wasm = await trainLogistic(data, opts);
  assert.ok(wasm.steps > 3, `L-BFGS took ${wasm.steps} steps`);
  for (const kernels of ['single', 'js'] as const) {
    const other = await trainLogistic(data, { ...opts, kernels });
    assert.deepEqual(Array.from(other.head.w), Array.from(wasm.head.w), `${kernels} weights`);
    assert.deepEqual(Array.from(other.head.b!), Array.from(wasm.head.b!), `${kernels} biases`);
    assert.deepEqual(other.lossCurve, wasm.lossCurve, `${kernels} loss curve`);
    assert.equal(other.evaluations, wasm.evaluations, `${kernels} evaluations`);
  }
  await assert.rejects(
    trainLogistic({ x: set.x, n: set.n, d: set.d, soft: set.target }, { ...opts, kernels: 'gpu' as 'js' }),
    /kernels must be "auto", "single" or "js"/,
    'an unknown kernels option is refused',
  );
});

test('featureLogits: the logits of the JavaScript kernels, bit for bit, dense and sparse', () => {
  for (const sparse of [false, true]) {
    const set = randomSet(37, 9, sparse ? 8 : 7, sparse);
    const m = featureMatrix(set.x, set.n, set.d, sparse ? 'sparse' : 'dense');
    const w = set.params.subarray(0, 2 * set.d);
    const k = objectiveKernels(m, null, set.n, 'js');
    k.logits(w, 0.3, -0.2);
    const z = featureLogits(m, w, 0.3, -0.2);
    assert.deepEqual(Array.from(z), Array.from(k.z), `${sparse ? 'sparse' : 'dense'}: the same logits`);
    // One row by hand: b + Σ_j w_j·x_ij.
    let z0 = 0.3;
    let z1 = -0.2;
    for (let j = 0; j < set.d; j++) {
      z0 += w[j]! * set.x[5 * set.d + j]!;
      z1 += w[set.d + j]! * set.x[5 * set.d + j]!;
    }
    assert.ok(Math.abs(z[10]! - z0) < 1e-12 && Math.abs(z[11]! - z1) < 1e-12, `${sparse ? 'sparse' : 'dense'}: row 5 is b + w·x`);
  }
});
