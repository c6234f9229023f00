import { basename, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { createRng, deriveSeed } from '../rng.js';
import { DEFAULT_GROUP_BY, valueAtPath, withGroup } from './groups.js';
import { formatUserRow, formatUserTwoChoiceRow, userRowSchema, userTwoChoiceRowSchema, type UserRow } from './jsonl.js';
import { hubPoolFiles, hubSettings, type HubDatasetRef } from './hub.js';
import { readRecords, recordError, type RawRecord } from './readers.js';
import { formatRows } from './rows.js';
import { exists } from './tasks/files.js';
import { isTaskName, TASK_NAMES, TASKS, TWO_CHOICE_FRAMING, type Finish, type TaskName } from './tasks/index.js';
import type { Example, InvalidRow, Pools } from './types.js';

/** Where the datasets live when the config names no data directory: `../shared/datasets` from the working directory. */
export const DEFAULT_DATA_DIR = resolve(process.cwd(), '../shared/datasets');

/** Every dataset a config may name: the tasks of src/data/tasks (in table order), then your own data (`jsonl`). */
export const DATASET_NAMES: readonly DatasetName[] = [...TASK_NAMES, 'jsonl'];
export type DatasetName = TaskName | 'jsonl';

/** Your own files in place of a dataset's default layout: the train pool from `train`, the test pool from `test`. */
export interface DatasetFiles {
  train: string;
  test?: string;
}

export interface LoadDatasetOptions {
  name: string;
  /** The directory holding `<dataset>/<file>` (see datasets/README.md); the caller picks the default. */
  dataDir: string;
  /** The file for the `jsonl` dataset (resolved against the working directory when relative). */
  path?: string;
  /**
   * Files in the dataset's release format that replace its default layout (any dataset, jsonl too), resolved against
   * the working directory: train → train pool, test → test pool (e.g. BoolQ's train.jsonl and dev.jsonl).
   */
  files?: DatasetFiles;
  /** jsonl only: the row field whose value, "train" or "test", puts the row in that pool. */
  splitField?: string;
  /**
   * Two-choice examples (dataset.format "two-choice"): answer A in `answer`, answer B in `alternative`, label 1 when A
   * is right. Only for datasets whose rows carry a wrong answer beside the right one (TWO_CHOICE_FRAMING's names).
   */
  twoChoice?: boolean;
  /** jsonl only: the dotted path of the row's passage (kept apart from the question for hidden-passage debates). */
  passageField?: string;
  /**
   * Where the files come from: `files` (default) the data directory or `files`/`path`; `hub` the Hugging Face hub,
   * through the local cache (src/data/hub.ts), downloaded first when missing (offline mode: the cache only).
   */
  source?: 'files' | 'hub';
  /** With source hub: the branch, tag or commit to read; default the hub entry's revision, else main. */
  revision?: string;
  /** With source hub: the repository and its pool files, in place of the task's own hub entry (required for jsonl). */
  hub?: HubDatasetRef;
  /**
   * What keeps examples together in one split: a dotted path into the raw row (`passage`, `meta.passage_id`), or else
   * into the formatted example. Absent: the dataset's default (its task's groupBy: boolq passage, race article, ...);
   * null: no grouping.
   */
  groupBy?: string | null;
  seed: number;
  /** Skip rows that fail validation (reported in `invalid`) instead of stopping at the first. */
  skipInvalid?: boolean;
  /**
   * Keep only the first N valid rows of each pool file, in file order. Labels are drawn by one RNG walking the rows
   * in order, so the rows kept get the same labels as in a full load; the rest are never formatted.
   */
  limit?: number;
}

export interface LoadedDataset {
  pools: Pools;
  invalid: InvalidRow[];
  /** The files read, as absolute paths. */
  files: string[];
  /** The grouping applied (the default resolved), or null. */
  groupBy: string | null;
  /** With grouping on: examples whose row has no value at groupBy, each then a group of its own. */
  ungrouped: number;
}

const SPLIT_VALUES = ['train', 'test'] as const;

export async function loadDataset(options: LoadDatasetOptions): Promise<LoadedDataset> {
  const { name, seed } = options;
  if (!Number.isInteger(seed)) throw new UserError(`The dataset seed must be an integer, got ${seed}.`);
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit > 0)) {
    throw new UserError(`The dataset limit must be a positive integer, got ${options.limit}.`);
  }
  if (name !== 'jsonl' && !isTaskName(name)) {
    throw new UserError(`Unknown dataset "${name}"; use one of: ${DATASET_NAMES.join(', ')}.`);
  }
  checkCombination(options);
  const groupBy = options.groupBy === undefined ? (DEFAULT_GROUP_BY[name] ?? null) : options.groupBy;
  if (groupBy !== null && (typeof groupBy !== 'string' || groupBy.trim() === '')) {
    throw new UserError('dataset.groupBy must be a field name such as "passage" (or null for no grouping).');
  }
  const rowOptions = { skipInvalid: options.skipInvalid, limit: options.limit };

  // Every file is found before any is read.
  const sources = await poolFiles(name, options);

  let firstRow: unknown;
  const finish: Finish = (example, record) => {
    if (groupBy === null) return example;
    firstRow ??= record.value;
    return withGroup(example, record.value, groupBy);
  };

  const pools: Pools = { train: [] };
  const invalid: InvalidRow[] = [];
  if (name === 'jsonl') {
    const seen = new Map<string, string>();
    const formatUser = (file: string) => (row: UserRow, record: RawRecord): Example => {
      const example = withUserPassage((options.twoChoice ? formatUserTwoChoiceRow : formatUserRow)(row, record), record, options.passageField);
      const before = seen.get(example.id);
      if (before !== undefined) {
        const where = before === file ? '' : ` (first seen in ${before})`;
        throw recordError(record, `row ${record.index} repeats the id "${example.id}"${where}; give each row a unique id or leave ids out`);
      }
      seen.set(example.id, file);
      return finish(example, record);
    };
    for (const { pool, file, records } of await userPoolRecords(sources, options.splitField, options.skipInvalid, invalid)) {
      const loaded = formatRows(records, options.twoChoice ? userTwoChoiceRowSchema : userRowSchema, formatUser(file), rowOptions);
      mustHaveRows(loaded.examples, file, loaded.invalid, options.splitField === undefined ? undefined : `${options.splitField} "${pool}"`);
      pools[pool] = loaded.examples;
      invalid.push(...loaded.invalid);
    }
  } else {
    const task = TASKS[name as TaskName];
    for (const { pool, file, split } of sources) {
      const rng = createRng(deriveSeed(seed, name, split));
      const loaded = task.formatFile(await task.read(file), rng, (r) => `${name}/${split}/${r.index}`, finish, { ...rowOptions, twoChoice: options.twoChoice });
      mustHaveRows(loaded.examples, file, loaded.invalid);
      pools[pool] = loaded.examples;
      invalid.push(...loaded.invalid);
    }
  }
  const files = [...new Set(sources.map((s) => s.file))];
  // Counted from the pools, not in finish: a row's examples past `limit` are formatted, then dropped.
  const kept = [...pools.train, ...(pools.test ?? [])];
  const ungrouped = groupBy === null ? 0 : kept.filter((e) => e.group === undefined).length;
  if (groupBy !== null && ungrouped === kept.length) {
    const fields = firstRow !== null && typeof firstRow === 'object' && !Array.isArray(firstRow) ? Object.keys(firstRow) : [];
    throw new UserError(
      `dataset.groupBy "${groupBy}" is not a field of any row in ${files.join(' or ')}` +
        `${fields.length ? ` (the rows have ${fields.map((f) => `"${f}"`).join(', ')})` : ''}; name one of their fields, or set groupBy to null for no grouping.`,
    );
  }
  return { pools, invalid, files, groupBy, ungrouped };
}

/**
 * A user row's passage, read at `passageField` (a dotted path into the raw row); the question and text as given are
 * what the row reads without it. A row without a non-empty string there stops the load, naming the line.
 */
function withUserPassage(example: Example, record: RawRecord, passageField: string | undefined): Example {
  if (passageField === undefined) return example;
  const passage = valueAtPath(record.value, passageField);
  if (typeof passage !== 'string' || passage.trim() === '') {
    throw recordError(record, `row ${record.index} has no passage at dataset.passageField "${passageField}" (expected a non-empty string); add it to the row or fix passageField`);
  }
  return { ...example, passage, withoutPassage: { question: example.question, text: example.text } };
}

/** Combinations of options that cannot work, refused before any file is touched. */
function checkCombination(o: LoadDatasetOptions): void {
  if (o.path !== undefined && o.files !== undefined) {
    throw new UserError('Give the dataset either "path" or "files", not both.');
  }
  if (o.name !== 'jsonl' && o.path !== undefined) {
    throw new UserError(`"path" is for the jsonl dataset only; to read your own ${o.name} files give "files": {"train": ..., "test": ...}.`);
  }
  if (o.name === 'jsonl' && o.path === undefined && o.files === undefined && o.source !== 'hub') {
    throw new UserError('The jsonl dataset needs a path to your data file (see datasets/README.md for its format).');
  }
  if (o.twoChoice && !Object.hasOwn(TWO_CHOICE_FRAMING, o.name)) {
    throw new UserError(
      `dataset.format "two-choice" needs rows with a wrong answer beside the right one, which ${o.name} does not have; use one of ${Object.keys(TWO_CHOICE_FRAMING).join(', ')}, or leave format out.`,
    );
  }
  if (o.files !== undefined && (typeof o.files.train !== 'string' || o.files.train === '')) {
    throw new UserError('dataset.files needs a "train" file (and optionally a "test" file).');
  }
  if (o.passageField !== undefined && o.name !== 'jsonl') {
    throw new UserError(`"passageField" is for the jsonl dataset only; ${o.name}'s passage is known to w2s (see datasets/README.md).`);
  }
  if (o.splitField !== undefined) {
    if (o.name !== 'jsonl') throw new UserError(`"splitField" is for the jsonl dataset only; to give ${o.name} a test pool use "files": {"train": ..., "test": ...}.`);
    if (o.files?.test !== undefined) {
      throw new UserError('Give either "splitField" (train and test rows in one file) or "files.test", not both.');
    }
  }
}

interface SourceFile {
  pool: keyof Pools;
  /** Absolute path. */
  file: string;
  /** The file's split name, used in ids and in the label RNG's seed. */
  split: string;
}

/**
 * A file's split name from its name (a local path, or a hub path such as `data/test-00000-of-00001.parquet` →
 * `test-00000-of-00001`): `dev.jsonl` → `dev`, `harmless-base_test.jsonl.gz` → `harmless-base_test`.
 */
export function fileSplitName(file: string): string {
  return basename(file).replace(/(\.(jsonl|ndjson|json|csv|tsv|parquet))?(\.gz)?$/i, '');
}

/** The files to read, each checked to exist: the default layout under dataDir, or the files given. */
async function poolFiles(name: string, o: LoadDatasetOptions): Promise<SourceFile[]> {
  if (o.source === 'hub') return hubSources(name, o);
  if (o.revision !== undefined || o.hub !== undefined) {
    throw new UserError('dataset.revision and dataset.hub are for dataset.source "hub"; set source to "hub", or remove them.');
  }
  if (o.files === undefined) {
    if (name === 'jsonl') {
      const file = resolve(o.path!);
      if (!(await exists(file))) throw new UserError(`Your data file ${file} does not exist; check the dataset path.`);
      return [{ pool: 'train', file, split: fileSplitName(file) }];
    }
    const spec = TASKS[name as TaskName];
    const dataDir = resolve(o.dataDir);
    const out: SourceFile[] = [];
    for (const { pool, file, split } of spec.files) out.push({ pool, file: await locate(join(dataDir, file), spec.source, spec.hub ? name : undefined), split });
    return out;
  }
  const given: SourceFile[] = [];
  for (const pool of ['train', 'test'] as const) {
    const f = o.files[pool];
    if (f === undefined) continue;
    const file = resolve(f);
    if (!(await exists(file))) throw new UserError(`dataset.files.${pool} ${file} does not exist; check the path (relative paths start at the working directory).`);
    given.push({ pool, file, split: fileSplitName(file) });
  }
  if (given.length === 2 && given[0]!.file === given[1]!.file) {
    throw new UserError(`dataset.files.train and dataset.files.test are the same file ${given[0]!.file}; give two files, or use splitField (jsonl) to split one.`);
  }
  if (given.length === 2 && given[0]!.split === given[1]!.split) {
    throw new UserError(
      `dataset.files.train and dataset.files.test are both named "${given[0]!.split}"; rename one, since example ids and labels come from the file name.`,
    );
  }
  return given;
}

/**
 * The pool files from the hub, through the cache (downloaded when missing; offline: the cache only). With the task's
 * own hub entry, each file keeps the split name of the default layout's file for that pool, so ids and labels are
 * those a local copy of the release gives; where the hub has one row per question and the release nests several
 * (rowPerQuestion: race, dream, multirc), row i is another question, so the split name is `hub-` and the layout's
 * (`race/hub-train/5.0`). With dataset.hub, the split name comes from the file's name.
 */
async function hubSources(name: string, o: LoadDatasetOptions): Promise<SourceFile[]> {
  if (o.files !== undefined || o.path !== undefined) {
    throw new UserError('With dataset.source "hub" the files come from the hub; remove "files" and "path", or set source to "files".');
  }
  const task = name === 'jsonl' ? undefined : TASKS[name as TaskName];
  const ref = o.hub ?? task?.hub ?? undefined;
  if (ref === undefined) {
    throw new UserError(
      name === 'jsonl'
        ? 'The jsonl dataset from the hub needs dataset.hub: {"id": "owner/name", "files": {"train": "<path in the repository>"}}.'
        : `w2s knows no hub copy of ${name}; give dataset.hub: {"id": "owner/name", "files": {"train": "<path>"}}, or read its release files (source "files").`,
    );
  }
  const layout = o.hub === undefined ? (task?.files ?? []) : [];
  const prefix = o.hub === undefined && task?.hub?.rowPerQuestion ? 'hub-' : '';
  const out: SourceFile[] = [];
  for (const { pool, path, hub } of await hubPoolFiles(hubSettings(), ref, o.revision)) {
    const split = layout.find((f) => f.pool === pool)?.split;
    out.push({ pool, file: hub.file, split: split === undefined ? fileSplitName(path) : `${prefix}${split}` });
  }
  if (out.length === 2 && out[0]!.split === out[1]!.split) {
    throw new UserError(`dataset.hub.files.train and dataset.hub.files.test are both named "${out[0]!.split}"; example ids and labels come from the file name, so pick files with different names.`);
  }
  return out;
}

/**
 * The jsonl records per pool. With a split field, one file's rows go to the pool its value names ("train" or
 * "test"); a row with another value, or none, is invalid (skipped and reported with skipInvalid).
 */
async function userPoolRecords(
  sources: SourceFile[],
  splitField: string | undefined,
  skipInvalid: boolean | undefined,
  invalid: InvalidRow[],
): Promise<{ pool: keyof Pools; file: string; records: RawRecord[] }[]> {
  const out: { pool: keyof Pools; file: string; records: RawRecord[] }[] = [];
  for (const { pool, file } of sources) {
    const records = [...(await readRecords(file))];
    if (splitField === undefined) {
      out.push({ pool, file, records });
      continue;
    }
    const byPool: Record<'train' | 'test', RawRecord[]> = { train: [], test: [] };
    for (const record of records) {
      const value = valueAtPath(record.value, splitField);
      if (value === 'train' || value === 'test') {
        byPool[value].push(record);
        continue;
      }
      const reason = `field "${splitField}": ${value === undefined ? 'missing' : `is ${JSON.stringify(value)}`}; splitField values must be ${SPLIT_VALUES.map((v) => `"${v}"`).join(' or ')}`;
      if (!skipInvalid) throw recordError(record, `row ${record.index} is invalid: ${reason} (fix the row, or set skipInvalid to skip such rows)`);
      invalid.push({ file, line: record.line, index: record.index, reason });
    }
    if (byPool.test.length === 0) {
      throw new UserError(`No row of ${file} has ${splitField} "test"; mark the test rows, or leave splitField out to draw the test split from all rows.`);
    }
    out.push({ pool: 'train', file, records: byPool.train }, { pool: 'test', file, records: byPool.test });
  }
  return out;
}

/** The expected file, or the same file gzipped next to it. */
async function locate(file: string, source: string, hubName?: string): Promise<string> {
  for (const candidate of [file, `${file}.gz`]) {
    if (await exists(candidate)) return candidate;
  }
  const hub = hubName === undefined ? '' : `, or read it from the hub with dataset.source "hub" (\`w2s data get ${hubName}\` fetches it ahead)`;
  throw new UserError(
    `Missing data file ${file}: get it from ${source} as described in datasets/README.md, or point the data directory at where it is${hub}.`,
  );
}

function mustHaveRows(examples: Example[], file: string, invalid: InvalidRow[], which?: string): void {
  if (examples.length > 0) return;
  const rows = which === undefined ? 'rows' : `rows with ${which}`;
  const why = invalid.length ? `all ${invalid.length} ${rows} are invalid (first: line ${invalid[0]!.line}, ${invalid[0]!.reason})` : `it has no ${rows}`;
  throw new UserError(`No examples in ${file}: ${why}.`);
}
