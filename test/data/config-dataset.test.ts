import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';

const base = { debate: { protocol: 'none' }, weak: {}, strong: {} };
const parse = (dataset: Record<string, unknown>) => parseExperiment({ ...base, dataset }).dataset;
const refuses = (dataset: Record<string, unknown>, message: string): void => {
  assert.throws(() => parse(dataset), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.equal(e.message, message);
    return true;
  });
};

test('dataset: groupBy, files and splitField are optional and have no defaults (config hashes stay as they were)', () => {
  const d = parse({ name: 'boolq' });
  assert.deepEqual(Object.keys(d).sort(), ['name', 'sizes', 'skipInvalid']);
  assert.equal(parse({ name: 'boolq', groupBy: null }).groupBy, null);
  assert.equal(parse({ name: 'jsonl', path: 'x.jsonl', groupBy: 'meta.pair', splitField: 'split' }).groupBy, 'meta.pair');
  // Paths in a config built in code are resolved against the working directory (a config file's, against its folder).
  assert.deepEqual(parse({ name: 'boolq', files: { train: 'train.jsonl', test: 'dev.jsonl' } }).files, { train: resolve('train.jsonl'), test: resolve('dev.jsonl') }, 'files resolved');
  assert.deepEqual(parse({ name: 'jsonl', files: { train: 'a.jsonl' } }).files, { train: resolve('a.jsonl') }, 'no test file added');
});

test('dataset: impossible combinations are one sentence naming the field to fix', () => {
  refuses({ name: 'jsonl' }, 'config: field dataset.path: dataset "jsonl" needs a "path" (or "files").');
  refuses({ name: 'jsonl', path: 'a.jsonl', files: { train: 'b.jsonl' } }, 'config: field dataset.files: give either "path" or "files", not both.');
  refuses({ name: 'sciq', path: 'a.json' }, 'config: field dataset.path: "path" is for name "jsonl" only; for your own sciq files give "files": {"train": ..., "test": ...}.');
  refuses({ name: 'boolq', dataDir: 'd', files: { train: 'b.jsonl' } }, 'config: field dataset.dataDir: "dataDir" is not used with "files"; remove one of them.');
  refuses({ name: 'boolq', splitField: 'split' }, 'config: field dataset.splitField: "splitField" is for name "jsonl" only; give boolq a test pool with "files": {"train": ..., "test": ...}.');
  refuses({ name: 'jsonl', splitField: 'split', files: { train: 'a.jsonl', test: 'b.jsonl' } }, 'config: field dataset.splitField: give either "splitField" (train and test rows in one file) or "files.test", not both.');
  refuses({ name: 'boolq', files: { test: 'dev.jsonl' } }, 'config: field dataset.files.train: Invalid input: expected string, received undefined.');
  refuses({ name: 'boolq', files: { train: 'a', validation: 'b' } }, 'config: field dataset.files: unknown key(s) "validation"; remove or rename them.');
  refuses({ name: 'boolq', groupBy: '' }, 'config: field dataset.groupBy: Too small: expected string to have >=1 characters.');
});
