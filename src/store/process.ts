import { readFileSync } from 'node:fs';

/** Whether a process with this pid exists on this machine (leases and cache claims ask it of their holders). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

let bootId: string | null | undefined;

/** This boot's id (Linux), read once; null elsewhere. */
function currentBootId(): string | null {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootId = null;
    }
  }
  return bootId;
}

/**
 * Which process a pid is, beyond its number: "<boot id>:<start time in clock ticks since boot>" on Linux, undefined
 * where /proc cannot tell (another OS, the process gone). A pid reused after the holder died, or after a reboot, has
 * another identity; neither part depends on the wall clock, so a clock step cannot make a live holder look dead.
 */
export function processIdentity(pid: number = process.pid): string | undefined {
  const boot = currentBootId();
  if (boot === null) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[19];
    return start === undefined ? undefined : `${boot}:${start}`;
  } catch {
    return undefined;
  }
}

/**
 * Whether the process recorded as (pid, identity) still runs: the pid exists and, where both identities are known,
 * it is the same process, not a later one given the same number.
 */
export function processAlive(pid: number, identity: string | undefined): boolean {
  if (!pidAlive(pid)) return false;
  if (!identity) return true;
  const now = processIdentity(pid);
  return now === undefined || now === identity;
}

/**
 * Tokens (lease tokens, claim owners) this process made: a record naming our own pid but none of these belongs to a
 * dead predecessor that had the same pid (a restarted container), not to us.
 */
export const madeHere = new Set<string>();
