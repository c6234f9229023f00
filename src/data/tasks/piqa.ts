import { z } from 'zod';
import type { Rng } from '../../rng.js';
import type { Example } from '../types.js';
import { defined, drawPair, drawShown, indexField, sourceId, text, twoChoiceText } from './common.js';

/**
 * PIQA (physical commonsense): a goal and two solutions. Release (`physicaliqa-train-dev.zip`): `train.jsonl` rows
 * `{"goal": ..., "sol1": ..., "sol2": ...}` (some copies add an `id`), with the labels in `train-labels.lst`, one per
 * line: 0 if sol1 is right, 1 if sol2 is (read by `readWithLabelsFile`; the hub's copy carries `label` in each row).
 */
export const piqaRowSchema = z
  .object({
    id: sourceId,
    goal: text(),
    sol1: text(),
    sol2: text(),
    label: indexField(1, 'the index of the right solution (0: sol1, 1: sol2) from the labels file'),
  })
  .refine((r) => r.sol1 !== r.sol2, { message: 'both solutions are the same, so no wrong answer can be shown', path: ['sol2'] });
export type PiqaRow = z.infer<typeof piqaRowSchema>;

/** label = rng.random() < 0.5; shown = the right solution if label, else the other; text = "Q: {goal} A: {solution}". */
export function formatPiqa(row: PiqaRow, rng: Rng, id: string): Example {
  const solutions = [row.sol1, row.sol2];
  const { label, answer } = drawShown(rng, solutions[row.label]!, solutions);
  return { id, text: `Q: ${row.goal} A: ${answer}`, label, question: row.goal, answer, meta: defined({ sourceId: row.id }) };
}

/** The two-choice form (dataset.format "two-choice"): both solutions, in the order drawPair draws; text = "Q: {goal}\nA: …\nB: …". */
export function formatPiqaTwoChoice(row: PiqaRow, rng: Rng, id: string): Example {
  const solutions = [row.sol1, row.sol2];
  const { label, answer, alternative } = drawPair(rng, solutions[row.label]!, solutions);
  return { id, text: twoChoiceText(`Q: ${row.goal}`, answer, alternative), label, question: row.goal, answer, alternative, meta: defined({ sourceId: row.id }) };
}
