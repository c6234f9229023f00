import { access, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { DataFileError, readRecords, readTextFile, type RawRecord } from '../readers.js';

/**
 * Readers for release layouts the generic readers do not cover: tab-separated files (GLUE's SST-2, MC-TACO), labels
 * shipped in a separate `-labels.lst` file (PIQA, Social IQa) and a folder of one-JSON-object-per-file articles (RACE).
 * Each record keeps the file and line it comes from, so a bad row is still reported as file + line.
 */

/** Whether a file (or folder) is there to read. */
export async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

export interface TsvOptions {
  /** The column names of a file without a header row (MC-TACO); absent: the first row is the header (GLUE). */
  columns?: readonly string[];
}

/**
 * Tab-separated values as GLUE and MC-TACO ship them: one record per line, fields split at tabs, no quoting (a quote is
 * an ordinary character). CRLF accepted; blank lines skipped. A row with the wrong number of fields is an error naming
 * its line.
 */
export function* parseTsv(text: string, file: string, options: TsvOptions = {}): Generator<RawRecord> {
  let header = options.columns ? [...options.columns] : undefined;
  const lines = text.split('\n');
  let index = 0;
  for (let i = 0; i < lines.length; i++) {
    const content = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (content.trim() === '') continue;
    const line = i + 1;
    const fields = content.split('\t');
    if (!header) {
      header = fields;
      continue;
    }
    if (fields.length !== header.length) {
      const expected = options.columns ? `the ${header.length} columns ${header.join(', ')}` : `the header's ${header.length}`;
      throw new DataFileError(file, line, `row ${index} has ${fields.length} tab-separated fields but ${expected}`);
    }
    const value: Record<string, string> = {};
    header.forEach((h, k) => (value[h] = fields[k]!));
    yield { value, file, line, index };
    index++;
  }
}

/** A tab-separated file (gzipped or not): see `parseTsv`. */
export async function readTsv(file: string, options: TsvOptions = {}): Promise<Iterable<RawRecord>> {
  return parseTsv(await readTextFile(file), file, options);
}

/** `.tsv`, optionally gzipped. */
export const isTsv = (file: string): boolean => /\.tsv(\.gz)?$/i.test(file);

/** The labels file a release ships next to a data file: `train.jsonl` → `train-labels.lst` (PIQA, Social IQa). */
export function labelsFileFor(file: string): string {
  return join(dirname(file), `${basename(file).replace(/(\.(jsonl|json))?(\.gz)?$/i, '')}-labels.lst`);
}

/**
 * A data file whose labels ship in a separate file, one label per line in row order (PIQA's `train-labels.lst`, Social
 * IQa's `dev-labels.lst`): each record gets the label of its line as a `label` field. Without a labels file the rows
 * are read as they are, for copies that carry the label in each row (the hub's export); rows with neither are an error
 * naming the labels file expected.
 */
export async function readWithLabelsFile(file: string): Promise<Iterable<RawRecord>> {
  const records = [...(await readRecords(file))];
  const labelsFile = labelsFileFor(file);
  if (!(await exists(labelsFile))) {
    const first = records[0]?.value;
    if (first !== null && typeof first === 'object' && !Array.isArray(first) && !Object.hasOwn(first, 'label')) {
      throw new DataFileError(file, undefined, `has no labels: the release ships them in ${labelsFile}, one per line; put that file next to it`);
    }
    return records;
  }
  const labels: { label: string; line: number }[] = [];
  (await readTextFile(labelsFile)).split('\n').forEach((raw, i) => {
    const label = raw.trim();
    if (label !== '') labels.push({ label, line: i + 1 });
  });
  if (labels.length !== records.length) {
    const at = labels.length > records.length ? labels[records.length]!.line : undefined;
    throw new DataFileError(labelsFile, at, `has ${labels.length} labels but ${file} has ${records.length} rows; they must match line for line`);
  }
  return records.map((record, i) => {
    const value = record.value;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return record;
    return { ...record, value: { ...value, label: labels[i]!.label } };
  });
}

/**
 * Every regular file under a folder, hidden ones left out, in a fixed order: by path relative to it, code point by code
 * point. What a folder dataset reads, and what the prepare stage's checksum of the folder covers.
 */
export async function filesUnder(folder: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out.push(path);
    }
  };
  await walk(folder);
  const key = (f: string): string => relative(folder, f).split(sep).join('/');
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/**
 * A folder of one JSON object per file (RACE's `train/high/1001.txt`, ...), read in path order; each file is one record
 * at its line 1. A file given instead of a folder is read as JSON lines or a JSON array (articles concatenated).
 */
export async function readObjectPerFile(path: string): Promise<Iterable<RawRecord>> {
  const isFolder = await stat(path).then((st) => st.isDirectory(), () => false);
  if (!isFolder) return readRecords(path);
  const records: RawRecord[] = [];
  for (const file of await filesUnder(path)) {
    const text = await readTextFile(file);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new DataFileError(file, 1, `is not one JSON object (${(e as Error).message})`, { cause: e });
    }
    records.push({ value, file, line: 1, index: records.length });
  }
  if (records.length === 0) throw new DataFileError(path, undefined, 'is a folder with no files in it');
  return records;
}
