import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { DB } from './db.js';
import { madeHere, pidAlive } from './process.js';
import type { CallKind } from './calls.js';

/** A cached response and the run that paid for it (null when unknown). */
export interface CacheEntry {
  response: unknown;
  paidByRun: string | null;
}

/** What the gateway needs from a response cache; implemented by the cache table (in a run's DB or a shared file). */
export interface CacheStore {
  /** The stored response, or undefined on a miss. A hit is counted. */
  getCached(key: string): unknown;
  /**
   * Stores a response and ends any claim on its key, in one commit; an existing entry for the key is kept (first write
   * wins). paidByRun: the run that paid for it.
   */
  putCached(key: string, kind: CallKind, model: string, response: unknown, paidByRun?: string | null): void;
  /** Like getCached, with the run that paid for the entry (null when unknown). */
  getCachedEntry(key: string): CacheEntry | undefined;
  /** Like getCachedEntry, without counting a hit: a read only, no write (the gateway counts its hits in its batch). */
  peekCached?(key: string): CacheEntry | undefined;
  /** Counts a hit of key (see peekCached). */
  countHit?(key: string): void;
  /**
   * Runs fn, whose writes (puts, claims, releases, hit counts) then commit together: one IMMEDIATE transaction, so the
   * gateway pays one commit per event-loop turn instead of one per write. A write fn makes that throws is undone alone
   * (each put is its own savepoint; a claim or a release is one statement).
   */
  transaction?<T>(fn: () => T): T;
  /**
   * Claims the right to call the backend for key, so other processes sharing this cache wait for the answer instead
   * of paying for it too. True when owner now holds the claim: there was none, the one there was dead (expired, or
   * held by a process on this host that is gone: see newClaimOwner), or owner already held it. False while another
   * owner's claim is live, or once the answer is cached (an owner stores its answer before releasing its claim, so a
   * claim can never be won for an answer just stored). A read-only cache can record no claim: always true (call
   * without one).
   */
  claim(key: string, owner: string, ttlMs: number): boolean;
  /** Pushes the owner's claim expiry to ttlMs from now; false when owner no longer holds it (expired and taken). */
  renewClaim(key: string, owner: string, ttlMs: number): boolean;
  /** Drops the owner's claim (after storing the answer, or after failing); another owner's claim is left alone. */
  releaseClaim(key: string, owner: string): void;
  /**
   * Whether a claim on key is live, i.e. some process is calling the backend for it: not expired, and not held by a
   * process on this host that is gone (see newClaimOwner).
   */
  isClaimed(key: string): boolean;
}

export interface CacheModelStats {
  model: string;
  kind: CallKind;
  entries: number;
  bytes: number;
  hits: number;
}

export interface CacheStats {
  entries: number;
  /** Bytes of keys and stored JSON (not the file size). */
  bytes: number;
  hits: number;
  byModel: CacheModelStats[];
}

export interface CacheTable extends CacheStore {
  cacheStats(): CacheStats;
  /**
   * Deletes entries and returns how many. With a filter, only entries whose model equals it or matches it as a
   * glob (e.g. "openai:*"); without one, everything.
   */
  clearCache(modelFilter?: string): number;
}


/**
 * A claim owner id for a new gateway: host/pid/uuid, so a process on the same host can tell the owner died (a crash,
 * SIGKILL) and take its claims at once instead of waiting for them to expire.
 */
export function newClaimOwner(): string {
  const owner = `${hostname()}/${process.pid}/${randomUUID()}`;
  madeHere.add(owner);
  return owner;
}

/** False only when owner is certainly a process on this host that is gone; otherwise its claim lives until it expires. */
function ownerAlive(owner: string): boolean {
  const [host, pidText] = owner.split('/');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return madeHere.has(owner);
  return pidAlive(pid);
}

const SIZE = 'length(key) + length(CAST(response_json AS BLOB))';

export function cacheTable(db: DB): CacheTable {
  // A lookup reads; only a hit writes (its count), so a miss takes no write lock. A read-only DB can only look.
  const look = db.prepare('SELECT response_json, paid_by_run FROM cache WHERE key = ?');
  const hit = db.readonly ? null : db.prepare('UPDATE cache SET hits = hits + 1 WHERE key = ?');
  const put = db.prepare(
    `INSERT INTO cache (key, kind, model, response_json, created_at, paid_by_run) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING`,
  );
  const totals = db.prepare(
    `SELECT COUNT(*) AS entries, COALESCE(SUM(${SIZE}), 0) AS bytes, COALESCE(SUM(hits), 0) AS hits FROM cache`,
  );
  const byModel = db.prepare(
    `SELECT model, kind, COUNT(*) AS entries, COALESCE(SUM(${SIZE}), 0) AS bytes, COALESCE(SUM(hits), 0) AS hits
     FROM cache GROUP BY model, kind ORDER BY model, kind`,
  );
  const clearAll = db.prepare('DELETE FROM cache');
  const clearSome = db.prepare('DELETE FROM cache WHERE model = ? OR model GLOB ?');
  // One statement, so two processes can't both win: it inserts, or takes over an expired claim (or renews the
  // owner's own), and inserts nothing once the answer is cached.
  const claim = db.readonly
    ? null
    : db.prepare(
        `INSERT INTO cache_claims (key, owner, expires_at) SELECT @key, @owner, @expires WHERE NOT EXISTS (SELECT 1 FROM cache WHERE key = @key)
         ON CONFLICT(key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE cache_claims.expires_at <= @now OR cache_claims.owner = excluded.owner`,
      );
  const renew = db.readonly ? null : db.prepare('UPDATE cache_claims SET expires_at = ? WHERE key = ? AND owner = ?');
  const release = db.readonly ? null : db.prepare('DELETE FROM cache_claims WHERE key = ? AND owner = ?');
  const holderOf = db.prepare('SELECT owner FROM cache_claims WHERE key = ? AND expires_at > ?').pluck();
  // Storing an answer ends the claim on it in the same commit: a waiter then finds the answer, never a gap.
  const dropClaims = db.readonly ? null : db.prepare('DELETE FROM cache_claims WHERE key = ?');
  const store = db.transaction((key: string, kind: CallKind, model: string, json: string, paidByRun: string | null) => {
    put.run(key, kind, model, json, new Date().toISOString(), paidByRun);
    dropClaims?.run(key);
  });

  const peek = (key: string): CacheEntry | undefined => {
    const row = look.get(key) as { response_json: string; paid_by_run: string | null } | undefined;
    return row === undefined ? undefined : { response: JSON.parse(row.response_json), paidByRun: row.paid_by_run };
  };
  const inOneCommit = db.transaction((fn: () => unknown) => fn());

  return {
    getCached(key) {
      return this.getCachedEntry(key)?.response;
    },
    getCachedEntry(key) {
      const entry = peek(key);
      if (entry !== undefined) hit?.run(key);
      return entry;
    },
    peekCached: peek,
    countHit(key) {
      hit?.run(key);
    },
    transaction<T>(fn: () => T): T {
      return db.readonly ? fn() : (inOneCommit.immediate(fn) as T);
    },
    putCached(key, kind, model, response, paidByRun = null) {
      store(key, kind, model, JSON.stringify(response), paidByRun);
    },
    claim(key, owner, ttlMs) {
      if (!claim) return true;
      const tryClaim = () => {
        const now = Date.now();
        return claim.run({ key, owner, expires: now + ttlMs, now }).changes === 1;
      };
      if (tryClaim()) return true;
      // Held: if by a dead process on this host, drop its claim (only that owner's) and try once more.
      const holder = holderOf.get(key, Date.now()) as string | undefined;
      if (holder === undefined || ownerAlive(holder)) return false;
      release!.run(key, holder);
      return tryClaim();
    },
    renewClaim(key, owner, ttlMs) {
      return renew === null || renew.run(Date.now() + ttlMs, key, owner).changes === 1;
    },
    releaseClaim(key, owner) {
      release?.run(key, owner);
    },
    isClaimed(key) {
      const holder = holderOf.get(key, Date.now()) as string | undefined;
      return holder !== undefined && ownerAlive(holder);
    },
    cacheStats() {
      const t = totals.get() as Omit<CacheStats, 'byModel'>;
      return { ...t, byModel: byModel.all() as CacheModelStats[] };
    },
    clearCache(modelFilter) {
      const info = modelFilter === undefined ? clearAll.run() : clearSome.run(modelFilter, modelFilter);
      return info.changes;
    },
  };
}
