import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { TWO_CHOICE_DATASET_LIST } from '../../src/config/experiment.js';
import { configHash, parseExperiment } from '../../src/config/load.js';
import { cosmosQaRowSchema, formatCosmosQaTwoChoice } from '../../src/data/cosmos_qa.js';
import { loadDataset } from '../../src/data/registry.js';
import { formatSciqTwoChoice, sciqRowSchema } from '../../src/data/sciq.js';
import { TWO_CHOICE_FRAMING } from '../../src/data/tasks/index.js';
import { formatQualityTwoChoice, qualityRowSchema } from '../../src/data/tasks/quality.js';
import { readRecords } from '../../src/data/readers.js';
import { scripted } from '../helpers/scripted-rng.js';
import { writeJsonl } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';

const DATA = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'datasets');

describe('sciq two-choice, on the shared release file', () => {
  // Row 0 of sciq/train.json: correct "mesophilic organisms"; distractors protozoa, gymnosperms, viruses.
  const raw = (JSON.parse(readFileSync(join(DATA, 'sciq', 'train.json'), 'utf8')) as unknown[])[0];
  const row = sciqRowSchema.parse(raw);
  const q = 'What type of organism is commonly used in preparation of foods such as cheese and yogurt?';

  test('a first draw below 0.5 puts the right answer at A; the second picks the distractor at B', () => {
    const rng = scripted([0.3, 0.5]); // label 1; distractor index floor(0.5 * 3) = 1: gymnosperms
    const [e] = formatSciqTwoChoice(row, rng, 'sciq/train/0');
    assert.equal(e!.label, 1, 'label 1: answer A is right');
    assert.equal(e!.answer, 'mesophilic organisms', 'answer A is the correct answer');
    assert.equal(e!.alternative, 'gymnosperms', 'answer B is distractor2');
    assert.equal(e!.question, q, 'the question as in the row');
    assert.equal(e!.text, `Q: ${q}\nA: mesophilic organisms\nB: gymnosperms`, 'the text lists the question and both answers');
    assert.equal(e!.passage, row.support, 'the support passage is kept apart');
    assert.equal(rng.left(), 0, 'two draws: label, then distractor');
  });

  test('a first draw of 0.5 or more puts the distractor at A and the right answer at B', () => {
    const rng = scripted([0.7, 0.0]); // label 0; distractor index 0: protozoa
    const [e] = formatSciqTwoChoice(row, rng, 'x');
    assert.deepEqual([e!.label, e!.answer, e!.alternative], [0, 'protozoa', 'mesophilic organisms'], 'A wrong, B right, label 0');
    assert.equal(e!.text, `Q: ${q}\nA: protozoa\nB: mesophilic organisms`, 'the text follows the drawn order');
  });

  test('a row whose distractors all repeat the right answer (or are empty) gives no example and draws nothing', () => {
    const rng = scripted([]);
    const same = sciqRowSchema.parse({ question: 'q', correct_answer: 'x', distractor1: 'x', distractor2: '', distractor3: 'x' });
    assert.deepEqual(formatSciqTwoChoice(same, rng, 'y'), [], 'no wrong answer to pair with');
  });
});

describe('cosmos_qa two-choice, on the shared release file', async () => {
  const records = [...(await readRecords(join(DATA, 'cosmos_qa', 'valid.csv')))];
  // Row 0: label 1 ("He wants to get married to a different person ."); answer3 is "None of the above choices .".
  const row = cosmosQaRowSchema.parse(records[0]!.value);
  const context = row.context;

  test('the true option against one of the other two real options (never "None of the above"), passage kept apart', () => {
    const rng = scripted([0.2, 0.6]); // label 1; wrong = [answer0, answer2][floor(0.6 * 2) = 1] = answer2
    const [e] = formatCosmosQaTwoChoice(row, rng, 'cosmos_qa/valid/0');
    const question = `Context: ${context}\nQuestion: Why is this person asking about divorce ?`;
    assert.deepEqual(e, {
      id: 'cosmos_qa/valid/0',
      label: 1,
      question,
      answer: 'He wants to get married to a different person .',
      alternative: 'He wants to know if he does nt like this girl can he divorce her ?',
      text: `${question}\nA: He wants to get married to a different person .\nB: He wants to know if he does nt like this girl can he divorce her ?`,
      meta: { sourceId: row.id },
      passage: context,
      withoutPassage: {
        question: 'Why is this person asking about divorce ?',
        text: 'Question: Why is this person asking about divorce ?\nA: He wants to get married to a different person .\nB: He wants to know if he does nt like this girl can he divorce her ?',
      },
    }, 'every field as computed by hand from the row');
    assert.equal(rng.left(), 0, 'two draws');
  });

  test('a row whose right answer is "None of the above choices ." gives no example', () => {
    const none = cosmosQaRowSchema.parse({ ...(records[0]!.value as object), label: '3' });
    assert.deepEqual(formatCosmosQaTwoChoice(none, scripted([]), 'z'), [], 'with two answers shown, "none of the above" names neither');
  });
});

test('quality two-choice pairs the gold option with the validators\' best distractor, drawing only the order', () => {
  const row = qualityRowSchema.parse({
    article_id: '7', article: 'A story.',
    questions: [{
      question: 'Who?', options: ['Ann', 'Bob', 'Cy', 'Di'], gold_label: 2,
      validation: [{ untimed_best_distractor: 4 }, { untimed_best_distractor: 4 }, { untimed_best_distractor: 1 }],
    }],
  });
  const rng = scripted([0.9]); // label 0: the distractor (Di, two votes) is A
  const [e] = formatQualityTwoChoice(row, rng, 'quality/dev/0');
  assert.deepEqual([e!.label, e!.answer, e!.alternative], [0, 'Di', 'Bob'], 'A = best distractor, B = gold');
  assert.equal(e!.meta?.distractorFrom, 'votes', 'where the wrong answer came from');
  assert.equal(rng.left(), 0, 'one draw: the order');
  const unvoted = qualityRowSchema.parse({ article_id: '8', article: 'B.', questions: [{ question: 'Q?', options: ['a', 'b', 'c', 'd'], gold_label: 1 }] });
  const [d] = formatQualityTwoChoice(unvoted, scripted([0.1, 0.99]), 'quality/dev/1');
  assert.deepEqual([d!.label, d!.answer, d!.alternative, d!.meta?.distractorFrom], [1, 'a', 'd', 'drawn'], 'without votes the wrong answer is drawn from b, c, d');
});

test('over all of SciQ train, the order of A and B carries the label and nothing else a model reads depends on it', async () => {
  const raw = JSON.parse(readFileSync(join(DATA, 'sciq', 'train.json'), 'utf8')) as { question: string; correct_answer: string; distractor1: string; distractor2: string; distractor3: string }[];
  const { pools } = await loadDataset({ name: 'sciq', dataDir: DATA, seed: 11, twoChoice: true, groupBy: null });
  const examples = [...pools.train, ...(pools.test ?? [])];
  const train = pools.train;
  assert.equal(train.length, raw.length, 'every train row has a wrong answer to pair');
  let ones = 0;
  train.forEach((e, i) => {
    const r = raw[i]!;
    const right = e.label === 1 ? e.answer : e.alternative!;
    const wrong = e.label === 1 ? e.alternative! : e.answer;
    assert.equal(right, r.correct_answer, `row ${i}: the label names the right answer`);
    assert.ok([r.distractor1, r.distractor2, r.distractor3].includes(wrong) && wrong !== r.correct_answer, `row ${i}: the other answer is a distractor`);
    ones += e.label;
  });
  // Binomial(11679, 1/2): sd 0.0046; 0.03 is over 6 sd.
  const share = ones / train.length;
  assert.ok(Math.abs(share - 0.5) < 0.03, `answer A is the right one in about half the rows (got ${share})`);
  for (const e of examples) {
    // What models read is the question and the two answers in the drawn order: the text is that and nothing more.
    assert.equal(e.text, `Q: ${e.question}\nA: ${e.answer}\nB: ${e.alternative}`, `${e.id}: text is a function of question, A and B only`);
    assert.equal(Object.keys(e.meta ?? {}).filter((k) => k !== 'support').length, 0, `${e.id}: no metadata beyond the passage`);
  }
  const again = await loadDataset({ name: 'sciq', dataDir: DATA, seed: 11, twoChoice: true, groupBy: null });
  assert.deepEqual(again.pools.train.slice(0, 50), train.slice(0, 50), 'the same seed draws the same pairs and order');
});

describe('which datasets can be two-choice', () => {
  test('the config\'s list equals the data layer\'s', () => {
    assert.deepEqual([...TWO_CHOICE_DATASET_LIST].sort(), Object.keys(TWO_CHOICE_FRAMING).sort(), 'config and data agree');
  });

  for (const name of ['boolq', 'anthropic_hh', 'gsm8k']) {
    test(`${name} is refused, in the config and by the loader, with one sentence naming the fix`, async () => {
      assert.throws(
        () => parseExperiment({ name: 'x', dataset: { name, format: 'two-choice' }, debate: { protocol: 'none' } }),
        (e: Error) => /dataset\.format/.test(e.message) && e.message.includes(`which ${name} does not have`) && /leave format out/.test(e.message),
        'the config check names dataset.format and what to do',
      );
      await assert.rejects(loadDataset({ name, dataDir: DATA, seed: 0, twoChoice: true }), /dataset\.format "two-choice" needs rows with a wrong answer beside the right one, which .* does not have/, 'the loader refuses before reading');
    });
  }

  test('a config without format keeps its run id; two-choice is another run', () => {
    const base = { name: 'x', dataset: { name: 'sciq' }, debate: { protocol: 'none' } };
    const plain = parseExperiment(base);
    assert.equal('format' in plain.dataset, false, 'format is left out when absent, so the hash of an older config is unchanged');
    const twoChoice = parseExperiment({ ...base, dataset: { name: 'sciq', format: 'two-choice' } });
    assert.notEqual(configHash(twoChoice), configHash(plain), 'two-choice is another run');
  });
});

describe('jsonl two-choice', () => {
  const dir = tempDir('w2s-two-choice-jsonl-');

  test('rows give answer A, answer B and which is right; the text lists both', async () => {
    const file = writeJsonl(dir, 'pairs.jsonl', [
      { id: 'p0', question: 'Which is heavier?', answer: 'a kilo of lead', alternative: 'a gram of feathers', label: 1 },
      { id: 'p1', question: 'Which is a mammal?', answer: 'a trout', alternative: 'a whale', label: 0 },
    ]);
    const { pools } = await loadDataset({ name: 'jsonl', path: file, dataDir: dir, seed: 0, twoChoice: true });
    assert.deepEqual(pools.train.map((e) => [e.id, e.label, e.answer, e.alternative, e.text]), [
      ['p0', 1, 'a kilo of lead', 'a gram of feathers', 'Question: Which is heavier?\nA: a kilo of lead\nB: a gram of feathers'],
      ['p1', 0, 'a trout', 'a whale', 'Question: Which is a mammal?\nA: a trout\nB: a whale'],
    ], 'as given, in the row\'s order');
  });

  test('a row without answer B, or with B equal to A, stops the load naming the line and the field', async () => {
    const missing = writeJsonl(dir, 'missing.jsonl', [{ question: 'q', answer: 'a', alternative: 'b', label: 1 }, { question: 'q2', answer: 'a', label: 0 }]);
    await assert.rejects(loadDataset({ name: 'jsonl', path: missing, dataDir: dir, seed: 0, twoChoice: true }), /line 2.*field "alternative": missing: a two-choice row needs "alternative"/, 'names line 2 and the field');
    const same = writeJsonl(dir, 'same.jsonl', [{ question: 'q', answer: 'a', alternative: 'a', label: 1 }]);
    await assert.rejects(loadDataset({ name: 'jsonl', path: same, dataDir: dir, seed: 0, twoChoice: true }), /answer B is the same text as answer A/, 'two equal answers are refused');
  });
});

test('w2s config check on a two-choice BoolQ config exits 1 with one line naming dataset.format', () => {
  const dir = tempDir('w2s-two-choice-cli-');
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ name: 'bad', dataset: { name: 'boolq', format: 'two-choice' }, debate: { protocol: 'none' } }));
  const cli = resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, 'config', 'check', file], { encoding: 'utf8', cwd: resolve(import.meta.dirname, '..', '..') });
  assert.equal(r.status, 1, 'a non-zero exit');
  assert.equal(r.stdout, '', 'nothing is planned or printed on stdout');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0]!, /field dataset\.format: "two-choice" needs rows with a wrong answer beside the right one, which boolq does not have/, 'names the field and why');
});
