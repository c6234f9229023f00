import { z } from 'zod';
import type { Rng } from '../rng.js';
import { drawPair, twoChoiceText, wrongOptions } from './tasks/common.js';
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
    // The support passage is not in weak-to-strong's text, so the question and text read the same without it.
    ...(row.support?.trim() ? { passage: row.support, withoutPassage: { question: row.question, text: `Q: ${row.question} A: ${answer}` } } : {}),
  };
}

/**
 * The two-choice form (dataset.format "two-choice"): label = rng.random() < 0.5, then one of the three distractors
 * that differ from the correct answer, chosen by the same rng; answer A is the correct answer if label, else the
 * distractor, and answer B the other (drawPair). text = "Q: {question}\nA: {answer A}\nB: {answer B}". A row whose
 * distractors are all empty or repeat the correct answer gives no example.
 */
export function formatSciqTwoChoice(row: SciqRow, rng: Rng, id: string): Example[] {
  const distractors = [row.distractor1, row.distractor2, row.distractor3];
  if (wrongOptions(row.correct_answer, distractors).length === 0) return [];
  const { label, answer, alternative } = drawPair(rng, row.correct_answer, distractors);
  const text = twoChoiceText(`Q: ${row.question}`, answer, alternative);
  return [{
    id,
    text,
    label,
    question: row.question,
    answer,
    alternative,
    meta: row.support ? { support: row.support } : {},
    // As the claim form: the support passage is not in the text, so question and text read the same without it.
    ...(row.support?.trim() ? { passage: row.support, withoutPassage: { question: row.question, text } } : {}),
  }];
}
