import { z } from 'zod';
import type { Example } from '../types.js';
import { text } from './common.js';

/**
 * SST-2 (GLUE): movie-review sentences labelled negative (0) or positive (1). Release (GLUE's `SST-2.zip`): `train.tsv`
 * and `dev.tsv` with a header row `sentence\tlabel` (`test.tsv` has no labels). The hub's copy (stanfordnlp/sst2) has
 * `idx`, `sentence`, `label`.
 */
export const sst2RowSchema = z.object({
  sentence: text(),
  label: z.union([z.literal(0), z.literal(1), z.literal('0'), z.literal('1')], { error: 'expected 0 (negative) or 1 (positive)' }).transform(Number),
});
export type Sst2Row = z.infer<typeof sst2RowSchema>;

/**
 * label = the row's label (no RNG); text = the sentence (EleutherAI/w2s's sst2). For debate the claim judged is always
 * "the sentiment is positive": question = the sentence, answer = "positive", so label 1 means the claim is right.
 */
export function formatSst2(row: Sst2Row, id: string): Example {
  return { id, text: row.sentence, label: row.label ? 1 : 0, question: row.sentence, answer: 'positive', meta: {} };
}
