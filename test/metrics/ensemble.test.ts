import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracyBySize, majorityVote, meanSoftLabel } from '../../src/metrics/index.js';
import { createRng } from '../../src/rng.js';

const members = [
  [0.9, 0.2, 0.6, 0.4],
  [0.8, 0.4, 0.4, 0.45],
  [0.1, 0.3, 0.7, 0.7],
];
const labels: (0 | 1)[] = [1, 0, 1, 1];

test('meanSoftLabel averages members per example', () => {
  const m = meanSoftLabel(members);
  const want = [0.6, 0.3, 1.7 / 3, 1.55 / 3];
  m.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-12, `${v} vs ${want[i]}`));
  assert.deepEqual(meanSoftLabel([[0.25, 1]]), [0.25, 1]);
});

test('majorityVote takes the hard majority and breaks ties with the mean soft label', () => {
  // votes per example: (1,1,0) → 1, (0,0,0) → 0, (1,0,1) → 1, (0,0,1) → 0
  assert.deepEqual(majorityVote(members), [1, 0, 1, 0]);
  // two members: 0.9 vs 0.3 ties 1–1, mean 0.6 → 1; 0.6 vs 0.1 ties, mean 0.35 → 0; 0.7 vs 0.3 mean exactly 0.5 → 0
  assert.deepEqual(majorityVote([[0.9, 0.6, 0.7], [0.3, 0.1, 0.3]]), [1, 0, 0]);
});

test('accuracyBySize enumerates all subsets when there are few (hand computation)', () => {
  // size 1: member accuracies 3/4, 2/4, 3/4 → mean 2/3, min 0.5, max 0.75
  // size 2: {0,1} mean [.85 .3 .5 .425] → [1 0 0 0] = 0.5; {0,2} [.5 .25 .65 .55] → [0 0 1 1] = 0.75;
  //         {1,2} [.45 .35 .55 .575] → [0 0 1 1] = 0.75 → mean 2/3
  // size 3: mean [.6 .3 .567 .517] → [1 0 1 1] = 1
  const r = accuracyBySize(members, labels, { random: () => { throw new Error('not needed'); } });
  assert.equal(r.length, 3);
  assert.ok(Math.abs(r[0]!.accuracy - 2 / 3) < 1e-12);
  assert.deepEqual([r[0]!.min, r[0]!.max, r[0]!.subsets, r[0]!.exact], [0.5, 0.75, 3, true]);
  assert.ok(Math.abs(r[1]!.accuracy - 2 / 3) < 1e-12);
  assert.deepEqual([r[1]!.min, r[1]!.max, r[1]!.subsets], [0.5, 0.75, 3]);
  assert.deepEqual(r[2], { size: 3, accuracy: 1, min: 1, max: 1, subsets: 1, exact: true });
});

test('accuracyBySize with combine "vote" uses majority voting', () => {
  // size 3 votes [1 0 1 0] → 3/4
  const r = accuracyBySize(members, labels, { random: Math.random, combine: 'vote' });
  assert.equal(r[2]!.accuracy, 0.75);
});

test('accuracyBySize samples subsets when there are more than `orderings`, deterministically per seed', () => {
  const rng = createRng(1);
  const y = Array.from({ length: 50 }, () => (rng.random() < 0.5 ? 1 : 0) as 0 | 1);
  const many = Array.from({ length: 8 }, () => y.map((v) => (rng.random() < 0.7 ? (v ? 0.8 : 0.2) : v ? 0.3 : 0.7)));
  const a = accuracyBySize(many, y, { random: createRng(2).random, orderings: 5 });
  const b = accuracyBySize(many, y, { random: createRng(2).random, orderings: 5 });
  assert.deepEqual(a, b);
  assert.deepEqual(a.map((s) => s.exact), [false, false, false, false, false, false, false, true]);
  assert.deepEqual(a.map((s) => s.subsets), [5, 5, 5, 5, 5, 5, 5, 1]);
  for (const s of a) assert.ok(s.min <= s.accuracy && s.accuracy <= s.max);
  // Independent 70%-accurate members: the 8-member mean beats the average single member.
  assert.ok(a[7]!.accuracy > a[0]!.accuracy);
});

test('ensemble helpers reject ragged or empty member arrays', () => {
  assert.throws(() => meanSoftLabel([]), /non-empty members × examples/);
  assert.throws(() => meanSoftLabel([[0.1, 0.2], [0.3]]), /memberProbs\[1\] has 1 entries/);
  assert.throws(() => majorityVote([[1.5]]), /probability in \[0, 1\]/);
  assert.throws(() => accuracyBySize(members, [1, 0], { random: Math.random }), /labels has 2/);
  assert.throws(() => accuracyBySize(members, labels, { random: Math.random, combine: 'max' as never }), /combine must be/);
});
