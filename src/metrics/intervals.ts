import { normalQuantile } from './special.js';
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
