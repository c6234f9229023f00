import { access } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { z } from 'zod';
import { UserError } from '../errors.js';
import { createRng, deriveSeed, type Rng } from '../rng.js';
import { anthropicHhRowSchema, formatAnthropicHh } from './anthropic_hh.js';
import { boolqRowSchema, formatBoolq } from './boolq.js';
import { cosmosQaRowSchema, formatCosmosQa } from './cosmos_qa.js';
import { DEFAULT_GROUP_BY, valueAtPath, withGroup } from './groups.js';
import { formatUserRow, userRowSchema, type UserRow } from './jsonl.js';
import { DataFileError, readRecords, type RawRecord } from './readers.js';
import { formatRows, type FormatRowsOptions, type FormattedRows } from './rows.js';
import { formatSciq, sciqRowSchema } from './sciq.js';
import type { Example, InvalidRow, Pools } from './types.js';

/** Where the datasets live when the config names no data directory: `../shared/datasets` from the working directory. */
export const DEFAULT_DATA_DIR = resolve(process.cwd(), '../shared/datasets');

export const DATASET_NAMES = ['sciq', 'boolq', 'cosmos_qa', 'anthropic_hh', 'jsonl'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

interface PoolFile {
  pool: keyof Pools;
  /** Relative to the data directory. */
  file: string;
  /** The file's split name, used in ids (`sciq/train/12`) and in the label RNG's seed. */
  split: string;
}

/** The last step of formatting a row: adds the group from the raw record. */
type Finish = (example: Example, record: RawRecord) => Example;

interface BuiltinDataset {
  files: PoolFile[];
  /** Where users get the files, for the missing-file error. */
  source: string;
  /** Validates and formats one file's records with that file's label RNG; `finish` adds what the load adds (the group). */
  formatFile(records: Iterable<RawRecord>, rng: Rng, idOf: (r: RawRecord) => string, finish: Finish, options: FormatRowsOptions): FormattedRows;
}

/** Binds a row schema to its formatter, keeping the row type between them. */
function builtin<Row>(
  files: PoolFile[],
  source: string,
  schema: z.ZodType<Row>,
  format: (row: Row, rng: Rng, id: string) => Example,
): BuiltinDataset {
  return {
    files,
    source,
    formatFile: (records, rng, idOf, finish, options) =>
      formatRows(records, schema, (row, rec) => finish(format(row, rng, idOf(rec)), rec), options),
  };
}

const BUILTIN: Record<Exclude<DatasetName, 'jsonl'>, BuiltinDataset> = {
  sciq: builtin(
    [
      { pool: 'train', file: 'sciq/train.json', split: 'train' },
      { pool: 'test', file: 'sciq/test.json', split: 'test' },
    ],
    'the AI2 SciQ release (SciQ.zip, Hugging Face allenai/sciq)',
    sciqRowSchema,
    formatSciq,
  ),
  boolq: builtin(
    [{ pool: 'train', file: 'boolq/dev.jsonl', split: 'dev' }],
    'the BoolQ release (gs://boolq/dev.jsonl, Hugging Face google/boolq)',
    boolqRowSchema,
    (row, _rng, id) => formatBoolq(row, id),
  ),
  cosmos_qa: builtin(
    [{ pool: 'train', file: 'cosmos_qa/valid.csv', split: 'valid' }],
    'the Cosmos QA release (valid.csv, Hugging Face allenai/cosmos_qa)',
    cosmosQaRowSchema,
    formatCosmosQa,
  ),
  anthropic_hh: builtin(
    [{ pool: 'train', file: 'anthropic_hh/harmless-base_test.jsonl.gz', split: 'harmless-base_test' }],
    "Anthropic's hh-rlhf release (harmless-base/test.jsonl.gz, Hugging Face Anthropic/hh-rlhf)",
    anthropicHhRowSchema,
    formatAnthropicHh,
  ),
};

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
   * What keeps examples together in one split: a dotted path into the raw row (`passage`, `meta.passage_id`), or else
   * into the formatted example. Absent: the dataset's default (boolq: passage, cosmos_qa: context, others none);
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
  if (name !== 'jsonl' && !isBuiltin(name)) {
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
  let ungrouped = 0;
  const finish: Finish = (example, record) => {
    if (groupBy === null) return example;
    firstRow ??= record.value;
    const grouped = withGroup(example, record.value, groupBy);
    if (grouped.group === undefined) ungrouped++;
    return grouped;
  };

  const pools: Pools = { train: [] };
  const invalid: InvalidRow[] = [];
  if (name === 'jsonl') {
    const seen = new Map<string, string>();
    const formatUser = (file: string) => (row: UserRow, record: RawRecord): Example => {
      const example = formatUserRow(row, record);
      const before = seen.get(example.id);
      if (before !== undefined) {
        const where = before === file ? '' : ` (first seen in ${before})`;
        throw new DataFileError(file, record.line, `row ${record.index} repeats the id "${example.id}"${where}; give each row a unique id or leave ids out`);
      }
      seen.set(example.id, file);
      return finish(example, record);
    };
    for (const { pool, file, records } of await userPoolRecords(sources, options.splitField, options.skipInvalid, invalid)) {
      const loaded = formatRows(records, userRowSchema, formatUser(file), rowOptions);
      mustHaveRows(loaded.examples, file, loaded.invalid, options.splitField === undefined ? undefined : `${options.splitField} "${pool}"`);
      pools[pool] = loaded.examples;
      invalid.push(...loaded.invalid);
    }
  } else {
    const spec = BUILTIN[name as keyof typeof BUILTIN];
    for (const { pool, file, split } of sources) {
      const rng = createRng(deriveSeed(seed, name, split));
      const loaded = spec.formatFile(await readRecords(file), rng, (r) => `${name}/${split}/${r.index}`, finish, rowOptions);
      mustHaveRows(loaded.examples, file, loaded.invalid);
      pools[pool] = loaded.examples;
      invalid.push(...loaded.invalid);
    }
  }
  const files = [...new Set(sources.map((s) => s.file))];
  const total = pools.train.length + (pools.test?.length ?? 0);
  if (groupBy !== null && ungrouped === total) {
    const fields = firstRow !== null && typeof firstRow === 'object' && !Array.isArray(firstRow) ? Object.keys(firstRow) : [];
    throw new UserError(
      `dataset.groupBy "${groupBy}" is not a field of any row in ${files.join(' or ')}` +
        `${fields.length ? ` (the rows have ${fields.map((f) => `"${f}"`).join(', ')})` : ''}; name one of their fields, or set groupBy to null for no grouping.`,
    );
  }
  return { pools, invalid, files, groupBy, ungrouped };
}

/** Combinations of options that cannot work, refused before any file is touched. */
function checkCombination(o: LoadDatasetOptions): void {
  if (o.path !== undefined && o.files !== undefined) {
    throw new UserError('Give the dataset either "path" or "files", not both.');
  }
  if (o.name !== 'jsonl' && o.path !== undefined) {
    throw new UserError(`"path" is for the jsonl dataset only; to read your own ${o.name} files give "files": {"train": ..., "test": ...}.`);
  }
  if (o.name === 'jsonl' && o.path === undefined && o.files === undefined) {
    throw new UserError('The jsonl dataset needs a path to your data file (see datasets/README.md for its format).');
  }
  if (o.files !== undefined && (typeof o.files.train !== 'string' || o.files.train === '')) {
    throw new UserError('dataset.files needs a "train" file (and optionally a "test" file).');
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

/** A file's split name from its name: `dev.jsonl` → `dev`, `harmless-base_test.jsonl.gz` → `harmless-base_test`. */
export function fileSplitName(file: string): string {
  return basename(file).replace(/(\.(jsonl|ndjson|json|csv))?(\.gz)?$/i, '');
}

/** The files to read, each checked to exist: the default layout under dataDir, or the files given. */
async function poolFiles(name: string, o: LoadDatasetOptions): Promise<SourceFile[]> {
  if (o.files === undefined) {
    if (name === 'jsonl') {
      const file = resolve(o.path!);
      if (!(await exists(file))) throw new UserError(`Your data file ${file} does not exist; check the dataset path.`);
      return [{ pool: 'train', file, split: fileSplitName(file) }];
    }
    const spec = BUILTIN[name as keyof typeof BUILTIN];
    const dataDir = resolve(o.dataDir);
    const out: SourceFile[] = [];
    for (const { pool, file, split } of spec.files) out.push({ pool, file: await locate(join(dataDir, file), spec.source), split });
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
      if (!skipInvalid) throw new DataFileError(file, record.line, `row ${record.index} is invalid: ${reason} (fix the row, or set skipInvalid to skip such rows)`);
      invalid.push({ file, line: record.line, index: record.index, reason });
    }
    if (byPool.test.length === 0) {
      throw new UserError(`No row of ${file} has ${splitField} "test"; mark the test rows, or leave splitField out to draw the test split from all rows.`);
    }
    out.push({ pool: 'train', file, records: byPool.train }, { pool: 'test', file, records: byPool.test });
  }
  return out;
}

function isBuiltin(name: string): name is keyof typeof BUILTIN {
  return Object.hasOwn(BUILTIN, name);
}

/** The expected file, or the same file gzipped next to it. */
async function locate(file: string, source: string): Promise<string> {
  for (const candidate of [file, `${file}.gz`]) {
    if (await exists(candidate)) return candidate;
  }
  throw new UserError(
    `Missing data file ${file}: get it from ${source} as described in datasets/README.md, or point the data directory at where it is.`,
  );
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

function mustHaveRows(examples: Example[], file: string, invalid: InvalidRow[], which?: string): void {
  if (examples.length > 0) return;
  const rows = which === undefined ? 'rows' : `rows with ${which}`;
  const why = invalid.length ? `all ${invalid.length} ${rows} are invalid (first: line ${invalid[0]!.line}, ${invalid[0]!.reason})` : `it has no ${rows}`;
  throw new UserError(`No examples in ${file}: ${why}.`);
}
