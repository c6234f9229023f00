import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { UserError } from '../errors.js';
import { createRng, deriveSeed, type Rng } from '../rng.js';
import { anthropicHhRowSchema, formatAnthropicHh } from './anthropic_hh.js';
import { boolqRowSchema, formatBoolq } from './boolq.js';
import { cosmosQaRowSchema, formatCosmosQa } from './cosmos_qa.js';
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

interface BuiltinDataset {
  files: PoolFile[];
  /** Where users get the files, for the missing-file error. */
  source: string;
  /** Validates and formats one file's records with that file's label RNG. */
  formatFile(records: Iterable<RawRecord>, rng: Rng, idOf: (r: RawRecord) => string, options: FormatRowsOptions): FormattedRows;
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
    formatFile: (records, rng, idOf, options) => formatRows(records, schema, (row, rec) => format(row, rng, idOf(rec)), options),
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

export interface LoadDatasetOptions {
  name: string;
  /** The directory holding `<dataset>/<file>` (see datasets/README.md); the caller picks the default. */
  dataDir: string;
  /** The file for the `jsonl` dataset (resolved against the working directory when relative). */
  path?: string;
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
}

export async function loadDataset(options: LoadDatasetOptions): Promise<LoadedDataset> {
  const { name, seed } = options;
  if (!Number.isInteger(seed)) throw new UserError(`The dataset seed must be an integer, got ${seed}.`);
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit > 0)) {
    throw new UserError(`The dataset limit must be a positive integer, got ${options.limit}.`);
  }
  const rowOptions = { skipInvalid: options.skipInvalid, limit: options.limit };

  if (name === 'jsonl') {
    if (!options.path) throw new UserError('The jsonl dataset needs a path to your data file (see datasets/README.md for its format).');
    const file = resolve(options.path);
    if (!(await exists(file))) throw new UserError(`Your data file ${file} does not exist; check the dataset path.`);
    const seen = new Set<string>();
    const uniqueIds = (row: UserRow, record: RawRecord): Example => {
      const example = formatUserRow(row, record);
      if (seen.has(example.id)) {
        throw new DataFileError(file, record.line, `row ${record.index} repeats the id "${example.id}"; give each row a unique id or leave ids out`);
      }
      seen.add(example.id);
      return example;
    };
    const { examples, invalid } = formatRows(await readRecords(file), userRowSchema, uniqueIds, rowOptions);
    mustHaveRows(examples, file, invalid);
    return { pools: { train: examples }, invalid, files: [file] };
  }

  if (!isBuiltin(name)) {
    throw new UserError(`Unknown dataset "${name}"; use one of: ${DATASET_NAMES.join(', ')}.`);
  }
  const spec = BUILTIN[name];
  const dataDir = resolve(options.dataDir);
  const pools: Pools = { train: [] };
  const invalid: InvalidRow[] = [];
  const files: string[] = [];
  for (const { pool, file: rel, split } of spec.files) {
    const file = await locate(join(dataDir, rel), spec.source);
    const rng = createRng(deriveSeed(seed, name, split));
    const loaded = spec.formatFile(await readRecords(file), rng, (r) => `${name}/${split}/${r.index}`, rowOptions);
    mustHaveRows(loaded.examples, file, loaded.invalid);
    pools[pool] = loaded.examples;
    invalid.push(...loaded.invalid);
    files.push(file);
  }
  return { pools, invalid, files };
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

function mustHaveRows(examples: Example[], file: string, invalid: InvalidRow[]): void {
  if (examples.length > 0) return;
  const why = invalid.length ? `all ${invalid.length} rows are invalid (first: line ${invalid[0]!.line}, ${invalid[0]!.reason})` : 'it has no rows';
  throw new UserError(`No examples in ${file}: ${why}.`);
}
