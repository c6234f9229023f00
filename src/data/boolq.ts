import { z } from 'zod';
import type { Example } from './types.js';

/** A row of the Google BoolQ release (train/dev.jsonl): a yes/no question about a Wikipedia passage. */
export const boolqRowSchema = z.object({
  question: z.string().min(1),
  passage: z.string().min(1),
  answer: z.boolean(),
  title: z.string().optional(),
});
export type BoolqRow = z.infer<typeof boolqRowSchema>;

/**
 * openai/weak-to-strong's boolq: label = answer; text = "Passage: {passage}\nQuestion: {question}" (no RNG).
 * For debate the claim judged is always "the answer is yes": question carries the passage for context, answer is
 * "yes", so label 1 means "yes" is correct.
 */
export function formatBoolq(row: BoolqRow, id: string): Example {
  const text = `Passage: ${row.passage}\nQuestion: ${row.question}`;
  return {
    id,
    text,
    label: row.answer ? 1 : 0,
    question: text,
    answer: 'yes',
    meta: row.title === undefined ? {} : { title: row.title },
    passage: row.passage,
    withoutPassage: { question: row.question, text: `Question: ${row.question}` },
  };
}
