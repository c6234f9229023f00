import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { newClaimOwner, openStore, type Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Claims on the shared cache: two connections to one file stand for two processes sharing a --cache file.
 */

const dir = tempDir('w2s-claims-');
let n = 0;
/** Two "processes" on one fresh cache file. */
function twoProcesses(): [Store, Store, string] {
  const file = join(dir, `cache${n++}.sqlite`);
  const a = openStore(file);
  const b = openStore(file);
  test.after(() => {
    a.close();
    b.close();
  });
  return [a, b, file];
}

const claimRow = (s: Store, key: string) =>
  s.db.prepare('SELECT owner, expires_at AS expiresAt FROM cache_claims WHERE key = ?').get(key) as { owner: string; expiresAt: number } | undefined;

test('one claim per key: the first process wins, the second sees it live, and the owner may claim again', () => {
  const [a, b] = twoProcesses();
  assert.equal(a.cache.isClaimed('k'), false);
  assert.equal(a.cache.claim('k', 'A', 30_000), true);
  assert.equal(b.cache.claim('k', 'B', 30_000), false, 'a live claim of another owner is not taken');
  assert.equal(b.cache.isClaimed('k'), true);
  assert.equal(a.cache.claim('k', 'A', 30_000), true, 'claiming again is a renewal, not a conflict');
  assert.equal(claimRow(b, 'k')!.owner, 'A');
  // Other keys are independent.
  assert.equal(b.cache.claim('k2', 'B', 30_000), true);
});

test('release drops only the owner\'s claim; then another process can claim', () => {
  const [a, b] = twoProcesses();
  assert.ok(a.cache.claim('k', 'A', 30_000));
  b.cache.releaseClaim('k', 'B');
  assert.equal(a.cache.isClaimed('k'), true, 'releasing a claim one does not hold changes nothing');
  a.cache.releaseClaim('k', 'A');
  assert.equal(b.cache.isClaimed('k'), false);
  assert.equal(claimRow(b, 'k'), undefined);
  assert.equal(b.cache.claim('k', 'B', 30_000), true);
});

test('an expired claim (its owner died) is not live and is taken over; its old owner can no longer renew it', async () => {
  const [a, b] = twoProcesses();
  assert.ok(a.cache.claim('k', 'A', 20));
  assert.equal(b.cache.claim('k', 'B', 30_000), false);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(b.cache.isClaimed('k'), false, 'past its expiry the claim is dead');
  assert.equal(b.cache.claim('k', 'B', 30_000), true, 'taken over');
  assert.equal(claimRow(a, 'k')!.owner, 'B');
  assert.equal(a.cache.renewClaim('k', 'A', 30_000), false, 'the old owner learns it lost the claim');
  a.cache.releaseClaim('k', 'A');
  assert.equal(b.cache.isClaimed('k'), true, 'and its release does not drop the new owner\'s claim');
});

test('renewing pushes the expiry forward, so a long call keeps its claim', async () => {
  const [a, b] = twoProcesses();
  assert.ok(a.cache.claim('k', 'A', 50));
  const first = claimRow(a, 'k')!.expiresAt;
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(a.cache.renewClaim('k', 'A', 50), true);
  }
  assert.ok(claimRow(a, 'k')!.expiresAt > first, 'the expiry moved');
  assert.equal(b.cache.claim('k', 'B', 30_000), false, 'still live 80 ms after a 50 ms claim');
  assert.equal(b.cache.renewClaim('k', 'B', 30_000), false, 'another owner cannot renew it');
});

test('no claim is won once the answer is cached, even with no claim on the key', () => {
  const [a, b] = twoProcesses();
  assert.ok(a.cache.claim('k', 'A', 30_000));
  a.cache.putCached('k', 'generate', 'm', { text: 'answer' });
  a.cache.releaseClaim('k', 'A');
  assert.equal(b.cache.claim('k', 'B', 30_000), false, 'the answer is there: nothing to call');
  assert.equal(b.cache.isClaimed('k'), false);
  assert.deepEqual(b.cache.getCachedEntry('k')?.response, { text: 'answer' });
});

test('a read-only cache records no claims: every claim is granted, renewal and release are no-ops', () => {
  const [a, , file] = twoProcesses();
  assert.ok(a.cache.claim('held', 'A', 30_000));
  const ro = openStore(file, { readonly: true });
  try {
    assert.equal(ro.cache.claim('k', 'R', 30_000), true, 'the caller just calls');
    assert.equal(ro.cache.renewClaim('k', 'R', 30_000), true);
    ro.cache.releaseClaim('held', 'A');
    assert.equal(ro.cache.isClaimed('k'), false);
    assert.equal(ro.cache.isClaimed('held'), true, 'it can still see other processes\' claims');
  } finally {
    ro.close();
  }
});

test('many connections claiming one key: exactly one wins', () => {
  const [a, , file] = twoProcesses();
  const others = Array.from({ length: 6 }, () => openStore(file));
  try {
    const winners = [a, ...others].filter((s, i) => s.cache.claim('hot', `P${i}`, 30_000));
    assert.equal(winners.length, 1);
  } finally {
    for (const s of others) s.close();
  }
});

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  assert.equal(child.status, 0);
  return child.pid!;
}

test('a claim by a process on this host that is gone is dead at once, long before it would expire', () => {
  const [a, b] = twoProcesses();
  const dead = `${hostname()}/${deadPid()}/0000`;
  assert.ok(a.cache.claim('k', dead, 3_600_000));
  assert.equal(b.cache.isClaimed('k'), false, 'its owner is gone');
  assert.equal(b.cache.claim('k', 'B', 30_000), true, 'taken over');
  assert.equal(claimRow(a, 'k')!.owner, 'B');

  // Our own pid under an owner id this process never made: a predecessor (a restarted container reusing the pid).
  assert.ok(a.cache.claim('k2', `${hostname()}/${process.pid}/not-ours`, 3_600_000));
  assert.equal(b.cache.isClaimed('k2'), false);

  // Live owners' claims stand: a live pid here, an owner this process made, another host (only expiry tells).
  const live = [`${hostname()}/${process.ppid}/x`, newClaimOwner(), `elsewhere.example/${deadPid()}/x`];
  live.forEach((owner, i) => assert.ok(a.cache.claim(`live${i}`, owner, 3_600_000)));
  live.forEach((_, i) => {
    assert.equal(b.cache.isClaimed(`live${i}`), true);
    assert.equal(b.cache.claim(`live${i}`, 'B', 30_000), false);
  });
});
