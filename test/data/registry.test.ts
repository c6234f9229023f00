import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DataFileError } from '../../src/data/readers.js';
import { DATASET_NAMES, DEFAULT_DATA_DIR, loadDataset } from '../../src/data/registry.js';
import { classBalance } from '../../src/data/splits.js';
import { UserError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIX = join(ROOT, 'datasets/fixtures');
const SHARED = resolve(ROOT, '../shared/datasets');

const dir = tempDir('w2s-registry-');

describe('loadDataset on the fixtures', () => {
  test('sciq: train.json is the train pool, test.json the test pool, labels from the seeded walk', async () => {
    const d = await loadDataset({ name: 'sciq', dataDir: FIX, seed: 7 });
    assert.deepEqual(d.files, [join(FIX, 'sciq/train.json'), join(FIX, 'sciq/test.json')]);
    assert.deepEqual(d.invalid, []);
    assert.deepEqual(d.pools.train.map((e) => e.id), [0, 1, 2, 3, 4, 5].map((i) => `sciq/train/${i}`));
    assert.deepEqual(d.pools.test!.map((e) => e.id), ['sciq/test/0', 'sciq/test/1', 'sciq/test/2']);
    // Golden values: the same seed gives these labels on any machine.
    assert.deepEqual(d.pools.train.map((e) => [e.label, e.answer]), [
      [1, 'mitochondria'], [1, '100'], [1, 'carbon dioxide'], [0, 'friction'], [0, 'Sd'], [1, 'four'],
    ]);
    assert.deepEqual(d.pools.test!.map((e) => e.text), [
      'Q: What is the hardest natural mineral? A: gold',
      'Q: What particle has a negative charge? A: electron',
      'Q: What organ filters blood in the human body? A: stomach',
    ]);
    const other = await loadDataset({ name: 'sciq', dataDir: FIX, seed: 8 });
    assert.notDeepEqual(other.pools.train.map((e) => e.text), d.pools.train.map((e) => e.text));
  });

  test('boolq, cosmos_qa and anthropic_hh each give one pool', async () => {
    const boolq = await loadDataset({ name: 'boolq', dataDir: FIX, seed: 7 });
    assert.equal(boolq.pools.test, undefined);
    assert.deepEqual(boolq.pools.train.map((e) => [e.id, e.label]), [
      ['boolq/dev/0', 1], ['boolq/dev/1', 0], ['boolq/dev/2', 1], ['boolq/dev/3', 0],
    ]);

    const cosmos = await loadDataset({ name: 'cosmos_qa', dataDir: FIX, seed: 7 });
    assert.deepEqual(cosmos.pools.train.map((e) => [e.id, e.label, e.answer]), [
      ['cosmos_qa/valid/0', 1, 'She left quickly .'],
      ['cosmos_qa/valid/1', 0, 'I will sleep in class .'], // true option is "None of the above choices ."
      ['cosmos_qa/valid/2', 1, 'It wanted to play , maybe .'],
      ['cosmos_qa/valid/3', 0, 'None of the above choices .'],
    ]);
    assert.equal(
      cosmos.pools.train[0]!.text,
      'Context: My friend said "hi", then left.\nI was confused , so I called her .\nQuestion: Why was I confused ?\nAnswer: She left quickly .',
    );

    const hh = await loadDataset({ name: 'anthropic_hh', dataDir: FIX, seed: 7 });
    assert.deepEqual(hh.pools.train.map((e) => [e.id, e.label, e.answer]), [
      ['anthropic_hh/harmless-base_test/0', 1, 'Mix flour, water, yeast and salt, knead, let it rise, then bake.'],
      ['anthropic_hh/harmless-base_test/1', 0, 'You are dull.'],
      ['anthropic_hh/harmless-base_test/2', 0, '5.'],
      ['anthropic_hh/harmless-base_test/3', 1, 'Hello! How can I help?'],
    ]);
    assert.equal(hh.pools.train[2]!.text, "\n\nHuman: What's 2+2?\n\nAssistant: 5.");
  });

  test('limit keeps the first rows with the labels a full load gives them', async () => {
    const full = await loadDataset({ name: 'sciq', dataDir: FIX, seed: 3 });
    const some = await loadDataset({ name: 'sciq', dataDir: FIX, seed: 3, limit: 4 });
    assert.deepEqual(some.pools.train, full.pools.train.slice(0, 4));
    assert.deepEqual(some.pools.test, full.pools.test);
    await assert.rejects(loadDataset({ name: 'sciq', dataDir: FIX, seed: 3, limit: 0 }), /limit must be a positive integer/);
  });

  test('a gzipped copy of an expected file is found next to it', async () => {
    const data = join(dir, 'gz');
    await mkdir(join(data, 'boolq'), { recursive: true });
    await writeFile(join(data, 'boolq/dev.jsonl.gz'), gzipSync(await readFile(join(FIX, 'boolq/dev.jsonl'))));
    const d = await loadDataset({ name: 'boolq', dataDir: data, seed: 0 });
    assert.deepEqual(d.files, [join(data, 'boolq/dev.jsonl.gz')]);
    assert.equal(d.pools.train.length, 4);
  });
});

describe('invalid rows', () => {
  async function dataDirWith(dataset: string, file: string, fixture: string): Promise<string> {
    const data = await mkdtemp(join(dir, 'data-'));
    await mkdir(join(data, dataset));
    await copyFile(join(FIX, 'malformed', fixture), join(data, dataset, file));
    return data;
  }

  test('stop the load with the file, line and field problem', async () => {
    const data = await dataDirWith('boolq', 'dev.jsonl', 'boolq_invalid.jsonl');
    await assert.rejects(loadDataset({ name: 'boolq', dataDir: data, seed: 0 }), (e: unknown) => {
      assert.ok(e instanceof DataFileError);
      assert.equal(e.file, join(data, 'boolq/dev.jsonl'));
      assert.equal(e.line, 3);
      assert.match(e.message, /dev\.jsonl line 3: row 2 is invalid: field "answer": .*expected boolean.*skipInvalid/);
      return true;
    });
  });

  test('with skipInvalid are skipped, counted and reported, and draw no label', async () => {
    const data = await dataDirWith('cosmos_qa', 'valid.csv', 'cosmos_invalid_label.csv');
    const d = await loadDataset({ name: 'cosmos_qa', dataDir: data, seed: 1, skipInvalid: true });
    const file = join(data, 'cosmos_qa/valid.csv');
    assert.deepEqual(d.pools.train.map((e) => e.id), ['cosmos_qa/valid/0', 'cosmos_qa/valid/3']);
    assert.deepEqual(d.invalid, [
      { file, line: 3, index: 1, reason: 'field "label": expected the index of the correct option: 0, 1, 2 or 3' },
      { file, line: 4, index: 2, reason: 'field "label": expected the index of the correct option: 0, 1, 2 or 3' },
    ]);

    const sciq = await dataDirWith('sciq', 'train.json', 'sciq_invalid_rows.json');
    await copyFile(join(FIX, 'sciq/test.json'), join(sciq, 'sciq/test.json'));
    const s = await loadDataset({ name: 'sciq', dataDir: sciq, seed: 7, skipInvalid: true });
    assert.deepEqual(s.invalid.map((r) => [r.line, r.reason]), [
      [10, 'field "distractor2": Invalid input: expected string, received number'],
      [18, 'field "correct_answer": missing (expected string)'],
    ]);
    // The one valid row gets the first draw of the train walk, as the first row of a clean file would.
    const clean = await loadDataset({ name: 'sciq', dataDir: FIX, seed: 7 });
    assert.equal(s.pools.train[0]!.label, clean.pools.train[0]!.label);
  });

  test('a file whose rows are all invalid is an error even with skipInvalid', async () => {
    const data = await mkdtemp(join(dir, 'data-'));
    await mkdir(join(data, 'boolq'));
    await writeFile(join(data, 'boolq/dev.jsonl'), '{"question": "q"}\n');
    await assert.rejects(loadDataset({ name: 'boolq', dataDir: data, seed: 0, skipInvalid: true }), /No examples in .*all 1 rows are invalid/);
  });
});

describe('user errors', () => {
  test('an unknown dataset name lists the known ones', async () => {
    await assert.rejects(loadDataset({ name: 'squad', dataDir: FIX, seed: 0 }), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.equal(
        e.message,
        'Unknown dataset "squad"; use one of: sciq, boolq, cosmos_qa, anthropic_hh, arc_easy, arc_challenge, openbookqa, piqa, hellaswag, winogrande, quail, social_iqa, sst2, anli, dream, mc_taco, multirc, race, quality, gsm8k, jsonl.',
      );
      return true;
    });
    assert.deepEqual(DATASET_NAMES.slice(0, 4), ['sciq', 'boolq', 'cosmos_qa', 'anthropic_hh']);
    assert.equal(DATASET_NAMES.at(-1), 'jsonl');
  });

  test('a missing file names the expected path and where to get it', async () => {
    await assert.rejects(loadDataset({ name: 'cosmos_qa', dataDir: dir, seed: 0 }), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.ok(e.message.includes(join(dir, 'cosmos_qa/valid.csv')));
      assert.match(e.message, /allenai\/cosmos_qa.*datasets\/README\.md/);
      return true;
    });
  });

  test('the default data directory is ../shared/datasets from the working directory', () => {
    assert.equal(DEFAULT_DATA_DIR, resolve(process.cwd(), '../shared/datasets'));
  });
});

describe('the generic jsonl dataset', () => {
  test('loads a user file into one pool', async () => {
    const d = await loadDataset({ name: 'jsonl', dataDir: 'unused', path: join(FIX, 'user.jsonl'), seed: 0 });
    assert.deepEqual(d.pools.train.map((e) => [e.id, e.label]), [['jsonl/user/0', 1], ['jsonl/user/1', 0], ['q-7', 1], ['jsonl/user/3', 0]]);
    assert.deepEqual(d.files, [join(FIX, 'user.jsonl')]);
  });

  test('needs a path that exists, unique ids, and reports invalid rows', async () => {
    await assert.rejects(loadDataset({ name: 'jsonl', dataDir: FIX, seed: 0 }), /needs a path/);
    await assert.rejects(loadDataset({ name: 'jsonl', dataDir: FIX, seed: 0, path: join(dir, 'none.jsonl') }), /none\.jsonl does not exist/);
    const dup = join(FIX, 'malformed/user_duplicate_ids.jsonl');
    await assert.rejects(loadDataset({ name: 'jsonl', dataDir: FIX, seed: 0, path: dup }), /line 3: row 2 repeats the id "a"/);
    const d = await loadDataset({ name: 'jsonl', dataDir: FIX, seed: 0, path: join(FIX, 'malformed/user_invalid.jsonl'), skipInvalid: true });
    assert.equal(d.pools.train.length, 2);
    assert.deepEqual(d.invalid.map((r) => r.line), [2, 3]);
  });
});

const haveShared = existsSync(join(SHARED, 'sciq/test.json'));
describe('the real release files', { skip: haveShared ? false : `no datasets at ${SHARED}` }, () => {
  const near = (rate: number, lo: number, hi: number) => assert.ok(rate > lo && rate < hi, `positive rate ${rate} outside (${lo}, ${hi})`);

  test('sciq: 11679 train and 1000 test rows, labels near 50/50', async () => {
    const d = await loadDataset({ name: 'sciq', dataDir: SHARED, seed: 0 });
    assert.equal(d.pools.train.length, 11679);
    assert.equal(d.pools.test!.length, 1000);
    near(classBalance(d.pools.train).positiveRate, 0.47, 0.53);
    near(classBalance(d.pools.test!).positiveRate, 0.44, 0.56);
    assert.match(d.pools.test![0]!.text, /^Q: Compounds that are capable of accepting electrons, such as o 2 or f2, are called what\? A: /);
  });

  test('boolq: 3270 rows, label = answer (62% yes)', async () => {
    const d = await loadDataset({ name: 'boolq', dataDir: SHARED, seed: 0 });
    assert.deepEqual(classBalance(d.pools.train), { n: 3270, positive: 2033, negative: 1237, positiveRate: 2033 / 3270 });
  });

  test('cosmos_qa: 2985 rows, labels roughly balanced', async () => {
    const d = await loadDataset({ name: 'cosmos_qa', dataDir: SHARED, seed: 0 });
    assert.equal(d.pools.train.length, 2985);
    near(classBalance(d.pools.train).positiveRate, 0.4, 0.52);
    for (const e of d.pools.train) assert.ok(e.label === 0 || !e.answer.includes('None of the above choices .'));
  });

  test('anthropic_hh: 2312 rows, labels near 50/50, each split at its final assistant turn', async () => {
    const d = await loadDataset({ name: 'anthropic_hh', dataDir: SHARED, seed: 0 });
    assert.equal(d.pools.train.length, 2312);
    near(classBalance(d.pools.train).positiveRate, 0.47, 0.53);
    for (const e of d.pools.train) assert.ok(e.text.trim().startsWith(e.question) && e.text.trimEnd().endsWith(e.answer));
  });
});
