import { z } from 'zod';
import type { Rng } from '../../rng.js';
import { readRecords, type RawRecord } from '../readers.js';
import { formatRows } from '../rows.js';
import type { Example } from '../types.js';
import type { Task, TaskSpec } from './types.js';

/** Binds a task's row schema to its formatter (keeping the row type between them) and fills in the default reader. */
export function defineTask<Row>(spec: TaskSpec<Row>): Task {
  const { schema, format, normalize, read, twoChoice, ...rest } = spec;
  return {
    ...rest,
    twoChoiceFraming: twoChoice?.framing ?? null,
    read: read ?? ((file) => readRecords(file)),
    formatFile: (records, rng, idOf, finish, { twoChoice: asTwoChoice, ...options }) =>
      formatRows(normalize ? normalized(records, normalize) : records, schema, (row, record) => {
        if (asTwoChoice && !twoChoice) throw new Error('formatFile: this task has no two-choice form');
        const out = (asTwoChoice ? twoChoice!.format : format)(row, rng, idOf(record));
        return Array.isArray(out) ? out.map((e) => finish(e, record)) : finish(out, record);
      }, options),
  };
}

function* normalized(records: Iterable<RawRecord>, normalize: (value: unknown) => unknown): Generator<RawRecord> {
  for (const record of records) yield { ...record, value: normalize(record.value) };
}

/**
 * The weak-to-strong draw for a multiple-choice question: label = rng.random() < 0.5; the answer shown is the correct
 * option if label, else one of the options whose text differs from it, chosen by the same rng (sciq, cosmos_qa).
 */
export function drawShown(rng: Rng, correct: string, options: readonly string[]): { label: 0 | 1; answer: string } {
  const label = rng.random() < 0.5 ? 1 : 0;
  return { label, answer: label ? correct : rng.choice(options.filter((o) => o !== correct)) };
}

/**
 * The two-choice draw: label = rng.random() < 0.5; the wrong answer is `wrong` when given (QuALITY's best distractor),
 * else one of the options whose text differs from the correct one, chosen by the same rng. Answer A is the correct
 * answer if label, else the wrong one; answer B is the other. So A's position carries the label and nothing else.
 */
export function drawPair(rng: Rng, correct: string, options: readonly string[], wrong?: string): { label: 0 | 1; answer: string; alternative: string } {
  const label = rng.random() < 0.5 ? 1 : 0;
  const other = wrong ?? rng.choice(wrongOptions(correct, options));
  return label ? { label, answer: correct, alternative: other } : { label, answer: other, alternative: correct };
}

/** The options a two-choice example may pair with the correct one: those with other, non-empty text. */
export const wrongOptions = (correct: string, options: readonly string[]): string[] => options.filter((o) => o !== correct && o.trim() !== '');

/** The text weak and strong models read for a two-choice example: the question, then both answers on lines of their own. */
export function twoChoiceText(question: string, a: string, b: string): string {
  return `${question}\nA: ${a}\nB: ${b}`;
}

/**
 * An example of a question about a passage, in weak-to-strong's layout: question = "{heading}{passage}\nQuestion:
 * {question}", text = question + "\nAnswer: {answer}" (heading "Context: ", "Article: ", "Passage: ", ...). The passage
 * is also kept apart, with the question and text as they read without it ("Question: {question}\nAnswer: {answer}"),
 * for hidden-passage debates (debate.passage).
 */
export function passageExample(e: {
  id: string;
  label: 0 | 1;
  heading: string;
  passage: string;
  question: string;
  answer: string;
  meta: Record<string, unknown>;
}): Example {
  const question = `${e.heading}${e.passage}\nQuestion: ${e.question}`;
  return {
    id: e.id,
    text: `${question}\nAnswer: ${e.answer}`,
    label: e.label,
    question,
    answer: e.answer,
    meta: e.meta,
    passage: e.passage,
    withoutPassage: { question: e.question, text: `Question: ${e.question}\nAnswer: ${e.answer}` },
  };
}

/**
 * A two-choice example of a question about a passage (dataset.format "two-choice"): question as passageExample gives
 * it, text = question + "\nA: {answer}\nB: {alternative}"; without the passage, "Question: {question}\nA: …\nB: …".
 */
export function twoChoicePassageExample(e: Parameters<typeof passageExample>[0] & { alternative: string }): Example {
  const { alternative, ...claim } = e;
  const base = passageExample(claim);
  return {
    ...base,
    text: twoChoiceText(base.question, e.answer, alternative),
    alternative,
    withoutPassage: { question: e.question, text: twoChoiceText(`Question: ${e.question}`, e.answer, alternative) },
  };
}

/** True when some option's text differs from the correct one, so a wrong answer can be shown. */
export const hasWrongOption = (correct: string | undefined, options: readonly string[]): boolean =>
  correct !== undefined && options.some((o) => o !== correct);

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A 0-based option index given as a number or a digit string (JSON releases use one, CSV/TSV/hub copies the other). */
export function indexField(max: number, what: string): z.ZodType<number> {
  return z.union([z.number().int().min(0).max(max), z.string().trim().regex(new RegExp(`^[0-${max}]$`)).transform(Number)], {
    error: `expected ${what}: a number from 0 to ${max}`,
  });
}

/** A non-empty string; the message says which field it is, for rows nested several levels deep. */
export const text = (): z.ZodString => z.string().min(1, { error: 'must not be empty' });

/** An optional id as releases give it: a string or a number, kept as a string. */
export const sourceId = z.union([z.string(), z.number()]).transform(String).optional();

/** The entries whose value is present (not undefined or null): metadata never holds empty keys. */
export function defined(meta: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined && v !== null));
}
