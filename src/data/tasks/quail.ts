import { z } from 'zod';
import type { Rng } from '../../rng.js';
import type { Example } from '../types.js';
import { defined, drawShown, hasWrongOption, indexField, passageExample, sourceId, text } from './common.js';

/**
 * QuAIL: a 300-350 word text and questions with four options, one of them often "not enough information". Release
 * rows (`quail_v1.3/json/train.jsonl`, `dev.jsonl`, `challenge.jsonl`; one row per question): `{"id": "f001_0",
 * "context_id": "f001", "context": ..., "question": ..., "question_type": ..., "answers": [4], "correct_answer_id":
 * "2", "domain": ..., "metadata": {author, title, url}}`. The hub's copy (textmachinelab/quail) has the same fields
 * with correct_answer_id a number. The XML files of the release are not read.
 */
export const quailRowSchema = z
  .object({
    id: sourceId,
    context_id: z.string().optional(),
    context: text(),
    question: text(),
    question_type: z.string().optional(),
    domain: z.string().optional(),
    answers: z.array(z.string()).length(4, { error: 'expected the four answer options' }),
    correct_answer_id: indexField(3, 'the index of the correct answer'),
  })
  .refine((r) => hasWrongOption(r.answers[r.correct_answer_id], r.answers), { message: 'all four answers are the same', path: ['answers'] });
export type QuailRow = z.infer<typeof quailRowSchema>;

/**
 * label = rng.random() < 0.5; shown = the correct answer if label, else another drawn by the same rng;
 * text = "Context: {context}\nQuestion: {question}\nAnswer: {answer}" (cosmos_qa's template).
 */
export function formatQuail(row: QuailRow, rng: Rng, id: string): Example {
  const { label, answer } = drawShown(rng, row.answers[row.correct_answer_id]!, row.answers);
  const meta = defined({ sourceId: row.id, contextId: row.context_id, questionType: row.question_type, domain: row.domain });
  return passageExample({ id, label, heading: 'Context: ', passage: row.context, question: row.question, answer, meta });
}
