import { checkLabels, checkThreshold, checkValues, type Label } from './validate.js';

/**
 * Classification metrics on predictions given as P(label = 1).
 *
 * The kernels at the bottom (a 0/1 correctness vector; AUROC with per-example counts over a pre-sorted order) are
 * what the bootstrap evaluates, so a resample never copies or re-sorts the data.
 */

/**
 * Fraction of examples whose thresholded prediction equals the label.
 * The prediction is 1 when prob > threshold and 0 otherwise, so a prob of exactly 0.5 counts as 0 — the same as
 * argmax over [1 − p, p], which picks the first class on a tie (the weak-to-strong reference code's convention).
 * Throws on empty input, mismatched lengths, labels other than 0/1 or probs outside [0, 1].
 */
export function accuracy(probs: readonly number[], labels: readonly Label[], threshold = 0.5): number {
  checkLabels('accuracy', labels);
  checkValues('accuracy', 'probs', probs, labels.length, true);
  checkThreshold('accuracy', threshold);
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if ((probs[i]! > threshold ? 1 : 0) === labels[i]) hits++;
  return hits / labels.length;
}

/**
 * Area under the ROC curve, computed by ranks (the Mann–Whitney U statistic divided by n₊·n₋): the probability that
 * a random positive scores above a random negative, with tied pairs counted as half.
 * Scores may be any finite numbers (probabilities, logits). Returns null when only one class is present (AUROC is
 * undefined there); null rather than NaN because it survives JSON and SQLite.
 */
export function auroc(scores: readonly number[], labels: readonly Label[]): number | null {
  checkLabels('auroc', labels);
  checkValues('auroc', 'scores', scores, labels.length, false);
  return weightedAuroc(prepareAuroc(scores, labels), null);
}

/**
 * Mean negative log-likelihood of the labels, −[y·ln p + (1 − y)·ln(1 − p)], in nats. Probabilities are clipped to
 * [1e-15, 1 − 1e-15] so a confident mistake costs about 34.5 instead of Infinity.
 */
export function logLoss(probs: readonly number[], labels: readonly Label[]): number {
  checkLabels('logLoss', labels);
  checkValues('logLoss', 'probs', probs, labels.length, true);
  const eps = 1e-15;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probs[i]!));
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / labels.length;
}

// ---- weighted kernels (internal; used by the bootstrap) ----

/** 1 where the thresholded prediction is right, else 0. Inputs are assumed checked. */
export function correctness(probs: readonly number[], labels: readonly Label[], threshold: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = (probs[i]! > threshold ? 1 : 0) === labels[i] ? 1 : 0;
  return out;
}

/** Example indices sorted by score, their labels in that order, and where each run of tied scores starts (last = n). */
export interface AurocPlan {
  order: Int32Array;
  sortedLabels: Uint8Array;
  groupStarts: Int32Array;
}

export function prepareAuroc(scores: readonly number[], labels: readonly Label[]): AurocPlan {
  const n = scores.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[a]! - scores[b]!);
  const sortedLabels = new Uint8Array(n);
  const starts: number[] = [];
  for (let k = 0; k < n; k++) {
    sortedLabels[k] = labels[order[k]!]!;
    if (k === 0 || scores[order[k]!] !== scores[order[k - 1]!]) starts.push(k);
  }
  starts.push(n);
  return { order, sortedLabels, groupStarts: Int32Array.from(starts) };
}

/**
 * AUROC with example weights (null weights = all 1). One sweep from low to high score: each positive gains the
 * weight of the negatives strictly below it plus half the negatives tied with it.
 */
export function weightedAuroc(plan: AurocPlan, weights: Int32Array | null): number | null {
  const { order, sortedLabels, groupStarts } = plan;
  let negBelow = 0;
  let totalPos = 0;
  let wins = 0;
  for (let g = 0; g + 1 < groupStarts.length; g++) {
    let pos = 0;
    let neg = 0;
    const end = groupStarts[g + 1]!;
    for (let k = groupStarts[g]!; k < end; k++) {
      const w = weights === null ? 1 : weights[order[k]!]!;
      if (sortedLabels[k] === 1) pos += w;
      else neg += w;
    }
    wins += pos * (negBelow + 0.5 * neg);
    negBelow += neg;
    totalPos += pos;
  }
  if (totalPos === 0 || negBelow === 0) return null;
  return wins / (totalPos * negBelow);
}
