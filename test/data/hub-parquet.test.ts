import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadDataset, type LoadedDataset } from '../../src/data/registry.js';
import { DataFileError, readRecords } from '../../src/data/readers.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { csvToParquet, jsonlToParquet, parquetFacts, pyarrowUnavailable } from '../helpers/parquet.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Parquet, as the hub serves it, read by hyparquet and checked against an independent writer: pyarrow converts shared
 * release files (snappy-compressed, several row groups) and the parquet copy must give exactly the examples the
 * original gives. Skipped only where the local wheel set (and so pyarrow) is absent.
 */

const SHARED = join(import.meta.dirname, '../../../shared/datasets');
const skip = pyarrowUnavailable();
const dir = tempDir('w2s-parquet-');
const boolqParquet = join(dir, 'dev.parquet');
const cosmosParquet = join(dir, 'valid.parquet');

/** What a load yields, in a comparable form: every example of every pool, and what was skipped. */
function examplesOf(loaded: LoadedDataset): unknown {
  return { pools: loaded.pools, invalid: loaded.invalid.map(({ index, reason }) => ({ index, reason })) };
}

describe('parquet written by pyarrow', { skip }, () => {
  before(async () => {
    await jsonlToParquet(join(SHARED, 'boolq/dev.jsonl'), boolqParquet, 1000);
    await csvToParquet(join(SHARED, 'cosmos_qa/valid.csv'), cosmosParquet, 1000);
  });

  test('the files are what the hub serves: snappy, several row groups, booleans and int64 columns', async () => {
    const boolq = await parquetFacts(boolqParquet);
    assert.deepEqual(boolq.codecs, ['SNAPPY'], 'snappy-compressed');
    assert.equal(boolq.rowGroups, 4, '3270 rows in groups of 1000');
    assert.equal(boolq.types['answer'], 'bool', 'BoolQ\'s answer is a boolean column');
    const cosmos = await parquetFacts(cosmosParquet);
    assert.equal(cosmos.types['label'], 'int64', 'Cosmos QA\'s label is an int64 column');
  });

  test('rows read back as the original file\'s rows: booleans stay booleans, int64 becomes a number, row number as line', async () => {
    const fromParquet = [...(await readRecords(boolqParquet))];
    const fromJsonl = [...(await readRecords(join(SHARED, 'boolq/dev.jsonl')))];
    assert.equal(fromParquet.length, 3270, 'every row');
    assert.deepEqual(fromParquet.map((r) => r.value), fromJsonl.map((r) => r.value), 'the same values, row for row');
    assert.ok(fromParquet.every((r, i) => r.index === i && r.line === i && r.file === boolqParquet), 'index and line are the 0-based row number');
    assert.ok(fromParquet.every((r) => typeof (r.value as { answer: unknown }).answer === 'boolean'), 'answers are booleans');

    const cosmos = [...(await readRecords(cosmosParquet))];
    const labels = cosmos.map((r) => (r.value as { label: unknown }).label);
    assert.ok(labels.every((l) => typeof l === 'number' && Number.isInteger(l)), 'int64 labels come back as numbers, not BigInt');
    const csv = [...(await readRecords(join(SHARED, 'cosmos_qa/valid.csv')))];
    assert.deepEqual(labels, csv.map((r) => Number((r.value as { label: string }).label)), 'the same labels as the CSV');
  });

  test('a parquet copy loads the same examples (ids, labels, texts, groups) as the original release file', async () => {
    const original = await loadDataset({ name: 'cosmos_qa', dataDir: SHARED, seed: 3 });
    const copy = await loadDataset({ name: 'cosmos_qa', dataDir: SHARED, files: { train: cosmosParquet }, seed: 3 });
    assert.equal(copy.pools.train.length, 2985, 'every row');
    assert.deepEqual(examplesOf(copy), examplesOf(original), 'identical examples: ids from the file name without .parquet, labels from the same RNG walk');
  });

  test('a bad row is reported by row number; a broken or misnamed file by name', async () => {
    await assert.rejects(loadDataset({ name: 'sciq', dataDir: SHARED, files: { train: boolqParquet }, seed: 0 }), (e: unknown) => {
      assert.ok(e instanceof DataFileError, `a DataFileError, got ${String(e)}`);
      assert.match(e.message, /dev\.parquet row 0: row 0 is invalid: field "correct_answer"/, e.message);
      return true;
    });
    // Parquet is known by its magic bytes, whatever the name: its rows are still rows, not lines.
    const unnamed = join(dir, 'dev-rows.data');
    copyFileSync(boolqParquet, unnamed);
    await assert.rejects(loadDataset({ name: 'sciq', dataDir: SHARED, files: { train: unnamed }, seed: 0 }), (e: unknown) => {
      assert.ok(e instanceof DataFileError, `a DataFileError, got ${String(e)}`);
      assert.match(e.message, /dev-rows\.data row 0: row 0 is invalid: field "correct_answer"/, e.message);
      return true;
    });
    const truncated = join(dir, 'truncated.parquet');
    writeFileSync(truncated, readFileSync(boolqParquet).subarray(0, 5000));
    await assert.rejects(readRecords(truncated), /truncated\.parquet: cannot be read as parquet \(.+\); is the file truncated/, 'a truncated file');
    const misnamed = join(dir, 'misnamed.parquet');
    copyFileSync(join(SHARED, 'boolq/dev.jsonl'), misnamed);
    await assert.rejects(readRecords(misnamed), /misnamed\.parquet: is named \.parquet but is not a parquet file/, 'a JSON lines file named .parquet');
  });

  describe('from the hub', () => {
    let hub: HubServer;
    const env = { HF_ENDPOINT: process.env['HF_ENDPOINT'], W2S_DATA_DIR: process.env['W2S_DATA_DIR'] };
    before(async () => {
      hub = await startHubServer({ repos: [{ id: 'google/boolq', files: [{ path: 'data/validation-00000-of-00001.parquet', source: boolqParquet }] }] });
      process.env['HF_ENDPOINT'] = hub.url;
      process.env['W2S_DATA_DIR'] = tempDir('w2s-parquet-hub-');
    });
    after(async () => {
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
      await hub.close();
    });

    test('race from the hub (one row per question) gets ids of its own, never the release\'s race/train/i.j', async () => {
      // Two hub rows for train, one for validation, in ehovy/race's layout: one question each.
      const row = (n: number) => ({ example_id: `high${n}.txt`, article: `Article ${n}.`, question: `Question ${n}?`, options: ['w', 'x', 'y', 'z'], answer: 'B' });
      const train = join(dir, 'race-train.jsonl');
      const validation = join(dir, 'race-validation.jsonl');
      writeFileSync(train, `${JSON.stringify(row(1))}\n${JSON.stringify(row(2))}\n`);
      writeFileSync(validation, `${JSON.stringify(row(3))}\n`);
      await jsonlToParquet(train, join(dir, 'race-train.parquet'));
      await jsonlToParquet(validation, join(dir, 'race-validation.parquet'));
      const raceHub = await startHubServer({
        repos: [{ id: 'ehovy/race', revision: 'refs/convert/parquet', files: [
          { path: 'all/train/0000.parquet', source: join(dir, 'race-train.parquet') },
          { path: 'all/validation/0000.parquet', source: join(dir, 'race-validation.parquet') },
        ] }],
      });
      const endpoint = process.env['HF_ENDPOINT'];
      process.env['HF_ENDPOINT'] = raceHub.url;
      try {
        const fromHub = await loadDataset({ name: 'race', dataDir: SHARED, source: 'hub', seed: 5 });
        assert.deepEqual(fromHub.pools.train.map((e) => e.id), ['race/hub-train/0.0', 'race/hub-train/1.0'], 'train ids: hub- and the layout\'s split name');
        assert.deepEqual(fromHub.pools.test?.map((e) => e.id), ['race/hub-dev/0.0'], 'test ids: hub- and the layout\'s split name');
      } finally {
        process.env['HF_ENDPOINT'] = endpoint;
        await raceHub.close();
      }
    });

    test('boolq with source "hub" reads the parquet file and gives the examples the release\'s dev.jsonl gives', async () => {
      const fromHub = await loadDataset({ name: 'boolq', dataDir: SHARED, source: 'hub', seed: 5 });
      const fromRelease = await loadDataset({ name: 'boolq', dataDir: SHARED, seed: 5 });
      assert.equal(fromHub.files.length, 1, 'one file read');
      assert.match(fromHub.files[0]!, /hub\/google\/boolq\/main\/data\/validation-00000-of-00001\.parquet$/, 'from the hub cache');
      assert.equal(fromHub.pools.train[0]!.id, 'boolq/dev/0', 'ids use the release layout\'s split name');
      assert.deepEqual(examplesOf(fromHub), examplesOf(fromRelease), 'identical examples, groups (passage) included');
    });
  });
});
