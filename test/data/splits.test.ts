import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classBalance, classBalanceBySplit, makeSplits } from '../../src/data/splits.js';
import type { Example, SplitExample } from '../../src/data/types.js';
import { UserError } from '../../src/errors.js';

function pool(prefix: string, n: number): Example[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}/${i}`,
    text: `t${i}`,
    label: (i % 3 === 0 ? 1 : 0) as 0 | 1,
    question: `q${i}`,
    answer: `a${i}`,
  }));
}

const ids = (xs: SplitExample[], split: string): string[] => xs.filter((e) => e.split === split).map((e) => e.id);

describe('makeSplits', () => {
  const sizes = { train_weak: 20, train_strong: 30, test: 10 };

  test('one pool: three disjoint splits of the asked sizes, drawn from it', () => {
    const train = pool('p', 100);
    const s = makeSplits({ train }, { seed: 1, sizes });
    const weak = ids(s, 'train_weak');
    const strong = ids(s, 'train_strong');
    const test_ = ids(s, 'test');
    assert.deepEqual([weak.length, strong.length, test_.length], [20, 30, 10]);
    assert.equal(new Set([...weak, ...strong, ...test_]).size, 60);
    for (const e of s) assert.deepEqual({ ...e, split: undefined }, { ...train.find((t) => t.id === e.id)!, split: undefined });
    // Shuffled, not the first rows in file order.
    assert.notDeepEqual(weak, train.slice(0, 20).map((e) => e.id));
  });

  test('two pools: train splits from the train pool, test from the test pool', () => {
    const s = makeSplits({ train: pool('tr', 50), test: pool('te', 15) }, { seed: 1, sizes });
    assert.ok([...ids(s, 'train_weak'), ...ids(s, 'train_strong')].every((id) => id.startsWith('tr/')));
    assert.ok(ids(s, 'test').every((id) => id.startsWith('te/')));
    assert.equal(new Set(ids(s, 'train_weak').concat(ids(s, 'train_strong'))).size, 50);
  });

  test('the same seed gives the same splits; another seed gives different ones', () => {
    const pools = { train: pool('p', 100) };
    const a = makeSplits(pools, { seed: 42, sizes });
    assert.deepEqual(makeSplits({ train: pool('p', 100) }, { seed: 42, sizes }), a);
    assert.notDeepEqual(ids(makeSplits(pools, { seed: 43, sizes }), 'train_weak'), ids(a, 'train_weak'));
    // Golden value: the seeded shuffle is the same on every machine.
    assert.deepEqual(ids(makeSplits({ train: pool('p', 10) }, { seed: 42, sizes: { train_weak: 3, train_strong: 3, test: 2 } }), 'test'), ['p/0', 'p/2']);
  });

  test('with one pool the test set does not move when the train sizes change', () => {
    const pools = { train: pool('p', 100) };
    const a = makeSplits(pools, { seed: 5, sizes });
    const b = makeSplits(pools, { seed: 5, sizes: { train_weak: 40, train_strong: 40, test: 10 } });
    assert.deepEqual(ids(b, 'test'), ids(a, 'test'));
  });

  test('asking for more than a pool holds says how many exist', () => {
    assert.throws(() => makeSplits({ train: pool('p', 59) }, { seed: 1, sizes }), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /ask for 60 examples but the dataset's one pool has only 59/);
      return true;
    });
    assert.throws(() => makeSplits({ train: pool('p', 100), test: pool('t', 9) }, { seed: 1, sizes }), /asks for 10 examples but the test pool has only 9/);
    assert.throws(() => makeSplits({ train: pool('p', 49), test: pool('t', 10) }, { seed: 1, sizes }), /ask for 50 examples but the train pool has only 49/);
    assert.throws(() => makeSplits({ train: pool('p', 9) }, { seed: 1, sizes: { ...sizes, test: -1 } }), /test size must be a whole number/);
    assert.throws(() => makeSplits({ train: pool('p', 9) }, { seed: 1.5, sizes }), /seed must be an integer/);
  });
});

describe('classBalance', () => {
  test('counts labels overall and per split', () => {
    assert.deepEqual(classBalance(pool('p', 9)), { n: 9, positive: 3, negative: 6, positiveRate: 1 / 3 });
    assert.ok(Number.isNaN(classBalance([]).positiveRate));
    const s = makeSplits({ train: pool('p', 30) }, { seed: 2, sizes: { train_weak: 10, train_strong: 10, test: 10 } });
    const by = classBalanceBySplit(s);
    assert.equal(by.train_weak.n + by.train_strong.n + by.test.n, 30);
    assert.equal(by.train_weak.positive + by.train_strong.positive + by.test.positive, 10);
  });
});
