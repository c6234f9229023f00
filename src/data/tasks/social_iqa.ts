import { z } from 'zod';
import type { Rng } from '../../rng.js';
import type { Example } from '../types.js';
import { drawPair, drawShown, hasWrongOption, text, twoChoiceText, wrongOptions } from './common.js';

/**
 * Social IQa: a short social situation, a question and three answers. Release (`socialiqa-train-dev.zip`):
 * `train.jsonl` / `dev.jsonl` rows `{"context", "question", "answerA", "answerB", "answerC"}`, with the labels in
 * `train-labels.lst` / `dev-labels.lst`, one per line: 1, 2 or 3 (A, B, C). The hub's copy (allenai/social_i_qa)
 * carries `label` ("1"-"3") in each row.
 */
export const socialIqaRowSchema = z
  .object({
    context: text(),
    question: text(),
    answerA: z.string(),
    answerB: z.string(),
    answerC: z.string(),
    label: z.union([z.number().int().min(1).max(3), z.string().trim().regex(/^[1-3]$/).transform(Number)], {
      error: 'expected 1, 2 or 3 (answerA, B or C) from the labels file',
    }),
  })
  .refine((r) => hasWrongOption(answers(r)[r.label - 1], answers(r)), { message: 'all three answers are the same', path: ['answerA'] });
export type SocialIqaRow = z.infer<typeof socialIqaRowSchema>;

const answers = (r: { answerA: string; answerB: string; answerC: string }): string[] => [r.answerA, r.answerB, r.answerC];

/**
 * label = rng.random() < 0.5; shown = the labelled answer if label, else another drawn by the same rng;
 * text = "Context: {context}\nQuestion: {question}\nAnswer: {answer}".
 */
export function formatSocialIqa(row: SocialIqaRow, rng: Rng, id: string): Example {
  const all = answers(row);
  const { label, answer } = drawShown(rng, all[row.label - 1]!, all);
  const question = `Context: ${row.context}\nQuestion: ${row.question}`;
  return { id, text: `${question}\nAnswer: ${answer}`, label, question, answer, meta: {} };
}

/**
 * The two-choice form (dataset.format "two-choice"): the labelled answer and another drawn by the rng (drawPair);
 * text = "Context: {context}\nQuestion: {question}\nA: {answer A}\nB: {answer B}".
 */
export function formatSocialIqaTwoChoice(row: SocialIqaRow, rng: Rng, id: string): Example[] {
  const all = answers(row);
  const correct = all[row.label - 1]!;
  if (wrongOptions(correct, all).length === 0) return [];
  const { label, answer, alternative } = drawPair(rng, correct, all);
  const question = `Context: ${row.context}\nQuestion: ${row.question}`;
  return [{ id, text: twoChoiceText(question, answer, alternative), label, question, answer, alternative, meta: {} }];
}
