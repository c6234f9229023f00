import {
  distribution,
  identity,
  pairedScorer,
  percentileInterval,
  resolveOptions,
  type MetricCIOptions,
  type PairedMetric,
  type Statistic,
} from './bootstrap.js';
import { chiSquareSurvival, lnChoose } from './special.js';
import { checkInt, type Label } from './validate.js';

/** Paired comparisons of two models scored on the same test examples. */

export interface McNemarResult {
  /** Examples A got right and B got wrong. */
  b: number;
  /** Examples A got wrong and B got right. */
  c: number;
  /** Continuity-corrected chi-square, max(0, |b − c| − 1)² / (b + c); 0 when b + c = 0. Reported for both methods. */
  statistic: number;
  /** Two-sided p-value of H0 "A and B have the same accuracy" (1 when b + c = 0). */
  pValue: number;
  method: 'exact' | 'chi2';
}

/**
 * McNemar's test on the discordant pairs. Below `exactBelow` discordant pairs (default 25) the p-value is the exact
 * two-sided binomial, min(1, 2·P(X ≤ min(b, c))) with X ~ Bin(b + c, 1/2); from there on it is the chi-square
 * survival (1 dof) of the continuity-corrected statistic, erfc(√(x/2)).
 * Clamping |b − c| − 1 at 0 keeps b = c at statistic 0 (p = 1) instead of the unclamped 1/(b + c).
 */
export function mcnemar(
  correctA: readonly boolean[],
  correctB: readonly boolean[],
  options: { exactBelow?: number } = {},
): McNemarResult {
  if (!Array.isArray(correctA) || !Array.isArray(correctB)) {
    throw new RangeError('mcnemar: correctA and correctB must be arrays of booleans.');
  }
  if (correctA.length !== correctB.length) {
    throw new RangeError(`mcnemar: correctA has ${correctA.length} entries and correctB ${correctB.length}; they must be paired.`);
  }
  const exactBelow = options.exactBelow ?? 25;
  checkInt('mcnemar', 'exactBelow', exactBelow, 0);
  let b = 0;
  let c = 0;
  for (let i = 0; i < correctA.length; i++) {
    const a = correctA[i];
    const bb = correctB[i];
    if (typeof a !== 'boolean' || typeof bb !== 'boolean') {
      throw new RangeError(`mcnemar: entry ${i} is not a boolean in both arrays.`);
    }
    if (a && !bb) b++;
    else if (!a && bb) c++;
  }
  return mcnemarFromCounts(b, c, exactBelow);
}

/** McNemar's test from the discordant counts directly (same rules as mcnemar). */
export function mcnemarFromCounts(b: number, c: number, exactBelow = 25): McNemarResult {
  checkInt('mcnemarFromCounts', 'b', b, 0);
  checkInt('mcnemarFromCounts', 'c', c, 0);
  const n = b + c;
  const statistic = n === 0 ? 0 : Math.max(0, Math.abs(b - c) - 1) ** 2 / n;
  if (n < exactBelow) {
    const k = Math.min(b, c);
    return { b, c, statistic, pValue: Math.min(1, 2 * binomialHalfCdf(n, k)), method: 'exact' };
  }
  return { b, c, statistic, pValue: chiSquareSurvival(statistic, 1), method: 'chi2' };
}

/**
 * P(X ≤ k) for X ~ Bin(n, 1/2). Up to n = 1000 by the recurrence C(n, i + 1) = C(n, i)·(n − i)/(i + 1) on
 * C(n, i)/2ⁿ, which is exact while C(n, i) < 2⁵³ (all n below about 50); beyond, 2⁻ⁿ nears underflow, so log space.
 */
function binomialHalfCdf(n: number, k: number): number {
  let tail = 0;
  if (n <= 1000) {
    let pmf = 2 ** -n;
    for (let i = 0; i <= k; i++) {
      tail += pmf;
      pmf = (pmf * (n - i)) / (i + 1);
    }
    return tail;
  }
  for (let i = 0; i <= k; i++) tail += Math.exp(lnChoose(n, i) - n * Math.LN2);
  return tail;
}

export interface PairedDiffOptions extends MetricCIOptions {
  /** Metric compared (default 'accuracy'). */
  metric?: PairedMetric;
}

export interface PairedDiffResult {
  /** metric(B) − metric(A) on the full test set; null when either is undefined there. */
  diff: number | null;
  /** Percentile interval of the resampled differences. */
  lo: number | null;
  hi: number | null;
  /**
   * Two-sided bootstrap p-value for "no difference": the resampled differences are shifted to centre on 0 and
   * p = (1 + #{|d* − diff| ≥ |diff|}) / (1 + defined resamples). Never 0; 1 when diff = 0; null when diff is null.
   */
  pValue: number | null;
  level: number;
  resamples: number;
  undefinedCount: number;
}

/**
 * Paired bootstrap of the difference between two models on the same examples: each resample scores A and B on the
 * same indices, so their shared per-example difficulty cancels. Positive diff means B is better.
 */
export function pairedBootstrapDiff(
  probsA: readonly number[],
  probsB: readonly number[],
  labels: readonly Label[],
  options: PairedDiffOptions,
): PairedDiffResult {
  const opts = resolveOptions('pairedBootstrapDiff', options);
  const { resamples, level } = opts;
  const metric = options.metric ?? 'accuracy';
  const threshold = options.threshold ?? 0.5;
  const score = pairedScorer('pairedBootstrapDiff', [['probsA', probsA], ['probsB', probsB]], labels, metric, threshold);
  const stat: Statistic = (idx) => {
    const [x, y] = score(idx);
    return x === null || y === null ? null : y! - x!;
  };
  const n = labels.length;
  const diff = stat(identity(n));
  const { values, undefinedCount } = distribution('pairedBootstrapDiff', n, stat, opts);
  let pValue: number | null = null;
  if (diff !== null) {
    // A small tolerance so that float noise in d* = diff does not decide the count.
    const bar = Math.abs(diff) - 1e-12;
    let extreme = 0;
    for (let r = 0; r < values.length; r++) if (Math.abs(values[r]! - diff) >= bar) extreme++;
    pValue = (1 + extreme) / (1 + values.length);
  }
  const [lo, hi] = percentileInterval(values, level);
  return { diff, lo, hi, pValue, level, resamples, undefinedCount };
}
