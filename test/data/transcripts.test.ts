import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readImportFile, type ImportedFile } from '../../src/data/transcripts.js';
import { UserError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const FIXTURE = 'test/fixtures/import/single_turn_debate.jsonl';
const dir = tempDir('w2s-transcripts-');

/** The fixture read by hand, not through the code under test: each question's text, right answer and arguments. */
interface HandArgument { line: number; argueFor: string; argueAgainst: string; correct: boolean; argument: string; snippets: string[] }
function fixtureByHand(): Map<string, { question: string; right: string; args: HandArgument[] }> {
  const out = new Map<string, { question: string; right: string; args: HandArgument[] }>();
  readFileSync(FIXTURE, 'utf8').split('\n').forEach((text, i) => {
    if (!text.trim()) return;
    for (const a of JSON.parse(text).output_data) {
      const id = `single_turn_debate/${a.passage_id}/${a.question_id}`;
      const q = out.get(id) ?? { question: a.question_text, right: a.argue_for_correct ? a.argue_for : a.argue_against, args: [] };
      q.args.push({ line: i + 1, argueFor: a.argue_for, argueAgainst: a.argue_against, correct: a.argue_for_correct, argument: a.argument, snippets: a.selected_snippets });
      out.set(id, q);
    }
  });
  return out;
}

const write = (name: string, rows: unknown[]): string => {
  const file = join(dir, name);
  writeFileSync(file, `${rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`);
  return file;
};

async function rejects(file: string, pattern: RegExp, options: Partial<Parameters<typeof readImportFile>[1]> = {}): Promise<void> {
  await assert.rejects(
    readImportFile(file, { format: 'w2s', protocol: 'debate', seed: 0, ...options }),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `a UserError, not ${String(e)}`);
      assert.match(e.message, pattern, 'the message names the line and the field');
      assert.doesNotMatch(e.message, /\n/, 'one line');
      return true;
    },
  );
}

test('single_turn_debate: each question becomes one example whose two arguments are one debate, with provenance', async () => {
  const hand = fixtureByHand();
  const f: ImportedFile = await readImportFile(FIXTURE, { format: 'single_turn_debate', protocol: 'debate', seed: 3 });
  assert.equal(f.sha256, createHash('sha256').update(readFileSync(FIXTURE)).digest('hex'), 'the sha256 of the bytes read');
  assert.deepEqual(f.examples!.map((e) => e.id).sort(), [...hand.keys()].sort(), 'one example per (passage_id, question_id)');
  for (const e of f.examples!) {
    const q = hand.get(e.id)!;
    assert.equal(e.question, q.question, `${e.id}: the question text`);
    assert.ok(q.args.some((a) => a.argueFor === e.answer), `${e.id}: the proposed answer is one of the two argued`);
    assert.equal(e.label, e.answer === q.right ? 1 : 0, `${e.id}: label 1 exactly when the proposed answer is the right one`);
    assert.equal(e.text, `Question: ${q.question}\nAnswer: ${e.answer}`, `${e.id}: the jsonl dataset's text`);
    assert.equal(e.group, e.id.split('/').slice(0, 2).join('/'), `${e.id}: grouped by passage, so a story never straddles two splits`);
    const [t, ...more] = f.transcripts.get(e.id)!;
    assert.equal(more.length, 0, `${e.id}: one transcript`);
    assert.deepEqual(Object.values(t!.sides).sort(), ['correct', 'incorrect'], `${e.id}: A and B argue opposite sides`);
    for (const turn of t!.turns) {
      const source = q.args.find((a) => (a.argueFor === e.answer) === (turn.side === 'correct'))!;
      assert.ok(turn.text.startsWith(source.argument), `${e.id}: the turn arguing ${turn.side} is the argument for ${source.argueFor}`);
      const kept = source.snippets.map((s, i) => ({ s, n: i + 1 })).filter(({ s }) => s.trim() !== '');
      for (const { s, n } of kept) assert.ok(turn.text.includes(`(#${n}) <quote>${s}</quote>`), `${e.id}: snippet #${n} is appended as a marked quote`);
      assert.equal((turn.text.match(/<quote>/g) ?? []).length, kept.length, `${e.id}: empty snippets are left out`);
      assert.equal(turn.speaker, t!.sides.A === turn.side ? 'A' : 'B', `${e.id}: the speaker is the one holding that side`);
    }
    assert.deepEqual(t!.meta.arguments && (t!.meta.arguments as { line: number }[]).map((a) => a.line).sort(), q.args.map((a) => a.line).sort(), `${e.id}: provenance names both arguments' lines`);
    assert.equal(t!.line, Math.min(...q.args.map((a) => a.line)), `${e.id}: the transcript's line is its first argument's`);
  }
});

test('nothing a model reads depends on the gold label: a source that always lists the right answer first teaches nothing', async () => {
  // 100 questions whose right answer is always argued first in the file, listed first, and written first.
  const rows = Array.from({ length: 100 }, (_, i) => {
    const right = `right answer ${i}`;
    const wrong = `wrong answer ${i}`;
    const arg = (forRight: boolean) => ({
      passage_id: `p${i}`, question_id: 'q', question_text: `Question ${i}?`, argue_for: forRight ? right : wrong, argue_against: forRight ? wrong : right,
      argue_for_correct: forRight, argument: `I argue for ${forRight ? right : wrong}.`, selected_snippets: [],
    });
    return { output_data: [arg(true), arg(false)] };
  });
  const file = write('ordered.jsonl', rows);
  let labelOnes = 0;
  let aArguesGold = 0;
  let n = 0;
  for (const seed of [0, 1, 2, 3]) {
    const f = await readImportFile(file, { format: 'single_turn_debate', protocol: 'debate', seed });
    for (const e of f.examples!) {
      const t = f.transcripts.get(e.id)![0]!;
      labelOnes += e.label;
      aArguesGold += (t.sides.A === 'correct') === (e.label === 1) ? 1 : 0;
      n++;
    }
  }
  // 400 fair coins: 0.5 ± 0.1 is five standard deviations (sd = 0.025).
  assert.ok(Math.abs(labelOnes / n - 0.5) < 0.1, `the proposed answer is the right one ${labelOnes} of ${n} times: a coin, not the file order`);
  assert.ok(Math.abs(aArguesGold / n - 0.5) < 0.1, `the opening speaker argues the gold side ${aArguesGold} of ${n} times: a coin, not the file order`);
});

test('w2s format: rows define examples, several rows of one id are its samples, for/against lists interleave, turns keep their order', async () => {
  const file = write('w2s.jsonl', [
    { id: 'q1', question: 'Is the sky green?', answer: 'yes', label: 0, for: 'It looks green at dusk.', against: { text: 'It is blue.', quotes: ['the sky is blue', ' '] }, meta: { judge: 'human-7' } },
    { id: 'q1', question: 'Is the sky green?', answer: 'yes', label: 0, turns: [{ side: 'against', text: 'Blue.' }, { side: 'for', text: 'Green.' }, { side: 'against', text: 'Still blue.' }] },
    { id: 'q2', question: 'Is 2 even?', answer: 'yes', label: true, passage: 'Two is an even number.', group: 7, for: ['First for.', 'Second for.'], against: ['Only against.'] },
  ]);
  const f = await readImportFile(file, { format: 'w2s', protocol: 'debate', seed: 0 });
  assert.deepEqual(f.examples!.map((e) => [e.id, e.answer, e.label, e.passage ?? null, e.group ?? null]), [['q1', 'yes', 0, null, null], ['q2', 'yes', 1, 'Two is an even number.', '7']], 'one example per id');
  const [t0, t1] = f.transcripts.get('q1')!;
  assert.equal(t0!.line, 1, 'sample 0 is line 1');
  assert.equal(t1!.line, 2, 'sample 1 is line 2');
  assert.deepEqual(t0!.meta, { judge: 'human-7' }, 'the row\'s meta is its provenance');
  const against = t0!.turns.find((t) => t.side === 'incorrect')!;
  assert.equal(against.text, 'It is blue.\n\n<quote>the sky is blue</quote>', 'quotes are appended as marked quotes, blank ones dropped');
  assert.deepEqual(t1!.turns.map((t) => [t.speaker, t.side, t.text]), [['A', 'incorrect', 'Blue.'], ['B', 'correct', 'Green.'], ['A', 'incorrect', 'Still blue.']], 'turns as listed; A is the first speaker');
  assert.deepEqual(t1!.sides, { A: 'incorrect', B: 'correct' }, 'sides follow the first speaker');
  const q2 = f.transcripts.get('q2')![0]!.turns;
  assert.equal(q2.length, 3, 'all three arguments');
  const opener = q2[0]!.side;
  assert.deepEqual(q2.map((t) => t.side), [opener, opener === 'correct' ? 'incorrect' : 'correct', 'correct'], 'alternating from the opener, the longer list last');
  assert.deepEqual(q2.filter((t) => t.side === 'correct').map((t) => t.text), ['First for.', 'Second for.'], 'each side in its own order');
});

test('w2s format: rows that name dataset rows by id give no examples, only transcripts (and the answer they argued about)', async () => {
  const file = write('ids.jsonl', [{ id: 'sciq/train/3', answer: 'mitochondria', for: 'Yes.', against: 'No.' }, { id: 7, for: 'Yes.', against: 'No.' }]);
  const f = await readImportFile(file, { format: 'w2s', protocol: 'debate', seed: 0 });
  assert.equal(f.examples, null, 'the dataset defines the examples');
  assert.deepEqual([...f.transcripts.keys()], ['sciq/train/3', '7'], 'numeric ids as strings');
  assert.deepEqual(f.answers.get('sciq/train/3'), { answer: 'mitochondria', line: 1 }, 'the answer kept for the check against the dataset');
});

test('consultancy: one side per transcript; single_turn_debate gives each argument its own transcript in a seeded order', async () => {
  const file = write('consult.jsonl', [{ id: 'q', question: 'Q?', answer: 'a', label: 1, against: 'No.' }]);
  const f = await readImportFile(file, { format: 'w2s', protocol: 'consultancy', seed: 0 });
  assert.deepEqual(f.transcripts.get('q')![0]!.sides, { A: 'incorrect' }, 'the consultant argues the side given');
  const std = await readImportFile(FIXTURE, { format: 'single_turn_debate', protocol: 'consultancy', seed: 1 });
  for (const [id, list] of std.transcripts) {
    assert.equal(list.length, 2, `${id}: both arguments, each a consultancy`);
    assert.deepEqual(list.map((t) => t.sides.A).sort(), ['correct', 'incorrect'], `${id}: one for and one against the proposed answer`);
  }
});

test('malformed files: one sentence naming the line and the field, and nothing read', async () => {
  const ok = { id: 'q', question: 'Q?', answer: 'a', label: 1, for: 'Yes.', against: 'No.' };
  await rejects(write('json.jsonl', [ok, '{"id": "q2", "question": ']), /json\.jsonl line 2: is not valid JSON/);
  await rejects(write('answer.jsonl', [ok, { id: 'q2', question: 'Q?', label: 1, for: 'x', against: 'y' }]), /line 2: field "answer": missing: a row with "question" needs the proposed "answer"/);
  await rejects(write('label.jsonl', [{ ...ok, label: 'yes' }]), /line 1: field "label": expected 0, 1, true or false/);
  await rejects(write('both.jsonl', [{ ...ok, turns: [{ side: 'for', text: 'x' }] }]), /line 1: field "turns": give either "turns" or "for"\/"against", not both/);
  await rejects(write('none.jsonl', [{ id: 'q', question: 'Q?', answer: 'a', label: 1 }]), /line 1: field "for": missing: give the arguments/);
  await rejects(write('side.jsonl', [{ id: 'q', turns: [{ side: 'pro', text: 'x' }] }]), /line 1: field "turns\.0\.side"/);
  await rejects(write('typo.jsonl', [{ ...ok, metadata: {} }]), /line 1: the row: Unrecognized key: "metadata"/);
  await rejects(write('one-side.jsonl', [{ id: 'q', question: 'Q?', answer: 'a', label: 1, for: 'Yes.' }]), /line 1: example "q": protocol "debate" needs arguments for both sides/);
  await rejects(write('two-sides.jsonl', [ok]), /line 1: example "q": protocol "consultancy" has one advocate/, { protocol: 'consultancy' });
  await rejects(write('mixed.jsonl', [ok, { id: 'r', for: 'x', against: 'y' }]), /line 2: gives no "question", unlike line 1/);
  await rejects(write('differ.jsonl', [ok, { ...ok, label: 0 }]), /line 2: example "q" is defined differently on line 1/);
  await rejects(write('label-alone.jsonl', [{ id: 'q', label: 1, for: 'x', against: 'y' }]), /line 1: field "label": "label" defines an example, which needs "question" too/);
  await rejects(join(dir, 'missing.jsonl'), /missing\.jsonl: cannot read the transcripts to import \(no such file\)/);
  await rejects(write('empty.jsonl', []), /empty\.jsonl: holds no rows/);
  const std = { format: 'single_turn_debate' as const };
  const arg = { passage_id: 'p', question_id: 'q', question_text: 'Q?', argue_for: 'a', argue_against: 'b', argue_for_correct: true, argument: 'x' };
  await rejects(write('std-field.jsonl', [{ output_data: [arg, { ...arg, argument: undefined }] }]), /line 1: output_data\[1\]: field "argument": missing/, std);
  await rejects(write('std-bool.jsonl', [{ ...arg, argue_for_correct: 'TRUE' }]), /line 1: field "argue_for_correct": expected true or false/, std);
  await rejects(write('std-disagree.jsonl', [arg, { ...arg, argue_for: 'b', argue_against: 'a', argue_for_correct: true }]), /field "argue_for_correct": the arguments of example "single_turn_debate\/p\/q" \(line 1\) disagree/, std);
  await rejects(write('std-lonely.jsonl', [arg]), /example "single_turn_debate\/p\/q" \(line 1\): protocol "debate" pairs an argument for each answer/, std);
  await rejects(write('std-three.jsonl', [arg, { ...arg, argue_for: 'c', argue_against: 'a', argue_for_correct: false }]), /its arguments name 3 answers/, std);
});

test('the complete example of docs/import.md reads as the doc says', async () => {
  const doc = readFileSync('docs/import.md', 'utf8');
  const block = /A complete file[^\n]*\n\n```json\n([\s\S]*?)```/.exec(doc)![1]!;
  const f = await readImportFile(write('doc.jsonl', block.trim().split('\n')), { format: 'w2s', protocol: 'debate', seed: 0 });
  assert.deepEqual(f.examples!.map((e) => [e.id, e.label, e.group ?? null]), [['owl-1', 1, 'owls'], ['moon-1', 0, null]], 'two examples');
  assert.deepEqual([...f.transcripts].map(([id, l]) => [id, l.map((t) => t.turns.length)]), [['owl-1', [2, 3]], ['moon-1', [3]]], 'owl-1 has two transcripts');
});
