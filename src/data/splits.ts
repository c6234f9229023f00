import { UserError } from '../errors.js';
import { createRng, deriveSeed } from '../rng.js';
import type { Example, Pools, SplitExample, SplitName } from './types.js';

export interface SplitSizes {
  train_weak: number;
  train_strong: number;
  test: number;
}

export interface SplitOptions {
  seed: number;
  sizes: SplitSizes;
}

/**
 * Draws the three splits with the seeded RNG, so the same pools and seed give the same splits on any machine.
 * The train pool is shuffled once; when there is no test pool the test examples come first from that shuffle (so
 * changing the train sizes leaves the test set as it is), then train_weak, then train_strong, all disjoint. With a
 * test pool, the test examples are drawn from its own shuffle. Within each split the order is the shuffled order.
 */
export function makeSplits(pools: Pools, options: SplitOptions): SplitExample[] {
  const { seed, sizes } = options;
  if (!Number.isInteger(seed)) throw new UserError(`The split seed must be an integer, got ${seed}.`);
  for (const key of ['train_weak', 'train_strong', 'test'] as const) {
    const v = sizes[key];
    if (!Number.isInteger(v) || v < 0) throw new UserError(`The ${key} size must be a whole number of examples, got ${v}.`);
  }
  const train = createRng(deriveSeed(seed, 'splits', 'train')).shuffle(pools.train);
  const tag = (examples: Example[], split: SplitName): SplitExample[] => examples.map((e) => ({ ...e, split }));

  let test: Example[];
  let rest: Example[];
  if (pools.test) {
    if (sizes.test > pools.test.length) {
      throw new UserError(`The test split asks for ${sizes.test} examples but the test pool has only ${pools.test.length}; lower sizes.test.`);
    }
    test = createRng(deriveSeed(seed, 'splits', 'test')).shuffle(pools.test).slice(0, sizes.test);
    rest = train;
    const need = sizes.train_weak + sizes.train_strong;
    if (need > train.length) {
      throw new UserError(
        `train_weak + train_strong ask for ${need} examples but the train pool has only ${train.length}; lower the split sizes.`,
      );
    }
  } else {
    const need = sizes.train_weak + sizes.train_strong + sizes.test;
    if (need > train.length) {
      throw new UserError(
        `train_weak + train_strong + test ask for ${need} examples but the dataset's one pool has only ${train.length}; lower the split sizes.`,
      );
    }
    test = train.slice(0, sizes.test);
    rest = train.slice(sizes.test);
  }
  const weak = rest.slice(0, sizes.train_weak);
  const strong = rest.slice(sizes.train_weak, sizes.train_weak + sizes.train_strong);
  return [...tag(weak, 'train_weak'), ...tag(strong, 'train_strong'), ...tag(test, 'test')];
}

export interface ClassBalance {
  n: number;
  positive: number;
  negative: number;
  /** positive / n; NaN when there are no examples. */
  positiveRate: number;
}

export function classBalance(examples: readonly Pick<Example, 'label'>[]): ClassBalance {
  let positive = 0;
  for (const e of examples) if (e.label === 1) positive++;
  const n = examples.length;
  return { n, positive, negative: n - positive, positiveRate: n === 0 ? NaN : positive / n };
}

/** Class balance per split, in split order. */
export function classBalanceBySplit(examples: readonly SplitExample[]): Record<SplitName, ClassBalance> {
  const of = (split: SplitName): ClassBalance => classBalance(examples.filter((e) => e.split === split));
  return { train_weak: of('train_weak'), train_strong: of('train_strong'), test: of('test') };
}
