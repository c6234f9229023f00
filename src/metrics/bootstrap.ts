import { correctness, prepareAuroc, weightedAuroc } from './classification.js';
import { pgr } from './pgr.js';
import { checkInt, checkLabels, checkLevel, checkThreshold, checkValues, type Label } from './validate.js';

/**
 * Nonparametric bootstrap over test examples with percentile intervals.
 *
 * One resample draws n example indices uniformly with replacement (n calls to `random`). The statistic sees the
 * indices in one reused Int32Array — it must not keep a reference to it — so a run allocates O(n + resamples), not
 * O(n · resamples). Determinism comes from the caller: the same `random` stream gives the same interval.
 */

export interface BootstrapOptions {
  /** Uniform [0, 1) source, e.g. a seeded Rng's `random`; required so results are reproducible. */
  random: () => number;
  /** Number of resamples (default 1000). */
  resamples?: number;
  /** Two-sided interval level (default 0.95). */
  level?: number;
  /**
   * Cluster of each example (integers 0…G−1, one per example). When given, a resample draws G whole clusters with
   * replacement (a clustered bootstrap), so examples that share a passage are not counted as independent evidence.
   */
  groups?: readonly number[];
}

export interface BootstrapResult {
  /** The statistic on the full sample (null when it is undefined there). */
  value: number | null;
  /** Percentile interval over the resamples where the statistic was defined; null when it never was. */
  lo: number | null;
  hi: number | null;
  level: number;
  /** Resamples drawn, including the undefined ones. */
  resamples: number;
  /** Resamples where the statistic was undefined (returned null or NaN); they are left out of the interval. */
  undefinedCount: number;
}

/** A statistic of the examples at `indices` (repeats allowed); null when it is undefined for that sample. */
export type Statistic = (indices: Int32Array) => number | null;

/**
 * Bootstrap a statistic over n examples. `value` is the statistic on all n (indices 0…n−1, in order); lo/hi are the
 * (1 − level)/2 and (1 + level)/2 quantiles of the resampled values, linearly interpolated between order statistics.
 */
export function bootstrapCI(n: number, statistic: Statistic, options: BootstrapOptions): BootstrapResult {
  const opts = resolveOptions('bootstrapCI', options);
  const { resamples, level } = opts;
  checkInt('bootstrapCI', 'n', n, 1);
  if (typeof statistic !== 'function') throw new RangeError('bootstrapCI: statistic must be a function of indices.');
  const value = clean(statistic(identity(n)));
  const { values, undefinedCount } = distribution('bootstrapCI', n, statistic, opts);
  const [lo, hi] = percentileInterval(values, level);
  return { value, lo, hi, level, resamples, undefinedCount };
}

export interface MetricCIOptions extends BootstrapOptions {
  /** Decision threshold on P(label = 1) for accuracy (default 0.5; prob > threshold predicts 1). */
  threshold?: number;
}

/** Accuracy with a bootstrap percentile interval. */
export function accuracyCI(probs: readonly number[], labels: readonly Label[], options: MetricCIOptions): BootstrapResult {
  const opts = resolveOptions('accuracyCI', options);
  const score = pairedScorer('accuracyCI', [['probs', probs]], labels, 'accuracy', options.threshold ?? 0.5);
  return bootstrapCI(labels.length, (idx) => score(idx)[0]!, opts);
}

/** AUROC with a bootstrap percentile interval; resamples holding a single class are undefined and counted. */
export function aurocCI(scores: readonly number[], labels: readonly Label[], options: BootstrapOptions): BootstrapResult {
  const opts = resolveOptions('aurocCI', options);
  const score = pairedScorer('aurocCI', [['scores', scores]], labels, 'auroc', 0.5);
  return bootstrapCI(labels.length, (idx) => score(idx)[0]!, opts);
}

export type PairedMetric = 'accuracy' | 'auroc';

export interface PgrCIOptions extends MetricCIOptions {
  /** Which score PGR is computed from (default 'accuracy'; 'auroc' gives the AUROC-based PGR). */
  metric?: PairedMetric;
}

export interface PgrCIResult extends BootstrapResult {
  /** The three models' metric on the full test set. */
  weak: number | null;
  w2s: number | null;
  ceiling: number | null;
}

/**
 * PGR (as a fraction, 0.765 not 76.5) with a paired bootstrap interval: every resample scores the weak, weak-to-strong
 * and ceiling models on the SAME examples, so the interval reflects the noise in the differences, not three
 * independent noises. Resamples where ceiling ≤ weak (PGR undefined) are skipped and counted in undefinedCount;
 * with a small gap, check that count before trusting the interval.
 */
export function pgrCI(
  weakProbs: readonly number[],
  w2sProbs: readonly number[],
  ceilingProbs: readonly number[],
  labels: readonly Label[],
  options: PgrCIOptions,
): PgrCIResult {
  const opts = resolveOptions('pgrCI', options);
  const metric = options.metric ?? 'accuracy';
  const threshold = options.threshold ?? 0.5;
  const score = pairedScorer(
    'pgrCI',
    [['weakProbs', weakProbs], ['w2sProbs', w2sProbs], ['ceilingProbs', ceilingProbs]],
    labels,
    metric,
    threshold,
  );
  const stat: Statistic = (idx) => {
    const [a, b, c] = score(idx);
    return a === null || b === null || c === null ? null : pgr(a!, b!, c!);
  };
  const [weak, w2s, ceiling] = score(identity(labels.length)).slice();
  return { ...bootstrapCI(labels.length, stat, opts), weak: weak!, w2s: w2s!, ceiling: ceiling! };
}

// ---- shared machinery (exported for paired.ts, not part of the public index) ----

export interface ResolvedOptions {
  random: () => number;
  resamples: number;
  level: number;
  groups?: readonly number[];
}

export function resolveOptions(fn: string, options: BootstrapOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object' || typeof options.random !== 'function') {
    throw new RangeError(`${fn}: options.random must be a function returning uniform numbers in [0, 1), e.g. a seeded Rng's random.`);
  }
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  checkInt(fn, 'resamples', resamples, 1);
  checkLevel(fn, level);
  return { random: options.random, resamples, level, groups: options.groups };
}

/**
 * Cluster ids 0…G−1 (in order of first appearance) from each example's group key, for BootstrapOptions.groups; an
 * example without a key is a cluster of its own. Undefined when no example has a key: the plain bootstrap applies.
 */
export function clustersFromKeys(keys: readonly (string | null | undefined)[]): number[] | undefined {
  if (!keys.some((k) => k != null)) return undefined;
  const index = new Map<string, number>();
  return keys.map((key, i) => {
    const k = key ?? `\u0000example:${i}`;
    let g = index.get(k);
    if (g === undefined) index.set(k, (g = index.size));
    return g;
  });
}

/** Examples by cluster, from a cluster id per example; throws unless ids are integers 0…G−1 with none empty. */
function clusterIndex(fn: string, groups: readonly number[], n: number): Int32Array[] {
  if (groups.length !== n) throw new RangeError(`${fn}: groups has ${groups.length} entries but there are ${n} examples; give one cluster id per example.`);
  const members: number[][] = [];
  for (let i = 0; i < n; i++) {
    const g = groups[i]!;
    if (!Number.isInteger(g) || g < 0) throw new RangeError(`${fn}: groups[${i}] is ${String(g)}; cluster ids must be integers ≥ 0.`);
    (members[g] ??= []).push(i);
  }
  for (let g = 0; g < members.length; g++) {
    if (!members[g]) throw new RangeError(`${fn}: cluster ${g} has no examples; number clusters 0…G−1 with none skipped.`);
  }
  return members.map((m) => Int32Array.from(m));
}

/**
 * The defined resampled values (unsorted, in draw order) and how many resamples were undefined. Each resample draws n
 * indices, or with options.groups G whole clusters (errors then name `fn`).
 * `values` is a view over a buffer of length `resamples`; only the first values.length entries are meaningful.
 */
export function distribution(
  fn: string,
  n: number,
  statistic: Statistic,
  options: ResolvedOptions,
): { values: Float64Array; undefinedCount: number } {
  const { random, resamples } = options;
  const clusters = options.groups === undefined ? undefined : clusterIndex(fn, options.groups, n);
  const draw = (size: number): number => {
    const k = Math.floor(random() * size);
    return k < size ? k : size - 1; // guard a random() that returns exactly 1
  };
  const largest = clusters ? Math.max(...clusters.map((c) => c.length)) : 1;
  const buffer = new Int32Array(clusters ? clusters.length * largest : n);
  const out = new Float64Array(resamples);
  let m = 0;
  for (let r = 0; r < resamples; r++) {
    let idx: Int32Array;
    if (clusters) {
      let len = 0;
      for (let g = 0; g < clusters.length; g++) {
        const c = clusters[draw(clusters.length)]!;
        buffer.set(c, len);
        len += c.length;
      }
      idx = buffer.subarray(0, len);
    } else {
      for (let j = 0; j < n; j++) buffer[j] = draw(n);
      idx = buffer;
    }
    const v = clean(statistic(idx));
    if (v !== null) out[m++] = v;
  }
  return { values: out.subarray(0, m), undefinedCount: resamples - m };
}

/** Percentile interval of `values` (sorted in place); [null, null] when there are none. */
export function percentileInterval(values: Float64Array, level: number): [number | null, number | null] {
  if (values.length === 0) return [null, null];
  values.sort();
  const alpha = (1 - level) / 2;
  return [quantileSorted(values, alpha), quantileSorted(values, 1 - alpha)];
}

/** Quantile q of ascending `sorted`, linear interpolation between order statistics (R's type 7). */
function quantileSorted(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * After checking inputs, a function that scores several models on the same indices (one value per model, in a
 * reused array). Accuracy sums a precomputed 0/1 correctness vector over the indices; AUROC turns the indices into
 * per-example counts once per call, shared by all models, then sweeps each model's examples pre-sorted by score
 * (O(n) per resample, no sorting).
 */
export function pairedScorer(
  fn: string,
  models: readonly (readonly [name: string, probs: readonly number[]])[],
  labels: readonly Label[],
  metric: PairedMetric,
  threshold: number,
): (indices: Int32Array) => (number | null)[] {
  checkLabels(fn, labels);
  const n = labels.length;
  const out = new Array<number | null>(models.length).fill(null);
  if (metric === 'accuracy') {
    checkThreshold(fn, threshold);
    const correct = models.map(([name, probs]) => {
      checkValues(fn, name, probs, n, true);
      return correctness(probs, labels, threshold);
    });
    return (idx) => {
      for (let m = 0; m < correct.length; m++) {
        const c = correct[m]!;
        let hits = 0;
        for (let j = 0; j < idx.length; j++) hits += c[idx[j]!]!;
        out[m] = hits / idx.length;
      }
      return out;
    };
  }
  if (metric === 'auroc') {
    const plans = models.map(([name, scores]) => {
      checkValues(fn, name, scores, n, false);
      return prepareAuroc(scores, labels);
    });
    const counts = new Int32Array(n);
    return (idx) => {
      counts.fill(0);
      for (let j = 0; j < idx.length; j++) counts[idx[j]!]!++;
      for (let m = 0; m < plans.length; m++) out[m] = weightedAuroc(plans[m]!, counts);
      return out;
    };
  }
  throw new RangeError(`${fn}: metric must be 'accuracy' or 'auroc' (got ${String(metric)}).`);
}

export function identity(n: number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return idx;
}

function clean(v: number | null): number | null {
  return typeof v !== 'number' || Number.isNaN(v) ? null : v;
}
