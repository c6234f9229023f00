import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bestCandidate, bestOfTurn, type Candidate } from '../../src/debate/best-of-n.js';
import { parseSide } from '../../src/debate/choose.js';
import type { Turn } from '../../src/debate/transcript.js';

test('a choice reply states a side after its last "Side:" marker or as its first word; anything else states none', () => {
  const cases: [string, string | null][] = [
    ['correct', 'correct'], [' Incorrect.', 'incorrect'], ['Side: incorrect', 'incorrect'], ['Side: correct\nSide: incorrect', 'incorrect'],
    ['**Side:** correct', 'correct'], ['I would rather not say.', null], ['Side: both', null], ['', null], ['correctness matters', null],
  ];
  for (const [reply, side] of cases) assert.equal(parseSide(reply), side, JSON.stringify(reply));
});

const cand = (candidate: number, score: number | null): Candidate => ({ candidate, score, text: `c${candidate}`, wordCount: 1, truncated: false, callId: null, scoreCallId: null });

test('the best candidate is the highest score; ties go to the lowest index; an unscored one loses to any scored one', () => {
  assert.equal(bestCandidate([cand(0, 0.2), cand(1, 0.7), cand(2, 0.7)]).candidate, 1, 'tie at 0.7 goes to index 1');
  assert.equal(bestCandidate([cand(0, null), cand(1, 0)]).candidate, 1, 'a score of 0 beats no score');
  assert.equal(bestCandidate([cand(0, null), cand(1, null)]).candidate, 0, 'none scored: the first');
});

test('a resumed turn reuses its stored candidates and samples and scores only the missing ones', async () => {
  const seeds: number[] = [];
  const stored = [cand(0, 0.9)];
  const added: Candidate[] = [];
  const turn = (d: { text: string }): Turn => ({ index: 0, speaker: 'A', side: 'incorrect', text: d.text, wordCount: 1, truncated: false, promptHash: 'h', callId: null });
  const { kept, candidates } = await bestOfTurn(
    { n: 3, score: async (_t, c) => ({ pCorrect: c.text === 'new' ? 0.05 : 0.5, callId: 7 }), stored: () => stored, onCandidate: (_i, c) => void added.push(c) },
    { index: 0, side: 'incorrect' }, 123, [],
    async (seed) => (seeds.push(seed), { text: 'new', wordCount: 1, truncated: false, callId: 1 }),
    turn,
  );
  assert.equal(seeds.length, 2, 'only candidates 1 and 2 are sampled');
  assert.notEqual(seeds[0], seeds[1], 'each candidate has its own seed');
  assert.deepEqual(added.map((c) => [c.candidate, c.score]), [[1, 0.95], [2, 0.95]], 'arguing "incorrect", a P(correct) of 0.05 scores 0.95');
  assert.equal(kept.candidate, 1, '0.95 beats the stored 0.9; the tie between 1 and 2 goes to 1');
  assert.equal(candidates.length, 3, 'all three returned');
});
