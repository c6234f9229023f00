import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classBalance, classBalanceBySplit, drawSplits, makeSplits } from '../../src/data/splits.js';
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

/** A pool whose examples carry the groups given, in order: ['a', 'a', undefined, 'b'] → 4 examples. */
function grouped(prefix: string, groups: (string | undefined)[]): Example[] {
  return groups.map((group, i) => ({ id: `${prefix}/${i}`, text: `t${i}`, label: (i % 2) as 0 | 1, question: `q${i}`, answer: `a${i}`, ...(group === undefined ? {} : { group }) }));
}

/** The split each group landed in; fails when a group is in two. */
function splitOfGroup(s: SplitExample[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of s) {
    if (e.group === undefined) continue;
    const before = out.get(e.group);
    assert.ok(before === undefined || before === e.split, `group ${e.group} is in ${before} and ${e.split}`);
    out.set(e.group, e.split);
  }
  return out;
}

describe('makeSplits with groups', () => {
  test('pairs are never split, and each split takes whole pairs up to its size (4 of 5, 4 of 5, 6 of 6)', () => {
    // 10 questions, two rows each: a split of odd size can hold only size - 1.
    const pairs = grouped('p', Array.from({ length: 20 }, (_, i) => `q${Math.floor(i / 2)}`));
    for (const seed of [0, 1, 2, 3]) {
      const d = drawSplits({ train: pairs }, { seed, sizes: { test: 5, train_weak: 5, train_strong: 6 } });
      assert.deepEqual(d.drawn, { test: 4, train_weak: 4, train_strong: 6 });
      assert.deepEqual([ids(d.examples, 'test').length, ids(d.examples, 'train_weak').length, ids(d.examples, 'train_strong').length], [4, 4, 6]);
      assert.equal(splitOfGroup(d.examples).size, 7);
      // Every pair has one row of each label, so whole pairs keep every split at exactly half positives.
      for (const split of ['test', 'train_weak', 'train_strong'] as const) {
        const b = classBalance(d.examples.filter((e) => e.split === split));
        assert.equal(b.positive * 2, b.n);
      }
      assert.equal(d.trainExcludedSharedGroup, 0);
      assert.equal(d.largestGroup, 2);
    }
  });

  test('mixed group sizes: no group straddles, no split exceeds its size, and a short split has no leftover group that fits', () => {
    // Groups of 1 to 5 examples, interleaved in the pool, plus ungrouped examples.
    const labels: (string | undefined)[] = [];
    for (let g = 0; g < 40; g++) for (let k = 0; k <= g % 5; k++) labels.push(`g${g}`);
    for (let i = 0; i < 15; i++) labels.splice(i * 7, 0, undefined);
    const train = grouped('m', labels);
    const sizes = { test: 23, train_weak: 31, train_strong: 29 };
    for (let seed = 0; seed < 20; seed++) {
      const d = drawSplits({ train }, { seed, sizes });
      const where = splitOfGroup(d.examples);
      const size = (g: string): number => labels.filter((l) => l === g).length;
      const leftover = [...new Set(labels.filter((l): l is string => l !== undefined && !where.has(l)))];
      const leftoverSingles = train.filter((e) => e.group === undefined && !d.examples.some((x) => x.id === e.id)).length;
      for (const split of ['test', 'train_weak', 'train_strong'] as const) {
        const n = d.examples.filter((e) => e.split === split).length;
        assert.equal(d.drawn[split], n);
        assert.ok(n <= sizes[split], `${split}: ${n} > ${sizes[split]}`);
        // The last split filled sees every leftover: none of them would have fitted its gap.
        if (split === 'train_strong' && n < sizes[split]) {
          assert.equal(leftoverSingles, 0);
          for (const g of leftover) assert.ok(size(g) > sizes[split] - n, `group ${g} (${size(g)}) fits the gap of ${sizes[split] - n}`);
        }
      }
      // With ungrouped examples left over, every split but the last is filled exactly.
      if (leftoverSingles > 0) assert.deepEqual([d.drawn.test, d.drawn.train_weak, d.drawn.train_strong], [23, 31, 29]);
    }
  });

  test('all-different groups give exactly the ungrouped splits', () => {
    const plain = pool('p', 100);
    const own = plain.map((e) => ({ ...e, group: `own-${e.id}` }));
    const sizes = { train_weak: 20, train_strong: 30, test: 10 };
    assert.deepEqual(makeSplits({ train: own }, { seed: 9, sizes }).map((e) => [e.id, e.split]), makeSplits({ train: plain }, { seed: 9, sizes }).map((e) => [e.id, e.split]));
  });

  test('with one pool the grouped test set does not move when the train sizes change', () => {
    const train = grouped('p', Array.from({ length: 90 }, (_, i) => `g${i % 37}`));
    const a = makeSplits({ train }, { seed: 4, sizes: { test: 10, train_weak: 10, train_strong: 10 } });
    const b = makeSplits({ train }, { seed: 4, sizes: { test: 10, train_weak: 30, train_strong: 20 } });
    assert.deepEqual(ids(b, 'test'), ids(a, 'test'));
  });

  test('a test pool: train groups also in the test split drawn are left out of training and counted, test is untouched', () => {
    // Test pool: passages x (2 rows) and y (1 row), all taken. Train pool: x twice, y once, and a, b, c, d.
    const test = grouped('te', ['x', 'x', 'y']);
    const train = grouped('tr', ['x', 'a', 'y', 'b', 'x', 'c', 'd']);
    const d = drawSplits({ train, test }, { seed: 3, sizes: { test: 3, train_weak: 3, train_strong: 1 } });
    assert.deepEqual(ids(d.examples, 'test').sort(), ['te/0', 'te/1', 'te/2']);
    assert.equal(d.trainExcludedSharedGroup, 3); // tr/0, tr/4 (x) and tr/2 (y)
    const train_ = [...ids(d.examples, 'train_weak'), ...ids(d.examples, 'train_strong')].sort();
    assert.deepEqual(train_, ['tr/1', 'tr/3', 'tr/5', 'tr/6']);
    assert.deepEqual(d.drawn, { test: 3, train_weak: 3, train_strong: 1 });
    // Only the groups in the test split drawn count: with test 1, x (2 rows) cannot be taken, so only y is shared.
    const one = drawSplits({ train, test }, { seed: 3, sizes: { test: 1, train_weak: 1, train_strong: 1 } });
    assert.deepEqual(ids(one.examples, 'test'), ['te/2']);
    assert.equal(one.trainExcludedSharedGroup, 1);
    assert.ok(!one.examples.some((e) => e.id === 'tr/2'));
  });

  test('too few examples once shared groups are left out, or no group fits: one sentence saying so', () => {
    const test = grouped('te', ['x', 'x']);
    const train = grouped('tr', ['x', 'x', 'x', 'a', 'b']);
    assert.throws(() => makeSplits({ train, test }, { seed: 0, sizes: { test: 2, train_weak: 2, train_strong: 1 } }), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.equal(e.message, 'train_weak + train_strong ask for 3 examples but the train pool has only 2 once the 3 examples whose group is also in the test split are left out (of 5); lower the split sizes.');
      return true;
    });
    const triples = grouped('t', Array.from({ length: 12 }, (_, i) => `g${Math.floor(i / 3)}`));
    assert.throws(() => makeSplits({ train: triples }, { seed: 0, sizes: { test: 2, train_weak: 3, train_strong: 3 } }), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /^The test split got no examples: groups are kept whole and none left fits in 2 \(the largest has 3\); raise sizes\.test or set dataset\.groupBy to a finer field\.$/);
      return true;
    });
  });
});
