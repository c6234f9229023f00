import { z } from 'zod';
import type { Rng } from '../rng.js';
import type { Example } from './types.js';

/** A row of the AI2 SciQ release (train/valid/test.json): one question, its answer, three distractors, a support passage. */
export const sciqRowSchema = z.object({
  question: z.string().min(1),
  correct_answer: z.string().min(1),
  distractor1: z.string(),
  distractor2: z.string(),
  distractor3: z.string(),
  support: z.string().optional(),
});
export type SciqRow = z.infer<typeof sciqRowSchema>;

/**
 * openai/weak-to-strong's sciq: label = rng.random() < 0.5; the answer shown is the correct one if label, else one of
 * the three distractors chosen by the same rng; text = "Q: {question} A: {answer}".
 */
export function formatSciq(row: SciqRow, rng: Rng, id: string): Example {
  const label = rng.random() < 0.5 ? 1 : 0;
  const answer = label ? row.correct_answer : rng.choice([row.distractor1, row.distractor2, row.distractor3]);
  return {
    id,
    text: `Q: ${row.question} A: ${answer}`,
    label,
    question: row.question,
    answer,
    meta: row.support ? { support: row.support } : {},
  };
}
