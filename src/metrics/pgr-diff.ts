import { bootstrapCI, identity, pairedScorer, type MetricCIOptions } from './bootstrap.js';
import { pgr } from './pgr.js';
import type { Label } from './validate.js';

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
  const score = pairedScorer(
    'pairedPgrDiff',
    [['weakProbs', weakProbs], ['w2sProbsA', w2sProbsA], ['w2sProbsB', w2sProbsB], ['ceilingProbs', ceilingProbs]],
    labels,
    'accuracy',
    options.threshold ?? 0.5,
  );
  const both = (idx: Int32Array): [number | null, number | null] => {
    const [weak, a, b, ceiling] = score(idx) as number[];
    return [pgr(weak!, a!, ceiling!), pgr(weak!, b!, ceiling!)];
  };
  const result = bootstrapCI(
    labels.length,
    (idx) => {
      const [a, b] = both(idx);
      return a === null || b === null ? null : b - a;
    },
    options,
  );
  const [pgrA, pgrB] = both(identity(labels.length));
  return { diff: result.value, lo: result.lo, hi: result.hi, pgrA, pgrB, level: result.level, resamples: result.resamples, undefinedCount: result.undefinedCount };
}
