import { readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * A lock between processes on one machine: a folder (mkdir is atomic) holding the holder's pid. A lock whose process
 * is gone, or that never got its pid written within a minute, is stale and taken over (one waiter at a time, see
 * removeStale). Used where several processes
 * (test files, CLI calls) may set up or fetch the same thing at once: a Python venv, a downloaded file.
 */
export interface LockOptions {
  /** Told once, when another holder makes us wait. */
  onWait?: () => void;
  signal?: AbortSignal;
  /** How often to look again while another process holds it (default 200 ms). */
  pollMs?: number;
  /** Give up after waiting this long (default: wait as long as the holder lives); thrown by `timeoutError`. */
  maxWaitMs?: number;
  timeoutError?: () => Error;
}

/** Takes the lock (creating its parent folder if needed); resolves to the function that releases it. */
export async function acquireLockDir(lockDir: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const deadline = options.maxWaitMs === undefined ? Infinity : Date.now() + options.maxWaitMs;
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'pid'), String(process.pid));
      return () => rm(lockDir, { recursive: true, force: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        await mkdir(dirname(lockDir), { recursive: true });
        continue;
      }
      if (code !== 'EEXIST') throw e;
    }
    if (lockIsStale(lockDir) && (await removeStale(lockDir))) continue;
    if (!told) {
      options.onWait?.();
      told = true;
    }
    if (Date.now() > deadline) throw options.timeoutError?.() ?? new Error(`The lock ${lockDir} is still held; remove it if nothing is running.`);
    await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
  }
}

/** A takeover guard older than this was left by a process that died while taking a lock over (it takes milliseconds). */
const GUARD_STALE_MS = 10_000;

/**
 * Removes a stale lock; false when another process is taking it over now (the caller waits, then looks again). Judging
 * a lock stale and removing it is not one step: two waiters may both judge it stale, and the slower one would remove
 * the lock the faster one has just made. So a takeover holds a second lock folder (`<lock>.takeover`, mkdir is
 * atomic), and looks again under it: a lock made anew in the meantime is live (or has no pid yet and is new), and stays.
 */
async function removeStale(lockDir: string): Promise<boolean> {
  const guard = `${lockDir}.takeover`;
  try {
    await mkdir(guard);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    try {
      if (Date.now() - statSync(guard).mtimeMs > GUARD_STALE_MS) await rm(guard, { recursive: true, force: true });
    } catch {
      // gone already
    }
    return false;
  }
  try {
    // Under the guard a stale lock cannot change before it is removed (its holder is dead, and every other takeover
    // waits); a lock that is gone is left alone, since an acquirer may make it anew at any moment.
    if (holderGone(lockDir, false)) await rm(lockDir, { recursive: true, force: true });
  } finally {
    await rm(guard, { recursive: true, force: true });
  }
  return true;
}

/** Whether a lock folder's holder is gone (its pid is not running, or it never wrote one and is over a minute old). */
export function lockIsStale(lockDir: string): boolean {
  return holderGone(lockDir, true);
}

/** lockIsStale, saying `ifAbsent` for a lock folder that does not exist. */
function holderGone(lockDir: string, ifAbsent: boolean): boolean {
  try {
    let raw = '';
    try {
      raw = readFileSync(join(lockDir, 'pid'), 'utf8').trim();
    } catch {
      // not written yet
    }
    const pid = Number(raw);
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - statSync(lockDir).mtimeMs > 60_000;
    process.kill(pid, 0);
    return false;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ESRCH' || (code === 'ENOENT' && ifAbsent);
  }
}
