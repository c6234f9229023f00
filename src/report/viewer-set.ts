import { readdirSync, statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { openReport, type ReportQueries } from './queries.js';
import { DEFAULT_RESULTS, displayPath, type LocatedRun } from './results-set.js';

/**
 * The databases the viewer shows: the files named, and every *.sqlite under the folders named, found again on each
 * rescan, so a database that appears while the viewer runs (a new run, a sweep's next cell) shows without a restart.
 * A rescan is cheap: a readdir per folder and subfolder and a stat per file; a file is opened only when it is new
 * (or replaced: another inode under the same name), or when it held no runs (a cache file, a database being created)
 * or could not be read and has changed since (its size or mtime, or its -wal file's). Every database keeps the index
 * it was first given, so /files/<i>/… links stay valid while the viewer runs; a file that goes away leaves its index
 * empty until it comes back.
 */
export interface WatchedResults {
  /** What is watched, as the front page says it: "results/ (3 databases)". */
  describe(): string;
  /** The databases shown now (absolute paths), in index order. */
  files(): string[];
  /** A database's index in /files/<i>/ links, or -1. */
  indexOf(file: string): number;
  /** The database at index i, or undefined (out of range, or gone). */
  fileAt(i: number): string | undefined;
  /** Every run of every database shown, newest first. */
  runs(): LocatedRun[];
  /** The runs with exactly this id (in database `fileIndex` only, when given). */
  locate(id: string, fileIndex?: number): LocatedRun[];
  /** Looks for databases added, replaced or removed since the last scan. */
  rescan(): void;
  /** Files under the folders that are not readable w2s databases, with why. */
  skipped(): { file: string; reason: string }[];
  close(): void;
}

interface Slot {
  file: string;
  q: ReportQueries;
  /** The inode opened: a file replaced under the same name is opened again. */
  ino: number;
}

/** A file looked at and not shown: no runs yet, or unreadable. Tried again when its signature changes. */
interface Passed {
  signature: string;
  reason: string | null;
}

export function watchResults(paths: readonly string[]): WatchedResults {
  const named = paths.length ? paths : [DEFAULT_RESULTS];
  const folders: string[] = [];
  const explicit: string[] = [];
  for (const p of named) {
    const abs = resolve(p);
    let st: Stats;
    try {
      st = statSync(abs);
    } catch {
      throw new UserError(
        paths.length
          ? `Database or folder ${p} does not exist; name a results folder or a database written by w2s.`
          : `There is no ${DEFAULT_RESULTS}/ folder here; run an experiment with \`w2s run\` (it writes ${DEFAULT_RESULTS}/<name>-<hash>.sqlite), or name a folder or database.`,
      );
    }
    if (st.isDirectory()) folders.push(abs);
    else if (!explicit.includes(abs)) explicit.push(abs);
  }

  const label = named.map((p) => {
    const abs = resolve(p);
    return folders.includes(abs) ? `${displayPath(abs).replace(/\/$/, '')}/` : displayPath(abs);
  }).join(', ');
  const slots: (Slot | null)[] = [];
  const passed = new Map<string, Passed>();
  const live = (): Slot[] => slots.filter((s): s is Slot => s !== null);
  const slotOf = (file: string): Slot | undefined => live().find((s) => s.file === file);
  /** The index each file was first given: a file that comes back, or is replaced, takes the same one. */
  const given = new Map<string, number>();
  const place = (slot: Slot): void => {
    const at = given.get(slot.file);
    if (at !== undefined) slots[at] = slot;
    else {
      given.set(slot.file, slots.length);
      slots.push(slot);
    }
  };

  const closeAll = (): void => {
    for (const s of live()) s.q.close();
  };
  // A file named outright must be a w2s database: its error is the user's to fix, at start.
  try {
    for (const file of explicit) place({ file, q: openReport(file), ino: statSync(file).ino });
  } catch (e) {
    closeAll();
    throw e;
  }

  const consider = (file: string): void => {
    let st: Stats;
    try {
      st = statSync(file);
    } catch {
      return; // gone between readdir and stat
    }
    const have = slotOf(file);
    if (have) {
      if (have.ino === st.ino) return;
      // Replaced under the same name (deleted and written again): the new file is opened, at the same index.
      have.q.close();
      slots[slots.indexOf(have)] = null;
    }
    const signature = signatureOf(file, st);
    if (!have && passed.get(file)?.signature === signature) return;
    let q: ReportQueries;
    try {
      q = openReport(file);
    } catch (e) {
      // Another program's file, or one being written this instant: listed, and tried again once it changes.
      passed.set(file, { signature, reason: (e as Error).message });
      return;
    }
    let hasRuns: boolean;
    try {
      hasRuns = q.runs().length > 0;
    } catch (e) {
      q.close();
      passed.set(file, { signature, reason: (e as Error).message });
      return;
    }
    if (!hasRuns && !explicit.includes(file)) {
      // A cache file, or a database whose first run is not written yet (one named outright is shown all the same).
      q.close();
      passed.set(file, { signature, reason: null });
      return;
    }
    passed.delete(file);
    place({ file, q, ino: st.ino });
  };

  const rescan = (): void => {
    const found = new Set<string>(explicit.filter(exists));
    for (const dir of folders) for (const file of sqliteFiles(dir)) found.add(file);
    // Gone: a folder's file no longer there, or a named file deleted.
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      if (!s) continue;
      if (!found.has(s.file)) {
        s.q.close();
        slots[i] = null;
      }
    }
    for (const file of passed.keys()) if (!found.has(file)) passed.delete(file);
    // A named file too: it may have been replaced, or deleted and written again, since the last scan.
    for (const file of found) consider(file);
  };
  try {
    rescan();
  } catch (e) {
    closeAll();
    throw e;
  }

  const located = (s: Slot): LocatedRun[] => s.q.runs().map((run) => ({ run, file: s.file, q: s.q }));
  return {
    describe() {
      const n = live().length;
      return `${label} (${n} database${n === 1 ? '' : 's'})`;
    },
    files: () => live().map((s) => s.file),
    indexOf: (file) => slots.findIndex((s) => s?.file === file),
    fileAt: (i) => slots[i]?.file,
    runs() {
      return live()
        .flatMap(located)
        // Newest first across files; a stable sort keeps each file's own order for equal times.
        .sort((a, b) => (a.run.createdAt < b.run.createdAt ? 1 : a.run.createdAt > b.run.createdAt ? -1 : 0));
    },
    locate(id, fileIndex) {
      const pool = fileIndex === undefined ? live() : slots[fileIndex] ? [slots[fileIndex]!] : [];
      return pool.flatMap((s) => {
        const run = s.q.run(id);
        return run ? [{ run, file: s.file, q: s.q }] : [];
      });
    },
    rescan,
    skipped: () => [...passed.entries()].filter(([, p]) => p.reason !== null).map(([file, p]) => ({ file, reason: p.reason! })),
    close() {
      closeAll();
      slots.length = 0;
    },
  };
}

/** Size and mtime of the file and of its -wal file: a run committing to the WAL changes the latter only. */
function signatureOf(file: string, st: Stats): string {
  let wal = '-';
  try {
    const w = statSync(`${file}-wal`);
    wal = `${w.size}:${w.mtimeMs}`;
  } catch {
    /* no WAL */
  }
  return `${st.size}:${st.mtimeMs}:${wal}`;
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

/** Every *.sqlite file under dir, in path order (hidden entries skipped; an unreadable folder contributes nothing). */
function sqliteFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sqliteFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.sqlite')) out.push(path);
  }
  return out;
}
