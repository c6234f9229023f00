import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import type { StageContext } from '../../src/pipeline/context.js';
import { prepareExamples } from '../../src/pipeline/prepare.js';
import type { ProgressEvent } from '../../src/pipeline/progress.js';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';

const FIX = join(resolve(import.meta.dirname, '../..'), 'datasets/fixtures');
const dir = tempDir('w2s-prepare-');

/** Runs the prepare stage alone on a fresh store; the stage uses only config, runId, store and progress. */
async function prepare(name: string, dataset: Record<string, unknown>) {
  const config = parseExperiment({ debate: { protocol: 'none' }, weak: {}, strong: {}, dataset });
  const store = openStore(join(dir, `${name}.sqlite`));
  store.runs.createRun({ id: name, name, config, configHash: name, dataset: config.dataset.name });
  const events: ProgressEvent[] = [];
  const ctx = { config, runId: name, store, progress: (e: ProgressEvent) => events.push(e), stop: new AbortController().signal, retryFailed: false } as unknown as StageContext;
  await prepareExamples(ctx);
  return { store, events: events.flatMap((e) => (e.message ? [e.message] : [])) };
}

test('prepare stores each example with its group and the split counts drawn', async () => {
  const boolq = readFileSync(join(FIX, 'boolq/dev.jsonl'), 'utf8').trim().split('\n');
  // Two train rows repeat a test passage (rows 0 and 3); the train file has 6 rows, the test file 3.
  const train = join(dir, 'train.jsonl');
  const test_ = join(dir, 'dev.jsonl');
  writeFileSync(train, [boolq[0], boolq[1], boolq[3], boolq[0], boolq[2], boolq[1]].join('\n') + '\n');
  writeFileSync(test_, [boolq[0], boolq[2], boolq[3]].join('\n') + '\n');
  const { store, events } = await prepare('boolq-files', { name: 'boolq', files: { train, test: test_ }, sizes: { train_weak: 1, train_strong: 1, test: 1 } });
  const rows = store.examples.listExamples('boolq-files');
  assert.equal(rows.length, 3);
  const passage = (id: string): string => JSON.parse((id.startsWith('boolq/train/') ? [boolq[0], boolq[1], boolq[3], boolq[0], boolq[2], boolq[1]] : [boolq[0], boolq[2], boolq[3]])[Number(id.split('/')[2])]!).passage;
  // Short one-line passages are their own group id; the multi-line one (fixture row 2) is stored hashed.
  const expectedGroup = (p: string): string => (p.includes('\n') ? `sha256:${createHash('sha256').update(p).digest('hex').slice(0, 16)}` : p);
  for (const r of rows) assert.equal(r.group, expectedGroup(passage(r.id)), r.id);
  const testRow = rows.find((r) => r.split === 'test')!;
  // Whatever test row was drawn, no training row has its passage, and the left-out train rows are counted.
  const trainRows = rows.filter((r) => r.split !== 'test');
  assert.ok(trainRows.every((r) => r.group !== testRow.group));
  const trainPassages = [boolq[0], boolq[1], boolq[3], boolq[0], boolq[2], boolq[1]].map((l) => JSON.parse(l!).passage as string);
  const excluded = trainPassages.filter((p) => p === passage(testRow.id)).length;
  const m = store.metrics.getMetric('boolq-files', 'dataset', 'train_rows_excluded_shared_group')!;
  assert.equal(m.value, excluded);
  assert.ok(excluded > 0);
  assert.equal(store.metrics.getMetric('boolq-files', 'dataset', 'rows_without_group')!.value, 0);
  assert.equal(store.metrics.getMetric('boolq-files', 'dataset', 'invalid_rows_skipped')!.value, 0);
  assert.ok(events.some((e) => e === `left ${excluded} train-pool examples out: their groupBy "passage" group is also in the test split`), events.join(' | '));
  store.close();
});

test('prepare without grouping stores null groups, and a short split is reported', async () => {
  const { store } = await prepare('sciq', { name: 'sciq', dataDir: FIX, sizes: { train_weak: 2, train_strong: 2, test: 2 } });
  assert.ok(store.examples.listExamples('sciq').every((r) => r.group === null));
  assert.equal(store.metrics.getMetric('sciq', 'dataset', 'rows_without_group'), undefined);
  assert.equal(store.metrics.getMetric('sciq', 'dataset', 'train_rows_excluded_shared_group')!.value, 0);
  store.close();

  const pairs = join(dir, 'pairs.jsonl');
  writeFileSync(pairs, Array.from({ length: 12 }, (_, i) => JSON.stringify({ question: `q${i >> 1}`, answer: `a${i}`, label: i % 2 })).join('\n') + '\n');
  const p = await prepare('pairs', { name: 'jsonl', path: pairs, groupBy: 'question', sizes: { train_weak: 3, train_strong: 2, test: 3 } });
  assert.deepEqual(p.store.examples.countBySplit('pairs'), { train_weak: 2, train_strong: 2, test: 2 });
  assert.deepEqual(p.events.filter((e) => e.includes('holds')), [
    'train_weak holds 2 of 3 examples: groups (groupBy "question") are kept whole',
    'test holds 2 of 3 examples: groups (groupBy "question") are kept whole',
  ]);
  p.store.close();
});

test('a folder dataset is recorded by the files it reads (hidden ones out, by relative path), hashed without the model-file memo', async () => {
  const train = join(dir, 'race-train');
  const dev = join(dir, 'race-dev');
  mkdirSync(join(train, 'high'), { recursive: true });
  mkdirSync(join(train, 'high.x'), { recursive: true });
  mkdirSync(join(dev, 'middle'), { recursive: true });
  copyFileSync(join(FIX, 'race/train/high/1001.txt'), join(train, 'high/1001.txt'));
  copyFileSync(join(FIX, 'race/train/middle/2002.txt'), join(train, 'high.x/2002.txt'));
  writeFileSync(join(train, '.DS_Store'), 'not an article');
  copyFileSync(join(FIX, 'race/dev/middle/3003.txt'), join(dev, 'middle/3003.txt'));
  const cacheDir = join(dir, 'w2s-cache');
  const saved = process.env.W2S_CACHE_DIR;
  process.env.W2S_CACHE_DIR = cacheDir;
  try {
    const { store } = await prepare('race-folder', { name: 'race', files: { train, test: dev }, sizes: { train_weak: 2, train_strong: 1, test: 2 } });
    const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
    // By relative path code point by code point: "high.x/…" ('.' is 0x2e) before "high/…" ('/' is 0x2f); .DS_Store left out.
    const files = ['high.x/2002.txt', 'high/1001.txt'];
    const listing = files.map((f) => `${sha(join(train, f))}  ${f}`).join('\n') + '\n';
    const m = store.metrics.getMetric('race-folder', 'dataset', `file:${train}`)!;
    assert.ok(m, 'the train folder is recorded');
    assert.equal(m.value, files.reduce((t, f) => t + statSync(join(train, f)).size, 0), 'its size: the two articles, not the hidden file');
    assert.equal(m.note, `sha256 ${createHash('sha256').update(listing).digest('hex')} of the folder's sha256sum listing (2 files)`, 'the listing of the files read, in their order');
    assert.equal(existsSync(join(cacheDir, 'file-identity.json')), false, 'the model-file memo is not written for dataset files');
    store.close();
  } finally {
    if (saved === undefined) delete process.env.W2S_CACHE_DIR;
    else process.env.W2S_CACHE_DIR = saved;
  }
});
