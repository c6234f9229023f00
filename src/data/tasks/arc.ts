import { z } from 'zod';
import type { Rng } from '../../rng.js';
import type { Example } from '../types.js';
import { defined, drawPair, drawShown, hasWrongOption, isRecord, sourceId, text, twoChoiceText, wrongOptions } from './common.js';

/**
 * AI2's ARC (and OpenBookQA, which shares its layout): grade-school science questions with 3 to 5 lettered options.
 * Release rows (ARC-V1-Feb2018: `ARC-Easy/ARC-Easy-Train.jsonl`, ...):
 *   {"id": "...", "question": {"stem": "...", "choices": [{"text": "...", "label": "A"}, ...]}, "answerKey": "B"}
 * Labels are letters (A-E) or, for a few questions, digits (1-4); answerKey names one of them.
 */
const choiceSchema = z.object({ text: text(), label: text() });

export const aristoRowSchema = z
  .object({
    id: sourceId,
    question: z.object({ stem: text(), choices: z.array(choiceSchema).min(2, { error: 'needs at least two choices' }) }),
    answerKey: text(),
    /** OpenBookQA's additional release: the science fact the question was written from. */
    fact1: z.string().optional(),
  })
  .superRefine((row, ctx) => {
    const correct = row.question.choices.find((c) => c.label === row.answerKey);
    if (!correct) {
      ctx.addIssue({ code: 'custom', path: ['answerKey'], message: `"${row.answerKey}" is not the label of any choice (${row.question.choices.map((c) => c.label).join(', ')})` });
    } else if (!hasWrongOption(correct.text, row.question.choices.map((c) => c.text))) {
      ctx.addIssue({ code: 'custom', path: ['question', 'choices'], message: 'every choice has the correct text, so no wrong answer can be shown' });
    }
  });
export type AristoRow = z.infer<typeof aristoRowSchema>;

/**
 * The hub's Parquet layout (allenai/ai2_arc: `question` a string and `choices: {text: [], label: []}`; allenai/openbookqa:
 * `question_stem` instead of `question`) → the release layout. Other rows are returned unchanged.
 */
export function normalizeAristo(value: unknown): unknown {
  if (!isRecord(value) || isRecord(value.question) || !isRecord(value.choices)) return value;
  const { question, question_stem, choices, ...rest } = value;
  const texts = Array.isArray(choices.text) ? choices.text : [];
  const labels = Array.isArray(choices.label) ? choices.label : [];
  return {
    ...rest,
    question: { stem: question_stem ?? question, choices: texts.map((t, i) => ({ text: t, label: labels[i] })) },
  };
}

/**
 * label = rng.random() < 0.5; the answer shown is the text of the choice named by answerKey if label, else the text
 * of another choice drawn by the same rng; text = "Q: {stem} A: {answer}" (sciq's template).
 */
export function formatAristo(row: AristoRow, rng: Rng, id: string): Example {
  const texts = row.question.choices.map((c) => c.text);
  const correct = row.question.choices.find((c) => c.label === row.answerKey)!.text;
  const { label, answer } = drawShown(rng, correct, texts);
  const question = row.question.stem;
  return { id, text: `Q: ${question} A: ${answer}`, label, question, answer, meta: defined({ sourceId: row.id, fact: row.fact1 || undefined }) };
}

/**
 * The two-choice form (dataset.format "two-choice"): the text of the choice named by answerKey and another choice's
 * text drawn by the rng (drawPair); text = "Q: {stem}\nA: {answer A}\nB: {answer B}".
 */
export function formatAristoTwoChoice(row: AristoRow, rng: Rng, id: string): Example[] {
  const texts = row.question.choices.map((c) => c.text);
  const correct = row.question.choices.find((c) => c.label === row.answerKey)!.text;
  if (wrongOptions(correct, texts).length === 0) return [];
  const { label, answer, alternative } = drawPair(rng, correct, texts);
  const question = row.question.stem;
  const meta = defined({ sourceId: row.id, fact: row.fact1 || undefined });
  return [{ id, text: twoChoiceText(`Q: ${question}`, answer, alternative), label, question, answer, alternative, meta }];
}
