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

/** The splits drawn, and what the group rule did to them. */
export interface SplitDraw {
  examples: SplitExample[];
  /** Examples per split actually drawn: at most the size asked, fewer only when no remaining group fits the gap. */
  drawn: Record<SplitName, number>;
  /**
   * With a separate test pool: train-pool examples left out because their group is also in the test split drawn
   * (a passage in both pools). Never test examples. 0 without a test pool, where groups are disjoint by construction.
   */
  trainExcludedSharedGroup: number;
  /** The largest group among the pools (1 when nothing is grouped). */
  largestGroup: number;
}

/** The examples of a pool grouped by `group`, in order of first appearance; an example without a group is its own. */
function groupsOf(pool: readonly Example[]): Example[][] {
  const out: Example[][] = [];
  const byKey = new Map<string, Example[]>();
  for (const e of pool) {
    if (e.group === undefined || e.group === null) {
      out.push([e]);
      continue;
    }
    let g = byKey.get(e.group);
    if (!g) {
      g = [];
      byKey.set(e.group, g);
      out.push(g);
    }
    g.push(e);
  }
  return out;
}

/**
 * Walks the groups in order and takes each one that still fits whole, until `size` examples are taken or the groups
 * run out; the groups not taken stay, in order, for the next split.
 */
function takeGroups(groups: readonly Example[][], size: number): { taken: Example[]; rest: Example[][] } {
  const taken: Example[] = [];
  const rest: Example[][] = [];
  for (const g of groups) {
    if (taken.length < size && taken.length + g.length <= size) taken.push(...g);
    else rest.push(g);
  }
  return { taken, rest };
}

const count = (groups: readonly Example[][]): number => groups.reduce((n, g) => n + g.length, 0);

/**
 * Draws the three splits with the seeded RNG, so the same pools and seed give the same splits on any machine, and
 * never splits a group (examples with the same `group`; an example without one is a group of its own).
 *
 * The train pool's groups are shuffled once; when there is no test pool the test split is filled first from that
 * shuffle (so changing the train sizes leaves the test set as it is), then train_weak, then train_strong, all
 * disjoint. With a test pool, the test split is filled from its own shuffle, and train-pool groups that also occur in
 * the test split drawn are left out of training (counted in `trainExcludedSharedGroup`).
 *
 * Filling a split walks the shuffled groups and takes every group that still fits whole, so a split holds exactly the
 * size asked unless no remaining group fits the last gap: then it holds fewer, short by less than the largest group.
 * Ungrouped, this is the plain shuffle-and-slice. Within each split the order is the shuffled order.
 */
export function drawSplits(pools: Pools, options: SplitOptions): SplitDraw {
  const { seed, sizes } = options;
  if (!Number.isInteger(seed)) throw new UserError(`The split seed must be an integer, got ${seed}.`);
  for (const key of ['train_weak', 'train_strong', 'test'] as const) {
    const v = sizes[key];
    if (!Number.isInteger(v) || v < 0) throw new UserError(`The ${key} size must be a whole number of examples, got ${v}.`);
  }
  const trainGroups = createRng(deriveSeed(seed, 'splits', 'train')).shuffle(groupsOf(pools.train));
  const testGroups = pools.test ? groupsOf(pools.test) : [];
  const largestGroup = Math.max(1, ...trainGroups.map((g) => g.length), ...testGroups.map((g) => g.length));
  const tag = (examples: Example[], split: SplitName): SplitExample[] => examples.map((e) => ({ ...e, split }));

  let test: Example[];
  let rest: Example[][];
  let trainExcludedSharedGroup = 0;
  if (pools.test) {
    if (sizes.test > pools.test.length) {
      throw new UserError(`The test split asks for ${sizes.test} examples but the test pool has only ${pools.test.length}; lower sizes.test.`);
    }
    test = takeGroups(createRng(deriveSeed(seed, 'splits', 'test')).shuffle(testGroups), sizes.test).taken;
    const inTest = new Set(test.flatMap((e) => (e.group === undefined || e.group === null ? [] : [e.group])));
    rest = trainGroups.filter((g) => {
      const shared = g[0]!.group != null && inTest.has(g[0]!.group);
      if (shared) trainExcludedSharedGroup += g.length;
      return !shared;
    });
    const need = sizes.train_weak + sizes.train_strong;
    const have = count(rest);
    if (need > have) {
      const why = trainExcludedSharedGroup
        ? ` once the ${trainExcludedSharedGroup} examples whose group is also in the test split are left out (of ${pools.train.length})`
        : '';
      throw new UserError(`train_weak + train_strong ask for ${need} examples but the train pool has only ${have}${why}; lower the split sizes.`);
    }
  } else {
    const need = sizes.train_weak + sizes.train_strong + sizes.test;
    if (need > pools.train.length) {
      throw new UserError(
        `train_weak + train_strong + test ask for ${need} examples but the dataset's one pool has only ${pools.train.length}; lower the split sizes.`,
      );
    }
    const t = takeGroups(trainGroups, sizes.test);
    test = t.taken;
    rest = t.rest;
  }
  const weak = takeGroups(rest, sizes.train_weak);
  const strong = takeGroups(weak.rest, sizes.train_strong).taken;
  const drawn = { train_weak: weak.taken.length, train_strong: strong.length, test: test.length };
  for (const split of ['test', 'train_weak', 'train_strong'] as const) {
    if (sizes[split] > 0 && drawn[split] === 0) {
      throw new UserError(
        `The ${split} split got no examples: groups are kept whole and none left fits in ${sizes[split]} (the largest has ${largestGroup}); raise sizes.${split} or set dataset.groupBy to a finer field.`,
      );
    }
  }
  return {
    examples: [...tag(weak.taken, 'train_weak'), ...tag(strong, 'train_strong'), ...tag(test, 'test')],
    drawn,
    trainExcludedSharedGroup,
    largestGroup,
  };
}

/** The examples of `drawSplits`, tagged with their split. */
export function makeSplits(pools: Pools, options: SplitOptions): SplitExample[] {
  return drawSplits(pools, options).examples;
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
