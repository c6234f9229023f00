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
