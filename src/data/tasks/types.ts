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
  /**
   * Set where the hub's copy has one row per question (or per answer) while the release nests several under one
   * passage: the hub's row i is another question than the release's row i, so its ids get a split name of their own
   * (`race/hub-train/5.0`, not `race/train/5.0`) and are never paired with a release run's.
   */
  rowPerQuestion?: true;
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
  /** What the debaters and judges are told they are looking at. */
  framing: string;
  /** The same for two-choice examples (dataset.format "two-choice"); null where the task cannot be two-choice. */
  twoChoiceFraming: string | null;
  /** Reads one pool file (or folder) into raw records, in file order. */
  read(file: string): Promise<Iterable<RawRecord>>;
  /**
   * Validates and formats one file's records with that file's label RNG; `finish` adds what the load adds (the group).
   * `twoChoice`: the two-choice examples (only for a task with a twoChoiceFraming).
   */
  formatFile(records: Iterable<RawRecord>, rng: Rng, idOf: (r: RawRecord) => string, finish: Finish, options: FormatRowsOptions & { twoChoice?: boolean }): FormattedRows;
}

/** A task as written down: the row schema and the formatter keep the row's type between them. */
export interface TaskSpec<Row> extends Omit<Task, 'read' | 'formatFile' | 'twoChoiceFraming'> {
  /** Validates one raw row (after `normalize`); invalid rows stop the load or are skipped (skipInvalid). */
  schema: z.ZodType<Row>;
  /**
   * The examples of one valid row: one, or one per question (or per answer) for releases that nest several questions
   * under one passage. Ids of nested examples extend the row's id: `race/train/3.1` is question 1 of row 3.
   */
  format(row: Row, rng: Rng, id: string): Example | Example[];
  /**
   * Where the rows carry a wrong answer beside the right one: the two-choice examples of a row (answer A, answer B as
   * `alternative`, label 1 when A is right; see drawPair) and what the debaters are told they are looking at.
   */
  twoChoice?: { format(row: Row, rng: Rng, id: string): Example | Example[]; framing: string };
  /**
   * Maps a row in another layout of the same data (the hub's Parquet export) to the release layout, so that one schema,
   * one formatter and the same group paths serve both; returns rows it does not recognise unchanged.
   */
  normalize?: (value: unknown) => unknown;
  /** Reads a pool file; default: `readRecords` (JSON, JSON lines, CSV, gzipped or not). */
  read?: (file: string) => Promise<Iterable<RawRecord>>;
}
