import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { DB } from './db.js';
import { madeHere, processAlive, processIdentity } from './process.js';
import type { RunStatus } from './runs.js';

/**
 * Run leases: one process at a time owns (may write) a run. The owner's row names its pid and host and is refreshed by
 * a heartbeat; a row whose holder is dead may be taken over by the next `w2s run`. The same liveness test decides
 * whether a run with status "running" is really running, for every view (runLiveness).
 */

/** A heartbeat older than this means a holder on another host is gone (its pid cannot be checked from here). */
export const LEASE_STALE_MS = 60_000;
/** How often an owner refreshes its heartbeat: well inside LEASE_STALE_MS. */
export const LEASE_HEARTBEAT_MS = 10_000;

export interface LeaseRow {
  runId: string;
  token: string;
  pid: number;
  host: string;
  acquiredAt: string;
  heartbeatAt: string;
}

/** The live process that owns a run, as a refusal names it. */
export interface LeaseOwner {
  pid: number;
  host: string;
  /** When it took the lease (ISO time). */
  since: string;
  /** Its last heartbeat (ISO time). */
  heartbeatAt: string;
}

export type AcquireResult = { acquired: true; token: string } | { acquired: false; owner: LeaseOwner };

export interface LeasesTable {
  /**
   * Takes the run's lease if it is free or its holder is dead, else names the live owner. One transaction: IMMEDIATE
   * when outermost, a savepoint inside a caller's transaction (so the caller can create the run row in the same one).
   * The run row must exist (foreign key).
   */
  acquire(runId: string): AcquireResult;
  /** Refreshes the heartbeat; false when the lease is no longer ours (taken over, or released). */
  heartbeat(token: string): boolean;
  /** Gives the lease up; does nothing when it is no longer ours. */
  release(token: string): void;
  /** The lease row of a run, live or not. */
  get(runId: string): LeaseRow | undefined;
}


/**
 * A lease token: the holder's process identity (boot id and start time, where the OS tells them), then a random part.
 * Only ever compared whole, except by holderAlive, which reads the identity back.
 */
const newToken = (): string => `${processIdentity() ?? ''}/${randomUUID()}`;
const identityOf = (token: string): string | undefined => token.slice(0, Math.max(0, token.lastIndexOf('/'))) || undefined;

/**
 * Whether a lease's holder is (as far as we can tell) alive. Same host: its process still runs: the pid exists and is
 * the same process (not one given the pid after a reboot or after the holder died), and is not our own pid without our
 * token (a container restarted with the same pid). Another host: its heartbeat is fresh. Writes nothing, so read-only
 * views can use it.
 */
export function holderAlive(lease: LeaseRow, now = Date.now()): boolean {
  if (lease.host !== hostname()) return now - Date.parse(lease.heartbeatAt) <= LEASE_STALE_MS;
  if (lease.pid === process.pid) return madeHere.has(lease.token);
  return processAlive(lease.pid, identityOf(lease.token));
}

/** How a stopped run (status "running", no live owner) is shown, and what to do about it. */
export const STOPPED_STATUS = 'stopped (process gone)';
export const STOPPED_HINT = 'its process was killed or crashed; run the same command again to resume';

export type DisplayedRunStatus = RunStatus | typeof STOPPED_STATUS;

export interface RunLiveness {
  /** The status to show: the stored one, except a "running" run with no live owner is STOPPED_STATUS. */
  status: DisplayedRunStatus;
  /** What to do about it, or null. */
  hint: string | null;
  /** The live owner of a running run, or null. */
  owner: LeaseOwner | null;
}

/** The one place that decides how a run's status is shown: every view (runs, --json, viewer, reports, db info) reads this. */
export function runLiveness(status: RunStatus, lease: LeaseRow | undefined, now = Date.now()): RunLiveness {
  if (status !== 'running') return { status, hint: null, owner: null };
  if (lease && holderAlive(lease, now)) return { status, hint: null, owner: ownerOf(lease) };
  return { status: STOPPED_STATUS, hint: STOPPED_HINT, owner: null };
}

const ownerOf = (l: LeaseRow): LeaseOwner => ({ pid: l.pid, host: l.host, since: l.acquiredAt, heartbeatAt: l.heartbeatAt });

/** "Run X is being run by process 1234 on host h (since …, last heartbeat 3 s ago)". */
export function describeOwner(runId: string, owner: LeaseOwner, now = Date.now()): string {
  const ago = Math.max(0, Math.round((now - Date.parse(owner.heartbeatAt)) / 1000));
  return `Run ${runId} is being run by process ${owner.pid} on host ${owner.host} (since ${owner.since}, last heartbeat ${ago} s ago)`;
}

const LEASE_COLUMNS = 'run_id AS runId, token, pid, host, acquired_at AS acquiredAt, heartbeat_at AS heartbeatAt';

export function leasesTable(db: DB): LeasesTable {
  const byRun = db.prepare(`SELECT ${LEASE_COLUMNS} FROM run_leases WHERE run_id = ?`);
  const upsert = db.prepare(
    `INSERT INTO run_leases (run_id, token, pid, host, acquired_at, heartbeat_at) VALUES (@runId, @token, @pid, @host, @now, @now)
     ON CONFLICT(run_id) DO UPDATE SET token = excluded.token, pid = excluded.pid, host = excluded.host,
       acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at`,
  );
  const beat = db.prepare('UPDATE run_leases SET heartbeat_at = ? WHERE token = ?');
  const remove = db.prepare('DELETE FROM run_leases WHERE token = ?');

  const take = db.transaction((runId: string): AcquireResult => {
    const current = byRun.get(runId) as LeaseRow | undefined;
    if (current && holderAlive(current)) return { acquired: false, owner: ownerOf(current) };
    const token = newToken();
    upsert.run({ runId, token, pid: process.pid, host: hostname(), now: new Date().toISOString() });
    madeHere.add(token);
    return { acquired: true, token };
  });

  return {
    // Immediate: the write lock is taken before the read, so two processes cannot both see the lease free.
    acquire: (runId) => take.immediate(runId),
    heartbeat(token) {
      const held = beat.run(new Date().toISOString(), token).changes === 1;
      if (!held) madeHere.delete(token);
      return held;
    },
    release(token) {
      remove.run(token);
      madeHere.delete(token);
    },
    get: (runId) => byRun.get(runId) as LeaseRow | undefined,
  };
}
