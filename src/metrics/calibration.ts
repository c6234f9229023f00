import { bootstrapCI, type BootstrapOptions, type BootstrapResult } from './bootstrap.js';
import { checkInt, checkLabels, checkValues, type Label } from './validate.js';

/**
 * Calibration of P(label = 1). These measure the positive-class probability against the label frequency (the
 * natural view for a binary soft label), not the "top-label confidence" variant that bins max(p, 1 − p).
 */

/** Mean squared error between the predicted P(label = 1) and the 0/1 label; 0 is perfect, 0.25 is always-0.5. */
export function brier(probs: readonly number[], labels: readonly Label[]): number {
  checkLabels('brier', labels);
  checkValues('brier', 'probs', probs, labels.length, true);
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum += (probs[i]! - labels[i]!) ** 2;
  return sum / labels.length;
}

export interface ReliabilityBin {
  /** Bin edges: [lo, hi), except the last bin, which also holds p = 1. */
  lo: number;
  hi: number;
  count: number;
  /** Mean predicted P(label = 1) in the bin; null when the bin is empty. */
  meanPredicted: number | null;
  /** Fraction of labels equal to 1 in the bin; null when the bin is empty. */
  fractionPositive: number | null;
}

/**
 * Equal-width bins over [0, 1] for a reliability diagram. Every bin is returned, empty ones included (count 0, means
 * null), so a chart's x axis does not depend on the data. Example i goes to bin min(bins − 1, ⌊pᵢ·bins⌋).
 */
export function reliabilityBins(probs: readonly number[], labels: readonly Label[], bins = 10): ReliabilityBin[] {
  checkLabels('reliabilityBins', labels);
  checkValues('reliabilityBins', 'probs', probs, labels.length, true);
  checkInt('reliabilityBins', 'bins', bins, 1);
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < labels.length; i++) {
    const b = Math.min(bins - 1, Math.floor(probs[i]! * bins));
    count[b]!++;
    sumP[b]! += probs[i]!;
    sumY[b]! += labels[i]!;
  }
  const out: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = count[b]!;
    out.push({
      lo: b / bins,
      hi: (b + 1) / bins,
      count: c,
      meanPredicted: c === 0 ? null : sumP[b]! / c,
      fractionPositive: c === 0 ? null : sumY[b]! / c,
    });
  }
  return out;
}

/**
 * Expected calibration error with equal-width bins: Σ_b (n_b / N) · |mean predicted_b − fraction positive_b|,
 * empty bins contributing nothing. 0 is perfectly calibrated; the value depends on `bins`, so report it alongside.
 */
export function ece(probs: readonly number[], labels: readonly Label[], bins = 10): number {
  let sum = 0;
  for (const b of reliabilityBins(probs, labels, bins)) {
    if (b.count > 0) sum += b.count * Math.abs(b.meanPredicted! - b.fractionPositive!);
  }
  return sum / labels.length;
}

/**
 * ECE or Brier with a bootstrap percentile interval. The statistic works on the resample's indices directly (each
 * example's bin and squared error are computed once), so a run can afford an interval for every model: resampling
 * by copying arrays and rebinning cost ~70 % of a large evaluation.
 */
export function calibrationCI(probs: readonly number[], labels: readonly Label[], metric: 'ece' | 'brier', options: BootstrapOptions, bins = 10): BootstrapResult {
  const fn = `calibrationCI(${metric})`;
  checkLabels(fn, labels);
  checkValues(fn, 'probs', probs, labels.length, true);
  checkInt(fn, 'bins', bins, 1);
  const n = labels.length;
  if (metric === 'brier') {
    const sq = Float64Array.from(labels, (y, i) => (probs[i]! - y) ** 2);
    return bootstrapCI(n, (idx) => {
      let s = 0;
      for (let j = 0; j < idx.length; j++) s += sq[idx[j]!]!;
      return s / idx.length;
    }, options);
  }
  if (metric !== 'ece') throw new RangeError(`calibrationCI: metric must be 'ece' or 'brier' (got ${String(metric)}).`);
  const bin = Int32Array.from(probs, (p) => Math.min(bins - 1, Math.floor(p * bins)));
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  return bootstrapCI(n, (idx) => {
    count.fill(0);
    sumP.fill(0);
    sumY.fill(0);
    for (let j = 0; j < idx.length; j++) {
      const i = idx[j]!;
      const b = bin[i]!;
      count[b]!++;
      sumP[b]! += probs[i]!;
      sumY[b]! += labels[i]!;
    }
    let s = 0;
    for (let b = 0; b < bins; b++) if (count[b]! > 0) s += Math.abs(sumP[b]! - sumY[b]!);
    return s / idx.length;
  }, options);
}
