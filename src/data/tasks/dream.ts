import { z } from 'zod';
import type { Rng } from '../../rng.js';
import type { Example } from '../types.js';
import { drawShown, hasWrongOption, isRecord, passageExample, text } from './common.js';

/**
 * DREAM: dialogues from English exams, each with multiple-choice questions. Release (`data/train.json`, `dev.json`,
 * `test.json` of github.com/nlpdata/dream): one JSON array whose elements are arrays
 * `[[turn, ...], [{"question", "choice": [3], "answer"}, ...], "dialogue id"]`; `answer` is the text of the right
 * choice. `normalizeDream` reads each element as `{dialogue, questions, id}`, and the hub's one-row-per-question copy
 * (dataset-org/dream: `dialogue_id`, `dialogue`, `question`, `choice`, `answer`) as the same with one question.
 */
const questionSchema = z
  .object({ question: text(), choice: z.array(z.string()).min(2, { error: 'needs at least two choices' }), answer: text() })
  .superRefine((q, ctx) => {
    if (!q.choice.includes(q.answer)) ctx.addIssue({ code: 'custom', path: ['answer'], message: 'is not one of the choices' });
    else if (!hasWrongOption(q.answer, q.choice)) ctx.addIssue({ code: 'custom', path: ['choice'], message: 'every choice is the answer' });
  });

export const dreamRowSchema = z.object({
  dialogue: z.array(z.string()).min(1, { error: 'the dialogue has no turns' }),
  questions: z.array(questionSchema).min(1, { error: 'the dialogue has no questions' }),
  id: z.union([z.string(), z.number()]).transform(String),
});
export type DreamRow = z.infer<typeof dreamRowSchema>;

/** Release element `[turns, questions, id]` or hub row → `{dialogue, questions, id}`; others unchanged. */
export function normalizeDream(value: unknown): unknown {
  if (Array.isArray(value)) return { dialogue: value[0], questions: value[1], id: value[2] };
  if (isRecord(value) && Object.hasOwn(value, 'dialogue_id') && !Object.hasOwn(value, 'questions')) {
    return { dialogue: value.dialogue, questions: [{ question: value.question, choice: value.choice, answer: value.answer }], id: value.dialogue_id };
  }
  return value;
}

/**
 * One example per question, in order (ids `dream/train/4.1`): label = rng.random() < 0.5; shown = the answer if label,
 * else another choice drawn by the same rng; question = "Dialogue:\n{turns, one per line}\nQuestion: {question}",
 * text = question + "\nAnswer: {answer}".
 */
export function formatDream(row: DreamRow, rng: Rng, id: string): Example[] {
  const dialogue = row.dialogue.join('\n');
  return row.questions.map((q, i) => {
    const { label, answer } = drawShown(rng, q.answer, q.choice);
    return passageExample({ id: `${id}.${i}`, label, heading: 'Dialogue:\n', passage: dialogue, question: q.question, answer, meta: { dialogueId: row.id } });
  });
}
