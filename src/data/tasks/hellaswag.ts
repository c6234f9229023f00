import { z } from 'zod';
import type { Rng } from '../../rng.js';
import type { Example } from '../types.js';
import { defined, drawPair, drawShown, hasWrongOption, indexField, sourceId, text, twoChoiceText, wrongOptions } from './common.js';

/**
 * HellaSwag: the start of an ActivityNet or WikiHow description and four endings. Release rows
 * (`hellaswag_train.jsonl`, `hellaswag_val.jsonl`): `{"ind", "activity_label", "ctx_a", "ctx_b", "ctx", "split",
 * "split_type", "label": 0-3, "endings": [4], "source_id"}`; the test file has no label. The hub's copy (Rowan/hellaswag)
 * has the same fields with `label` a string.
 */
export const hellaswagRowSchema = z
  .object({
    ind: sourceId,
    activity_label: z.string().optional(),
    ctx: text(),
    endings: z.array(z.string()).length(4, { error: 'expected the four endings' }),
    label: indexField(3, 'the index of the true ending'),
    source_id: z.string().optional(),
  })
  .refine((r) => hasWrongOption(r.endings[r.label], r.endings), { message: 'all four endings are the same', path: ['endings'] });
export type HellaswagRow = z.infer<typeof hellaswagRowSchema>;

/**
 * label = rng.random() < 0.5; the ending shown is the true one if label, else another drawn by the same rng;
 * text = "Context: {ctx}\nEnding: {ending}" (question = "Context: {ctx}", answer = the ending).
 */
export function formatHellaswag(row: HellaswagRow, rng: Rng, id: string): Example {
  const { label, answer } = drawShown(rng, row.endings[row.label]!, row.endings);
  const question = `Context: ${row.ctx}`;
  return {
    id,
    text: `${question}\nEnding: ${answer}`,
    label,
    question,
    answer,
    meta: defined({ sourceId: row.ind, activity: row.activity_label, source: row.source_id }),
  };
}

/**
 * The two-choice form (dataset.format "two-choice"): the true ending and another drawn by the rng (drawPair);
 * text = "Context: {ctx}\nA: {ending A}\nB: {ending B}".
 */
export function formatHellaswagTwoChoice(row: HellaswagRow, rng: Rng, id: string): Example[] {
  const correct = row.endings[row.label]!;
  if (wrongOptions(correct, row.endings).length === 0) return [];
  const { label, answer, alternative } = drawPair(rng, correct, row.endings);
  const question = `Context: ${row.ctx}`;
  const meta = defined({ sourceId: row.ind, activity: row.activity_label, source: row.source_id });
  return [{ id, text: twoChoiceText(question, answer, alternative), label, question, answer, alternative, meta }];
}
