import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { dataFilesRead, differingSettings, testSplitSettings } from '../../src/report/analysis.js';
import { displayPath, isPathArg, openResults } from '../../src/report/results-set.js';
import { watchResults } from '../../src/report/viewer-set.js';
import type { MetricValue } from '../../src/report/queries.js';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';

/** A database holding runs with these ids (no examples: the set only lists and resolves them). */
function db(file: string, ...ids: string[]): string {
  const store = openStore(file);
  for (const id of ids) store.runs.createRun({ id, config: { name: id }, configHash: id, dataset: 'sciq' });
  store.close();
  return file;
}

test('a folder contributes every *.sqlite under it that holds runs; cache, hidden and other files are not in the set', () => {
  const dir = tempDir();
  const a = db(join(dir, 'a.sqlite'), 'alpha-1', 'alpha-2');
  const b = db(join(dir, 'deep', 'er', 'b.sqlite'), 'beta-1');
  db(join(dir, 'cache.sqlite'));
  db(join(dir, '.hidden', 'h.sqlite'), 'hidden-1');
  db(join(dir, 'other.db'), 'other-1');
  writeFileSync(join(dir, 'notes.txt'), 'not a database');
  const set = openResults([dir]);
  try {
    assert.deepEqual(set.files, [a, b]);
    assert.deepEqual(set.skipped, []);
    assert.deepEqual(set.runs().map((r) => r.run.id).sort(), ['alpha-1', 'alpha-2', 'beta-1']);
    assert.equal(set.resolveRun('beta').file, b);
    assert.equal(set.resolveRun('alpha-2').run.id, 'alpha-2');
    assert.throws(() => set.resolveRun('alpha'), /^UserError: Run id alpha matches 2 runs: alpha-\S+ \(.*a\.sqlite\), alpha-\S+ \(.*a\.sqlite\); give more of the id, or one database\.$/);
    assert.throws(() => set.resolveRun('gamma'), /No run gamma in 2 databases; list the runs with `w2s runs`\./);
    assert.deepEqual(set.locate('beta-1').map((r) => r.file), [b]);
    assert.deepEqual(set.locate('beta'), [], 'locate takes whole ids only');
  } finally {
    set.close();
  }
});

test('a file named outright is in the set even with no runs; the same file twice is opened once', () => {
  const dir = tempDir();
  const empty = db(join(dir, 'empty.sqlite'));
  const a = db(join(dir, 'a.sqlite'), 'alpha-1');
  const set = openResults([empty, a, dir]);
  try {
    assert.deepEqual(set.files, [empty, a]);
    assert.equal(set.runs().length, 1);
  } finally {
    set.close();
  }
  assert.throws(() => openResults([join(dir, 'missing.sqlite')]), /Database or folder .*missing\.sqlite does not exist/);
  const bare = tempDir();
  db(join(bare, 'cache.sqlite'));
  assert.throws(() => openResults([bare]), /^UserError: No runs in .*; run an experiment with `w2s run` first\.$/);
});

test('with no path the set is results/ of the working directory, and says so when there is none', () => {
  const dir = tempDir();
  const cwd = process.cwd();
  try {
    process.chdir(dir);
    assert.throws(() => openResults([]), /There is no results\/ folder here; run an experiment with `w2s run`/);
    mkdirSync('results');
    db(join(dir, 'results', 'r.sqlite'), 'run-1');
    const set = openResults([]);
    try {
      assert.equal(displayPath(set.resolveRun().file), join('results', 'r.sqlite'));
    } finally {
      set.close();
    }
  } finally {
    process.chdir(cwd);
  }
});

test('a word on the command line is a path when it exists or looks like one; a run id never does', () => {
  assert.equal(isPathArg('package.json'), true);
  assert.equal(isPathArg('results/x'), true);
  assert.equal(isPathArg('gone.sqlite'), true);
  assert.equal(isPathArg('old.db'), true);
  assert.equal(isPathArg('quick-1a2b3c4d5e6f'), false);
  assert.equal(isPathArg('my.run-1a2b'), false);
  assert.equal(displayPath('/somewhere/else.sqlite'), '/somewhere/else.sqlite');
});

test('two runs test the same examples when dataset, seed, test size and reading agree; train sizes do not matter', () => {
  const config = (over: Record<string, unknown> = {}, dataset: Record<string, unknown> = {}) => ({
    seed: 5, seeds: 1, name: 'x',
    dataset: { name: 'jsonl', path: 'd.jsonl', skipInvalid: false, sizes: { train_weak: 20, train_strong: 20, test: 20 }, ...dataset },
    ...over,
  });
  const base = testSplitSettings(config());
  assert.deepEqual(differingSettings(base, testSplitSettings(config({ seeds: 3, name: 'y' }, { sizes: { train_weak: 50, train_strong: 10, test: 20 } }))), []);
  assert.deepEqual(differingSettings(base, testSplitSettings(config({ seed: 6 }))), ['seed 5 vs 6']);
  assert.deepEqual(differingSettings(base, testSplitSettings(config({}, { sizes: { train_weak: 20, train_strong: 20, test: 30 } }))), ['dataset.sizes.test 20 vs 30']);
  assert.deepEqual(differingSettings(base, testSplitSettings(config({}, { groupBy: 'passage' }))), ['dataset.groupBy unset vs passage']);
  const files = (train: string, test: string) => testSplitSettings(config({}, { path: undefined, files: { train, test } }));
  assert.deepEqual(differingSettings(files('t', 'v'), testSplitSettings(config({}, { path: undefined, files: { test: 'v', train: 't' } }))), [], 'key order is not a difference');
  assert.deepEqual(differingSettings(base, files('t', 'v')), ['dataset.path d.jsonl vs unset', 'dataset.files unset vs {"test":"v","train":"t"}']);
});

test('the viewer\'s watched set reopens a named database replaced under its name, and one deleted and written again, at its index', () => {
  const dir = tempDir();
  const a = db(join(dir, 'a.sqlite'), 'alpha-1');
  const b = db(join(dir, 'b.sqlite'), 'beta-1');
  const set = watchResults([a, b]);
  /** Writes a new database elsewhere and renames it onto `file`: a new inode under the old name. */
  const replace = (file: string, id: string): void => renameSync(db(join(dir, `next-${id}.sqlite`), id), file);
  try {
    assert.equal(set.indexOf(b), 1, 'b is the second file named');
    replace(b, 'gamma-1');
    set.rescan();
    assert.deepEqual(set.locate('gamma-1').map((r) => r.file), [b], 'the replacing file\'s run is shown');
    assert.deepEqual(set.locate('beta-1'), [], 'the replaced file\'s run is gone');
    assert.equal(set.indexOf(b), 1, 'the replacing file keeps index 1');

    rmSync(b);
    set.rescan();
    assert.equal(set.fileAt(1), undefined, 'a deleted file leaves its index empty');
    assert.deepEqual(set.files(), [a], 'only a is shown while b is gone');
    replace(b, 'delta-1');
    set.rescan();
    assert.equal(set.fileAt(1), b, 'b written again takes its index back');
    assert.deepEqual(set.locate('delta-1', 1).map((r) => r.run.id), ['delta-1'], 'the new b\'s run is at index 1');
    assert.deepEqual(set.runs().map((r) => r.run.id).sort(), ['alpha-1', 'delta-1'], 'a\'s run and the new b\'s');
  } finally {
    set.close();
  }
});

test('the same data file read from two config folders is the same data: runs compare by the files\' sha256, not their absolute paths', () => {
  const config = (path: string) => ({ seed: 5, dataset: { name: 'jsonl', path, sizes: { test: 20 } } });
  const metric = (file: string, note: string) => ({ subject: 'dataset', name: `file:${file}`, value: 100, lo: null, hi: null, n: null, note }) as unknown as MetricValue;
  const sha = (c: string) => c.repeat(64);
  const here = dataFilesRead([metric('/home/a/exp/d.jsonl', `sha256 ${sha('a')}`)]);
  const there = dataFilesRead([metric('/tmp/copy/exp/d.jsonl', `sha256 ${sha('a')}`)]);
  assert.deepEqual(here, [`d.jsonl sha256 ${sha('a')}`], 'a file is its name and sha256');
  assert.deepEqual(differingSettings(testSplitSettings(config('/home/a/exp/d.jsonl'), here), testSplitSettings(config('/tmp/copy/exp/d.jsonl'), there)), [], 'same bytes, same name: no difference');
  const edited = dataFilesRead([metric('/tmp/copy/exp/d.jsonl', `sha256 ${sha('b')}; hub me/x revision main`)]);
  assert.deepEqual(
    differingSettings(testSplitSettings(config('/home/a/exp/d.jsonl'), here), testSplitSettings(config('/tmp/copy/exp/d.jsonl'), edited)),
    ['dataset.path /home/a/exp/d.jsonl vs /tmp/copy/exp/d.jsonl'],
    'other bytes at another path: the paths are the difference shown',
  );
  assert.deepEqual(
    differingSettings(testSplitSettings(config('/tmp/copy/exp/d.jsonl'), there), testSplitSettings(config('/tmp/copy/exp/d.jsonl'), edited)),
    [`dataset.data ["d.jsonl sha256 ${sha('a')}"] vs ["d.jsonl sha256 ${sha('b')}"]`],
    'the same path edited between the runs: other data',
  );
  assert.equal(dataFilesRead([metric('/x/d.jsonl', 'no digest recorded')]), undefined, 'a file without a sha256: the paths are compared instead');
  assert.deepEqual(differingSettings(testSplitSettings(config('/a/d.jsonl')), testSplitSettings(config('/b/d.jsonl'))), ['dataset.path /a/d.jsonl vs /b/d.jsonl'], 'without digests, paths as before');
});
