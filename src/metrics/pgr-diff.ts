import { bootstrapCI, type MetricCIOptions } from './bootstrap.js';
import { correctness } from './classification.js';
import { pgr } from './pgr.js';
import { checkLabels, checkThreshold, checkValues, type Label } from './validate.js';

export interface PgrDiffResult {
  /** PGR(B) − PGR(A) on the full test set (fractions); null when either PGR is undefined there (ceiling ≤ weak). */
  diff: number | null;
  /** Percentile interval of the resampled differences. */
  lo: number | null;
  hi: number | null;
  /** The two PGRs on the full test set. */
  pgrA: number | null;
  pgrB: number | null;
  level: number;
  resamples: number;
  /** Resamples where ceiling ≤ weak (both PGRs undefined); left out of the interval. */
  undefinedCount: number;
}

/**
 * Paired bootstrap of the difference between two weak-to-strong models' PGRs that share the weak baseline and the
 * ceiling: every resample scores all four models on the same test examples, so PGR(B) − PGR(A) =
 * (acc(B) − acc(A)) / (acc(ceiling) − acc(weak)) carries the noise of the differences only. Accuracy at `threshold`.
 */
export function pairedPgrDiff(
  weakProbs: readonly number[],
  w2sProbsA: readonly number[],
  w2sProbsB: readonly number[],
  ceilingProbs: readonly number[],
  labels: readonly Label[],
  options: MetricCIOptions,
): PgrDiffResult {
  const fn = 'pairedPgrDiff';
  checkLabels(fn, labels);
  const threshold = options.threshold ?? 0.5;
  checkThreshold(fn, threshold);
  const n = labels.length;
  const models = [['weakProbs', weakProbs], ['w2sProbsA', w2sProbsA], ['w2sProbsB', w2sProbsB], ['ceilingProbs', ceilingProbs]] as const;
  const correct = models.map(([name, probs]) => {
    checkValues(fn, name, probs, n, true);
    return correctness(probs, labels, threshold);
  });
  const acc = new Float64Array(4);
  const score = (idx: Int32Array): void => {
    for (let m = 0; m < 4; m++) {
      const c = correct[m]!;
      let hits = 0;
      for (let j = 0; j < idx.length; j++) hits += c[idx[j]!]!;
      acc[m] = hits / idx.length;
    }
  };
  const both = (): [number | null, number | null] => [pgr(acc[0]!, acc[1]!, acc[3]!), pgr(acc[0]!, acc[2]!, acc[3]!)];
  const result = bootstrapCI(
    n,
    (idx) => {
      score(idx);
      const [a, b] = both();
      return a === null || b === null ? null : b - a;
    },
    options,
  );
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  score(all);
  const [pgrA, pgrB] = both();
  return { diff: result.value, lo: result.lo, hi: result.hi, pgrA, pgrB, level: result.level, resamples: result.resamples, undefinedCount: result.undefinedCount };
}
