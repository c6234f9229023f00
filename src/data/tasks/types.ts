import type { z } from 'zod';
import type { Rng } from '../../rng.js';
import type { RawRecord } from '../readers.js';
import type { FormatRowsOptions, FormattedRows } from '../rows.js';
import type { Example, Pools } from '../types.js';

/** One file of a task's default layout under the data directory. */
export interface PoolFile {
  pool: keyof Pools;
  /** Relative to the data directory: a file, or (RACE) a folder of per-article files. */
  file: string;
  /** The file's split name, used in ids (`sciq/train/12`) and in the label RNG's seed; equal to `fileSplitName(file)`. */
  split: string;
}

/** Where a task's files are on the Hugging Face hub. */
export interface HubSource {
  /** The dataset repository, e.g. `allenai/ai2_arc`. */
  id: string;
  /**
   * The branch holding the files; absent: `main`. `refs/convert/parquet` is the hub's own Parquet export of a dataset
   * whose main branch holds a loading script rather than data files.
   */
  revision?: string;
  /** Paths inside the repository (at `revision`) of the files for the train pool and the test pool. */
  files: { train: string; test?: string };
  /**
   * Set where the paths could not be confirmed against the repository when they were written down (see the comment at
   * the entry): check them before relying on a download.
   */
  unverified?: true;
}

/** The last step of formatting a row: adds the group from the raw record. */
export type Finish = (example: Example, record: RawRecord) => Example;

/** Everything w2s knows about one benchmark: where its files are, how its rows become examples, how it is debated. */
export interface Task {
  /** The default layout under the data directory. */
  files: PoolFile[];
  /** Where users get the files, for the missing-file error. */
  source: string;
  /** The same data on the Hugging Face hub, or null where there is no copy in a layout the task reads. */
  hub: HubSource | null;
  /** The data's license as its release states it. */
  license: string;
  /**
   * The row field whose equal values must stay in one split (a dotted path into the raw row in the release layout, see
   * `normalize`): the passage, article, context or dialogue several examples share; null for none.
   */
  groupBy: string | null;
  /** The raw row field (a dotted path, release layout) holding the passage a hidden-passage debate would hide from the judge; null for none. */
  passageField: string | null;
  /** What the debaters and judges are told they are looking at. */
  framing: string;
  /** Reads one pool file (or folder) into raw records, in file order. */
  read(file: string): Promise<Iterable<RawRecord>>;
  /**
   * A raw row as the formatter, `groupBy` and `passageField` see it: rows of another layout (the hub's export; DREAM's
   * arrays) mapped to the release layout, others as they are.
   */
  normalize(value: unknown): unknown;
  /** Validates and formats one file's records with that file's label RNG; `finish` adds what the load adds (the group). */
  formatFile(records: Iterable<RawRecord>, rng: Rng, idOf: (r: RawRecord) => string, finish: Finish, options: FormatRowsOptions): FormattedRows;
}

/** A task as written down: the row schema and the formatter keep the row's type between them. */
export interface TaskSpec<Row> extends Omit<Task, 'read' | 'formatFile' | 'normalize'> {
  /** Validates one raw row (after `normalize`); invalid rows stop the load or are skipped (skipInvalid). */
  schema: z.ZodType<Row>;
  /**
   * The examples of one valid row: one, or one per question (or per answer) for releases that nest several questions
   * under one passage. Ids of nested examples extend the row's id: `race/train/3.1` is question 1 of row 3.
   */
  format(row: Row, rng: Rng, id: string): Example | Example[];
  /**
   * Maps a row in another layout of the same data (the hub's Parquet export) to the release layout, so that one schema,
   * one formatter and the same group paths serve both; returns rows it does not recognise unchanged.
   */
  normalize?: (value: unknown) => unknown;
  /** Reads a pool file; default: `readRecords` (JSON, JSON lines, CSV, gzipped or not). */
  read?: (file: string) => Promise<Iterable<RawRecord>>;
}
