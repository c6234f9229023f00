import { z } from 'zod';
import type { Rng } from '../../rng.js';
import type { Example } from '../types.js';
import { drawShown, hasWrongOption, isRecord, passageExample, text } from './common.js';

/**
 * RACE (English exams for Chinese middle and high school students). Release (`RACE.tar.gz`): folders
 * `RACE/train/high/`, `RACE/train/middle/`, `RACE/dev/...`, `RACE/test/...` holding one JSON object per article file
 * (`1001.txt`): `{"id": "high1001.txt", "article": ..., "questions": [...], "options": [[4], ...], "answers":
 * ["B", ...]}`, the i-th answer letter naming one of the i-th question's options. A pool is a folder (read by
 * `readObjectPerFile`, files in path order) or one JSON-lines file of such objects. The hub's copy (ehovy/race: one row
 * per question, `example_id`, `article`, `question`, `options`, `answer`) is read as an article with one question.
 */
const LETTERS = ['A', 'B', 'C', 'D'] as const;

export const raceRowSchema = z
  .object({
    id: z.string().optional(),
    article: text(),
    questions: z.array(z.string()).min(1, { error: 'the article has no questions' }),
    options: z.array(z.array(z.string()).length(4, { error: 'expected four options' })),
    answers: z.array(z.enum(LETTERS, { error: 'expected an answer letter A, B, C or D' })),
  })
  .superRefine((row, ctx) => {
    if (row.options.length !== row.questions.length || row.answers.length !== row.questions.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['answers'],
        message: `${row.questions.length} questions but ${row.options.length} option lists and ${row.answers.length} answers; they must match`,
      });
      return;
    }
    row.options.forEach((opts, i) => {
      if (!hasWrongOption(opts[LETTERS.indexOf(row.answers[i]!)], opts)) {
        ctx.addIssue({ code: 'custom', path: ['options', i], message: 'all four options are the same' });
      }
    });
  });
export type RaceRow = z.infer<typeof raceRowSchema>;

/** The hub's one-question row → an article with one question; others unchanged. */
export function normalizeRace(value: unknown): unknown {
  if (!isRecord(value) || Object.hasOwn(value, 'questions') || !Object.hasOwn(value, 'question')) return value;
  return { id: value.example_id, article: value.article, questions: [value.question], options: [value.options], answers: [value.answer] };
}

/**
 * One example per question, in order (ids `race/train/12.0`): label = rng.random() < 0.5; shown = the option the
 * answer letter names if label, else another drawn by the same rng; question = "Article: {article}\nQuestion:
 * {question}", text = question + "\nAnswer: {answer}".
 */
export function formatRace(row: RaceRow, rng: Rng, id: string): Example[] {
  return row.questions.map((q, i) => {
    const options = row.options[i]!;
    const { label, answer } = drawShown(rng, options[LETTERS.indexOf(row.answers[i]!)]!, options);
    const meta = row.id === undefined ? {} : { sourceId: row.id };
    return passageExample({ id: `${id}.${i}`, label, heading: 'Article: ', passage: row.article, question: q, answer, meta });
  });
}
