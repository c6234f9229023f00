import { z } from 'zod';
import type { Example } from '../types.js';
import { isRecord, sourceId, text } from './common.js';

/**
 * Adversarial NLI. Release (`anli_v1.0.zip`: `R1/`, `R2/`, `R3/`, each with `train.jsonl`, `dev.jsonl`, `test.jsonl`):
 * rows `{"uid", "context", "hypothesis", "label": "e" | "n" | "c", "model_label", "emturk", "genre", "reason", "tag"}`;
 * the premise is called `context`. The hub's copy (facebook/anli) calls it `premise` and numbers the labels
 * (0 entailment, 1 neutral, 2 contradiction): `normalizeAnli` maps it to the release layout.
 */
export const anliRowSchema = z.object({
  uid: sourceId,
  context: text(),
  hypothesis: text(),
  label: z.enum(['e', 'n', 'c'], { error: 'expected "e" (entailment), "n" (neutral) or "c" (contradiction)' }),
});
export type AnliRow = z.infer<typeof anliRowSchema>;

const HUB_LABELS = ['e', 'n', 'c'] as const;

/** The hub's row (premise, label 0-2) → the release's (context, label e/n/c); others unchanged. */
export function normalizeAnli(value: unknown): unknown {
  if (!isRecord(value) || !Object.hasOwn(value, 'premise') || Object.hasOwn(value, 'context')) return value;
  const { premise, label, ...rest } = value;
  const letter = typeof label === 'number' && Number.isInteger(label) ? HUB_LABELS[label] : undefined;
  return { ...rest, context: premise, label: letter ?? label };
}

const NLI_NAMES = { e: 'entailment', n: 'neutral', c: 'contradiction' } as const;

/**
 * Binarised as EleutherAI/w2s does: label 1 iff the gold label is entailment, 0 for neutral and contradiction (no
 * RNG; about a third of the rows are 1). The claim judged is "the premise entails the hypothesis":
 * question = text = "Premise: {context}\nHypothesis: {hypothesis}\nDoes the premise entail the hypothesis?",
 * answer = "yes". `meta.nli` keeps the three-way label.
 */
export function formatAnli(row: AnliRow, id: string): Example {
  const text = `Premise: ${row.context}\nHypothesis: ${row.hypothesis}\nDoes the premise entail the hypothesis?`;
  const meta: Record<string, unknown> = { nli: NLI_NAMES[row.label] };
  if (row.uid !== undefined) meta.sourceId = row.uid;
  return { id, text, label: row.label === 'e' ? 1 : 0, question: text, answer: 'yes', meta };
}
