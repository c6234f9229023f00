import { z } from 'zod';
import type { Example } from '../types.js';
import { isTsv, readTsv } from './files.js';
import { readRecords, type RawRecord } from '../readers.js';
import { defined, passageExample, text } from './common.js';

/**
 * MC-TACO (temporal commonsense): a sentence, a question about it and one candidate answer per row, judged plausible
 * ("yes") or not ("no"). Release (github.com/CogComp/MCTACO `dataset/dev_3783.tsv`, `test_9442.tsv`): tab-separated,
 * no header, columns sentence, question, answer, label, category. The hub's copy (CogComp/mc_taco) numbers the
 * label (0 no, 1 yes) and the category.
 */
export const MC_TACO_COLUMNS = ['sentence', 'question', 'answer', 'label', 'category'] as const;

export const mcTacoRowSchema = z.object({
  sentence: text(),
  question: text(),
  answer: text(),
  label: z.union([z.literal('yes'), z.literal('no'), z.literal(0), z.literal(1)], { error: 'expected "yes" or "no"' })
    .transform((v) => (v === 'yes' || v === 1 ? 1 : 0)),
  category: z.union([z.string(), z.number()]).optional(),
});
export type McTacoRow = z.infer<typeof mcTacoRowSchema>;

/** `.tsv` files are the headerless release; anything else (the hub's export) goes to the generic readers. */
export async function readMcTaco(file: string): Promise<Iterable<RawRecord>> {
  return isTsv(file) ? readTsv(file, { columns: MC_TACO_COLUMNS }) : readRecords(file);
}

/**
 * label = the row's label, yes → 1 (no RNG; EleutherAI/w2s's mc_taco); question = "Context: {sentence}\nQuestion:
 * {question}", answer = the candidate, text = question + "\nAnswer: {answer}".
 */
export function formatMcTaco(row: McTacoRow, id: string): Example {
  return passageExample({ id, label: row.label ? 1 : 0, heading: 'Context: ', passage: row.sentence, question: row.question, answer: row.answer, meta: defined({ category: row.category }) });
}
