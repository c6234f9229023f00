import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { anthropicHhRowSchema, formatAnthropicHh, splitFinalAssistantTurn } from '../../src/data/anthropic_hh.js';
import { boolqRowSchema, formatBoolq } from '../../src/data/boolq.js';
import { cosmosQaRowSchema, formatCosmosQa } from '../../src/data/cosmos_qa.js';
import { formatUserRow, userRowSchema } from '../../src/data/jsonl.js';
import { formatSciq, sciqRowSchema } from '../../src/data/sciq.js';
import { describeIssues } from '../../src/data/rows.js';
import { scripted } from '../helpers/scripted-rng.js';

const sciqRow = sciqRowSchema.parse({
  question: 'What is the powerhouse of the cell?',
  correct_answer: 'mitochondria',
  distractor1: 'ribosome',
  distractor2: 'golgi body',
  distractor3: 'nucleus',
  support: 'Mitochondria make ATP.',
});

describe('sciq', () => {
  test('a draw below 0.5 shows the correct answer with label 1', () => {
    const rng = scripted([0.49]);
    const e = formatSciq(sciqRow, rng, 'sciq/train/0');
    assert.deepEqual(e, {
      id: 'sciq/train/0',
      text: 'Q: What is the powerhouse of the cell? A: mitochondria',
      label: 1,
      question: 'What is the powerhouse of the cell?',
      answer: 'mitochondria',
      meta: { support: 'Mitochondria make ATP.' },
      passage: 'Mitochondria make ATP.',
      withoutPassage: { question: 'What is the powerhouse of the cell?', text: 'Q: What is the powerhouse of the cell? A: mitochondria' },
    });
    assert.equal(rng.left(), 0);
  });

  test('a draw of 0.5 or more shows the distractor the next draw picks, with label 0', () => {
    for (const [pick, answer] of [[0.0, 'ribosome'], [0.5, 'golgi body'], [0.99, 'nucleus']] as const) {
      const rng = scripted([0.5, pick]);
      const e = formatSciq(sciqRow, rng, 'x');
      assert.equal(e.label, 0);
      assert.equal(e.answer, answer);
      assert.equal(e.text, `Q: What is the powerhouse of the cell? A: ${answer}`);
      assert.equal(rng.left(), 0);
    }
  });

  test('a row without the correct answer fails validation with the field named', () => {
    const r = sciqRowSchema.safeParse({ question: 'q', distractor1: 'a', distractor2: 2, distractor3: 'c' });
    assert.equal(r.success, false);
    assert.equal(
      describeIssues(r.error!.issues),
      'field "correct_answer": missing (expected string); field "distractor2": Invalid input: expected string, received number',
    );
  });
});

describe('boolq', () => {
  const raw = { question: 'can penguins fly', title: 'Penguin', answer: false, passage: 'Penguins are flightless birds.' };

  test('label is the answer; text is the passage then the question; the claim judged is "yes"', () => {
    assert.deepEqual(formatBoolq(boolqRowSchema.parse(raw), 'boolq/dev/1'), {
      id: 'boolq/dev/1',
      text: 'Passage: Penguins are flightless birds.\nQuestion: can penguins fly',
      label: 0,
      question: 'Passage: Penguins are flightless birds.\nQuestion: can penguins fly',
      answer: 'yes',
      meta: { title: 'Penguin' },
      passage: 'Penguins are flightless birds.',
      withoutPassage: { question: 'can penguins fly', text: 'Question: can penguins fly' },
    });
    assert.equal(formatBoolq(boolqRowSchema.parse({ ...raw, answer: true }), 'b').label, 1);
  });

  test('an answer given as a string is rejected', () => {
    const r = boolqRowSchema.safeParse({ ...raw, answer: 'false' });
    assert.equal(r.success, false);
    assert.match(describeIssues(r.error!.issues), /^field "answer": .*expected boolean/);
  });
});

describe('cosmos_qa', () => {
  const raw = {
    id: 'c9',
    context: 'I studied all night .',
    question: 'What may happen next ?',
    answer0: 'I will pass .',
    answer1: 'I will sleep in class .',
    answer2: 'I will fail .',
    answer3: 'None of the above choices .',
    label: '1',
  };
  const prefix = 'Context: I studied all night .\nQuestion: What may happen next ?\nAnswer: ';

  test('a label drawn 1 shows the true option', () => {
    const rng = scripted([0.2]);
    assert.deepEqual(formatCosmosQa(cosmosQaRowSchema.parse(raw), rng, 'cosmos_qa/valid/0'), {
      id: 'cosmos_qa/valid/0',
      text: `${prefix}I will sleep in class .`,
      label: 1,
      question: 'Context: I studied all night .\nQuestion: What may happen next ?',
      answer: 'I will sleep in class .',
      meta: { sourceId: 'c9' },
      passage: 'I studied all night .',
      withoutPassage: { question: 'What may happen next ?', text: 'Question: What may happen next ?\nAnswer: I will sleep in class .' },
    });
    assert.equal(rng.left(), 0);
  });

  test('a label drawn 0 shows one of the other three options, chosen by the next draw', () => {
    for (const [pick, answer] of [[0.1, 'I will pass .'], [0.4, 'I will fail .'], [0.9, 'None of the above choices .']] as const) {
      const rng = scripted([0.7, pick]);
      const e = formatCosmosQa(cosmosQaRowSchema.parse(raw), rng, 'x');
      assert.equal(e.label, 0);
      assert.equal(e.text, prefix + answer);
      assert.equal(rng.left(), 0);
    }
  });

  test('when the true option is "None of the above choices ." the label is 0 without a label draw', () => {
    const rng = scripted([0.0]); // one draw only: the choice among the other options
    const e = formatCosmosQa(cosmosQaRowSchema.parse({ ...raw, label: 3 }), rng, 'x');
    assert.equal(e.label, 0);
    assert.equal(e.answer, 'I will pass .');
    assert.equal(rng.left(), 0);
  });

  test('options equal to the true one are never shown as the wrong answer', () => {
    const row = cosmosQaRowSchema.parse({ ...raw, answer0: 'same', answer1: 'same', answer2: 'same', answer3: 'other', label: 0 });
    assert.equal(formatCosmosQa(row, scripted([0.9, 0.0]), 'x').answer, 'other');
  });

  test('a label outside 0-3 and all-equal options are rejected', () => {
    const bad = cosmosQaRowSchema.safeParse({ ...raw, label: '4' });
    assert.equal(describeIssues(bad.error!.issues), 'field "label": expected the index of the correct option: 0, 1, 2 or 3');
    const same = cosmosQaRowSchema.safeParse({ ...raw, answer0: 'a', answer1: 'a', answer2: 'a', answer3: 'a' });
    assert.match(describeIssues(same.error!.issues), /all four options are the same/);
  });
});

describe('anthropic_hh', () => {
  const raw = {
    chosen: '\n\nHuman: Say something mean.\n\nAssistant: No.\n\nHuman: Please?\n\nAssistant: Sorry, I won\'t.',
    rejected: '\n\nHuman: Say something mean.\n\nAssistant: No.\n\nHuman: Please?\n\nAssistant: You are dull.',
  };

  test('label 1 shows the chosen transcript, split at its final assistant turn', () => {
    const rng = scripted([0.1]);
    assert.deepEqual(formatAnthropicHh(anthropicHhRowSchema.parse(raw), rng, 'anthropic_hh/harmless-base_test/0'), {
      id: 'anthropic_hh/harmless-base_test/0',
      text: raw.chosen,
      label: 1,
      question: 'Human: Say something mean.\n\nAssistant: No.\n\nHuman: Please?',
      answer: "Sorry, I won't.",
      meta: {},
    });
  });

  test('label 0 shows the rejected transcript', () => {
    const e = formatAnthropicHh(anthropicHhRowSchema.parse(raw), scripted([0.5]), 'x');
    assert.equal(e.label, 0);
    assert.equal(e.text, raw.rejected);
    assert.equal(e.answer, 'You are dull.');
  });

  test('an empty final reply gives an empty answer; a dialogue without an assistant turn is rejected', () => {
    assert.deepEqual(splitFinalAssistantTurn('\n\nHuman: Hi\n\nAssistant:'), { question: 'Human: Hi', answer: '' });
    const r = anthropicHhRowSchema.safeParse({ chosen: '\n\nHuman: Hi', rejected: raw.rejected });
    assert.match(describeIssues(r.error!.issues), /field "chosen": has no "\\n\\nAssistant:" turn/);
  });
});

describe('generic jsonl rows', () => {
  const rec = (index: number) => ({ value: null, file: '/data/my-set.jsonl.gz', line: index + 1, index });

  test('text-only rows: the text is the question, the answer is empty, boolean labels become 0/1', () => {
    assert.deepEqual(formatUserRow(userRowSchema.parse({ text: 'The sky is green.', label: false }), rec(4)), {
      id: 'jsonl/my-set/4', text: 'The sky is green.', label: 0, question: 'The sky is green.', answer: '', meta: {},
    });
  });

  test('question/answer and question/candidate rows get the default text; own ids and text are kept', () => {
    assert.deepEqual(formatUserRow(userRowSchema.parse({ question: 'Capital of France?', candidate: 'Paris', label: 1, id: 7 }), rec(0)), {
      id: '7', text: 'Question: Capital of France?\nAnswer: Paris', label: 1, question: 'Capital of France?', answer: 'Paris', meta: {},
    });
    const own = formatUserRow(userRowSchema.parse({ question: 'q', answer: 'a', text: 'custom', label: true, meta: { k: 1 } }), rec(1));
    assert.equal(own.text, 'custom');
    assert.equal(own.label, 1);
    assert.deepEqual(own.meta, { k: 1 });
  });

  test('incomplete or contradictory rows are rejected with the field named', () => {
    const cases: [unknown, RegExp][] = [
      [{ question: 'q', label: 1 }, /field "answer": missing: a row with "question" needs "answer"/],
      [{ answer: 'a', label: 1 }, /field "question": missing/],
      [{ label: 1 }, /field "text": missing: give "text", or "question" and "answer"/],
      [{ question: 'q', answer: 'a', candidate: 'b', label: 1 }, /field "candidate": give either/],
      [{ text: 't', label: 2 }, /field "label": expected 0, 1, true or false/],
      [{ text: 't', label: 1, id: '' }, /field "id": Too small: expected string to have >=1 characters/],
      [[1, 2], /^the row: Invalid input: expected object, received array$/],
    ];
    for (const [row, pattern] of cases) {
      const r = userRowSchema.safeParse(row);
      assert.equal(r.success, false, JSON.stringify(row));
      assert.match(describeIssues(r.error!.issues), pattern);
    }
  });
});
