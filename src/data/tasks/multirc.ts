import { z } from 'zod';
import type { Example } from '../types.js';
import { isRecord, passageExample, text } from './common.js';

/**
 * MultiRC (SuperGLUE): a paragraph, questions about it, and candidate answers each labelled right (1) or wrong (0).
 * Release (SuperGLUE's `MultiRC.zip`: `train.jsonl`, `val.jsonl`; `test.jsonl` has no labels): one paragraph per line,
 * `{"idx", "version", "passage": {"text", "questions": [{"question", "idx", "answers": [{"text", "idx", "label"}]}]}}`.
 * The paragraph text keeps the release's `<b>Sent 1: </b>` and `<br>` markup. The hub's copy (super_glue, multirc) has
 * one row per answer (`paragraph`, `question`, `answer`, `idx: {paragraph, question, answer}`, `label`):
 * `normalizeMultirc` reads it as a paragraph with one question and one answer. The original MultiRC json is not read.
 */
const answerSchema = z.object({
  text: z.string(),
  idx: z.number().optional(),
  label: z.union([z.literal(0), z.literal(1), z.literal(true), z.literal(false)], { error: 'expected 0 or 1' }).transform(Number),
});
const questionSchema = z.object({ question: text(), idx: z.number().optional(), answers: z.array(answerSchema).min(1, { error: 'the question has no answers' }) });

export const multircRowSchema = z.object({
  idx: z.number().optional(),
  passage: z.object({ text: text(), questions: z.array(questionSchema).min(1, { error: 'the paragraph has no questions' }) }),
});
export type MultircRow = z.infer<typeof multircRowSchema>;

/** The hub's one-answer row → a release paragraph with one question and one answer; others unchanged. */
export function normalizeMultirc(value: unknown): unknown {
  if (!isRecord(value) || Object.hasOwn(value, 'passage') || !Object.hasOwn(value, 'paragraph')) return value;
  const idx = isRecord(value.idx) ? value.idx : {};
  return {
    idx: idx.paragraph,
    passage: { text: value.paragraph, questions: [{ question: value.question, idx: idx.question, answers: [{ text: value.answer, idx: idx.answer, label: value.label }] }] },
  };
}

/**
 * One example per candidate answer, in file order (ids `multirc/train/0.2.1`: paragraph 0, question 2, answer 1):
 * label = the answer's label (no RNG; EleutherAI/w2s's multirc); question = "Passage: {text}\nQuestion: {question}",
 * answer = the candidate, text = question + "\nAnswer: {answer}".
 */
export function formatMultirc(row: MultircRow, id: string): Example[] {
  return row.passage.questions.flatMap((q, i) =>
    q.answers.map((a, j) => {
      return passageExample({ id: `${id}.${i}.${j}`, label: a.label ? 1 : 0, heading: 'Passage: ', passage: row.passage.text, question: q.question, answer: a.text, meta: {} });
    }),
  );
}
