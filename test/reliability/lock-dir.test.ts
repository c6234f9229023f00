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

test('several waiters finding one stale lock: exactly one takes it over at a time, none deletes another\'s fresh lock', async () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  for (let round = 0; round < 30; round++) {
    const lock = join(tempDir(), 'race.lock');
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), dead);
    let holding = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        // Staggered by a few turns of the event loop, so that some judge the lock stale while another re-creates it.
        for (let k = 0; k < i % 4; k++) await new Promise((r) => setImmediate(r));
        const release = await acquireLockDir(lock, { pollMs: 1, maxWaitMs: 10_000 });
        holding++;
        most = Math.max(most, holding);
        await new Promise((r) => setTimeout(r, 5));
        holding--;
        await release();
      }),
    );
    assert.equal(most, 1, `round ${round}: at most one holder at a time (was ${most})`);
    assert.equal(existsSync(lock), false, `round ${round}: the last release removes the folder`);
  }
});
