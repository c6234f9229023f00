import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { acquireLockDir, lockIsStale } from '../../src/lock-dir.js';
import { tempDir } from '../helpers/tmp.js';

/** The lock folder that keeps processes from setting up one venv or fetching one file at once. */

test('two holders take turns: the second waits (told once) until the first releases', async () => {
  const lock = join(tempDir(), 'nested', 'x.lock');
  const order: string[] = [];
  const first = await acquireLockDir(lock);
  assert.ok(existsSync(join(lock, 'pid')), 'the holder writes its pid (the parent folder is created)');
  let waits = 0;
  const second = acquireLockDir(lock, { pollMs: 10, onWait: () => waits++ }).then((release) => {
    order.push('second');
    return release;
  });
  await new Promise((r) => setTimeout(r, 60));
  order.push('first releases');
  await first();
  const release = await second;
  assert.deepEqual(order, ['first releases', 'second'], 'the second holder got the lock only after the first let go');
  assert.equal(waits, 1, 'the waiter was told once');
  await release();
  assert.equal(existsSync(lock), false, 'releasing removes the folder');
});

test('a lock whose process is gone is stale and taken over; a live one is not', async () => {
  const dir = tempDir();
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  const lock = join(dir, 'dead.lock');
  mkdirSync(lock);
  writeFileSync(join(lock, 'pid'), dead);
  assert.equal(lockIsStale(lock), true, `a lock held by exited pid ${dead} is stale`);
  const release = await acquireLockDir(lock, { maxWaitMs: 1000 });
  assert.equal(lockIsStale(lock), false, 'a lock held by this live process is not');
  await release();
});

test('a waiter that runs out of time gets the caller\'s error', async () => {
  const lock = join(tempDir(), 'held.lock');
  const release = await acquireLockDir(lock);
  await assert.rejects(acquireLockDir(lock, { pollMs: 5, maxWaitMs: 30, timeoutError: () => new Error('still held') }), /^Error: still held$/, 'the timeout error is the caller\'s');
  await release();
});
