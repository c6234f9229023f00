import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { groupId, valueAtPath } from '../../src/data/groups.js';
import { readRecords } from '../../src/data/readers.js';
import { loadDataset } from '../../src/data/registry.js';
import { drawSplits, makeSplits } from '../../src/data/splits.js';
import type { SplitExample } from '../../src/data/types.js';
import { UserError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIX = join(ROOT, 'datasets/fixtures');
const SHARED = resolve(ROOT, '../shared/datasets');
const dir = tempDir('w2s-groups-');

const hashed = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
async function write(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await mkdir(resolve(file, '..'), { recursive: true });
  await writeFile(file, text);
  return file;
}
const rejectsWith = async (p: Promise<unknown>, message: string | RegExp): Promise<void> => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
};

describe('group ids and paths', () => {
  test('short one-line values are kept, long or multi-line ones hashed, missing ones are no group', () => {
    assert.equal(groupId('Sun'), 'Sun');
    assert.equal(groupId(17), '17');
    assert.equal(groupId('x'.repeat(64)), 'x'.repeat(64));
    assert.equal(groupId('x'.repeat(65)), hashed('x'.repeat(65)));
    assert.equal(groupId('a\nb'), hashed('a\nb'));
    assert.equal(groupId({ b: 1, a: 2 }), hashed('{"a":2,"b":1}'));
    assert.equal(groupId(undefined), null);
    assert.equal(groupId(null), null);
    assert.equal(groupId(''), null);
  });

  test('dotted paths walk objects; a key containing dots matches whole first', () => {
    assert.equal(valueAtPath({ meta: { passage_id: 'p1' } }, 'meta.passage_id'), 'p1');
    assert.equal(valueAtPath({ 'meta.passage_id': 'flat', meta: { passage_id: 'p1' } }, 'meta.passage_id'), 'flat');
    assert.equal(valueAtPath({ meta: 'x' }, 'meta.passage_id'), undefined);
    assert.equal(valueAtPath(['a'], '0'), undefined);
  });
});

describe('groupBy when loading', () => {
  test('boolq groups by passage by default; groupBy null turns it off; title groups by article', async () => {
    const passages = readFileSync(join(FIX, 'boolq/dev.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).passage as string);
    const d = await loadDataset({ name: 'boolq', dataDir: FIX, seed: 0 });
    assert.equal(d.groupBy, 'passage');
    assert.equal(d.ungrouped, 0);
    assert.deepEqual(d.pools.train.map((e) => e.group), [passages[0], passages[1], hashed(passages[2]!), passages[3]]);
    const off = await loadDataset({ name: 'boolq', dataDir: FIX, seed: 0, groupBy: null });
    assert.equal(off.groupBy, null);
    assert.ok(off.pools.train.every((e) => e.group === undefined));
    const byTitle = await loadDataset({ name: 'boolq', dataDir: FIX, seed: 0, groupBy: 'title' });
    assert.deepEqual(byTitle.pools.train.map((e) => e.group), ['Sun', 'Penguin', 'Water', 'Pluto']);
  });

  test('cosmos_qa groups by context by default; sciq and anthropic_hh by nothing', async () => {
    const cosmos = await loadDataset({ name: 'cosmos_qa', dataDir: FIX, seed: 0 });
    assert.equal(cosmos.groupBy, 'context');
    for (const e of cosmos.pools.train) {
      const context = e.question.slice('Context: '.length, e.question.lastIndexOf('\nQuestion: '));
      assert.equal(e.group, groupId(context));
    }
    for (const name of ['sciq', 'anthropic_hh']) {
      const d = await loadDataset({ name, dataDir: FIX, seed: 0 });
      assert.equal(d.groupBy, null);
      assert.ok([...d.pools.train, ...(d.pools.test ?? [])].every((e) => e.group === undefined));
    }
  });

  test('a path the raw row lacks is looked up in the formatted example; one no row has is an error naming the fields', async () => {
    // SciQ rows have no "answer" field: the formatted example's shown answer is used.
    const d = await loadDataset({ name: 'sciq', dataDir: FIX, seed: 7, groupBy: 'answer' });
    assert.deepEqual(d.pools.train.map((e) => e.group), d.pools.train.map((e) => e.answer));
    await rejectsWith(
      loadDataset({ name: 'boolq', dataDir: FIX, seed: 0, groupBy: 'passage_id' }),
      `dataset.groupBy "passage_id" is not a field of any row in ${join(FIX, 'boolq/dev.jsonl')} (the rows have "question", "title", "answer", "passage"); name one of their fields, or set groupBy to null for no grouping.`,
    );
    await rejectsWith(loadDataset({ name: 'boolq', dataDir: FIX, seed: 0, groupBy: ' ' }), /groupBy must be a field name/);
  });

  test('examples cut off by limit are not counted as ungrouped: a groupBy no kept example has is still an error', async () => {
    // The race fixture's first train article has 2 questions and its dev article 2: limit 1 keeps 1 of each, 2 in all.
    await rejectsWith(
      loadDataset({ name: 'race', dataDir: FIX, seed: 0, limit: 1, groupBy: 'nosuch' }),
      /^dataset\.groupBy "nosuch" is not a field of any row in .*race\/train or .*race\/dev /,
    );
    const byArticle = await loadDataset({ name: 'race', dataDir: FIX, seed: 0, limit: 1, groupBy: 'article' });
    assert.equal(byArticle.pools.train.length + (byArticle.pools.test?.length ?? 0), 2, 'one example per pool kept');
    assert.equal(byArticle.ungrouped, 0, 'every kept example has an article');
  });

  test('jsonl: meta paths group rows; rows without the field are their own group and counted', async () => {
    const file = await write('meta.jsonl', jsonl([
      { question: 'q1', answer: 'a', label: 1, meta: { pid: 'P1' } },
      { question: 'q2', answer: 'b', label: 0, meta: { pid: 'P1' } },
      { question: 'q3', answer: 'c', label: 1 },
      { question: 'q4', answer: 'd', label: 0, meta: { pid: 7 } },
    ]));
    const d = await loadDataset({ name: 'jsonl', dataDir: 'unused', path: file, seed: 0, groupBy: 'meta.pid' });
    assert.deepEqual(d.pools.train.map((e) => e.group), ['P1', 'P1', undefined, '7']);
    assert.equal(d.ungrouped, 1);
    const none = await loadDataset({ name: 'jsonl', dataDir: 'unused', path: file, seed: 0 });
    assert.equal(none.groupBy, null);
  });

  test('a pair-structured jsonl set (two rows per question, opposite labels) never straddles splits', async () => {
    const rows = [];
    for (let q = 0; q < 60; q++) {
      rows.push({ question: `Question ${q}?`, answer: `right ${q}`, label: 1 }, { question: `Question ${q}?`, answer: `wrong ${q}`, label: 0 });
    }
    const file = await write('pairs.jsonl', jsonl(rows));
    const d = await loadDataset({ name: 'jsonl', dataDir: 'unused', path: file, seed: 0, groupBy: 'question' });
    for (const seed of [0, 1, 2, 3, 4]) {
      const s = drawSplits(d.pools, { seed, sizes: { train_weak: 41, train_strong: 40, test: 25 } });
      assert.deepEqual(s.drawn, { train_weak: 40, train_strong: 40, test: 24 });
      const splitOf = new Map<string, string>();
      for (const e of s.examples) {
        const q = e.question;
        assert.ok(!splitOf.has(q) || splitOf.get(q) === e.split, `${q} in ${splitOf.get(q)} and ${e.split}`);
        splitOf.set(q, e.split);
      }
      for (const split of ['train_weak', 'train_strong', 'test']) {
        const xs = s.examples.filter((e) => e.split === split);
        assert.equal(xs.filter((e) => e.label === 1).length * 2, xs.length);
      }
    }
    // Ungrouped, the same file straddles: some question has its two rows in different splits.
    const flat = makeSplits((await loadDataset({ name: 'jsonl', dataDir: 'unused', path: file, seed: 0 })).pools, { seed: 0, sizes: { train_weak: 41, train_strong: 40, test: 25 } });
    const where = new Map<string, Set<string>>();
    for (const e of flat) where.set(e.question, (where.get(e.question) ?? new Set()).add(e.split));
    assert.ok([...where.values()].some((s) => s.size > 1));
  });
});

describe('dataset.files', () => {
  test('a named dataset reads its pools from the files given; the file name is the id and label-seed split', async () => {
    const byDefault = await loadDataset({ name: 'sciq', dataDir: FIX, seed: 7 });
    const given = await loadDataset({ name: 'sciq', dataDir: 'unused', seed: 7, files: { train: join(FIX, 'sciq/train.json'), test: join(FIX, 'sciq/test.json') } });
    assert.deepEqual(given.pools, byDefault.pools);
    assert.deepEqual(given.files, [join(FIX, 'sciq/train.json'), join(FIX, 'sciq/test.json')]);

    // BoolQ with openai's pools: train from train.jsonl, test from dev.jsonl.
    const lines = readFileSync(join(FIX, 'boolq/dev.jsonl'), 'utf8').trim().split('\n');
    const train = await write('boolq-release/train.jsonl', lines.slice(0, 3).join('\n') + '\n' + lines[0] + '\n');
    const test = await write('boolq-release/dev.jsonl', lines.slice(2).join('\n') + '\n');
    const d = await loadDataset({ name: 'boolq', dataDir: 'unused', seed: 0, files: { train, test } });
    assert.deepEqual(d.pools.train.map((e) => [e.id, e.label]), [['boolq/train/0', 1], ['boolq/train/1', 0], ['boolq/train/2', 1], ['boolq/train/3', 1]]);
    assert.deepEqual(d.pools.test!.map((e) => [e.id, e.label]), [['boolq/dev/0', 1], ['boolq/dev/1', 0]]);
    // Rows 0 and 3 of train.jsonl share a passage; row 2 of train shares one with test row 0.
    assert.equal(d.pools.train[0]!.group, d.pools.train[3]!.group);
    assert.equal(d.pools.train[2]!.group, d.pools.test![0]!.group);
    const s = drawSplits(d.pools, { seed: 0, sizes: { test: 2, train_weak: 1, train_strong: 2 } });
    assert.equal(s.trainExcludedSharedGroup, 1);
    assert.ok(!s.examples.some((e) => e.id === 'boolq/train/2'));
    assert.deepEqual(s.examples.filter((e) => e.split !== 'test').map((e) => e.id).sort(), ['boolq/train/0', 'boolq/train/1', 'boolq/train/3']);

    // A train file alone is the one pool.
    const one = await loadDataset({ name: 'cosmos_qa', dataDir: 'unused', seed: 0, files: { train: join(FIX, 'cosmos_qa/valid.csv') } });
    assert.equal(one.pools.test, undefined);
    assert.deepEqual(one.pools.train, (await loadDataset({ name: 'cosmos_qa', dataDir: FIX, seed: 0 })).pools.train);
  });

  test('jsonl reads train and test files, ids unique across both', async () => {
    const train = await write('own/train.jsonl', jsonl([{ text: 'a', label: 1 }, { text: 'b', label: 0 }]));
    const test = await write('own/test.jsonl', jsonl([{ text: 'c', label: 1 }]));
    const d = await loadDataset({ name: 'jsonl', dataDir: 'unused', seed: 0, files: { train, test } });
    assert.deepEqual(d.pools.train.map((e) => e.id), ['jsonl/train/0', 'jsonl/train/1']);
    assert.deepEqual(d.pools.test!.map((e) => e.id), ['jsonl/test/0']);
    const dupTest = await write('own/dup.jsonl', jsonl([{ id: 'x', text: 'c', label: 1 }]));
    const dupTrain = await write('own/dup-train.jsonl', jsonl([{ id: 'x', text: 'a', label: 1 }]));
    await assert.rejects(loadDataset({ name: 'jsonl', dataDir: 'unused', seed: 0, files: { train: dupTrain, test: dupTest } }), /dup\.jsonl line 1: row 0 repeats the id "x" \(first seen in .*dup-train\.jsonl\)/);
  });

  test('bad files: missing, the same file twice, the same name twice, with path', async () => {
    const missing = join(dir, 'nope/train.jsonl');
    await rejectsWith(
      loadDataset({ name: 'boolq', dataDir: 'unused', seed: 0, files: { train: join(FIX, 'boolq/dev.jsonl'), test: missing } }),
      `dataset.files.test ${missing} does not exist; check the path (relative paths start at the working directory).`,
    );
    const f = join(FIX, 'boolq/dev.jsonl');
    await rejectsWith(loadDataset({ name: 'boolq', dataDir: 'unused', seed: 0, files: { train: f, test: f } }), /are the same file .*dev\.jsonl; give two files/);
    const other = await write('elsewhere/dev.jsonl', readFileSync(f, 'utf8'));
    await rejectsWith(loadDataset({ name: 'boolq', dataDir: 'unused', seed: 0, files: { train: f, test: other } }), /are both named "dev"; rename one/);
    await rejectsWith(loadDataset({ name: 'jsonl', dataDir: 'unused', seed: 0, path: f, files: { train: f } }), 'Give the dataset either "path" or "files", not both.');
    await rejectsWith(loadDataset({ name: 'boolq', dataDir: FIX, seed: 0, path: f }), /"path" is for the jsonl dataset only; to read your own boolq files give "files"/);
  });
});

describe('dataset.splitField (jsonl)', () => {
  test('"train" and "test" rows go to their pools; ids keep the file row index', async () => {
    const file = await write('split.jsonl', jsonl([
      { text: 'a', label: 1, split: 'train' },
      { text: 'b', label: 0, split: 'test' },
      { text: 'c', label: 0, split: 'train' },
      { text: 'd', label: 1, meta: { split: 'no' }, split: 'test' },
    ]));
    const d = await loadDataset({ name: 'jsonl', dataDir: 'unused', path: file, seed: 0, splitField: 'split' });
    assert.deepEqual(d.pools.train.map((e) => [e.id, e.text]), [['jsonl/split/0', 'a'], ['jsonl/split/2', 'c']]);
    assert.deepEqual(d.pools.test!.map((e) => [e.id, e.text]), [['jsonl/split/1', 'b'], ['jsonl/split/3', 'd']]);
    assert.deepEqual(makeSplits(d.pools, { seed: 0, sizes: { train_weak: 1, train_strong: 1, test: 2 } }).filter((e) => e.split === 'test').map((e) => e.text).sort(), ['b', 'd']);
  });

  test('another value, or none, stops the load naming the row, or is skipped and counted with skipInvalid', async () => {
    const file = await write('split-bad.jsonl', jsonl([
      { text: 'a', label: 1, split: 'train' },
      { text: 'b', label: 0, split: 'validation' },
      { text: 'c', label: 0 },
      { text: 'd', label: 1, split: 'test' },
    ]));
    await assert.rejects(
      loadDataset({ name: 'jsonl', dataDir: 'unused', path: file, seed: 0, splitField: 'split' }),
      (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.equal(e.message, `${file} line 2: row 1 is invalid: field "split": is "validation"; splitField values must be "train" or "test" (fix the row, or set skipInvalid to skip such rows)`);
        return true;
      },
    );
    const d = await loadDataset({ name: 'jsonl', dataDir: 'unused', path: file, seed: 0, splitField: 'split', skipInvalid: true });
    assert.deepEqual(d.invalid.map((r) => [r.line, r.reason]), [
      [2, 'field "split": is "validation"; splitField values must be "train" or "test"'],
      [3, 'field "split": missing; splitField values must be "train" or "test"'],
    ]);
    assert.deepEqual([d.pools.train.map((e) => e.text), d.pools.test!.map((e) => e.text)], [['a'], ['d']]);
  });

  test('no test rows, or splitField where it cannot apply, is one clear sentence', async () => {
    const file = await write('split-train-only.jsonl', jsonl([{ text: 'a', label: 1, split: 'train' }]));
    await rejectsWith(loadDataset({ name: 'jsonl', dataDir: 'unused', path: file, seed: 0, splitField: 'split' }), `No row of ${file} has split "test"; mark the test rows, or leave splitField out to draw the test split from all rows.`);
    await rejectsWith(loadDataset({ name: 'sciq', dataDir: FIX, seed: 0, splitField: 'split' }), /"splitField" is for the jsonl dataset only/);
    await rejectsWith(loadDataset({ name: 'jsonl', dataDir: 'unused', seed: 0, splitField: 'split', files: { train: file, test: file } }), 'Give either "splitField" (train and test rows in one file) or "files.test", not both.');
  });
});

const haveShared = existsSync(join(SHARED, 'boolq/dev.jsonl')) && existsSync(join(SHARED, 'cosmos_qa/valid.csv'));
describe('the real BoolQ and Cosmos QA files: test passages shared with training', { skip: haveShared ? false : `no datasets at ${SHARED}` }, () => {
  // The passage of each row, read from the file apart from the loader (BoolQ by JSON.parse per line; Cosmos QA through
  // the CSV reader, whose parsing is tested on its own), indexed by row: ids end in the row index.
  const passageOf = async (name: string): Promise<(id: string) => string> => {
    let passages: string[];
    if (name === 'boolq') {
      passages = readFileSync(join(SHARED, 'boolq/dev.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).passage as string);
    } else {
      passages = [...(await readRecords(join(SHARED, 'cosmos_qa/valid.csv')))].map((r) => (r.value as { context: string }).context);
    }
    return (id) => passages[Number(id.slice(id.lastIndexOf('/') + 1))]!;
  };
  const shared = (examples: SplitExample[], passage: (id: string) => string, split: string, others: string[]): number => {
    const seen = new Set(examples.filter((e) => others.includes(e.split)).map((e) => passage(e.id)));
    return examples.filter((e) => e.split === split && seen.has(passage(e.id))).length;
  };
  const sizes = { train_weak: 1000, train_strong: 1000, test: 500 };

  for (const [name, before] of [['boolq', 69], ['cosmos_qa', 112]] as const) {
    test(`${name}: ${before} of 500 test examples share their passage with training when ungrouped, 0 by default`, async () => {
      const passage = await passageOf(name);
      const off = await loadDataset({ name, dataDir: SHARED, seed: 0, groupBy: null });
      assert.equal(shared(makeSplits(off.pools, { seed: 0, sizes }), passage, 'test', ['train_weak', 'train_strong']), before);

      const on = await loadDataset({ name, dataDir: SHARED, seed: 0 });
      assert.equal(on.ungrouped, 0);
      const draw = drawSplits(on.pools, { seed: 0, sizes });
      assert.deepEqual(draw.drawn, sizes);
      assert.equal(shared(draw.examples, passage, 'test', ['train_weak', 'train_strong']), 0);
      assert.equal(shared(draw.examples, passage, 'train_strong', ['train_weak']), 0);
      // The loader's groups agree with the passages read here: same passage, same group.
      const groupOf = new Map<string, string>();
      for (const e of [...on.pools.train]) {
        const p = passage(e.id);
        assert.equal(groupOf.get(p) ?? e.group, e.group);
        groupOf.set(p, e.group!);
      }
      assert.equal(new Set(groupOf.values()).size, groupOf.size);
    });
  }
});
