import { basename } from 'node:path';
import { z } from 'zod';
import type { RawRecord } from './readers.js';
import type { Example } from './types.js';

/**
 * The generic format for users' own data, one JSON object per line (any reader format works, .gz too):
 *   {"text": ..., "label": 0|1|true|false}                       the text as a whole is judged
 *   {"question": ..., "answer": ..., "label": ...}                 is this answer to this question correct?
 *   {"question": ..., "candidate": ..., "label": ...}              the same, "candidate" naming the answer
 *   {"question": ..., "answer": ..., "alternative": ..., "label": ...}   two-choice (dataset.format "two-choice")
 * Optional: "id" (string or number; else `jsonl/<file name>/<row index>`), "meta" (an object kept as is), and "text"
 * next to question/answer to override the default text "Question: {question}\nAnswer: {answer}".
 */
export const userRowSchema = z
  .object({
    id: z.union([z.string().min(1), z.number()], { error: 'expected a non-empty string or a number' }).optional(),
    text: z.string().min(1).optional(),
    question: z.string().min(1).optional(),
    answer: z.string().optional(),
    candidate: z.string().optional(),
    /** Two-choice data (dataset.format "two-choice"): answer B; "answer" is answer A and label 1 says A is right. */
    alternative: z.string().min(1).optional(),
    label: z.union([z.literal(0), z.literal(1), z.boolean()], { error: 'expected 0, 1, true or false' }),
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.answer !== undefined && r.candidate !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['candidate'], message: 'give either "answer" or "candidate", not both' });
    }
    const answer = r.answer ?? r.candidate;
    if (r.question !== undefined && answer === undefined) {
      ctx.addIssue({ code: 'custom', path: ['answer'], message: 'missing: a row with "question" needs "answer" (or "candidate")' });
    }
    if (r.question === undefined && answer !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['question'], message: 'missing: a row with "answer"/"candidate" needs "question"' });
    }
    if (r.question === undefined && r.text === undefined) {
      ctx.addIssue({ code: 'custom', path: ['text'], message: 'missing: give "text", or "question" and "answer"' });
    }
  });
export type UserRow = z.infer<typeof userRowSchema>;

/**
 * A row of two-choice data (dataset.format "two-choice"): {"question", "answer" (answer A), "alternative" (answer B),
 * "label": 1 when answer A is right, 0 when B is}; "candidate" may name answer A too. The order is the row's own: put
 * the right answer first in about half the rows, or the position of A tells a model the label.
 */
export const userTwoChoiceRowSchema = userRowSchema.superRefine((r, ctx) => {
  if (r.question === undefined) return; // the base schema has said what is missing
  if (r.alternative === undefined) {
    ctx.addIssue({ code: 'custom', path: ['alternative'], message: 'missing: a two-choice row needs "alternative", answer B (and "answer", answer A)' });
  } else if (r.alternative === (r.answer ?? r.candidate)) {
    ctx.addIssue({ code: 'custom', path: ['alternative'], message: 'answer B is the same text as answer A; give two different answers' });
  }
});

/** The default id prefix for a user file: `jsonl/<file name without extensions>`. */
function userIdPrefix(file: string): string {
  return `jsonl/${basename(file).replace(/(\.(jsonl|ndjson|json|csv))?(\.gz)?$/i, '')}`;
}

/** A user row → example; with text only, question holds the text and answer is empty. No RNG: labels are given. */
export function formatUserRow(row: UserRow, record: RawRecord): Example {
  const label = row.label === true || row.label === 1 ? 1 : 0;
  const id = row.id === undefined ? `${userIdPrefix(record.file)}/${record.index}` : String(row.id);
  const answer = row.answer ?? row.candidate;
  const meta = row.meta ?? {};
  if (row.question !== undefined && answer !== undefined) {
    const text = row.text ?? `Question: ${row.question}\nAnswer: ${answer}`;
    return { id, text, label, question: row.question, answer, meta };
  }
  return { id, text: row.text!, label, question: row.text!, answer: '', meta };
}

/**
 * A two-choice user row → example (label as given: 1 when answer A is right); text "Question: {question}\nA: {answer
 * A}\nB: {answer B}" unless the row gives its own "text".
 */
export function formatUserTwoChoiceRow(row: UserRow, record: RawRecord): Example {
  const claim = formatUserRow(row, record);
  const alternative = row.alternative!;
  const text = row.text ?? `Question: ${claim.question}\nA: ${claim.answer}\nB: ${alternative}`;
  return { ...claim, text, alternative };
}
