import { z } from 'zod';
import type { Rng } from '../rng.js';
import { drawPair, passageExample, twoChoicePassageExample, wrongOptions } from './tasks/common.js';
import type { Example } from './types.js';

/** The option that marks "no listed answer is right"; it is never shown as a correct answer (weak-to-strong's rule). */
export const NONE_OF_THE_ABOVE = 'None of the above choices .';

/** The index of the correct option: a number in the JSON releases, a string in the CSV release. */
const labelIndex = z.union(
  [z.number().int().min(0).max(3), z.string().trim().regex(/^[0-3]$/).transform(Number)],
  { error: 'expected the index of the correct option: 0, 1, 2 or 3' },
);

/** A row of the Cosmos QA release (train/valid.csv): a context, a question, four options and the correct one's index. */
export const cosmosQaRowSchema = z
  .object({
    id: z.string().optional(),
    context: z.string().min(1),
    question: z.string().min(1),
    answer0: z.string(),
    answer1: z.string(),
    answer2: z.string(),
    answer3: z.string(),
    label: labelIndex,
  })
  .refine((r) => options(r).some((o) => o !== options(r)[r.label]), {
    message: 'all four options are the same, so no wrong answer can be shown',
    path: ['answer0'],
  });
export type CosmosQaRow = z.infer<typeof cosmosQaRowSchema>;

function options(r: { answer0: string; answer1: string; answer2: string; answer3: string }): string[] {
  return [r.answer0, r.answer1, r.answer2, r.answer3];
}

/**
 * openai/weak-to-strong's cosmos_qa: when the true option contains "None of the above choices ." the label is 0 and
 * no label draw is made; otherwise label = rng.random() < 0.5. The answer shown is the true option if label, else one
 * of the options that differ from it, chosen by the same rng.
 * text = "Context: {context}\nQuestion: {question}\nAnswer: {answer}".
 */
export function formatCosmosQa(row: CosmosQaRow, rng: Rng, id: string): Example {
  const all = options(row);
  const truth = all[row.label]!;
  const label = truth.includes(NONE_OF_THE_ABOVE) ? 0 : rng.random() < 0.5 ? 1 : 0;
  const answer = label ? truth : rng.choice(all.filter((o) => o !== truth));
  const meta = row.id === undefined ? {} : { sourceId: row.id };
  return passageExample({ id, label, heading: 'Context: ', passage: row.context, question: row.question, answer, meta });
}

/**
 * The two-choice form (dataset.format "two-choice"): the true option and one other drawn by the rng (drawPair: label
 * first, then the wrong option), "None of the above choices ." left out on both sides since with two answers shown it
 * names neither; a row whose true option is that one, or that has no other option, gives no example.
 * text = "Context: {context}\nQuestion: {question}\nA: {answer A}\nB: {answer B}".
 */
export function formatCosmosQaTwoChoice(row: CosmosQaRow, rng: Rng, id: string): Example[] {
  const truth = options(row)[row.label]!;
  const others = wrongOptions(truth, options(row)).filter((o) => !o.includes(NONE_OF_THE_ABOVE));
  if (truth.includes(NONE_OF_THE_ABOVE) || others.length === 0) return [];
  const { label, answer, alternative } = drawPair(rng, truth, others);
  const meta = row.id === undefined ? {} : { sourceId: row.id };
  return [twoChoicePassageExample({ id, label, heading: 'Context: ', passage: row.context, question: row.question, answer, alternative, meta })];
}
