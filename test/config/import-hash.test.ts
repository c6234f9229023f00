import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configHash, parseExperiment } from '../../src/config/load.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('w2s-import-hash-');

function config(file: string) {
  return parseExperiment({
    name: 'imported',
    seed: 2,
    dataset: { name: 'jsonl', path: file, sizes: { train_weak: 2, train_strong: 2, test: 2 } },
    debate: { protocol: 'debate', samples: 1, import: { file, format: 'single_turn_debate' } },
    weak: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 1 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 32, ngrams: [1, 1] }, probe: { epochs: 2 } },
    judges: [{ name: 'a', model: 'scripted:x', method: 'parsed' }],
  });
}

test('configHash hashes the import file by content, and reads it again once it changed', () => {
  const file = join(dir, 'transcripts.jsonl');
  copyFileSync('test/fixtures/import/single_turn_debate.jsonl', file);
  const original = readFileSync(file, 'utf8');
  const cfg = config(file);
  const first = configHash(cfg);
  assert.equal(configHash(cfg), first, 'asked again, the same hash');
  writeFileSync(file, `${original}\n`);
  const edited = configHash(cfg);
  assert.notEqual(edited, first, 'an edited file (new size) is a new run');
  // Same size, new content: only the mtime tells the memo; set it well apart from the last one.
  writeFileSync(file, original.replace(/^./, (c) => (c === '{' ? ' ' : '{')).replace(/\n$/, '') + '\n\n');
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  assert.equal(readFileSync(file).length, Buffer.byteLength(original) + 1, 'the test file keeps the edited size');
  assert.notEqual(configHash(cfg), edited, 'same size, new content and mtime: hashed again');
  writeFileSync(file, original);
  utimesSync(file, new Date(), new Date(Date.now() + 10_000));
  assert.equal(configHash(cfg), first, 'the original content again: the original hash');
});
