import { basename } from 'node:path';
import { z } from 'zod';
import type { RawRecord } from './readers.js';
import type { Example } from './types.js';

/**
 * The generic format for users' own data, one JSON object per line (any reader format works, .gz too):
 *   {"text": ..., "label": 0|1|true|false}                       the text as a whole is judged
 *   {"question": ..., "answer": ..., "label": ...}                 is this answer to this question correct?
 *   {"question": ..., "candidate": ..., "label": ...}              the same, "candidate" naming the answer
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
