import { z } from 'zod';
import type { Rng } from '../../rng.js';
import type { Example } from '../types.js';

/**
 * GSM8K (grade-school math word problems). Release (github.com/openai/grade-school-math `grade_school_math/data/
 * train.jsonl`, `test.jsonl`): `{"question": ..., "answer": "<worked solution>\n#### <number>"}`. The hub's copy
 * (openai/gsm8k, config main) has the same two fields.
 */
const FINAL = /^-?\d+(\.\d+)?$/;

/** The number after the last "####", commas dropped (`1,200` → `1200`); undefined when there is none. */
export function finalAnswer(answer: string): string | undefined {
  const at = answer.lastIndexOf('####');
  if (at === -1) return undefined;
  const n = answer.slice(at + 4).trim().replace(/,/g, '');
  return FINAL.test(n) ? n : undefined;
}

export const gsm8kRowSchema = z
  .object({ question: z.string().min(1), answer: z.string().min(1) })
  .refine((r) => finalAnswer(r.answer) !== undefined, { message: 'has no final number after "####"', path: ['answer'] });
export type Gsm8kRow = z.infer<typeof gsm8kRowSchema>;

/**
 * A wrong final answer, never equal to the right one: the right number x moved by k whole units, k drawn uniformly
 * from 1..max(1, ceil(|x| / 2)) (rng.int), then down if rng.random() < 0.5 and (x < 0 or x - k >= 0), else up. It
 * keeps x's decimal places (2.5 → 1.5 or 3.5, ...), so it reads like an answer of the same kind.
 */
export function wrongAnswer(right: string, rng: Rng): string {
  const decimals = right.includes('.') ? right.length - right.indexOf('.') - 1 : 0;
  const scale = 10 ** decimals;
  const x = Math.round(Number(right) * scale);
  const k = (1 + rng.int(Math.max(1, Math.ceil(Math.abs(x) / scale / 2)))) * scale;
  const down = rng.random() < 0.5 && (x < 0 || x - k >= 0);
  return ((down ? x - k : x + k) / scale).toFixed(decimals);
}

/**
 * label = rng.random() < 0.5; the final answer shown is the right one (after "####") if label, else `wrongAnswer`
 * with the same rng; text = "Q: {question} A: {number}". meta.solution is the worked solution (the text before "####").
 */
export function formatGsm8k(row: Gsm8kRow, rng: Rng, id: string): Example {
  const right = finalAnswer(row.answer)!;
  const label = rng.random() < 0.5 ? 1 : 0;
  const answer = label ? right : wrongAnswer(right, rng);
  return {
    id,
    text: `Q: ${row.question} A: ${answer}`,
    label,
    question: row.question,
    answer,
    meta: { solution: row.answer.slice(0, row.answer.lastIndexOf('####')).trim() },
  };
}
