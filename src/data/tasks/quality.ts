import { z } from 'zod';
import type { Rng } from '../../rng.js';
import type { Example } from '../types.js';
import { defined, drawPair, drawShown, passageExample, text, twoChoicePassageExample, wrongOptions } from './common.js';

/**
 * QuALITY (long-document multiple choice). Release (github.com/nyu-mll/quality `data/v1.0.1/QuALITY.v1.0.1.zip`:
 * `QuALITY.v1.0.1.htmlstripped.train`, `.dev`, `.test`, JSON lines without an extension): one line per article and
 * question writer, `{"article_id", "set_unique_id", "title", "author", "article", "questions": [{"question",
 * "question_unique_id", "options": [4], "gold_label": 1-4, "writer_label", "validation": [{"untimed_answer",
 * "untimed_best_distractor": 1-4, ...}], "speed_validation", "difficult": 0 | 1}]}`. Two lines share each article_id
 * (two writers). The test file has no gold labels.
 */
const validationSchema = z.object({ untimed_best_distractor: z.number().int().min(1).max(4).nullish() });

const questionSchema = z
  .object({
    question: text(),
    question_unique_id: z.string().optional(),
    options: z.array(z.string()).length(4, { error: 'expected four options' }),
    gold_label: z.number({ error: 'missing or not a number: the option number (1-4) of the right answer' }).int().min(1).max(4),
    validation: z.array(validationSchema).optional(),
    difficult: z.union([z.literal(0), z.literal(1), z.boolean()]).optional(),
  })
  .refine((q) => q.options.some((o) => o !== q.options[q.gold_label - 1]), { message: 'all four options are the same', path: ['options'] });

export const qualityRowSchema = z.object({
  article_id: z.union([z.string(), z.number()]).transform(String),
  set_unique_id: z.string().optional(),
  title: z.string().optional(),
  article: text(),
  questions: z.array(questionSchema).min(1, { error: 'the set has no questions' }),
});
export type QualityRow = z.infer<typeof qualityRowSchema>;
type QualityQuestion = QualityRow['questions'][number];

/**
 * The best distractor, for two-answer debates (Michael et al. 2023, Khan et al. 2024): the wrong option that the
 * untimed validators named most often as `untimed_best_distractor`, ties broken by the lower option number. Without
 * such votes, the first option that is not the gold one (`from: "first wrong option"`).
 */
export function bestDistractor(q: QualityQuestion): { index: number; from: 'votes' | 'first wrong option' } {
  const votes = [0, 0, 0, 0];
  for (const v of q.validation ?? []) {
    const n = v.untimed_best_distractor;
    if (n != null && n !== q.gold_label && q.options[n - 1] !== q.options[q.gold_label - 1]) votes[n - 1]!++;
  }
  const most = Math.max(...votes);
  if (most > 0) return { index: votes.indexOf(most), from: 'votes' };
  return { index: q.options.findIndex((o) => o !== q.options[q.gold_label - 1]), from: 'first wrong option' };
}

/**
 * One example per question, in order (ids `quality/<split>/3.5`): label = rng.random() < 0.5; shown = the gold option
 * if label, else another option drawn by the same rng (any of the three, as for the other tasks);
 * question = "Article: {article}\nQuestion: {question}", text = question + "\nAnswer: {answer}". For hidden-passage
 * debates with two answers, meta keeps the bare question, the correct option and the best distractor.
 */
export function formatQuality(row: QualityRow, rng: Rng, id: string): Example[] {
  return row.questions.map((q, i) => {
    const correct = q.options[q.gold_label - 1]!;
    const { label, answer } = drawShown(rng, correct, q.options);
    const distractor = bestDistractor(q);
    return passageExample({
      id: `${id}.${i}`,
      label,
      heading: 'Article: ',
      passage: row.article,
      question: q.question,
      answer,
      meta: defined({
        ...questionMeta(row, q),
        question: q.question,
        correctAnswer: correct,
        bestDistractor: q.options[distractor.index],
        bestDistractorFrom: distractor.from,
      }),
    });
  });
}

/**
 * The two-choice form (dataset.format "two-choice"), as in the two-answer debates of Michael et al. 2023 and Khan et
 * al. 2024: the gold option against the validators' best distractor where their votes name one, else against another
 * option drawn by the rng (drawPair: label first, then the wrong option); answer A is the gold option if label.
 * text = "Article: {article}\nQuestion: {question}\nA: {answer A}\nB: {answer B}". meta.distractorFrom says where the
 * wrong answer came from ("votes" or "drawn").
 */
/** Where a question comes from, in both forms' meta. */
function questionMeta(row: QualityRow, q: QualityRow['questions'][number]): Record<string, unknown> {
  return {
    articleId: row.article_id,
    setId: row.set_unique_id,
    questionId: q.question_unique_id,
    title: row.title,
    difficult: q.difficult === undefined ? undefined : Boolean(q.difficult),
  };
}

export function formatQualityTwoChoice(row: QualityRow, rng: Rng, id: string): Example[] {
  return row.questions.flatMap((q, i) => {
    const correct = q.options[q.gold_label - 1]!;
    const best = bestDistractor(q);
    const voted = best.from === 'votes' ? q.options[best.index] : undefined;
    if (voted === undefined && wrongOptions(correct, q.options).length === 0) return []; // only empty wrong options
    const { label, answer, alternative } = drawPair(rng, correct, q.options, voted);
    return twoChoicePassageExample({
      id: `${id}.${i}`,
      label,
      heading: 'Article: ',
      passage: row.article,
      question: q.question,
      answer,
      alternative,
      meta: defined({ ...questionMeta(row, q), distractorFrom: voted === undefined ? 'drawn' : 'votes' }),
    });
  });
}
