/**
 * A linear head from d features to 2 logits (z = W·x [+ b]), zero-initialised with no bias by default, as the head of
 * openai/weak-to-strong. Trained on soft labels with any loss of ./losses.ts, sample weights, optional L2 and optional
 * feature standardisation, by Adam (seeded mini-batches, cosine schedule) or full-batch L-BFGS.
 *
 * Objective: Σ_i w_i·ℓ_i / Σ_i w_i + (l2/2)·‖W‖² (the bias is not penalised), where ℓ_i is the loss of row i against
 * its target. With all weights 1 and l2 = 0 this is exactly computeLoss's batch mean.
 *
 * Features are one row-major Float32Array (n×d); parameters are Float64Array. Loops are written flat for speed. Mostly
 * zero features (hashed n-grams) are read through a CSR copy (./sparse.ts): same sums, a fraction of the work.
 */
import { UserError } from '../errors.js';
import { createRng, deriveSeed } from '../rng.js';
import { computeLoss, LOSS_NAMES, type LossContext } from './losses.js';
import { adamStep, cosineLr, createAdam, lbfgs } from './optim.js';
import { featureLogits, objectiveKernels, type KernelPreference, type ObjectiveKernels } from './kernels.js';
import { addRowGrad, featureMatrix, rowLogits, type FeatureLayout, type FeatureMatrix } from './sparse.js';

export type { FeatureLayout } from './sparse.js';
import type { LossName } from './types.js';

export interface TrainSet {
  /** Row-major n×d features. */
  x: Float32Array;
  n: number;
  d: number;
  /** Row-major n×2 soft labels [P(0), P(1)]. */
  soft: Float64Array;
  /** Optional non-negative sample weights (n). */
  weight?: Float64Array;
}

export interface LogisticOptions {
  optimizer: 'adam' | 'lbfgs';
  loss: LossName;
  seed: number;
  /** Adam: passes over the data. L-BFGS: rounds of target refresh for non-xent losses (see lbfgsIterations). */
  epochs?: number;
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  /** Adam mini-batch size (default 32, as the recipe). */
  batchSize?: number;
  /** Adam learning-rate schedule (default 'cosine': annealed to 0 over all steps, as the recipe). */
  schedule?: 'cosine' | 'constant';
  /** Coefficient of (1/2)·‖W‖² (default 0). */
  l2?: number;
  /** Learn a bias per logit (default false: the recipe's head has none). */
  bias?: boolean;
  /** Standardise features with the training set's mean and std, stored with the head (default false). */
  standardize?: boolean;
  /** L-BFGS iterations per round (default 100). */
  lbfgsIterations?: number;
  /** L-BFGS stops once max |gradient| of the objective falls below this (default 1e-4, scikit-learn's `tol` for its
   *  lbfgs solver on the same mean-loss scale; a probe's predictions stop moving well before 1e-6). */
  lbfgsTolerance?: number;
  /** How features are read (default 'auto': through CSR when under 10% non-zero). Results are the same either way;
   *  'dense' and 'sparse' force a reader. */
  layout?: FeatureLayout;
  /** How L-BFGS computes over dense features (default 'auto': WebAssembly SIMD with helper threads where available,
   *  else JavaScript); 'single' keeps to the calling thread, 'js' forces JavaScript. The numbers are the same bit for
   *  bit every way (./kernels.ts). */
  kernels?: KernelPreference;
  /** Loss parameters passed to computeLoss (auxCoef, warmupFrac, alpha, beta). */
  lossParams?: Pick<LossContext, 'auxCoef' | 'warmupFrac' | 'alpha' | 'beta'>;
  signal?: AbortSignal;
  /** Reported about 100 times over a run, and at the last step. */
  onProgress?: (step: number, totalSteps: number, loss: number) => void;
}

export interface Standardization {
  mean: Float64Array;
  std: Float64Array;
}

export interface LogisticHead {
  d: number;
  /** Row-major 2×d: row k maps features to logit k. */
  w: Float64Array;
  /** [b0, b1], or null without bias. */
  b: Float64Array | null;
  standardization: Standardization | null;
}

export interface LogisticFit {
  head: LogisticHead;
  /** Adam: the weighted mean training loss over each epoch (measured before each batch's update).
   *  L-BFGS: the weighted mean loss (without the L2 term) at the end of each round. */
  lossCurve: number[];
  /** Adam steps or L-BFGS iterations taken. */
  steps: number;
  /** L-BFGS only: full-batch objective evaluations (line-search trials included), i.e. passes over the data. */
  evaluations?: number;
}

/** The JSON form of a head (numbers are float64 and round-trip exactly through JSON). */
export interface LogisticHeadJSON {
  d: number;
  w: [number[], number[]];
  b: [number, number] | null;
  standardization: { mean: number[]; std: number[] } | null;
}

export async function trainLogistic(data: TrainSet, opts: LogisticOptions): Promise<LogisticFit> {
  checkData(data);
  const o = resolveOptions(opts);
  const { n, d } = data;
  const standardization = o.standardize ? computeStandardization(data.x, n, d) : null;
  // Standardised features are dense (centering fills the zeros), so 'auto' keeps them dense.
  const x = featureMatrix(
    standardization ? applyStandardization(data.x, n, d, standardization) : data.x,
    n,
    d,
    o.layout,
  );
  const weight = data.weight ?? new Float64Array(n).fill(1);
  const nParams = 2 * d + (o.bias ? 2 : 0);
  const params = new Float64Array(nParams); // zero init
  const fit =
    o.optimizer === 'adam'
      ? await trainAdam(x, data.soft, weight, params, o)
      : await trainLbfgs(x, data.soft, weight, params, o);
  return {
    head: {
      d,
      w: params.slice(0, 2 * d),
      b: o.bias ? params.slice(2 * d, 2 * d + 2) : null,
      standardization,
    },
    ...fit,
  };
}

type Resolved = Required<Omit<LogisticOptions, 'signal' | 'onProgress' | 'lossParams'>> &
  Pick<LogisticOptions, 'signal' | 'onProgress' | 'lossParams'>;

function resolveOptions(opts: LogisticOptions): Resolved {
  const o: Resolved = {
    optimizer: opts.optimizer,
    loss: opts.loss,
    seed: opts.seed,
    epochs: opts.epochs ?? 2,
    lr: opts.lr ?? 1e-3,
    batchSize: opts.batchSize ?? 32,
    schedule: opts.schedule ?? 'cosine',
    l2: opts.l2 ?? 0,
    bias: opts.bias ?? false,
    standardize: opts.standardize ?? false,
    lbfgsIterations: opts.lbfgsIterations ?? 100,
    lbfgsTolerance: opts.lbfgsTolerance ?? 1e-4,
    layout: opts.layout ?? 'auto',
    kernels: opts.kernels ?? 'auto',
    lossParams: opts.lossParams,
    signal: opts.signal,
    onProgress: opts.onProgress,
  };
  if (!LOSS_NAMES.includes(o.loss)) {
    throw new UserError(`The training loss must be one of ${LOSS_NAMES.join(', ')}, got "${String(o.loss)}".`);
  }
  if (!Number.isInteger(o.seed)) throw new UserError(`The training seed must be an integer, got ${o.seed}.`);
  checkHyperparams(o);
  if (o.layout !== 'auto' && o.layout !== 'dense' && o.layout !== 'sparse') {
    throw new UserError(`The probe layout must be "auto", "dense" or "sparse", got "${String(o.layout)}".`);
  }
  if (o.kernels !== 'auto' && o.kernels !== 'single' && o.kernels !== 'js') {
    throw new UserError(`The probe kernels must be "auto", "single" or "js", got "${String(o.kernels)}".`);
  }
  return o;
}

/** The optimiser and head settings of a fit, as resolveOptions fills them in. */
export type LogisticHyperparams = Omit<Resolved, 'loss' | 'seed' | 'layout' | 'kernels' | 'lossParams' | 'signal' | 'onProgress'>;

/** Throws a UserError naming the first bad hyperparameter. Exported so the probe can refuse a typo before featurizing. */
export function checkHyperparams(o: LogisticHyperparams): void {
  if (o.optimizer !== 'adam' && o.optimizer !== 'lbfgs') {
    throw new UserError(`The probe optimizer must be "adam" or "lbfgs", got "${String(o.optimizer)}".`);
  }
  if (o.schedule !== 'cosine' && o.schedule !== 'constant') {
    throw new UserError(`The probe schedule must be "cosine" or "constant", got "${String(o.schedule)}".`);
  }
  if (typeof o.bias !== 'boolean') throw new UserError(`The probe bias must be true or false, got ${String(o.bias)}.`);
  if (typeof o.standardize !== 'boolean') {
    throw new UserError(`The probe standardize must be true or false, got ${String(o.standardize)}.`);
  }
  positiveInt('epochs', o.epochs);
  positiveInt('batchSize', o.batchSize);
  positiveInt('lbfgsIterations', o.lbfgsIterations);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) throw new UserError(`The probe lr must be a positive number, got ${o.lr}.`);
  if (!(o.l2 >= 0 && Number.isFinite(o.l2))) throw new UserError(`The probe l2 must be a number >= 0, got ${o.l2}.`);
  if (!(o.lbfgsTolerance >= 0 && Number.isFinite(o.lbfgsTolerance))) {
    throw new UserError(`The probe lbfgsTolerance must be a number >= 0, got ${o.lbfgsTolerance}.`);
  }
}

function positiveInt(name: string, v: number): void {
  if (!(Number.isInteger(v) && v > 0)) throw new UserError(`The probe ${name} must be a positive integer, got ${v}.`);
}

function checkData(data: TrainSet): void {
  const { x, n, d, soft, weight } = data;
  if (!(Number.isInteger(n) && n > 0)) throw new UserError(`There are no training rows to fit the probe on.`);
  if (!(Number.isInteger(d) && d > 0)) throw new Error(`Feature dimension must be a positive integer, got ${d}.`);
  if (x.length !== n * d) throw new Error(`Features hold ${x.length} values, expected n×d = ${n * d}.`);
  if (soft.length !== 2 * n) throw new Error(`Soft labels hold ${soft.length} values, expected 2n = ${2 * n}.`);
  if (weight) {
    if (weight.length !== n) throw new Error(`Got ${weight.length} sample weights for ${n} rows.`);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      if (!(weight[i]! >= 0 && Number.isFinite(weight[i]!))) {
        throw new UserError(`Sample weights must be finite and >= 0; row ${i} has ${weight[i]}.`);
      }
      sum += weight[i]!;
    }
    if (!(sum > 0)) throw new UserError('Sample weights must not all be zero.');
  }
  // v·0 is NaN exactly when v is not finite: one branch-free pass, and a search for the row only on failure.
  // Four independent sums, so the additions do not wait on one another.
  let p0 = 0;
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  const end4 = x.length - (x.length % 4);
  for (let j = 0; j < end4; j += 4) {
    p0 += x[j]! * 0;
    p1 += x[j + 1]! * 0;
    p2 += x[j + 2]! * 0;
    p3 += x[j + 3]! * 0;
  }
  for (let j = end4; j < x.length; j++) p0 += x[j]! * 0;
  if (p0 + p1 + p2 + p3 !== 0) {
    const j = x.findIndex((v) => !Number.isFinite(v));
    throw new Error(`Feature value at row ${Math.floor(j / d)} is not finite.`);
  }
}

export function computeStandardization(x: Float32Array, n: number, d: number): Standardization {
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) mean[j] = mean[j]! + x[o + j]!;
  }
  for (let j = 0; j < d; j++) mean[j] = mean[j]! / n;
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) {
      const c = x[o + j]! - mean[j]!;
      std[j] = std[j]! + c * c;
    }
  }
  // Population std; a constant feature gets std 1 so it standardises to 0 instead of dividing by zero.
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(std[j]! / n);
    std[j] = s > 1e-12 ? s : 1;
  }
  return { mean, std };
}

function applyStandardization(x: Float32Array, n: number, d: number, st: Standardization): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) out[o + j] = (x[o + j]! - st.mean[j]!) / st.std[j]!;
  }
  return out;
}

/** Lets timers and abort events run during long synchronous training, about every 25 ms. */
function makeYielder(signal: AbortSignal | undefined): () => Promise<void> {
  let last = performance.now();
  return async () => {
    signal?.throwIfAborted();
    const now = performance.now();
    if (now - last < 25) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    last = performance.now();
    signal?.throwIfAborted();
  };
}

async function trainAdam(
  x: FeatureMatrix,
  soft: Float64Array,
  weight: Float64Array,
  params: Float64Array,
  o: Resolved,
): Promise<Omit<LogisticFit, 'head'>> {
  const { n, d } = x;
  const bs = Math.min(o.batchSize, n);
  const batchesPerEpoch = Math.ceil(n / bs);
  const totalSteps = o.epochs * batchesPerEpoch;
  const progressEvery = Math.max(1, Math.floor(totalSteps / 100));
  const rng = createRng(deriveSeed(o.seed, 'probe-shuffle'));
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const grad = new Float64Array(params.length);
  const adam = createAdam(params.length);
  const z = new Float64Array(2);
  const hasBias = o.bias;
  const lossCurve: number[] = [];
  const pause = makeYielder(o.signal);
  let step = 0;

  for (let epoch = 0; epoch < o.epochs; epoch++) {
    // Seeded Fisher–Yates over row indices, a fresh order each epoch.
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    let epochLoss = 0;
    let epochWeight = 0;
    for (let b = 0; b < batchesPerEpoch; b++) {
      await pause();
      const start = b * bs;
      const end = Math.min(start + bs, n);
      const m = end - start;
      const logits: number[][] = new Array(m);
      const labels: number[][] = new Array(m);
      const b0 = hasBias ? params[2 * d]! : 0;
      const b1 = hasBias ? params[2 * d + 1]! : 0;
      for (let r = 0; r < m; r++) {
        const i = order[start + r]!;
        rowLogits(x, i, params, b0, b1, z);
        logits[r] = [z[0]!, z[1]!];
        labels[r] = [soft[2 * i]!, soft[2 * i + 1]!];
      }
      const res = computeLoss(o.loss, logits, labels, { step, totalSteps, ...o.lossParams });
      // res.grad rows are (p·Σt − t)/m; reweight to w_i/Σw instead of 1/m.
      let sw = 0;
      for (let r = 0; r < m; r++) sw += weight[order[start + r]!]!;
      grad.fill(0);
      if (sw > 0) {
        let batchLoss = 0;
        for (let r = 0; r < m; r++) {
          const i = order[start + r]!;
          const scaleR = (weight[i]! * m) / sw;
          const g0 = res.grad[r]![0]! * scaleR;
          const g1 = res.grad[r]![1]! * scaleR;
          batchLoss += weight[i]! * rowLoss(logits[r]!, res.target[r]!);
          if (g0 === 0 && g1 === 0) continue;
          addRowGrad(x, i, g0, g1, grad);
          if (hasBias) {
            grad[2 * d] = grad[2 * d]! + g0;
            grad[2 * d + 1] = grad[2 * d + 1]! + g1;
          }
        }
        epochLoss += batchLoss;
        epochWeight += sw;
      }
      if (o.l2 > 0) for (let j = 0; j < 2 * d; j++) grad[j] = grad[j]! + o.l2 * params[j]!;
      const lr = o.schedule === 'cosine' ? cosineLr(o.lr, step, totalSteps) : o.lr;
      adamStep(adam, params, grad, lr);
      step++;
      if (o.onProgress && (step % progressEvery === 0 || step === totalSteps)) {
        o.onProgress(step, totalSteps, res.loss);
      }
    }
    lossCurve.push(epochWeight > 0 ? epochLoss / epochWeight : NaN);
  }
  return { lossCurve, steps: step };
}

/** −Σ t·log softmax(z), for one row. */
function rowLoss(z: number[], t: number[]): number {
  const m = Math.max(z[0]!, z[1]!);
  const lse = m + Math.log(Math.exp(z[0]! - m) + Math.exp(z[1]! - m));
  let l = 0;
  if (t[0]! !== 0) l -= t[0]! * (z[0]! - lse);
  if (t[1]! !== 0) l -= t[1]! * (z[1]! - lse);
  return l;
}

/**
 * Full-batch L-BFGS. xent has a fixed target, so it is one convex problem solved in one round of lbfgsIterations.
 * The other losses' targets depend on the model's own predictions; L-BFGS cannot follow a moving objective, so they
 * run `epochs` rounds: at the start of round r the target is recomputed on the whole training set with computeLoss
 * (step = r, totalSteps = epochs: so logconf's quantile is taken over the whole set and its coefficient follows the
 * schedule by round), then held fixed while L-BFGS minimises the weighted cross-entropy to it.
 */
async function trainLbfgs(
  x: FeatureMatrix,
  soft: Float64Array,
  weight: Float64Array,
  params: Float64Array,
  o: Resolved,
): Promise<Omit<LogisticFit, 'head'>> {
  const { n, d } = x;
  const rounds = o.loss === 'xent' ? 1 : o.epochs;
  const totalSteps = rounds * o.lbfgsIterations;
  const progressEvery = Math.max(1, Math.floor(totalSteps / 100));
  const hasBias = o.bias;
  const labels: number[][] = new Array(n);
  for (let i = 0; i < n; i++) labels[i] = [soft[2 * i]!, soft[2 * i + 1]!];
  const lossCurve: number[] = [];
  const pause = makeYielder(o.signal);
  let steps = 0;
  let evaluations = 0;
  let sw = 0;
  for (let i = 0; i < n; i++) sw += weight[i]!;
  const kernels = objectiveKernels(x, weight, sw, o.kernels);
  try {
    const target = kernels.target;
    const objective = xentObjective(kernels, sw, o.l2, hasBias);
    for (let r = 0; r < rounds; r++) {
      await pause();
      // The weights start at zero, so before the first round every logit is exactly 0 (0 plus ±0 terms).
      if (r === 0) kernels.z.fill(0);
      else kernels.logits(params, hasBias ? params[2 * d]! : 0, hasBias ? params[2 * d + 1]! : 0);
      const z = kernels.z;
      const logits: number[][] = new Array(n);
      for (let i = 0; i < n; i++) logits[i] = [z[2 * i]!, z[2 * i + 1]!];
      const res = computeLoss(o.loss, logits, labels, { step: r, totalSteps: rounds, ...o.lossParams });
      for (let i = 0; i < n; i++) {
        target[2 * i] = res.target[i]![0]!;
        target[2 * i + 1] = res.target[i]![1]!;
      }
      const base = steps;
      const result = await lbfgs(objective.evaluate, params, {
        maxIterations: o.lbfgsIterations,
        gradTolerance: o.lbfgsTolerance,
        onIteration: async (it, f) => {
          steps = base + it;
          if (o.onProgress && (steps % progressEvery === 0 || steps === totalSteps)) o.onProgress(steps, totalSteps, f);
          await pause();
        },
      });
      steps = base + result.iterations;
      evaluations += result.evaluations;
      // The data loss at the accepted point: the last evaluation's unless that was a rejected line-search trial.
      if (!objective.lastPointIs(params)) {
        objective.evaluate(params, new Float64Array(params.length));
        evaluations++;
      }
      lossCurve.push(objective.lastDataLoss());
    }
  } finally {
    kernels.close();
  }
  return { lossCurve, steps, evaluations };
}

/** The full-batch L-BFGS objective of trainLbfgs, with the data loss and the point of its last evaluation. */
export interface XentObjective {
  /** Writes the gradient at p (2×d weights, then 2 biases with a bias) into g and returns the objective. */
  evaluate: (p: Float64Array, g: Float64Array) => number;
  /** The weighted mean loss, without the L2 term, at the last evaluated point. */
  lastDataLoss: () => number;
  /** Whether p holds exactly the last evaluated point. */
  lastPointIs: (p: Float64Array) => boolean;
}

/**
 * Σ_i w_i·ℓ_i / Σ_i w_i + (l2/2)·‖W‖², ℓ_i the cross-entropy of row i's logits to its target (kernels.target), and
 * its gradient; rows with weight 0 count for nothing. sw is Σ_i w_i. The sums over rows are the kernels'
 * (./kernels.ts).
 */
export function xentObjective(kernels: ObjectiveKernels, sw: number, l2: number, hasBias: boolean): XentObjective {
  let lastDataLoss = NaN;
  let lastPoint: Float64Array | null = null;
  const evaluate = (p: Float64Array, g: Float64Array): number => {
    const d = (p.length - (hasBias ? 2 : 0)) / 2;
    const [loss, gb0, gb1] = kernels.evaluate(p, hasBias ? p[2 * d]! : 0, hasBias ? p[2 * d + 1]! : 0, g);
    if (hasBias) {
      g[2 * d] = gb0;
      g[2 * d + 1] = gb1;
    }
    lastDataLoss = loss / sw;
    let reg = 0;
    if (l2 > 0) {
      for (let j = 0; j < 2 * d; j++) {
        reg += p[j]! * p[j]!;
        g[j] = g[j]! + l2 * p[j]!;
      }
    }
    if (!lastPoint || lastPoint.length !== p.length) lastPoint = new Float64Array(p.length);
    lastPoint.set(p);
    return lastDataLoss + (l2 / 2) * reg;
  };
  return {
    evaluate,
    lastDataLoss: () => lastDataLoss,
    lastPointIs: (p) => lastPoint !== null && lastPoint.length === p.length && lastPoint.every((v, j) => Object.is(v, p[j]!)),
  };
}

/** Logits (row-major n×2) for row-major n×d features, standardising with the head's stored statistics. Sparse
 *  features are read through CSR even with standardisation, which is folded into the weights. */
export function predictLogits(head: LogisticHead, x: Float32Array, n: number, layout: FeatureLayout = 'auto'): Float64Array {
  const { d } = head;
  if (x.length !== n * d) throw new Error(`Features hold ${x.length} values, expected n×d = ${n * d}.`);
  // Fold standardisation into the weights: w·(x − μ)/σ = (w/σ)·x − Σ w·μ/σ.
  const w = new Float64Array(2 * d);
  let c0 = head.b ? head.b[0]! : 0;
  let c1 = head.b ? head.b[1]! : 0;
  const st = head.standardization;
  for (let j = 0; j < d; j++) {
    const s = st ? st.std[j]! : 1;
    w[j] = head.w[j]! / s;
    w[d + j] = head.w[d + j]! / s;
    if (st) {
      c0 -= w[j]! * st.mean[j]!;
      c1 -= w[d + j]! * st.mean[j]!;
    }
  }
  // One pass: the JavaScript kernels' logits (the same sums as training's), not worth copying the features for WebAssembly.
  return featureLogits(featureMatrix(x, n, d, layout), w, c0, c1);
}

/** P(label 1) per row: softmax of the two logits. */
export function predictProba(head: LogisticHead, x: Float32Array, n: number, layout: FeatureLayout = 'auto'): Float64Array {
  const z = predictLogits(head, x, n, layout);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(z[2 * i]! - z[2 * i + 1]!));
  return out;
}

export function headToJSON(head: LogisticHead): LogisticHeadJSON {
  return {
    d: head.d,
    w: [Array.from(head.w.subarray(0, head.d)), Array.from(head.w.subarray(head.d, 2 * head.d))],
    b: head.b ? [head.b[0]!, head.b[1]!] : null,
    standardization: head.standardization
      ? { mean: Array.from(head.standardization.mean), std: Array.from(head.standardization.std) }
      : null,
  };
}

export function headFromJSON(json: LogisticHeadJSON): LogisticHead {
  const d = json?.d;
  const ok =
    Number.isInteger(d) &&
    d > 0 &&
    Array.isArray(json.w) &&
    json.w.length === 2 &&
    json.w.every((row) => Array.isArray(row) && row.length === d) &&
    (json.b === null || (Array.isArray(json.b) && json.b.length === 2)) &&
    (json.standardization === null ||
      (json.standardization?.mean?.length === d && json.standardization?.std?.length === d));
  if (!ok) throw new UserError('The stored probe weights are malformed; retrain the model.');
  const w = new Float64Array(2 * d);
  w.set(json.w[0], 0);
  w.set(json.w[1], d);
  return {
    d,
    w,
    b: json.b ? Float64Array.from(json.b) : null,
    standardization: json.standardization
      ? { mean: Float64Array.from(json.standardization.mean), std: Float64Array.from(json.standardization.std) }
      : null,
  };
}
