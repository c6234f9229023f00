import { accuracyCI, aurocCI, type BootstrapResult } from './bootstrap.js';
import { brier, ece } from './calibration.js';
import { logLoss } from './classification.js';
import { wilson, type ProportionInterval } from './intervals.js';
import { type Label } from './validate.js';

export interface Summary {
  n: number;
  positives: number;
  /** Accuracy with a bootstrap percentile interval. */
  accuracy: BootstrapResult;
  /** The same accuracy with a Wilson interval (no resampling), for tables. */
  accuracyWilson: ProportionInterval;
  /** AUROC with a bootstrap interval; value null when the labels hold one class. */
  auroc: BootstrapResult;
  brier: number;
  ece: number;
  logLoss: number;
}

export interface SummaryOptions {
  resamples?: number;
  level?: number;
  threshold?: number;
  /** ECE bins (default 10). */
  bins?: number;
}

/**
 * The standard metric block for one model's test predictions. Accuracy's bootstrap draws first, then AUROC's, from
 * the same `random` stream, so a fixed seed gives the same summary.
 */
export function summarize(
  probs: readonly number[],
  labels: readonly Label[],
  random: () => number,
  options: SummaryOptions = {},
): Summary {
  const { resamples, level, threshold } = options;
  const accuracy = accuracyCI(probs, labels, { random, resamples, level, threshold });
  const auroc = aurocCI(probs, labels, { random, resamples, level });
  let positives = 0;
  for (const y of labels) positives += y;
  return {
    n: labels.length,
    positives,
    accuracy,
    accuracyWilson: wilson(Math.round(accuracy.value! * labels.length), labels.length, level),
    auroc,
    brier: brier(probs, labels),
    ece: ece(probs, labels, options.bins ?? 10),
    logLoss: logLoss(probs, labels),
  };
}
