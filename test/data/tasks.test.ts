import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { DATASET_NAME_LIST } from '../../src/config/experiment.js';
import { DEFAULT_GROUP_BY as GROUPS_DEFAULT } from '../../src/data/groups.js';
import { DataFileError, readRecords } from '../../src/data/readers.js';
import { DATASET_NAMES, loadDataset, type LoadedDataset } from '../../src/data/registry.js';
import { makeSplits } from '../../src/data/splits.js';
import { finalAnswer, wrongAnswer } from '../../src/data/tasks/gsm8k.js';
import { DEFAULT_GROUP_BY, TASK_FRAMING, TASKS } from '../../src/data/tasks/index.js';
import type { Example } from '../../src/data/types.js';
import { TASK_FRAMING as DEBATE_FRAMING } from '../../src/debate/protocols.js';
import type { Rng } from '../../src/rng.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIX = join(ROOT, 'datasets/fixtures');
const dir = tempDir('w2s-tasks-');

/** The group id of a passage too long to keep as it is: `sha256:` and 16 hex digits of its SHA-256. */
const hashed = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;

const load = (name: string, seed = 0, extra: Partial<Parameters<typeof loadDataset>[0]> = {}): Promise<LoadedDataset> =>
  loadDataset({ name, dataDir: FIX, seed, ...extra });

const all = (d: LoadedDataset): Example[] => [...d.pools.train, ...(d.pools.test ?? [])];

/** What a drawn example must look like, written down from the fixture. */
interface Drawn {
  id: string;
  question: string;
  correct: string;
  wrong: string[];
  group?: string;
  meta?: Record<string, unknown>;
}

/**
 * Checks the examples of a task whose label is drawn (rng.random() < 0.5): ids, questions, groups and metadata as
 * written down; the answer shown is the correct one exactly when the label is 1, else one of the wrong options; the
 * text is the template around that answer. Loads several seeds so both branches are exercised on these small files.
 */
async function checkDrawn(name: string, expected: Drawn[], textOf: (e: Drawn, answer: string) => string): Promise<void> {
  const seen = new Set<number>();
  for (const seed of [0, 1, 2, 3, 4, 5, 6, 7]) {
    const examples = all(await load(name, seed));
    assert.deepEqual(examples.map((e) => e.id), expected.map((e) => e.id), `${name} seed ${seed}: ids in file order`);
    examples.forEach((e, i) => {
      const x = expected[i]!;
      const at = `${name} seed ${seed} ${x.id}`;
      seen.add(e.label);
      assert.equal(e.question, x.question, `${at}: question`);
      if (e.label === 1) assert.equal(e.answer, x.correct, `${at}: label 1 shows the correct answer`);
      else {
        assert.equal(e.label, 0, `${at}: label is 0 or 1`);
        assert.ok(x.wrong.includes(e.answer), `${at}: label 0 shows a wrong option, got ${JSON.stringify(e.answer)}`);
      }
      assert.equal(e.text, textOf(x, e.answer), `${at}: text`);
      assert.equal(e.group, x.group, `${at}: group`);
      if (x.meta) assert.deepEqual(e.meta, x.meta, `${at}: meta`);
    });
  }
  assert.deepEqual([...seen].sort(), [0, 1], `${name}: over 8 seeds both labels occur`);
}

/** Examples whose label is the row's own (no RNG): exact values. */
function checkExact(examples: Example[], expected: { id: string; label: 0 | 1; question: string; answer: string; text: string; group?: string }[], name: string): void {
  assert.deepEqual(examples.map((e) => e.id), expected.map((e) => e.id), `${name}: ids in file order`);
  examples.forEach((e, i) => {
    const x = expected[i]!;
    assert.equal(e.label, x.label, `${name} ${x.id}: label`);
    assert.equal(e.question, x.question, `${name} ${x.id}: question`);
    assert.equal(e.answer, x.answer, `${name} ${x.id}: answer`);
    assert.equal(e.text, x.text, `${name} ${x.id}: text`);
    assert.equal(e.group, x.group, `${name} ${x.id}: group`);
  });
}

const qa = (x: Drawn, answer: string): string => `Q: ${x.question} A: ${answer}`;
const withAnswer = (x: Drawn, answer: string): string => `${x.question}\nAnswer: ${answer}`;

describe('the task table', () => {
  test('the config enum, DATASET_NAMES, the default groups and the framings all come from one table', () => {
    assert.deepEqual([...DATASET_NAME_LIST], [...DATASET_NAMES], 'src/config keeps its own copy of the dataset names; it must equal the table\'s');
    assert.deepEqual([...DATASET_NAMES], [...Object.keys(TASKS), 'jsonl'], 'DATASET_NAMES is the table in order, then jsonl');
    assert.deepEqual(DATASET_NAMES.slice(0, 4), ['sciq', 'boolq', 'cosmos_qa', 'anthropic_hh'], 'the first four keep their place');
    assert.equal(GROUPS_DEFAULT, DEFAULT_GROUP_BY, 'groups.ts re-exports the table\'s default groups');
    assert.equal(DEBATE_FRAMING, TASK_FRAMING, 'the debate layer uses the table\'s framings');
    for (const [name, task] of Object.entries(TASKS)) {
      assert.equal(DEFAULT_GROUP_BY[name], task.groupBy ?? undefined, `${name}: default group`);
      assert.equal(TASK_FRAMING[name], task.framing, `${name}: framing`);
      assert.ok(task.framing.length > 20, `${name}: has a framing`);
      assert.ok(task.source.length > 10 && task.license.length > 0, `${name}: says where its files come from and their license`);
      for (const f of task.files) assert.ok(!f.file.startsWith('/'), `${name}: default files are relative to the data directory`);
      if (task.hub) assert.match(task.hub.id, /^[\w.-]+\/[\w.-]+$/, `${name}: hub id is owner/name`);
    }
    assert.deepEqual(
      { sciq: DEFAULT_GROUP_BY.sciq, boolq: DEFAULT_GROUP_BY.boolq, cosmos_qa: DEFAULT_GROUP_BY.cosmos_qa, anthropic_hh: DEFAULT_GROUP_BY.anthropic_hh },
      { sciq: undefined, boolq: 'passage', cosmos_qa: 'context', anthropic_hh: undefined },
      'the existing four keep their default groups',
    );
    assert.equal(TASK_FRAMING.jsonl, 'a question followed by a candidate answer; debate whether the answer is correct or incorrect', 'jsonl framing');
    assert.equal(TASK_FRAMING.sciq, 'a science question followed by an answer; debate whether the answer is correct or incorrect', 'sciq framing unchanged');
  });

  test('the tasks with a passage give it apart from the question, for hidden-passage debates; the others give none', async () => {
    // The passage each task's rows hold, by hand from datasets/README.md; the rest have none to hide.
    const withPassage = ['sciq', 'boolq', 'cosmos_qa', 'quail', 'dream', 'mc_taco', 'multirc', 'race', 'quality'];
    for (const name of Object.keys(TASKS)) {
      const loaded = await loadDataset({ name, dataDir: FIX, seed: 0, groupBy: null });
      const e = loaded.pools.train[0]!;
      if (!withPassage.includes(name)) {
        assert.equal(e.passage, undefined, `${name}: no passage`);
        continue;
      }
      assert.ok(typeof e.passage === 'string' && e.passage.length > 0, `${name}: a passage`);
      // SciQ's support passage is not in weak-to-strong's question; every other passage is.
      assert.equal(e.question.includes(e.passage), name !== 'sciq', `${name}: the question shows the passage (sciq: does not)`);
      assert.ok(e.withoutPassage !== undefined && !e.withoutPassage.question.includes(e.passage), `${name}: the question without it does not`);
    }
  });
});

describe('multiple-choice questions (label drawn)', () => {
  test('arc_easy: ARC-Easy-Train.jsonl and ARC-Easy-Test.jsonl, numeric labels and 3 to 5 choices', async () => {
    const row = (i: string, question: string, correct: string, wrong: string[], sourceId: string): Drawn => ({ id: `arc_easy/${i}`, question, correct, wrong, meta: { sourceId } });
    await checkDrawn('arc_easy', [
      row('ARC-Easy-Train/0', 'Which tool is best for measuring the length of a pencil?', 'a ruler', ['a thermometer', 'a balance', 'a stopwatch'], 'Fixture_E_1'),
      row('ARC-Easy-Train/1', 'What do green plants mostly use sunlight for?', 'to make food', ['to melt snow', 'to find water'], 'Fixture_E_2'),
      row('ARC-Easy-Train/2', 'Which of these is a liquid at room temperature?', 'milk', ['ice', 'steam', 'sand'], 'Fixture_E_3'),
      row('ARC-Easy-Train/3', 'Which planet is closest to the Sun?', 'Mercury', ['Venus', 'Earth', 'Mars', 'Jupiter'], 'Fixture_E_4'),
      row('ARC-Easy-Test/0', 'A student drops a ball. Which force pulls it down?', 'gravity', ['magnetism', 'friction', 'wind'], 'Fixture_ET_1'),
      row('ARC-Easy-Test/1', 'Which body part lets a fish take oxygen from water?', 'gills', ['fins', 'scales', 'tail'], 'Fixture_ET_2'),
    ], qa);
    const d = await load('arc_easy');
    assert.equal(d.pools.test?.length, 2, 'arc_easy: the test file is the test pool');
    assert.equal(d.groupBy, null, 'arc_easy: no grouping');
  });

  test('arc_challenge', async () => {
    const row = (i: string, question: string, correct: string, wrong: string[]): Drawn => ({ id: `arc_challenge/${i}`, question, correct, wrong });
    await checkDrawn('arc_challenge', [
      row('ARC-Challenge-Train/0', 'A pot of soup cools on a table. How does most heat leave the soup?', 'by evaporation and convection', ['by sound waves', 'by the soup gaining mass', 'by magnetism']),
      row('ARC-Challenge-Train/1', 'Which change to a pendulum makes it swing back and forth more slowly?', 'a longer string', ['a heavier bob', 'a smaller push', 'a brighter room']),
      row('ARC-Challenge-Train/2', 'Two students measure the same rock and get different masses. What should they do next?', 'repeat the measurement with a checked balance', ['average the two numbers and stop', 'paint the rock', 'guess a third number']),
      row('ARC-Challenge-Test/0', 'Why does a metal spoon in hot tea feel hot at its handle?', 'metal conducts heat', ['the tea gives off light', 'the handle is magnetic', 'air is a solid']),
      row('ARC-Challenge-Test/1', 'Which evidence best shows that a chemical change happened?', 'a new gas forms', ['ice melts', 'paper is torn', 'water is poured']),
    ], qa);
  });

  test('openbookqa: the Additional layout keeps fact1 in meta, the Main layout has none', async () => {
    await checkDrawn('openbookqa', [
      { id: 'openbookqa/train/0', question: 'A magnet will stick to', correct: 'an iron nail', wrong: ['a wooden spoon', 'a glass cup', 'a rubber ball'], meta: { sourceId: '9-101', fact: 'a magnet attracts iron' } },
      {
        id: 'openbookqa/train/1', question: 'When it is summer in one half of the Earth', correct: 'that half is tilted toward the Sun',
        wrong: ['the Moon is closer', 'the Sun is cooler', 'the Earth stops turning'],
        meta: { sourceId: '9-102', fact: 'seasons are caused by the tilt of the Earth toward or away from the Sun' },
      },
      { id: 'openbookqa/train/2', question: 'Which of these would let the most light through?', correct: 'a clear window', wrong: ['a brick', 'a wooden door', 'a metal plate'], meta: { sourceId: '9-103', fact: 'transparent objects let light pass through' } },
      { id: 'openbookqa/test/0', question: 'A seed needs which of these to sprout?', correct: 'water', wrong: ['darkness only', 'salt', 'smoke'], meta: { sourceId: '9-201' } },
      { id: 'openbookqa/test/1', question: 'An animal that eats only plants is', correct: 'a herbivore', wrong: ['a carnivore', 'a predator', 'a decomposer'], meta: { sourceId: '9-202' } },
    ], qa);
  });

  test('piqa: labels from train-labels.lst and valid-labels.lst; rows with the same goal are one group', async () => {
    const row = (i: string, goal: string, correct: string, wrong: string): Drawn => ({ id: `piqa/${i}`, question: goal, correct, wrong: [wrong], group: goal });
    await checkDrawn('piqa', [
      row('train/0', 'Keep bread from going stale', 'Store the loaf in a closed bag at room temperature.', 'Leave the loaf open on the counter near the oven.'),
      row('train/1', 'Loosen a tight jar lid', 'Run the lid under hot water for a minute, then twist.', 'Put the jar in the freezer overnight, then twist.'),
      row('train/2', 'Dry wet sneakers quickly', 'Stuff them with newspaper and leave them in a warm room.', 'Fill them with water and leave them outside at night.'),
      row('train/3', 'Loosen a tight jar lid', 'Tap the edge of the lid gently on the counter, then twist.', 'Paint the lid a brighter color, then twist.'),
      row('valid/0', 'Cool a hot drink faster', 'Pour it into a wide shallow cup.', 'Wrap the cup in a wool scarf.'),
      row('valid/1', 'Find a small screw dropped on carpet', 'Shine a flashlight low across the carpet.', 'Turn off every light in the room.'),
      row('valid/2', 'Keep cut apples from browning', 'Brush the slices with lemon juice.', 'Leave the slices in the sun.'),
    ], qa);
  });

  test('hellaswag: hellaswag_train.jsonl / hellaswag_val.jsonl, grouped by source_id', async () => {
    const row = (i: string, ctx: string, correct: string, wrong: string[], group: string): Drawn => ({ id: `hellaswag/${i}`, question: `Context: ${ctx}`, correct, wrong, group });
    await checkDrawn('hellaswag', [
      row('hellaswag_train/0', 'A man lifts a small dog into a tub of water. he', "rubs shampoo into the dog's fur.", ['drives the tub down the road.', 'throws the soap onto the roof.', 'paints the water blue.'], 'activitynet~v_fixture01'),
      row('hellaswag_train/1', 'The man rinses the dog with a hose. the dog', 'shakes itself and sprays water everywhere.', ['starts reading a newspaper.', 'flies up to the ceiling.', 'turns into a cat.'], 'activitynet~v_fixture01'),
      row('hellaswag_train/2', '[header] How to repot a plant [title] Water the plant a day before. [step]', 'Moist soil slides out of the old pot more easily.', ['Bake the plant at a high heat.', 'Cut every leaf off the plant.', 'Leave the plant in a dark closet for a month.'], 'wikihow~90001'),
      row('hellaswag_val/0', 'A girl sits behind a drum kit holding two sticks. she', 'counts in and starts a steady beat.', ['eats the sticks one by one.', 'puts the drums in the fridge.', 'walks away and never returns.'], 'activitynet~v_fixture02'),
      row('hellaswag_val/1', 'The girl hits the cymbal at the end of the song. she', 'stands up and bows to the crowd.', ['swims across the stage.', 'plants a tree in the snare drum.', 'shrinks to the size of a coin.'], 'activitynet~v_fixture02'),
    ], (x, answer) => `${x.question}\nEnding: ${answer}`);
    const [first] = (await load('hellaswag')).pools.train;
    assert.deepEqual(first!.meta, { sourceId: '11', activity: 'Washing a dog', source: 'activitynet~v_fixture01' }, 'hellaswag: meta');
  });

  test('winogrande: train_xl.jsonl / dev.jsonl, the filler shown for the blank', async () => {
    const trophy = 'The trophy would not fit in the suitcase because the _ was too';
    const row = (i: string, sentence: string, correct: string, wrong: string, qID: string): Drawn => ({ id: `winogrande/${i}`, question: sentence, correct, wrong: [wrong], meta: { sourceId: qID } });
    await checkDrawn('winogrande', [
      row('train_xl/0', `${trophy} large.`, 'trophy', 'suitcase', '3FIXTURE01-1'),
      row('train_xl/1', `${trophy} small.`, 'suitcase', 'trophy', '3FIXTURE01-2'),
      row('train_xl/2', 'Maria lent her umbrella to Grace because _ was going out into the rain.', 'Grace', 'Maria', '3FIXTURE02-1'),
      row('train_xl/3', 'The soup was colder than the tea, so Ken heated the _ first.', 'soup', 'tea', '3FIXTURE03-1'),
      row('dev/0', 'The ladder was shorter than the fence, so Tom could not climb over the _.', 'fence', 'ladder', '4FIXTURE01-1'),
      row('dev/1', 'Ann practiced piano more than Beth, so _ played better at the recital.', 'Ann', 'Beth', '4FIXTURE02-1'),
    ], qa);
  });

  test('quail: quail_v1.3 json, grouped by context_id', async () => {
    const nora = 'Nora opened the bakery at five every morning.\nShe liked the quiet before the first customers came.\nOn Tuesday the oven broke, so she sold only bread she had baked the day before.';
    const trees = 'The city council voted to plant two hundred trees along the river.\nWork starts in spring and should take three months.';
    const bike = 'I finally fixed my old bicycle this weekend.\nThe chain was rusty, so I cleaned it and added oil.';
    const row = (i: string, ctx: string, q: string, correct: string, wrong: string[], group: string): Drawn => ({ id: `quail/${i}`, question: `Context: ${ctx}\nQuestion: ${q}`, correct, wrong, group });
    await checkDrawn('quail', [
      row('train/0', nora, 'Why did Nora sell only day-old bread on Tuesday?', 'The oven broke.', ['She wanted to save money.', 'not enough information', 'Customers asked for it.'], 'f901'),
      row('train/1', nora, 'When does Nora open the bakery?', 'At five in the morning.', ['At noon.', 'not enough information', 'At midnight.'], 'f901'),
      row('train/2', nora, "What is the name of Nora's sister?", 'not enough information', ['Ella', 'Maya', 'Rita'], 'f901'),
      row('train/3', trees, 'How many trees will be planted?', 'two hundred', ['twenty', 'two thousand', 'not enough information'], 'n902'),
      row('train/4', trees, 'How long should the planting take?', 'three months', ['a week', 'ten years', 'not enough information'], 'n902'),
      row('dev/0', bike, 'Why did the writer oil the chain?', 'It was rusty.', ['It was new.', 'not enough information', 'It was too long.'], 'b903'),
      row('dev/1', bike, 'After the weekend, the bicycle probably', 'worked better', ['was thrown away', 'not enough information', 'was painted red'], 'b903'),
    ], withAnswer);
    const [first] = (await load('quail')).pools.train;
    assert.deepEqual(first!.meta, { sourceId: 'f901_0', contextId: 'f901', questionType: 'Causality', domain: 'fiction' }, 'quail: meta');
  });

  test('social_iqa: labels 1-3 from train-labels.lst and dev-labels.lst, grouped by context', async () => {
    const jordan = 'Jordan forgot his lunch, so Casey shared her sandwich with him.';
    const row = (i: string, ctx: string, q: string, correct: string, wrong: string[]): Drawn => ({ id: `social_iqa/${i}`, question: `Context: ${ctx}\nQuestion: ${q}`, correct, wrong, group: ctx });
    await checkDrawn('social_iqa', [
      row('train/0', jordan, 'How would Jordan feel as a result?', 'grateful to Casey', ['angry at the sandwich', 'bored']),
      row('train/1', jordan, 'What will Casey want to do next?', 'eat lunch together', ['hide the rest of her food', 'go to sleep']),
      row('train/2', 'Riley studied every night and passed the exam.', 'Why did Riley study every night?', 'to do well on the exam', ['to fail the exam', 'to avoid friends forever']),
      row('train/3', 'Sam painted the fence before the rain came.', 'What does Sam need to do before this?', 'buy paint', ['wait for snow', 'sell the house']),
      row('dev/0', 'Alex returned the lost wallet to its owner.', 'How would others describe Alex?', 'honest', ['dishonest', 'lazy']),
      row('dev/1', 'Kim missed the bus and walked to school in the rain.', 'How would Kim feel afterwards?', 'wet and tired', ['dry and rested', 'sunburned']),
    ], withAnswer);
  });
});

describe('passages with several questions (label drawn, one example per question)', () => {
  test('dream: a JSON array of [turns, questions, id], grouped by dialogue id', async () => {
    const concert = 'Dialogue:\nM: Are you coming to the concert tonight?\nW: I\'d love to, but I have to finish my report first.\nM: It starts at eight, so you have time.';
    const post = "Dialogue:\nW: Excuse me, where is the nearest post office?\nM: Go straight for two blocks and turn left. It's next to the bank.";
    const trip = 'Dialogue:\nM: How was your trip to the mountains?\nW: Cold! It snowed the whole weekend, so we stayed inside and played cards.';
    const row = (i: string, d: string, q: string, correct: string, wrong: string[], group: string): Drawn => ({ id: `dream/${i}`, question: `${d}\nQuestion: ${q}`, correct, wrong, group, meta: { dialogueId: group } });
    await checkDrawn('dream', [
      row('train/0.0', concert, 'What does the woman have to do first?', 'Finish her report.', ['Buy a ticket.', 'Call her mother.'], '5-101'),
      row('train/0.1', concert, 'When does the concert start?', 'At eight.', ['At seven.', 'At nine.'], '5-101'),
      row('train/1.0', post, 'Where is the post office?', 'Next to the bank.', ['Behind the school.', 'Across from the park.'], '5-102'),
      row('test/0.0', trip, 'What did the woman do on the trip?', 'She played cards.', ['She went skiing.', 'She went swimming.'], '6-201'),
    ], withAnswer);
  });

  test('race: a folder of per-article files read in path order (high/ before middle/), grouped by article', async () => {
    const farm = 'Last summer Wang Lei worked at a farm near his town. He fed the chickens every morning and picked apples in the afternoon. He said it was the hardest and happiest month of his life.';
    const library = 'Our school has a small library. Students can borrow two books at a time and must return them within two weeks.';
    const bus = 'Tom missed the school bus on Monday, so his father drove him to school. He arrived just before the bell rang.';
    const row = (i: string, article: string, q: string, correct: string, wrong: string[], sourceId: string): Drawn => ({
      id: `race/${i}`, question: `Article: ${article}\nQuestion: ${q}`, correct, wrong, group: hashed(article), meta: { sourceId },
    });
    await checkDrawn('race', [
      row('train/0.0', farm, 'What did Wang Lei do last summer?', 'He worked at a farm.', ['He went to a beach.', 'He stayed at home.', 'He visited a museum.'], 'high1001.txt'),
      row('train/0.1', farm, 'Wang Lei thought the month was _ .', 'hard but happy', ['boring', 'easy and sad', 'dangerous'], 'high1001.txt'),
      row('train/1.0', library, 'How many books can a student borrow at a time?', 'two', ['one', 'three', 'four'], 'middle2002.txt'),
      row('dev/0.0', bus, 'How did Tom get to school?', 'by car', ['by bus', 'on foot', 'by bike'], 'middle3003.txt'),
      row('dev/0.1', bus, 'On which day did Tom miss the bus?', 'Monday', ['Friday', 'Sunday', 'Wednesday'], 'middle3003.txt'),
    ], withAnswer);
    const d = await load('race');
    assert.deepEqual(d.files, [join(FIX, 'race/train'), join(FIX, 'race/dev')], 'race: the pools are the train and dev folders');
  });

  test('quality: one line per article and writer; both writers\' lines are one group; meta keeps the correct option and the best distractor', async () => {
    const ship = 'The ship drifted for three days before Captain Rell saw land.\nThe crew had eaten the last of the bread, but Rell kept them calm with stories of home.\nWhen they landed, the island was empty except for a lighthouse whose lamp still burned.';
    const radio = 'Mina built a radio from spare parts.\nAt first it only hissed, but after she replaced a wire she heard a voice from a city far away.';
    const meta = (setId: string, questionId: string, title: string, question: string, correctAnswer: string, bestDistractor: string, from: string, difficult: boolean) => ({
      articleId: setId.slice(0, 5), setId, questionId, title, question, correctAnswer, bestDistractor, bestDistractorFrom: from, difficult,
    });
    const T = 'quality/QuALITY.v1.0.1.htmlstripped.train';
    await checkDrawn('quality', [
      {
        id: `${T}/0.0`, question: `Article: ${ship}\nQuestion: How long did the ship drift?`, correct: 'three days', wrong: ['one day', 'a week', 'a month'], group: '90001',
        // votes for option 3 (a week) twice, option 1 once
        meta: meta('90001_A1', '90001_A1_1', 'The Lighthouse Island', 'How long did the ship drift?', 'three days', 'a week', 'votes', false),
      },
      {
        id: `${T}/0.1`, question: `Article: ${ship}\nQuestion: What did the crew find on the island?`, correct: 'a lighthouse with a burning lamp', wrong: ['a village', 'a second ship', 'nothing at all'], group: '90001',
        // votes: option 4 once, option 1 twice
        meta: meta('90001_A1', '90001_A1_2', 'The Lighthouse Island', 'What did the crew find on the island?', 'a lighthouse with a burning lamp', 'a village', 'votes', true),
      },
      {
        id: `${T}/1.0`, question: `Article: ${ship}\nQuestion: How did Rell keep the crew calm?`, correct: 'with stories of home', wrong: ['with extra bread', 'with music', 'with threats'], group: '90001',
        // votes: option 2 once, option 3 once: the tie goes to the lower option number
        meta: meta('90001_B2', '90001_B2_1', 'The Lighthouse Island', 'How did Rell keep the crew calm?', 'with stories of home', 'with extra bread', 'votes', false),
      },
      {
        id: 'quality/QuALITY.v1.0.1.htmlstripped.dev/0.0', question: `Article: ${radio}\nQuestion: What fixed Mina's radio?`, correct: 'replacing a wire', wrong: ['a new battery', 'hitting it', 'a longer antenna'], group: '90002',
        // no validation votes: the first option that is not the gold one
        meta: meta('90002_C3', '90002_C3_1', 'The Radio', "What fixed Mina's radio?", 'replacing a wire', 'a new battery', 'first wrong option', false),
      },
    ], withAnswer);
  });
});

describe('natively labelled rows (no RNG)', () => {
  test('sst2: GLUE TSV with a header; the claim is "positive"', async () => {
    const d = await load('sst2');
    const row = (id: string, sentence: string, label: 0 | 1) => ({ id: `sst2/${id}`, label, question: sentence, answer: 'positive', text: sentence });
    checkExact(all(d), [
      row('train/0', 'a warm , funny film that never talks down to its audience ', 1),
      row('train/1', 'the plot wanders and the jokes fall flat ', 0),
      row('train/2', 'an honest , moving portrait of a small town ', 1),
      row('train/3', '" clever " is the last word i would use for this mess ', 0),
      row('train/4', 'the actors seem as bored as we are ', 0),
      row('dev/0', 'bright , brisk and full of heart ', 1),
      row('dev/1', 'two hours i will never get back ', 0),
      row('dev/2', 'a quiet triumph ', 1),
    ], 'sst2');
    assert.deepEqual(d.files, [join(FIX, 'sst2/train.tsv'), join(FIX, 'sst2/dev.tsv')], 'sst2: train.tsv and dev.tsv');
  });

  test('anli: round 2; label 1 iff entailment; grouped by premise', async () => {
    const bridge = 'The Millbrook Bridge is a stone bridge over the Kell River, finished in 1872 after four years of work.';
    const lena = 'Lena Ortiz (born 1990) is a chess player from Valencia who won the regional junior title twice.';
    const museum = 'The museum opens at nine and closes at five, except on Mondays when it is closed all day.';
    const car = 'Tomas bought a used car last spring.';
    const row = (id: string, premise: string, hypothesis: string, label: 0 | 1, group: string) => {
      const text = `Premise: ${premise}\nHypothesis: ${hypothesis}\nDoes the premise entail the hypothesis?`;
      return { id: `anli/${id}`, label, question: text, answer: 'yes', text, group };
    };
    const d = await load('anli');
    checkExact(all(d), [
      row('train/0', bridge, 'Work on the bridge began in 1868.', 1, hashed(bridge)),
      row('train/1', bridge, 'The bridge is made of wood.', 0, hashed(bridge)),
      row('train/2', lena, 'Lena Ortiz has a brother.', 0, hashed(lena)),
      row('train/3', lena, 'Lena Ortiz won a junior title more than once.', 1, hashed(lena)),
      row('test/0', museum, 'The museum is open on Monday afternoons.', 0, hashed(museum)),
      row('test/1', museum, 'The museum is open for eight hours on a Tuesday.', 1, hashed(museum)),
      row('test/2', car, 'The car is red.', 0, car),
    ], 'anli');
    assert.deepEqual(all(d).map((e) => e.meta?.nli), ['entailment', 'contradiction', 'neutral', 'entailment', 'contradiction', 'entailment', 'neutral'], 'anli: meta.nli keeps the three-way label');
    assert.deepEqual(d.files, [join(FIX, 'anli/R2/train.jsonl'), join(FIX, 'anli/R2/test.jsonl')], 'anli: round 2 train and test files');
  });

  test('mc_taco: headerless TSV; test_9442 is the train pool, dev_3783 the test pool; grouped by sentence', async () => {
    const eggs = 'Mara boiled the eggs for the picnic before her friends arrived.';
    const library = 'The library closes early on holidays.';
    const roof = 'After the storm, the workers repaired the roof.';
    const row = (id: string, sentence: string, q: string, answer: string, label: 0 | 1) => {
      const question = `Context: ${sentence}\nQuestion: ${q}`;
      return { id: `mc_taco/${id}`, label, question, answer, text: `${question}\nAnswer: ${answer}`, group: sentence };
    };
    const d = await load('mc_taco');
    checkExact(all(d), [
      row('test_9442/0', eggs, 'How long did it take to boil the eggs?', 'ten minutes', 1),
      row('test_9442/1', eggs, 'How long did it take to boil the eggs?', 'three weeks', 0),
      row('test_9442/2', eggs, 'How long did it take to boil the eggs?', '12 minutes', 1),
      row('test_9442/3', library, 'How often are there holidays?', 'a few times a year', 1),
      row('test_9442/4', library, 'How often are there holidays?', 'every hour', 0),
      row('test_9442/5', library, 'What time does the library close on holidays?', 'at 3 pm', 1),
      row('dev_3783/0', roof, 'What happened before the workers repaired the roof?', 'the storm damaged it', 1),
      row('dev_3783/1', roof, 'What happened before the workers repaired the roof?', 'the roof was built last year after the repair', 0),
      row('dev_3783/2', roof, 'Is the roof still broken?', 'no', 1),
    ], 'mc_taco');
    assert.deepEqual(d.pools.train.map((e) => e.meta?.category), ['Event Duration', 'Event Duration', 'Event Duration', 'Frequency', 'Frequency', 'Typical Time'], 'mc_taco: meta.category');
  });

  test('multirc: SuperGLUE jsonl, one example per answer, grouped by paragraph', async () => {
    const ivy = '<b>Sent 1: </b>Ivy grew tomatoes in her garden.<br><b>Sent 2: </b>In August she gave a basket of them to her neighbor Omar.<br><b>Sent 3: </b>Omar made soup and brought her a bowl.<br>';
    const train = '<b>Sent 1: </b>The train left at noon.<br><b>Sent 2: </b>It reached the coast four hours later.<br>';
    const keys = "<b>Sent 1: </b>Leo lost his keys in the park.<br><b>Sent 2: </b>A child found them under a bench.<br>";
    const row = (id: string, passage: string, q: string, answer: string, label: 0 | 1) => {
      const question = `Passage: ${passage}\nQuestion: ${q}`;
      return { id: `multirc/${id}`, label, question, answer, text: `${question}\nAnswer: ${answer}`, group: hashed(passage) };
    };
    checkExact(all(await load('multirc')), [
      row('train/0.0.0', ivy, 'Who made soup?', 'Omar', 1),
      row('train/0.0.1', ivy, 'Who made soup?', 'Ivy', 0),
      row('train/0.0.2', ivy, 'Who made soup?', "Ivy's neighbor", 1),
      row('train/0.1.0', ivy, 'What did Ivy grow?', 'tomatoes', 1),
      row('train/0.1.1', ivy, 'What did Ivy grow?', 'potatoes', 0),
      row('train/1.0.0', train, 'When did the train reach the coast?', 'at four in the afternoon', 1),
      row('train/1.0.1', train, 'When did the train reach the coast?', 'at noon', 0),
      row('val/0.0.0', keys, 'Where were the keys found?', 'under a bench', 1),
      row('val/0.0.1', keys, 'Where were the keys found?', "in Leo's pocket", 0),
      row('val/0.0.2', keys, 'Where were the keys found?', 'in the park', 1),
    ], 'multirc');
  });
});

describe('gsm8k: a checkable final number', () => {
  test('the claim is the number after "####" when the label is 1, else a different number of the same kind', async () => {
    const rows: { id: string; question: string; right: string; solution: string }[] = [
      { id: 'train/0', question: 'A baker makes 24 muffins and sells half of them in the morning. How many muffins are left?', right: '12', solution: 'Half of 24 is 24/2 = <<24/2=12>>12.\nSo 24 - 12 = <<24-12=12>>12 muffins are left.' },
      { id: 'train/1', question: 'Sara reads 15 pages a day for 4 days and then 10 more pages. How many pages does she read in total?', right: '70', solution: 'In 4 days she reads 15 * 4 = <<15*4=60>>60 pages.\nIn total she reads 60 + 10 = <<60+10=70>>70 pages.' },
      { id: 'train/2', question: 'A school orders 3 boxes of 450 pencils each. How many pencils is that?', right: '1350', solution: '3 * 450 = <<3*450=1350>>1350 pencils.' },
      { id: 'train/3', question: 'Tim has 5 dollars and spends 2.50 dollars on juice. How much money does he have left?', right: '2.5', solution: '5 - 2.50 = <<5-2.5=2.5>>2.50' },
      { id: 'test/0', question: 'There are 8 birds on a wire and 3 fly away. How many birds are on the wire now?', right: '5', solution: '8 - 3 = <<8-3=5>>5 birds.' },
      { id: 'test/1', question: 'A rope 9 meters long is cut into 3 equal pieces. How long is each piece?', right: '3', solution: '9 / 3 = <<9/3=3>>3 meters.' },
    ];
    const seen = new Set<number>();
    for (const seed of [0, 1, 2, 3, 4, 5, 6, 7]) {
      const examples = all(await load('gsm8k', seed));
      assert.deepEqual(examples.map((e) => e.id), rows.map((r) => `gsm8k/${r.id}`), `seed ${seed}: ids`);
      examples.forEach((e, i) => {
        const r = rows[i]!;
        const at = `gsm8k seed ${seed} ${r.id}`;
        seen.add(e.label);
        assert.equal(e.question, r.question, `${at}: question`);
        assert.equal(e.text, `Q: ${r.question} A: ${e.answer}`, `${at}: text`);
        assert.deepEqual(e.meta, { solution: r.solution }, `${at}: meta.solution is the worked solution`);
        if (e.label === 1) assert.equal(e.answer, r.right, `${at}: label 1 shows the right number`);
        else {
          const x = Number(r.right);
          const w = Number(e.answer);
          const decimals = r.right.split('.')[1]?.length ?? 0;
          assert.notEqual(e.answer, r.right, `${at}: a wrong number differs`);
          assert.equal(e.answer, w.toFixed(decimals), `${at}: same decimal places as the right one`);
          assert.ok(w >= 0, `${at}: a non-negative answer gets a non-negative wrong one`);
          const k = Math.abs(w - x);
          assert.ok(k >= 1 - 1e-9 && k <= Math.max(1, Math.ceil(Math.abs(x) / 2)) + 1e-9, `${at}: moved by 1..ceil(|x|/2) units, got ${e.answer} for ${r.right}`);
          assert.ok(Number.isInteger(Math.round(k * 1e6) / 1e6), `${at}: moved by whole units`);
        }
      });
    }
    assert.deepEqual([...seen].sort(), [0, 1], 'gsm8k: both labels occur over 8 seeds');
  });

  test('finalAnswer reads the number after the last "####", commas dropped', () => {
    assert.equal(finalAnswer('work\n#### 1,350'), '1350', 'commas dropped');
    assert.equal(finalAnswer('#### -4'), '-4', 'negative');
    assert.equal(finalAnswer('#### 2.5'), '2.5', 'decimal');
    assert.equal(finalAnswer('no marker 12'), undefined, 'no marker');
    assert.equal(finalAnswer('#### twelve'), undefined, 'not a number');
  });

  test('wrongAnswer: k from rng.int, direction from rng.random, never the right number', () => {
    /** An rng returning scripted uniforms; int(n) = floor(u * n) like the real one. */
    const scripted = (values: number[]): Rng => {
      const q = values.slice();
      const random = (): number => {
        const v = q.shift();
        if (v === undefined) throw new Error('drew more than scripted');
        return v;
      };
      return { random, int: (n) => Math.floor(random() * n), choice: () => { throw new Error('unused'); }, shuffle: () => { throw new Error('unused'); }, normal: () => 0 };
    };
    // 72: k = 1 + floor(u * 36)
    assert.equal(wrongAnswer('72', scripted([0, 0.3])), '71', 'k = 1, down');
    assert.equal(wrongAnswer('72', scripted([0.99, 0.7])), '108', 'k = 36, up');
    // 2.5: units of 0.1, k = (1 + floor(0.6 * 2)) * 10 = 20 tenths, down: 25 - 20 = 5 tenths
    assert.equal(wrongAnswer('2.5', scripted([0.6, 0.1])), '0.5', 'decimals kept');
    // 0: k = 1; down would go below zero, so up
    assert.equal(wrongAnswer('0', scripted([0.5, 0.2])), '1', 'never below zero for a non-negative answer');
    // -3: k = 1 + floor(0 * 2) = 1, up: -2
    assert.equal(wrongAnswer('-3', scripted([0, 0.9])), '-2', 'negative answers move either way');
    assert.equal(wrongAnswer('-3', scripted([0, 0.1])), '-4', 'negative answers may go further down');
  });
});

describe('other layouts of the same data', () => {
  const write = async (name: string, text: string): Promise<string> => {
    const file = join(dir, name);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
    return file;
  };
  const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const view = (d: LoadedDataset) => all(d).map((e) => [e.label, e.question, e.answer, e.text, e.group]);

  test('the hub\'s ARC and OpenBookQA rows (choices as parallel lists) give the release\'s examples', async () => {
    const arc = await write('hub/arc/ARC-Easy-Train.jsonl', jsonl([
      { id: 'Fixture_E_1', question: 'Which tool is best for measuring the length of a pencil?', choices: { text: ['a ruler', 'a thermometer', 'a balance', 'a stopwatch'], label: ['A', 'B', 'C', 'D'] }, answerKey: 'A' },
      { id: 'Fixture_E_2', question: 'What do green plants mostly use sunlight for?', choices: { text: ['to melt snow', 'to make food', 'to find water'], label: ['A', 'B', 'C'] }, answerKey: 'B' },
      { id: 'Fixture_E_3', question: 'Which of these is a liquid at room temperature?', choices: { text: ['ice', 'steam', 'milk', 'sand'], label: ['1', '2', '3', '4'] }, answerKey: '3' },
      { id: 'Fixture_E_4', question: 'Which planet is closest to the Sun?', choices: { text: ['Mercury', 'Venus', 'Earth', 'Mars', 'Jupiter'], label: ['A', 'B', 'C', 'D', 'E'] }, answerKey: 'A' },
    ]));
    for (const seed of [0, 3]) {
      const hub = await loadDataset({ name: 'arc_easy', dataDir: FIX, seed, files: { train: arc } });
      const release = await loadDataset({ name: 'arc_easy', dataDir: FIX, seed, files: { train: join(FIX, 'arc_easy/ARC-Easy-Train.jsonl') } });
      assert.deepEqual(hub.pools.train, release.pools.train, `arc_easy seed ${seed}: same examples, ids included`);
    }
    const obqa = await write('hub/obqa/test.jsonl', jsonl([
      { id: '9-201', question_stem: 'A seed needs which of these to sprout?', choices: { text: ['darkness only', 'water', 'salt', 'smoke'], label: ['A', 'B', 'C', 'D'] }, answerKey: 'B' },
      { id: '9-202', question_stem: 'An animal that eats only plants is', choices: { text: ['a carnivore', 'a herbivore', 'a predator', 'a decomposer'], label: ['A', 'B', 'C', 'D'] }, answerKey: 'B' },
    ]));
    const hub = await loadDataset({ name: 'openbookqa', dataDir: FIX, seed: 1, files: { train: obqa } });
    const release = await loadDataset({ name: 'openbookqa', dataDir: FIX, seed: 1, files: { train: join(FIX, 'openbookqa/test.jsonl') } });
    assert.deepEqual(hub.pools.train, release.pools.train, 'openbookqa: same examples');
  });

  test('the hub\'s ANLI rows (premise, labels 0-2) give the release\'s examples', async () => {
    const rows = (await readFile(join(FIX, 'anli/R2/train.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const file = await write('hub/anli/train.jsonl', jsonl(rows.map(({ uid, context, hypothesis, label, reason }) => ({ uid, premise: context, hypothesis, label: { e: 0, n: 1, c: 2 }[label as string], reason }))));
    const hub = await loadDataset({ name: 'anli', dataDir: FIX, seed: 0, files: { train: file } });
    const release = await loadDataset({ name: 'anli', dataDir: FIX, seed: 0, files: { train: join(FIX, 'anli/R2/train.jsonl') } });
    assert.deepEqual(hub.pools.train, release.pools.train, 'anli: same examples and groups');
  });

  test('rows that carry their own label (PIQA, Social IQa, HellaSwag, QuAIL, SST-2, MC-TACO as the hub exports them) need no labels file', async () => {
    const piqa = (await readFile(join(FIX, 'piqa/valid.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as object);
    const labels = [0, 0, 1];
    const file = await write('hub/piqa/valid.jsonl', jsonl(piqa.map((r, i) => ({ ...r, label: labels[i] }))));
    const hub = await loadDataset({ name: 'piqa', dataDir: FIX, seed: 2, files: { train: file } });
    const release = await loadDataset({ name: 'piqa', dataDir: FIX, seed: 2, files: { train: join(FIX, 'piqa/valid.jsonl') } });
    assert.deepEqual(hub.pools.train, release.pools.train, 'piqa: an inline label gives the same examples as the labels file');

    const siqa = (await readFile(join(FIX, 'social_iqa/dev.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as object);
    const siqaFile = await write('hub/siqa/dev.jsonl', jsonl(siqa.map((r, i) => ({ ...r, label: ['2', '1'][i] }))));
    assert.deepEqual(
      (await loadDataset({ name: 'social_iqa', dataDir: FIX, seed: 2, files: { train: siqaFile } })).pools.train,
      (await loadDataset({ name: 'social_iqa', dataDir: FIX, seed: 2, files: { train: join(FIX, 'social_iqa/dev.jsonl') } })).pools.train,
      'social_iqa: a label string "1"-"3" in the row',
    );

    const hs = (await readFile(join(FIX, 'hellaswag/hellaswag_val.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { label: number });
    const hsFile = await write('hub/hs/hellaswag_val.jsonl', jsonl(hs.map((r) => ({ ...r, label: String(r.label) }))));
    assert.deepEqual(
      (await loadDataset({ name: 'hellaswag', dataDir: FIX, seed: 4, files: { train: hsFile } })).pools.train,
      (await loadDataset({ name: 'hellaswag', dataDir: FIX, seed: 4, files: { train: join(FIX, 'hellaswag/hellaswag_val.jsonl') } })).pools.train,
      'hellaswag: a label string',
    );

    const quail = (await readFile(join(FIX, 'quail/dev.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { correct_answer_id: string });
    const quailFile = await write('hub/quail/dev.jsonl', jsonl(quail.map((r) => ({ ...r, correct_answer_id: Number(r.correct_answer_id), question_id: '0' }))));
    assert.deepEqual(
      (await loadDataset({ name: 'quail', dataDir: FIX, seed: 4, files: { train: quailFile } })).pools.train,
      (await loadDataset({ name: 'quail', dataDir: FIX, seed: 4, files: { train: join(FIX, 'quail/dev.jsonl') } })).pools.train,
      'quail: a numeric correct_answer_id',
    );

    const sst = await write('hub/sst2/dev.jsonl', jsonl([
      { idx: 0, sentence: 'bright , brisk and full of heart ', label: 1 },
      { idx: 1, sentence: 'two hours i will never get back ', label: 0 },
      { idx: 2, sentence: 'a quiet triumph ', label: 1 },
    ]));
    assert.deepEqual(
      (await loadDataset({ name: 'sst2', dataDir: FIX, seed: 0, files: { train: sst } })).pools.train,
      (await loadDataset({ name: 'sst2', dataDir: FIX, seed: 0, files: { train: join(FIX, 'sst2/dev.tsv') } })).pools.train,
      'sst2: the hub layout (idx, sentence, label)',
    );

    const roof = 'After the storm, the workers repaired the roof.';
    const taco = await write('hub/taco/dev_3783.jsonl', jsonl([
      { sentence: roof, question: 'What happened before the workers repaired the roof?', answer: 'the storm damaged it', label: 1, category: 0 },
      { sentence: roof, question: 'What happened before the workers repaired the roof?', answer: 'the roof was built last year after the repair', label: 0, category: 0 },
      { sentence: roof, question: 'Is the roof still broken?', answer: 'no', label: 1, category: 4 },
    ]));
    const hubTaco = await loadDataset({ name: 'mc_taco', dataDir: FIX, seed: 0, files: { train: taco } });
    const releaseTaco = await loadDataset({ name: 'mc_taco', dataDir: FIX, seed: 0, files: { train: join(FIX, 'mc_taco/dev_3783.tsv') } });
    assert.deepEqual(view(hubTaco), view(releaseTaco), 'mc_taco: numbered labels read as yes/no');
  });

  test('the hub\'s one-row-per-question DREAM, RACE and MultiRC rows give the same examples in the same order', async () => {
    const dream = await write('hub/dream/train.jsonl', jsonl([
      { id: 0, dialogue_id: '5-101', dialogue: ['M: Are you coming to the concert tonight?', "W: I'd love to, but I have to finish my report first.", 'M: It starts at eight, so you have time.'], question: 'What does the woman have to do first?', choice: ['Buy a ticket.', 'Finish her report.', 'Call her mother.'], answer: 'Finish her report.' },
      { id: 1, dialogue_id: '5-101', dialogue: ['M: Are you coming to the concert tonight?', "W: I'd love to, but I have to finish my report first.", 'M: It starts at eight, so you have time.'], question: 'When does the concert start?', choice: ['At seven.', 'At eight.', 'At nine.'], answer: 'At eight.' },
      { id: 2, dialogue_id: '5-102', dialogue: ['W: Excuse me, where is the nearest post office?', "M: Go straight for two blocks and turn left. It's next to the bank."], question: 'Where is the post office?', choice: ['Next to the bank.', 'Behind the school.', 'Across from the park.'], answer: 'Next to the bank.' },
    ]));
    for (const seed of [0, 1, 2]) {
      const hub = await loadDataset({ name: 'dream', dataDir: FIX, seed, files: { train: dream } });
      const release = await loadDataset({ name: 'dream', dataDir: FIX, seed, files: { train: join(FIX, 'dream/train.json') } });
      assert.deepEqual(view(hub), view(release), `dream seed ${seed}: same labels, texts and groups`);
      assert.deepEqual(hub.pools.train.map((e) => e.id), ['dream/train/0.0', 'dream/train/1.0', 'dream/train/2.0'], 'dream: one question per hub row');
    }

    const bus = 'Tom missed the school bus on Monday, so his father drove him to school. He arrived just before the bell rang.';
    const race = await write('hub/race/dev.jsonl', jsonl([
      { example_id: 'middle3003.txt', article: bus, answer: 'D', question: 'How did Tom get to school?', options: ['by bus', 'on foot', 'by bike', 'by car'] },
      { example_id: 'middle3003.txt', article: bus, answer: 'A', question: 'On which day did Tom miss the bus?', options: ['Monday', 'Friday', 'Sunday', 'Wednesday'] },
    ]));
    const hubRace = await loadDataset({ name: 'race', dataDir: FIX, seed: 5, files: { train: race } });
    const releaseRace = await loadDataset({ name: 'race', dataDir: FIX, seed: 5, files: { train: join(FIX, 'race/dev') } });
    assert.deepEqual(view(hubRace), view(releaseRace), 'race: same labels, texts and groups');

    const keys = "<b>Sent 1: </b>Leo lost his keys in the park.<br><b>Sent 2: </b>A child found them under a bench.<br>";
    const q = 'Where were the keys found?';
    const multirc = await write('hub/multirc/val.jsonl', jsonl([
      { paragraph: keys, question: q, answer: 'under a bench', idx: { paragraph: 0, question: 0, answer: 0 }, label: 1 },
      { paragraph: keys, question: q, answer: "in Leo's pocket", idx: { paragraph: 0, question: 0, answer: 1 }, label: 0 },
      { paragraph: keys, question: q, answer: 'in the park', idx: { paragraph: 0, question: 0, answer: 2 }, label: 1 },
    ]));
    assert.deepEqual(
      view(await loadDataset({ name: 'multirc', dataDir: FIX, seed: 0, files: { train: multirc } })),
      view(await loadDataset({ name: 'multirc', dataDir: FIX, seed: 0, files: { train: join(FIX, 'multirc/val.jsonl') } })),
      'multirc: same labels, texts and groups',
    );
  });

  test('RACE articles may also come as one JSON-lines file; hidden files in a folder are skipped', async () => {
    const folder = join(dir, 'race-copy/train');
    await mkdir(join(folder, 'high'), { recursive: true });
    await mkdir(join(folder, 'middle'), { recursive: true });
    await copyFile(join(FIX, 'race/train/high/1001.txt'), join(folder, 'high/1001.txt'));
    await copyFile(join(FIX, 'race/train/middle/2002.txt'), join(folder, 'middle/2002.txt'));
    await writeFile(join(folder, '.DS_Store'), 'not json');
    const copy = await loadDataset({ name: 'race', dataDir: FIX, seed: 3, files: { train: folder } });
    const original = await loadDataset({ name: 'race', dataDir: FIX, seed: 3, files: { train: join(FIX, 'race/train') } });
    assert.deepEqual(copy.pools.train, original.pools.train, 'race: a copied folder gives the same examples');
    const lines = [
      await readFile(join(FIX, 'race/train/high/1001.txt'), 'utf8'),
      await readFile(join(FIX, 'race/train/middle/2002.txt'), 'utf8'),
    ].join('\n');
    const file = await write('race-lines/train.jsonl', `${lines}\n`);
    const fromLines = await loadDataset({ name: 'race', dataDir: FIX, seed: 3, files: { train: file } });
    assert.deepEqual(fromLines.pools.train, original.pools.train, 'race: one article per line gives the same examples');
  });
});

describe('loading', () => {
  test('limit counts examples, not rows, and keeps the labels a full load gives', async () => {
    const full = await load('dream', 6);
    const some = await load('dream', 6, { limit: 2 });
    assert.deepEqual(some.pools.train, full.pools.train.slice(0, 2), 'dream: the first two questions, as in the full load');
    const quality = await load('quality', 6, { limit: 1 });
    assert.equal(quality.pools.train.length, 1, 'quality: one example');
  });

  test('a grouped split never separates the questions of one passage', async () => {
    const d = await load('quail', 0);
    // Contexts f901 (3 questions) and n902 (2): test 2 can only take n902, train_weak 3 only f901, whatever the shuffle.
    const splits = makeSplits({ train: d.pools.train }, { seed: 0, sizes: { train_weak: 3, train_strong: 0, test: 2 } });
    assert.deepEqual(splits.filter((e) => e.split === 'test').map((e) => e.group), ['n902', 'n902'], 'quail: the 2-question context is the test split');
    assert.deepEqual(splits.filter((e) => e.split === 'train_weak').map((e) => e.group), ['f901', 'f901', 'f901'], 'quail: the 3-question context is train_weak');
    const where = new Map<string, string>();
    for (const e of splits) {
      const before = where.get(e.group!);
      assert.ok(before === undefined || before === e.split, `quail: group ${e.group} stays in one split`);
      where.set(e.group!, e.split);
    }
  });
});

describe('malformed rows: one sentence naming the file, the line and the field', () => {
  const write = async (name: string, text: string): Promise<string> => {
    const file = join(dir, 'bad', name);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
    return file;
  };
  const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  async function rejects(name: string, files: { train: string }, file: string, line: number, field: RegExp): Promise<void> {
    await assert.rejects(loadDataset({ name, dataDir: FIX, seed: 0, files }), (e: unknown) => {
      assert.ok(e instanceof DataFileError, `${name}: a DataFileError, got ${String(e)}`);
      assert.equal(e.file, file, `${name}: names the file`);
      assert.equal(e.line, line, `${name}: names the line`);
      assert.ok(e.message.startsWith(`${file} line ${line}: `), `${name}: the message starts with file and line: ${e.message}`);
      assert.match(e.message, field, `${name}: names the field`);
      assert.equal(e.message.split('\n').length, 1, `${name}: one line`);
      return true;
    }, `${name}: the load stops`);
  }
  const arcRow = { id: 'x', question: { stem: 'Which is a metal?', choices: [{ text: 'iron', label: 'A' }, { text: 'wood', label: 'B' }] }, answerKey: 'A' };

  test('arc_easy and openbookqa', async () => {
    const f = await write('arc/ARC-Easy-Train.jsonl', jsonl([arcRow, { ...arcRow, answerKey: 'E' }]));
    await rejects('arc_easy', { train: f }, f, 2, /row 1 is invalid: field "answerKey": "E" is not the label of any choice \(A, B\)/);
    const o = await write('obqa/train.jsonl', jsonl([{ id: '1', question: { choices: arcRow.question.choices }, answerKey: 'A' }]));
    await rejects('openbookqa', { train: o }, o, 1, /field "question\.stem": missing/);
  });

  test('piqa and social_iqa: a bad label in the labels file, a labels file of the wrong length, no labels file', async () => {
    const data = jsonl([{ goal: 'g', sol1: 'a', sol2: 'b' }, { goal: 'h', sol1: 'c', sol2: 'd' }]);
    const f = await write('piqa/train.jsonl', data);
    await writeFile(join(dirname(f), 'train-labels.lst'), '0\n2\n');
    await rejects('piqa', { train: f }, f, 2, /row 1 is invalid: field "label": expected the index of the right solution/);
    await writeFile(join(dirname(f), 'train-labels.lst'), '0\n1\n1\n');
    const lst = join(dirname(f), 'train-labels.lst');
    await assert.rejects(loadDataset({ name: 'piqa', dataDir: FIX, seed: 0, files: { train: f } }), (e: unknown) => {
      assert.ok(e instanceof DataFileError, 'piqa: a DataFileError');
      assert.equal(e.message, `${lst} line 3: has 3 labels but ${f} has 2 rows; they must match line for line`, 'piqa: the labels file and its extra line');
      return true;
    }, 'piqa: a labels file of the wrong length stops the load');
    const lone = await write('piqa-nolabels/train.jsonl', data);
    await assert.rejects(loadDataset({ name: 'piqa', dataDir: FIX, seed: 0, files: { train: lone } }), (e: unknown) => {
      assert.ok(e instanceof DataFileError, 'piqa: a DataFileError');
      assert.equal(e.message, `${lone}: has no labels: the release ships them in ${join(dirname(lone), 'train-labels.lst')}, one per line; put that file next to it`, 'piqa: names the labels file expected');
      return true;
    }, 'piqa: a missing labels file stops the load');
    const s = await write('siqa/dev.jsonl', jsonl([{ context: 'c', question: 'q', answerA: 'a', answerB: 'b', answerC: 'c' }]));
    await writeFile(join(dirname(s), 'dev-labels.lst'), '4\n');
    await rejects('social_iqa', { train: s }, s, 1, /field "label": expected 1, 2 or 3/);
  });

  test('hellaswag, winogrande, quail, anli, gsm8k', async () => {
    const h = await write('hs/hellaswag_train.jsonl', jsonl([{ ind: 1, ctx: 'c', endings: ['a', 'b', 'c'], label: 0 }]));
    await rejects('hellaswag', { train: h }, h, 1, /field "endings": expected the four endings/);
    const w = await write('wg/train_xl.jsonl', jsonl([{ qID: 'q', sentence: 's _', option1: 'a', option2: 'b', answer: '3' }]));
    await rejects('winogrande', { train: w }, w, 1, /field "answer": expected "1" or "2"/);
    const q = await write('quail/train.jsonl', jsonl([{ id: 'x_0', context: 'c', question: 'q', answers: ['a', 'b', 'c', 'd'], correct_answer_id: '7' }]));
    await rejects('quail', { train: q }, q, 1, /field "correct_answer_id": expected the index of the correct answer: a number from 0 to 3/);
    const a = await write('anli/train.jsonl', jsonl([{ uid: 'u', context: 'p', hypothesis: 'h', label: 'x' }]));
    await rejects('anli', { train: a }, a, 1, /field "label": expected "e" \(entailment\)/);
    const g = await write('gsm8k/train.jsonl', jsonl([{ question: 'q', answer: 'the answer is 4' }]));
    await rejects('gsm8k', { train: g }, g, 1, /field "answer": has no final number after "####"/);
  });

  test('sst2 and mc_taco: TSV rows', async () => {
    const s = await write('sst2/train.tsv', 'sentence\tlabel\ngood \t1\nbad \tnegative\n');
    await rejects('sst2', { train: s }, s, 3, /row 1 is invalid: field "label": expected 0 \(negative\) or 1 \(positive\)/);
    const m = await write('mctaco/test_9442.tsv', 's\tq\ta\tyes\tFrequency\ns\tq\ta\tyes\n');
    await assert.rejects(loadDataset({ name: 'mc_taco', dataDir: FIX, seed: 0, files: { train: m } }), (e: unknown) => {
      assert.ok(e instanceof DataFileError, 'mc_taco: a DataFileError');
      assert.equal(e.message, `${m} line 2: row 1 has 4 tab-separated fields but the 5 columns sentence, question, answer, label, category`, 'mc_taco: names the line');
      return true;
    }, 'mc_taco: a short TSV row stops the load');
    const m2 = await write('mctaco2/test_9442.tsv', 's\tq\ta\tmaybe\tFrequency\n');
    await rejects('mc_taco', { train: m2 }, m2, 1, /field "label": expected "yes" or "no"/);
  });

  test('nested rows name the path to the field: dream, multirc, race, quality', async () => {
    const d = await write('dream/train.json', [
      '[',
      ' [["M: hi"], [{"question": "q", "choice": ["a", "b"], "answer": "a"}], "1"],',
      ' [',
      '  ["M: hi"],',
      '  [{"question": "q", "choice": ["a", "b"], "answer": "a"}, {"question": "q2", "choice": ["a", "b"], "answer": "c"}],',
      '  "2"',
      ' ]',
      ']',
    ].join('\n'));
    // The second dialogue starts on line 3.
    await rejects('dream', { train: d }, d, 3, /row 1 is invalid: field "questions\.1\.answer": is not one of the choices/);
    const mr = await write('multirc/train.jsonl', jsonl([{ idx: 0, passage: { text: 'p', questions: [{ question: 'q', answers: [{ text: 'a', label: 1 }, { text: 'b', label: 2 }] }] } }]));
    await rejects('multirc', { train: mr }, mr, 1, /field "passage\.questions\.0\.answers\.1\.label": expected 0 or 1/);
    const article = join(dir, 'bad/race/train/high/9.txt');
    await mkdir(dirname(article), { recursive: true });
    await writeFile(article, JSON.stringify({ id: 'high9.txt', article: 'a', questions: ['q1', 'q2'], options: [['a', 'b', 'c', 'd']], answers: ['A'] }));
    await rejects('race', { train: join(dir, 'bad/race/train') }, article, 1, /field "answers": 2 questions but 1 option lists and 1 answers/);
    const ql = await write('quality/QuALITY.v1.0.1.htmlstripped.test', jsonl([{ article_id: '1', article: 'a', questions: [{ question: 'q', options: ['a', 'b', 'c', 'd'] }] }]));
    await rejects('quality', { train: ql }, ql, 1, /field "questions\.0\.gold_label": missing or not a number/);
  });

  test('with skipInvalid a bad article is skipped whole and draws no label', async () => {
    const good = await readFile(join(FIX, 'race/train/middle/2002.txt'), 'utf8');
    const bad = JSON.stringify({ id: 'x', article: 'a', questions: ['q'], options: [['a', 'b', 'c', 'd']], answers: ['Z'] });
    const f = await write('race-skip/train.jsonl', `${bad}\n${good}\n`);
    const only = await write('race-only/train.jsonl', `${good}\n`);
    const skipped = await loadDataset({ name: 'race', dataDir: FIX, seed: 9, files: { train: f }, skipInvalid: true });
    const alone = await loadDataset({ name: 'race', dataDir: FIX, seed: 9, files: { train: only } });
    assert.equal(skipped.invalid.length, 1, 'race: one invalid row reported');
    assert.match(skipped.invalid[0]!.reason, /field "answers\.0": expected an answer letter/, 'race: the reason names the field');
    assert.deepEqual(skipped.pools.train.map((e) => [e.label, e.answer]), alone.pools.train.map((e) => [e.label, e.answer]), 'race: the kept article gets the labels it gets alone');
  });
});

test('readRecords still reads the QuALITY release file, which has no extension', async () => {
  const records = [...(await readRecords(join(FIX, 'quality/QuALITY.v1.0.1.htmlstripped.train')))];
  assert.deepEqual(records.map((r) => [r.line, (r.value as { set_unique_id: string }).set_unique_id]), [[1, '90001_A1'], [2, '90001_B2']], 'JSON lines sniffed from the first character');
});
