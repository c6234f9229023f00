import { normalQuantile, studentTQuantile } from './special.js';
import { checkInt, checkLevel } from './validate.js';

export interface ProportionInterval {
  /** successes / n */
  estimate: number;
  lo: number;
  hi: number;
  level: number;
}

const zCache = new Map<number, number>();

/** The two-sided normal critical value for `level`, e.g. 1.95996… for 0.95. */
export function zForLevel(level: number): number {
  checkLevel('zForLevel', level);
  let z = zCache.get(level);
  if (z === undefined) {
    z = normalQuantile(1 - (1 - level) / 2);
    zCache.set(level, z);
  }
  return z;
}

/**
 * Wilson score interval for a binomial proportion: the cheap, closed-form interval for an accuracy in a table
 * (no resampling). Unlike the Wald interval it stays inside [0, 1] and is sensible at 0/n and n/n.
 *   centre = (p̂ + z²/2n) / (1 + z²/n),  half-width = z/(1 + z²/n) · √(p̂(1 − p̂)/n + z²/4n²)
 * Throws when n < 1 or successes is not an integer in [0, n].
 */
export function wilson(successes: number, n: number, level = 0.95): ProportionInterval {
  checkInt('wilson', 'n', n, 1);
  checkInt('wilson', 'successes', successes, 0);
  if (successes > n) throw new RangeError(`wilson: successes (${successes}) cannot exceed n (${n}).`);
  const z = zForLevel(level);
  const p = successes / n;
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  // Clamp only float noise: the exact interval contains 0 (or 1) when successes is 0 (or n).
  return {
    estimate: p,
    lo: successes === 0 ? 0 : Math.max(0, centre - half),
    hi: successes === n ? 1 : Math.min(1, centre + half),
    level,
  };
}

export interface ClusteredProportion extends ProportionInterval {
  /** Trials (e.g. transcripts) and clusters (e.g. passages) behind the estimate. */
  n: number;
  clusters: number;
  /** Cluster-robust standard error of the estimate. */
  se: number;
}

/**
 * A proportion whose trials come in clusters (the K transcripts of one example, the examples of one passage), with a
 * cluster-robust (sandwich) standard error, so correlated trials are not counted as independent evidence:
 *   p̂ = Σa_c / Σn_c,  se² = G/(G − 1) · Σ (a_c − p̂·n_c)² / (Σn_c)²   (G clusters)
 * and a normal interval p̂ ± z·se clamped to [0, 1]. Empty clusters are ignored; throws when no trial is left.
 */
export function clusteredProportion(successes: readonly number[], trials: readonly number[], level = 0.95): ClusteredProportion {
  checkLevel('clusteredProportion', level);
  if (successes.length !== trials.length) throw new RangeError('clusteredProportion: successes and trials must have one entry per cluster.');
  let a = 0;
  let n = 0;
  let g = 0;
  for (let c = 0; c < trials.length; c++) {
    const t = trials[c]!;
    const s = successes[c]!;
    if (!Number.isInteger(t) || t < 0 || !Number.isInteger(s) || s < 0 || s > t) {
      throw new RangeError(`clusteredProportion: cluster ${c} has ${s} successes of ${t} trials; both must be whole numbers with successes ≤ trials.`);
    }
    if (t === 0) continue;
    a += s;
    n += t;
    g++;
  }
  if (n === 0) throw new RangeError('clusteredProportion: needs at least one trial.');
  const p = a / n;
  let ss = 0;
  for (let c = 0; c < trials.length; c++) if (trials[c]! > 0) ss += (successes[c]! - p * trials[c]!) ** 2;
  const se = g > 1 ? Math.sqrt(((g / (g - 1)) * ss) / (n * n)) : NaN;
  const z = zForLevel(level);
  const half = Number.isFinite(se) ? z * se : Infinity;
  return { estimate: p, lo: Math.max(0, p - half), hi: Math.min(1, p + half), level, n, clusters: g, se };
}

export interface MeanInterval {
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); NaN for one value. */
  sd: number;
  /** Student-t interval for the mean; null with fewer than two values. */
  lo: number | null;
  hi: number | null;
  n: number;
  level: number;
}

/**
 * The mean of a few replicate values (e.g. one accuracy per training seed) with a Student-t interval,
 * mean ± t_{n−1, (1+level)/2} · sd/√n: the variance between replicates, which a bootstrap over test examples does
 * not see.
 */
export function tInterval(values: readonly number[], level = 0.95): MeanInterval {
  checkLevel('tInterval', level);
  const n = values.length;
  if (n === 0) throw new RangeError('tInterval: needs at least one value.');
  for (const [i, v] of values.entries()) if (!Number.isFinite(v)) throw new RangeError(`tInterval: values[${i}] is ${String(v)}; expected a finite number.`);
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, sd: NaN, lo: null, hi: null, n, level };
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const half = studentTQuantile(1 - (1 - level) / 2, n - 1) * (sd / Math.sqrt(n));
  return { mean, sd, lo: mean - half, hi: mean + half, n, level };
}
