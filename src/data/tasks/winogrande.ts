import { z } from 'zod';
import type { Rng } from '../../rng.js';
import type { Example } from '../types.js';
import { defined, drawPair, drawShown, sourceId, text, twoChoiceText } from './common.js';

/**
 * WinoGrande: a sentence with a blank (`_`) and two fillers. Release rows (`winogrande_1.1.zip`: `train_xl.jsonl`,
 * `dev.jsonl`; `test.jsonl` has no answers): `{"qID": ..., "sentence": ..., "option1": ..., "option2": ..., "answer":
 * "1" | "2"}`. The hub's copy (allenai/winogrande) has the same fields without qID.
 */
export const winograndeRowSchema = z
  .object({
    qID: sourceId,
    sentence: text(),
    option1: text(),
    option2: text(),
    answer: z.union([z.literal('1'), z.literal('2'), z.literal(1), z.literal(2)], { error: 'expected "1" or "2", the option that fills the blank' }).transform(Number),
  })
  .refine((r) => r.option1 !== r.option2, { message: 'both options are the same', path: ['option2'] });
export type WinograndeRow = z.infer<typeof winograndeRowSchema>;

/**
 * label = rng.random() < 0.5; the filler shown is the right option if label, else the other;
 * text = "Q: {sentence} A: {option}" (the sentence keeps its blank).
 */
export function formatWinogrande(row: WinograndeRow, rng: Rng, id: string): Example {
  const options = [row.option1, row.option2];
  const { label, answer } = drawShown(rng, options[row.answer - 1]!, options);
  return { id, text: `Q: ${row.sentence} A: ${answer}`, label, question: row.sentence, answer, meta: defined({ sourceId: row.qID }) };
}

/** The two-choice form (dataset.format "two-choice"): both fillers, in the order drawPair draws; text = "Q: {sentence}\nA: …\nB: …". */
export function formatWinograndeTwoChoice(row: WinograndeRow, rng: Rng, id: string): Example {
  const options = [row.option1, row.option2];
  const { label, answer, alternative } = drawPair(rng, options[row.answer - 1]!, options);
  return { id, text: twoChoiceText(`Q: ${row.sentence}`, answer, alternative), label, question: row.sentence, answer, alternative, meta: defined({ sourceId: row.qID }) };
}
