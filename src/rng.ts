import { createHash } from 'node:crypto';

/**
 * A small seeded PRNG (SplitMix32 state, mulberry32 output): the same seed gives the same stream on any machine.
 * Streams for different purposes are derived from a base seed and a label, so adding a new consumer never shifts
 * the numbers an existing one draws.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  random(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** A uniformly random element. */
  choice<T>(items: readonly T[]): T;
  /** Fisher–Yates shuffle, returning a new array. */
  shuffle<T>(items: readonly T[]): T[];
  /** Standard normal (Box–Muller). */
  normal(): number;
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    random: next,
    int: (n) => Math.floor(next() * n),
    choice: (items) => {
      if (items.length === 0) throw new Error('choice() from an empty list');
      return items[Math.floor(next() * items.length)]!;
    },
    shuffle: (items) => {
      const out = items.slice();
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
    normal: () => {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
  return rng;
}

/** A 32-bit seed derived from a base seed and labels, e.g. deriveSeed(7, 'debate', exampleId, sample). */
export function deriveSeed(base: number, ...labels: (string | number)[]): number {
  const h = createHash('sha256').update(String(base));
  for (const l of labels) h.update('\u0000').update(String(l));
  return h.digest().readUInt32LE(0);
}
