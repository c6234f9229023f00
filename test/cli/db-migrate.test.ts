import assert from 'node:assert/strict';
import { databaseAtSchema } from '../helpers/old-db.js';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
async function w2s(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test('an older database: read commands say how to migrate it; `w2s db migrate` does, and then they read it', async () => {
  const dir = tempDir();
  const file = join(dir, 'old.sqlite');
  databaseAtSchema(file, 3, 'old-run').close();
  const refused = await w2s(['runs', file]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, new RegExp(`schema version 3, older than ${SCHEMA_VERSION}; run \`w2s db migrate .*old\\.sqlite\``));

  const migrated = await w2s(['db', 'migrate', file]);
  assert.equal(migrated.code, 0, migrated.stderr);
  assert.equal(migrated.stdout, `${file}: schema 3 → ${SCHEMA_VERSION}.\n`);
  const runs = await w2s(['runs', file, '--json']);
  assert.equal(runs.code, 0, runs.stderr);
  assert.match(runs.stdout, /"old-run"/);
  assert.equal((await w2s(['db', 'migrate', file])).stdout, `${file} is already at schema ${SCHEMA_VERSION}.\n`);
});

test('`w2s db migrate` refuses a missing file and a file that is not a w2s database, writing nothing', async () => {
  const dir = tempDir();
  const missing = await w2s(['db', 'migrate', join(dir, 'nope.sqlite')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.sqlite does not exist; pass the path of a database written by w2s\./);
  const other = join(dir, 'other.sqlite');
  const raw = new Database(other);
  raw.exec('CREATE TABLE songs (title TEXT)');
  raw.close();
  const foreign = await w2s(['db', 'migrate', other]);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, /holds no w2s tables/);
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'not a database');
  assert.equal((await w2s(['db', 'migrate', text])).code, 1);
});
