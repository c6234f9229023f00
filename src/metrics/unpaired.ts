import { distribution, identity, pairedScorer, percentileInterval, resolveOptions, type ResolvedOptions } from './bootstrap.js';
import { wilson } from './intervals.js';
import { checkInt, checkLevel, type Label } from './validate.js';

/**
 * Two models scored on different test sets (two runs whose splits differ): nothing is paired, so each side's noise
 * counts in full.
 */

export interface NewcombeInterval {
  /** pB − pA. */
  diff: number;
  lo: number;
  hi: number;
  level: number;
}

/**
 * Newcombe's hybrid score interval for pB − pA, two independent proportions (Newcombe 1998, method 10): with
 * Wilson bounds [lA, uA] and [lB, uB],
 *   lo = d − √((pB − lB)² + (uA − pA)²),  hi = d + √((uB − pB)² + (pA − lA)²),  d = pB − pA.
 * Examples are taken as independent trials (no clustering).
 */
export function newcombeDiff(successesA: number, nA: number, successesB: number, nB: number, level = 0.95): NewcombeInterval {
  checkLevel('newcombeDiff', level);
  checkInt('newcombeDiff', 'nA', nA, 1);
  checkInt('newcombeDiff', 'nB', nB, 1);
  const a = wilson(successesA, nA, level);
  const b = wilson(successesB, nB, level);
  const diff = b.estimate - a.estimate;
  return {
    diff,
    lo: Math.max(-1, diff - Math.hypot(b.estimate - b.lo, a.hi - a.estimate)),
    hi: Math.min(1, diff + Math.hypot(b.hi - b.estimate, a.estimate - a.lo)),
    level,
  };
}

export interface UnpairedDiffOptions {
  random: () => number;
  resamples?: number;
  level?: number;
  threshold?: number;
  /** Cluster ids (0…G−1) of A's and of B's examples; each side then resamples whole clusters. */
  groupsA?: readonly number[];
  groupsB?: readonly number[];
}

export interface UnpairedDiffResult {
  /** accuracy(B) − accuracy(A), each on its own test set. */
  diff: number;
  /** Percentile interval of the resampled differences. */
  lo: number | null;
  hi: number | null;
  /** Two-sided bootstrap p-value, as pairedBootstrapDiff's: (1 + #{|d* − diff| ≥ |diff|}) / (1 + resamples). */
  pValue: number;
  level: number;
  resamples: number;
}

/**
 * Bootstrap of accuracy(B) − accuracy(A) when A and B were scored on different examples: each resample draws A's test
 * set and B's test set independently (whole clusters where groups are given), so the interval holds both sides'
 * sampling noise and nothing cancels.
 */
export function unpairedBootstrapDiff(
  probsA: readonly number[],
  labelsA: readonly Label[],
  probsB: readonly number[],
  labelsB: readonly Label[],
  options: UnpairedDiffOptions,
): UnpairedDiffResult {
  const base = resolveOptions('unpairedBootstrapDiff', options);
  const threshold = options.threshold ?? 0.5;
  checkInt('unpairedBootstrapDiff', 'examples of A', labelsA.length, 1);
  checkInt('unpairedBootstrapDiff', 'examples of B', labelsB.length, 1);
  const side = (probs: readonly number[], labels: readonly Label[], groups: readonly number[] | undefined, name: string) => {
    const score = pairedScorer('unpairedBootstrapDiff', [[name, probs]], labels, 'accuracy', threshold);
    const stat = (idx: Int32Array): number => score(idx)[0]!;
    const opts: ResolvedOptions = { ...base, groups };
    // Accuracy is defined on every non-empty resample, so the values line up one to one with the resamples.
    return { value: stat(identity(labels.length)), values: distribution('unpairedBootstrapDiff', labels.length, stat, opts).values };
  };
  // A's resamples are drawn first, then B's, from the one stream: independent draws, reproducible from the seed.
  const a = side(probsA, labelsA, options.groupsA, 'probsA');
  const b = side(probsB, labelsB, options.groupsB, 'probsB');
  const diff = b.value - a.value;
  const diffs = new Float64Array(base.resamples);
  for (let r = 0; r < diffs.length; r++) diffs[r] = b.values[r]! - a.values[r]!;
  const bar = Math.abs(diff) - 1e-12;
  let extreme = 0;
  for (const d of diffs) if (Math.abs(d - diff) >= bar) extreme++;
  const pValue = (1 + extreme) / (1 + diffs.length);
  const [lo, hi] = percentileInterval(diffs, base.level);
  return { diff, lo, hi, pValue, level: base.level, resamples: base.resamples };
}
