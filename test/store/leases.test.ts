import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processIdentity } from '../../src/store/process.js';
import { holderAlive, openStore, runLiveness, STOPPED_STATUS, type LeaseRow, type Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('w2s-leases-');
let n = 0;

/** A fresh database holding run r1 and no lease. */
function fresh(): Store {
  const s = openStore(join(dir, `l${n++}.sqlite`));
  s.runs.createRun({ id: 'r1', config: {}, configHash: 'h' });
  return s;
}

/** Writes a lease row as another process would have left it. */
function plant(s: Store, row: Omit<LeaseRow, 'runId' | 'token' | 'acquiredAt'> & { token?: string }): void {
  s.db
    .prepare('INSERT INTO run_leases (run_id, token, pid, host, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)')
    .run('r1', row.token ?? 'their-token', row.pid, row.host, row.heartbeatAt, row.heartbeatAt);
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((r) => child.on('exit', r));
  return pid;
}

const ago = (ms: number): string => new Date(Date.now() - ms).toISOString();

test('acquire takes a free lease and records pid, host and times', () => {
  const s = fresh();
  try {
    const got = s.leases.acquire('r1');
    assert.equal(got.acquired, true);
    const row = s.leases.get('r1')!;
    assert.equal(row.pid, process.pid);
    assert.equal(row.host, hostname());
    assert.equal(row.token, got.acquired ? got.token : '');
    assert.ok(Date.parse(row.acquiredAt) <= Date.now() && row.heartbeatAt === row.acquiredAt);
  } finally {
    s.close();
  }
});

test('a live owner is refused and named; the refusal writes nothing', () => {
  const s = fresh();
  try {
    const first = s.leases.acquire('r1');
    assert.ok(first.acquired);
    const before = s.leases.get('r1');
    const second = s.leases.acquire('r1');
    assert.equal(second.acquired, false);
    assert.deepEqual(!second.acquired && second.owner, { pid: process.pid, host: hostname(), since: before!.acquiredAt, heartbeatAt: before!.heartbeatAt });
    assert.deepEqual(s.leases.get('r1'), before);
  } finally {
    s.close();
  }
});

test('a lease whose process is gone (same host) is taken over', async () => {
  const s = fresh();
  try {
    const pid = await deadPid();
    plant(s, { pid, host: hostname(), heartbeatAt: ago(1000) });
    assert.equal(holderAlive(s.leases.get('r1')!), false);
    const got = s.leases.acquire('r1');
    assert.equal(got.acquired, true);
    assert.equal(s.leases.get('r1')!.pid, process.pid);
  } finally {
    s.close();
  }
});

test('a live pid on this host holds its lease; the same pid given to another process, or from another boot, does not', () => {
  const s = fresh();
  try {
    // Our parent (the test runner) is alive; the lease names it as it would name itself.
    const identity = processIdentity(process.ppid);
    plant(s, { pid: process.ppid, host: hostname(), heartbeatAt: ago(1000), token: `${identity ?? ''}/theirs` });
    assert.equal(s.leases.acquire('r1').acquired, false);
    if (identity === undefined) return; // no /proc here: the pid alone decides
    const [boot, start] = identity.split(':');
    // The same pid, but a process started at another time: the holder died and its pid was reused.
    s.db.prepare('UPDATE run_leases SET token = ?').run(`${boot}:${Number(start) - 1}/theirs`);
    assert.equal(s.leases.acquire('r1').acquired, true, 'a recycled pid does not hold the lease');
    // A lease from before a reboot (another boot id), though its wall-clock times look recent.
    s.db.prepare('UPDATE run_leases SET token = ?, pid = ?').run(`another-boot:${start}/theirs`, process.ppid);
    assert.equal(s.leases.acquire('r1').acquired, true, 'a lease from another boot does not hold');
  } finally {
    s.close();
  }
});

test('our own pid without our token is a dead predecessor (a restarted container reuses pids)', () => {
  const s = fresh();
  try {
    plant(s, { pid: process.pid, host: hostname(), heartbeatAt: ago(1000) });
    assert.equal(s.leases.acquire('r1').acquired, true);
  } finally {
    s.close();
  }
});

test('another host: a fresh heartbeat holds the lease, a stale one (over 60 s) is taken over', () => {
  const s = fresh();
  try {
    plant(s, { pid: 1, host: 'elsewhere.invalid', heartbeatAt: ago(5_000) });
    const refused = s.leases.acquire('r1');
    assert.equal(refused.acquired, false);
    assert.equal(!refused.acquired && refused.owner.host, 'elsewhere.invalid');
    s.db.prepare('UPDATE run_leases SET heartbeat_at = ?').run(ago(61_000));
    assert.equal(s.leases.acquire('r1').acquired, true);
    assert.equal(s.leases.get('r1')!.host, hostname());
  } finally {
    s.close();
  }
});

test('release deletes the row only for the matching token; heartbeat reports a lease lost to a takeover', () => {
  const s = fresh();
  try {
    const got = s.leases.acquire('r1');
    assert.ok(got.acquired);
    s.leases.release('not-the-token');
    assert.ok(s.leases.get('r1'), 'a wrong token releases nothing');
    assert.equal(s.leases.heartbeat(got.token), true);
    // Another process takes the run over (as if this one had died): our heartbeat finds a different token.
    s.db.prepare("UPDATE run_leases SET token = 'usurper', pid = 1, host = 'elsewhere.invalid'").run();
    assert.equal(s.leases.heartbeat(got.token), false);
    s.leases.release(got.token);
    assert.equal(s.leases.get('r1')!.token, 'usurper', 'releasing a lost lease leaves the new owner alone');
    s.leases.release('usurper');
    assert.equal(s.leases.get('r1'), undefined);
  } finally {
    s.close();
  }
});

test('acquire joins a caller\'s transaction (the run row and its lease are created together)', () => {
  const s = openStore(join(dir, `l${n++}.sqlite`));
  try {
    assert.throws(() =>
      s.transaction(() => {
        s.runs.createRun({ id: 'r2', config: {}, configHash: 'h' });
        assert.ok(s.leases.acquire('r2').acquired);
        throw new Error('rolled back');
      }),
    /rolled back/);
    assert.equal(s.runs.getRun('r2'), undefined);
    assert.equal(s.leases.get('r2'), undefined);
  } finally {
    s.close();
  }
});

test('runLiveness: a running run without a live lease shows as stopped with a hint to resume', async () => {
  const live: LeaseRow = { runId: 'r', token: 't', pid: process.ppid, host: hostname(), acquiredAt: ago(0), heartbeatAt: ago(0) };
  const stopped = runLiveness('running', undefined);
  assert.equal(stopped.status, STOPPED_STATUS);
  assert.equal(stopped.owner, null);
  assert.match(stopped.hint ?? '', /run the same command again to resume/);
  assert.equal(runLiveness('running', live).status, 'running');
  assert.equal(runLiveness('running', live).owner?.pid, process.ppid);
  assert.equal(runLiveness('running', { ...live, pid: await deadPid() }).status, STOPPED_STATUS);
  assert.deepEqual(runLiveness('completed', undefined), { status: 'completed', hint: null, owner: null });
  assert.equal(runLiveness('interrupted', undefined).status, 'interrupted');
});
