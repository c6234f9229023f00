/**
 * The weak-to-strong training losses of openai/weak-to-strong (`weak_to_strong/loss.py`), as pure functions over
 * 2-class logits. Every loss here is a cross-entropy against a target that carries no gradient, so each returns that
 * target and dLoss/dLogits = (softmax(logits)·Σtarget − target) / n.
 *
 * This module is the reference the external (Python) trainer is checked against: keep it pure and its API stable.
 */
import type { LossName } from './types.js';

export interface LossContext {
  /** Optimizer step about to be taken, counted from 0 (the original passes step_frac = step / nsteps). */
  step: number;
  totalSteps: number;
  /** logconf: weight of the hardened own predictions once warmed up (default 0.5). */
  auxCoef?: number;
  /** logconf: fraction of totalSteps over which the coefficient ramps (default 0.1). */
  warmupFrac?: number;
  /** product: exponent on the weak labels (default 1). */
  alpha?: number;
  /** product: exponent on the model's own predictions (default 1). */
  beta?: number;
}

export interface LossResult {
  /** Mean over the batch of −Σ_k target_k · log softmax(logits)_k. */
  loss: number;
  /** The (gradient-free) target each row was scored against; for xent, the soft labels themselves. */
  target: number[][];
  /** dLoss/dLogits (n×2), already divided by n: the gradient of the batch mean. */
  grad: number[][];
}

export const LOSS_NAMES: readonly LossName[] = ['xent', 'logconf', 'logconf_linear', 'product'];

export function computeLoss(
  name: LossName,
  logits: number[][],
  softLabels: number[][],
  ctx: LossContext,
): LossResult {
  checkBatch(logits, softLabels);
  const probs = logits.map(softmax2);
  let target: number[][];
  switch (name) {
    case 'xent':
      target = softLabels.map((y) => [y[0]!, y[1]!]);
      break;
    case 'product':
      target = productTarget(probs, softLabels, ctx.alpha ?? 1, ctx.beta ?? 1);
      break;
    case 'logconf':
    case 'logconf_linear': {
      const c = logconfCoef(
        name === 'logconf' ? 'step' : 'linear',
        ctx.step,
        ctx.totalSteps,
        ctx.auxCoef ?? 0.5,
        ctx.warmupFrac ?? 0.1,
      );
      target = logconfTarget(probs, softLabels, c);
      break;
    }
    default:
      throw new Error(`Unknown loss "${String(name)}"; expected one of ${LOSS_NAMES.join(', ')}.`);
  }
  return crossEntropy(logits, probs, target);
}

/**
 * The logconf coefficient c at a step.
 *
 * 'step' reproduces the original code exactly: with f = step / totalSteps,
 *   c = auxCoef · (f > warmupFrac ? 1 : f)
 * i.e. during warm-up c grows like auxCoef·f (NOT f / warmupFrac), so it only reaches auxCoef·warmupFrac and then jumps
 * to auxCoef. With the defaults (0.5, 0.1) over 100 steps: step 0 → 0, step 10 → 0.05, step 11 → 0.5.
 *
 * 'linear' is the fix of openai/weak-to-strong PR #33: c = auxCoef · (f >= warmupFrac ? 1 : f / warmupFrac), a ramp
 * from 0 to auxCoef over the warm-up fraction then constant (warmupFrac = 0 gives auxCoef from the first step).
 */
export function logconfCoef(
  schedule: 'step' | 'linear',
  step: number,
  totalSteps: number,
  auxCoef: number,
  warmupFrac: number,
): number {
  if (!(totalSteps > 0)) throw new Error(`logconf needs totalSteps > 0, got ${totalSteps}.`);
  if (!(step >= 0)) throw new Error(`logconf needs step >= 0, got ${step}.`);
  if (!(warmupFrac >= 0 && warmupFrac <= 1)) throw new Error(`warmupFrac must be in [0, 1], got ${warmupFrac}.`);
  const f = step / totalSteps;
  if (schedule === 'step') return auxCoef * (f > warmupFrac ? 1 : f);
  return auxCoef * (f >= warmupFrac ? 1 : f / warmupFrac);
}

/** Softmax of a 2-vector, shifted by the max so large logits do not overflow. */
export function softmax2(z: readonly number[]): [number, number] {
  const m = Math.max(z[0]!, z[1]!);
  const e0 = Math.exp(z[0]! - m);
  const e1 = Math.exp(z[1]! - m);
  const s = e0 + e1;
  return [e0 / s, e1 / s];
}

/**
 * Quantile with linear interpolation between order statistics (torch.quantile / numpy's default "linear"):
 * position q·(n−1) in the sorted values.
 */
export function quantileLinear(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('quantile of an empty list');
  const s = values.slice().sort((a, b) => a - b);
  const pos = Math.min(Math.max(q, 0), 1) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** target ∝ p^β · y^α per row. If both factors vanish (total disagreement, underflow), fall back to y. */
function productTarget(probs: number[][], y: number[][], alpha: number, beta: number): number[][] {
  return probs.map((p, i) => {
    const t0 = Math.pow(p[0]!, beta) * Math.pow(y[i]![0]!, alpha);
    const t1 = Math.pow(p[1]!, beta) * Math.pow(y[i]![1]!, alpha);
    const s = t0 + t1;
    return s > 0 ? [t0 / s, t1 / s] : [y[i]![0]!, y[i]![1]!];
  });
}

/**
 * (1 − c)·y + c·hard(p). hard(p) thresholds p[:,0] at its batch quantile q = mean(y[:,1]), so the share of rows hardened
 * to class 1 (those with p0 strictly below the threshold) matches the weak labels' share of class 1. This is the
 * original's `torch.quantile(preds[:, 0], mean_weak[1])`; rows with p0 >= threshold become class 0, so ties (e.g. an
 * untrained head where every p0 = 0.5) all harden to class 0, exactly as in the original.
 */
function logconfTarget(probs: number[][], y: number[][], c: number): number[][] {
  let meanY1 = 0;
  for (const row of y) meanY1 += row[1]!;
  meanY1 /= y.length;
  const threshold = quantileLinear(
    probs.map((p) => p[0]!),
    meanY1,
  );
  return probs.map((p, i) => {
    const h0 = p[0]! >= threshold ? 1 : 0;
    return [(1 - c) * y[i]![0]! + c * h0, (1 - c) * y[i]![1]! + c * (1 - h0)];
  });
}

function crossEntropy(logits: number[][], probs: number[][], target: number[][]): LossResult {
  const n = logits.length;
  let total = 0;
  const grad: number[][] = new Array(n);
  for (let i = 0; i < n; i++) {
    const z = logits[i]!;
    const m = Math.max(z[0]!, z[1]!);
    const lse = m + Math.log(Math.exp(z[0]! - m) + Math.exp(z[1]! - m));
    const t = target[i]!;
    // A zero target weight contributes nothing, even where log p underflows to −Infinity.
    if (t[0]! !== 0) total -= t[0]! * (z[0]! - lse);
    if (t[1]! !== 0) total -= t[1]! * (z[1]! - lse);
    const ts = t[0]! + t[1]!;
    grad[i] = [(probs[i]![0]! * ts - t[0]!) / n, (probs[i]![1]! * ts - t[1]!) / n];
  }
  return { loss: total / n, target, grad };
}

function checkBatch(logits: number[][], softLabels: number[][]): void {
  if (logits.length === 0) throw new Error('A loss needs at least one row.');
  if (logits.length !== softLabels.length) {
    throw new Error(`Got ${logits.length} logit rows but ${softLabels.length} soft-label rows.`);
  }
  for (let i = 0; i < logits.length; i++) {
    const z = logits[i]!;
    const y = softLabels[i]!;
    if (z.length !== 2 || y.length !== 2) throw new Error(`Row ${i}: logits and soft labels must have 2 entries.`);
    if (!Number.isFinite(z[0]) || !Number.isFinite(z[1])) throw new Error(`Row ${i}: logits must be finite.`);
    if (!(y[0]! >= 0 && y[1]! >= 0 && y[0]! <= 1 && y[1]! <= 1)) {
      throw new Error(`Row ${i}: soft labels must lie in [0, 1], got [${y[0]}, ${y[1]}].`);
    }
  }
}
