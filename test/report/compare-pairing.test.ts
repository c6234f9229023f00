import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareRuns, testSplitSettings, type TestView } from '../../src/report/analysis.js';

/** A run's test split with one subject, as testView builds it from a database. */
function view(runId: string, ids: string[], labels: (0 | 1)[], probs: number[], seed: number): TestView {
  const subject = { name: 'weak_ensemble', label: 'weak ensemble', description: 'ensemble', probs };
  return { runId, exampleIds: ids, labels, subjects: [subject], members: [], groups: ids.map(() => null), unscored: [], data: testSplitSettings({ dataset: { name: 'jsonl', path: 'x.jsonl', sizes: { test: ids.length } }, seed }) } as unknown as TestView;
}

test('runs whose test sets overlap are paired on the overlap, never treated as independent, and the note says so', () => {
  // A holds e0..e5, B holds e3..e8: three shared examples, with the same gold labels.
  const a = view('A', ['e0', 'e1', 'e2', 'e3', 'e4', 'e5'], [1, 0, 1, 1, 0, 1], [0.9, 0.2, 0.8, 0.9, 0.1, 0.3], 5);
  const b = view('B', ['e3', 'e4', 'e5', 'e6', 'e7', 'e8'], [1, 0, 1, 0, 0, 1], [0.2, 0.1, 0.7, 0.4, 0.6, 0.9], 6);
  const c = compareRuns(a, b, { resamples: 200, seed: 1 });
  assert.equal(c.pairing.paired, true);
  assert.equal(c.n, 3);
  assert.equal(c.pairing.note, 'paired on the 3 test examples both runs hold (of 6 and 6); their data settings differ: seed 5 vs 6');
  // By hand, on e3, e4, e5 (labels 1, 0, 1): A predicts 1, 0, 0 (right on e3, e4); B predicts 0, 0, 1 (right on e4, e5).
  const pair = c.pairs.find((p) => p.a === 'A:weak_ensemble')!;
  assert.equal(pair.mcnemar.b + pair.mcnemar.c, 2, 'e3 (A right, B wrong) and e5 (A wrong, B right) are the discordant pairs');
  assert.ok(Math.abs(pair.diff.value! - 0) < 1e-12, 'both right on 2 of 3');
});

test('runs with no example in common are compared unpaired', () => {
  const a = view('A', ['e0', 'e1'], [1, 0], [0.9, 0.2], 5);
  const b = view('B', ['f0', 'f1'], [1, 0], [0.9, 0.8], 5);
  const c = compareRuns(a, b, { resamples: 200, seed: 1 });
  assert.equal(c.pairing.paired, false);
  assert.match(c.pairing.note, /^unpaired: the runs share no test example with the same id and gold label/);
});
