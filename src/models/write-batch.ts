import type { CacheStore } from '../store/cache.js';
import type { CallRecord, Ledger } from '../store/calls.js';

interface Pending<T> {
  run: () => T;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

interface PendingRow {
  row: CallRecord;
  resolve: (id: number) => void;
  reject: (error: unknown) => void;
}

/**
 * The gateway's writes of one event-loop turn, committed together: every cache write queued during the turn (claims,
 * answers, releases, hit counts) in one transaction on the cache, then every ledger row in one transaction on the
 * ledger, when the turn ends (setImmediate). Each write's promise settles once its commit is done, and a call returns
 * (or fails) only after its writes have settled, so everything a caller was handed is on disk, as when every write
 * committed alone; a crash loses only calls still in flight, as before. The cache commits first: a crash between the
 * two commits leaves an answer paid but not in the ledger, which the gateway puts back on restart (never the reverse,
 * a ledger row for an answer the cache lost, which would make a resumed run pay twice).
 *
 * Why: at a few thousand calls a second, a commit per write (four per call: claim, answer, release, ledger row) was
 * most of the gateway's CPU (BENCHMARKS.md §1). Locks are held only while a batch commits, never across turns, so
 * other connections (another process, another run of a sweep in this one) wait no longer than before.
 */
export class WriteBatch {
  private cacheOps: Pending<unknown>[] = [];
  private rows: PendingRow[] = [];
  private scheduled = false;

  constructor(
    private readonly cache: CacheStore | null,
    private readonly ledger: Ledger | null,
  ) {}

  /** Runs fn in the cache's next commit; resolves with what it returned once that commit is done. */
  cacheWrite<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.cacheOps.push({ run: fn, resolve, reject } as Pending<unknown>);
      this.schedule();
    });
  }

  /** Queues a ledger row; resolves with its id once committed. */
  record(row: CallRecord): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.rows.push({ row, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Commits what is queued: the cache's writes, then the ledger's rows. Never throws: each waiter gets its error. */
  flush(): void {
    this.scheduled = false;
    const ops = this.cacheOps;
    const rows = this.rows;
    this.cacheOps = [];
    this.rows = [];
    if (ops.length > 0) this.flushCache(ops);
    if (rows.length > 0) this.flushLedger(rows);
  }

  private flushCache(ops: Pending<unknown>[]): void {
    const out: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    const runAll = () => {
      for (const op of ops) {
        try {
          out.push({ ok: true, value: op.run() });
        } catch (error) {
          out.push({ ok: false, error });
        }
      }
    };
    try {
      if (this.cache?.transaction) this.cache.transaction(runAll);
      else runAll();
    } catch (error) {
      // The commit itself failed (a lock held past the busy timeout, a full disk): nothing of it is kept.
      for (const op of ops) op.reject(error);
      return;
    }
    ops.forEach((op, i) => {
      const r = out[i]!;
      if (r.ok) op.resolve(r.value);
      else op.reject(r.error);
    });
  }

  private flushLedger(rows: PendingRow[]): void {
    const ledger = this.ledger!;
    let ids: (number | Error)[];
    try {
      ids = ledger.insertCalls
        ? ledger.insertCalls(rows.map((r) => r.row))
        : rows.map((r) => {
            try {
              return ledger.insertCall(r.row);
            } catch (e) {
              return e instanceof Error ? e : new Error(String(e));
            }
          });
    } catch (error) {
      for (const r of rows) r.reject(error);
      return;
    }
    rows.forEach((r, i) => {
      const id = ids[i]!;
      if (id instanceof Error) r.reject(id);
      else r.resolve(id);
    });
  }
}
