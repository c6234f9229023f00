/**
 * The example every dataset is formatted into. `question` and `answer` are kept apart from `text` because debaters
 * argue whether *this answer* to *this question* is correct; `text` is the openai/weak-to-strong template the weak and
 * strong models classify.
 */
export interface Example {
  /** Stable and meaningful: dataset/file-split/row index, e.g. `sciq/train/123` (or the user's own id). */
  id: string;
  text: string;
  /** 1: the shown answer is correct (or the shown transcript is the preferred one; two-choice: answer A is right). */
  label: 0 | 1;
  question: string;
  answer: string;
  meta?: Record<string, unknown>;
  /** The passage the question is about (SciQ support, BoolQ passage, CosmosQA context, ...), where the row has one. */
  passage?: string;
  /**
   * With a passage: the question and text as they read without it (`question`/`text` above are as the task formats
   * them, passage included where weak-to-strong includes it). What debate.passage "debaters", "all" and "none" build on.
   */
  withoutPassage?: { question: string; text: string };
  /**
   * Two-choice examples (dataset.format "two-choice"): answer B, where `answer` is answer A and label 1 means answer A
   * is the right one. Which of the right and the wrong answer is A was drawn by the task's seeded rng.
   */
  alternative?: string;
  /** Examples sharing a group (a passage, a question's pair of rows) never straddle two splits. */
  group?: string;
}

export type SplitName = 'train_weak' | 'train_strong' | 'test';

export interface SplitExample extends Example {
  split: SplitName;
}

/** The example pools a dataset provides; the splits are drawn from them. */
export interface Pools {
  train: Example[];
  test?: Example[];
}

/** A row that failed validation and was skipped (skipInvalid). */
export interface InvalidRow {
  file: string;
  /** 1-based line where the row starts. */
  line: number;
  /** 0-based row index in its file. */
  index: number;
  reason: string;
}
