import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { openReport, type ReportQueries, type RunInfo } from './queries.js';
import { runResults, type RunResult } from './results.js';

/**
 * A results folder (or several database files) as one thing to audit: every run in every w2s database under it,
 * each with the file it lives in. `runs`, `compare`, `report`, `table` and `view` read runs through this.
 */
export interface ResultSet {
  /** The databases that hold at least one run (or were named outright), in the order named, each folder's in path order. */
  readonly files: readonly string[];
  /** Files found in a folder that are not readable w2s databases, with why (a named file that is not one is an error). */
  readonly skipped: readonly { file: string; reason: string }[];
  /** Every run, newest first, with its file and that file's queries. */
  runs(): LocatedRun[];
  /**
   * The run whose id is, or uniquely starts with, idOrPrefix; with none named, the newest run. An unknown or
   * ambiguous id is a UserError naming the candidates.
   */
  resolveRun(idOrPrefix?: string): LocatedRun;
  /** Every run with exactly this id, one per database holding it (one query per file; for lookups by URL). */
  locate(id: string): LocatedRun[];
  close(): void;
}

export interface LocatedRun {
  run: RunInfo;
  /** The database the run is in (absolute path). */
  file: string;
  /** That database's queries (shared by all its runs; closed with the set). */
  q: ReportQueries;
}

/** The default results folder, as `w2s run` and `w2s sweep` fill it. */
export const DEFAULT_RESULTS = 'results';

/**
 * Opens every database a list of paths names: a file is taken as is; a folder contributes each *.sqlite file under it
 * (recursively) that holds runs; a cache-only or empty file there is skipped, and so is one that is not a w2s database
 * (listed in `skipped`). No path, or none holding a run, is a UserError.
 */
export function openResults(paths: readonly string[], options: { warn?: (line: string) => void } = {}): ResultSet {
  // Every command over a folder says what it skipped, so a run is never silently missing from a list or a table.
  const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  const named = paths.length ? paths : [DEFAULT_RESULTS];
  const candidates: { file: string; explicit: boolean }[] = [];
  for (const p of named) {
    const abs = resolve(p);
    let isDir: boolean;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      throw new UserError(
        paths.length
          ? `Database or folder ${p} does not exist; name a results folder or a database written by w2s.`
          : `There is no ${DEFAULT_RESULTS}/ folder here; run an experiment with \`w2s run\` (it writes ${DEFAULT_RESULTS}/<name>-<hash>.sqlite), or name a folder or database.`,
      );
    }
    if (isDir) for (const file of sqliteFiles(abs)) candidates.push({ file, explicit: false });
    else candidates.push({ file: abs, explicit: true });
  }
  const open: { file: string; q: ReportQueries }[] = [];
  const skipped: { file: string; reason: string }[] = [];
  const seen = new Set<string>();
  try {
    for (const { file, explicit } of candidates) {
      if (seen.has(file)) continue;
      seen.add(file);
      let q: ReportQueries;
      try {
        q = openReport(file);
      } catch (e) {
        // Another program's file in a results folder is not ours to read; one named outright is the user's mistake.
        if (explicit || !(e instanceof UserError)) throw e;
        skipped.push({ file, reason: e.message });
        continue;
      }
      // A folder's cache file and empty databases hold no runs: not part of the set (a file named outright is).
      if (!explicit && q.runs().length === 0) q.close();
      else open.push({ file, q });
    }
  } catch (e) {
    for (const o of open) o.q.close();
    throw e;
  }
  if (open.length > 0) for (const k of skipped) warn(`w2s: skipped ${displayPath(k.file)}: ${k.reason}`);
  if (open.length === 0) {
    const why = skipped.length ? ` (skipped ${skipped.map((k) => `${displayPath(k.file)}: ${k.reason.replace(/\.$/, '')}`).join('; ')})` : '';
    throw new UserError(`No runs in ${named.join(', ')}${why}; run an experiment with \`w2s run\` first.`);
  }

  const all = (): LocatedRun[] =>
    open
      .flatMap(({ file, q }) => q.runs().map((run) => ({ run, file, q })))
      // Newest first across files; a stable sort keeps each file's own order for equal times.
      .sort((a, b) => (a.run.createdAt < b.run.createdAt ? 1 : a.run.createdAt > b.run.createdAt ? -1 : 0));

  return {
    files: open.map((o) => o.file),
    skipped,
    runs: all,
    resolveRun(idOrPrefix) {
      const runs = all();
      if (runs.length === 0) throw new UserError(`${describeFiles(open.map((o) => o.file))} holds no runs yet; run an experiment with \`w2s run\` first.`);
      if (idOrPrefix === undefined) return runs[0]!;
      const exact = runs.filter((r) => r.run.id === idOrPrefix);
      const matches = exact.length ? exact : runs.filter((r) => r.run.id.startsWith(idOrPrefix));
      if (matches.length === 1) return matches[0]!;
      if (matches.length === 0) throw new UserError(`No run ${idOrPrefix} in ${describeFiles(open.map((o) => o.file))}; list the runs with \`w2s runs\`.`);
      const names = matches.slice(0, 6).map((r) => `${r.run.id} (${displayPath(r.file)})`);
      const more = matches.length > 6 ? ', …' : '';
      // The same id in two files (a copied database) cannot be told apart by a longer prefix.
      if (exact.length) throw new UserError(`Run ${idOrPrefix} is in ${matches.length} databases: ${names.join(', ')}${more}; name one database.`);
      throw new UserError(`Run id ${idOrPrefix} matches ${matches.length} runs: ${names.join(', ')}${more}; give more of the id, or one database.`);
    },
    locate(id) {
      return open.flatMap(({ file, q }) => {
        const run = q.run(id);
        return run ? [{ run, file, q }] : [];
      });
    },
    close() {
      for (const o of open) o.q.close();
    },
  };
}

/** The stored results of located runs, each file's metrics read in one query. */
export function locatedResults(runs: readonly LocatedRun[]): RunResult[] {
  const byQ = new Map<ReportQueries, RunInfo[]>();
  for (const r of runs) byQ.set(r.q, [...(byQ.get(r.q) ?? []), r.run]);
  const results = new Map<RunInfo, RunResult>();
  for (const [q, list] of byQ) for (const res of runResults(q, list)) results.set(res.run, res);
  return runs.map((r) => results.get(r.run)!);
}

/**
 * Whether a command-line word names a database or folder rather than a run id: it exists, or looks like a path (a
 * slash, or a .sqlite/.db name). Run ids are `<name>-<hash>` with no slash, so the two cannot be confused.
 */
export function isPathArg(arg: string): boolean {
  return existsSync(arg) || /[\\/]/.test(arg) || /\.(sqlite|db)$/i.test(arg);
}

/** A file as listings show it: relative to the working directory when under it, else absolute (pasteable either way). */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** Every *.sqlite file under dir, in path order (hidden folders skipped). */
function sqliteFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sqliteFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.sqlite')) out.push(path);
  }
  return out;
}

const describeFiles = (files: string[]): string => (files.length === 1 ? displayPath(files[0]!) : `${files.length} databases`);
