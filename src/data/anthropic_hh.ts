import { z } from 'zod';
import type { Rng } from '../rng.js';
import type { Example } from './types.js';

const ASSISTANT_TURN = '\n\nAssistant:';

const transcript = z.string().refine((t) => t.includes(ASSISTANT_TURN), {
  message: 'has no "\\n\\nAssistant:" turn',
});

/** A row of Anthropic's hh-rlhf release (e.g. harmless-base/test.jsonl.gz): the preferred and the rejected dialogue. */
export const anthropicHhRowSchema = z.object({ chosen: transcript, rejected: transcript });
export type AnthropicHhRow = z.infer<typeof anthropicHhRowSchema>;

/** Splits a dialogue at its last assistant turn: everything before it, and that turn's reply. */
export function splitFinalAssistantTurn(dialogue: string): { question: string; answer: string } {
  const at = dialogue.lastIndexOf(ASSISTANT_TURN);
  return { question: dialogue.slice(0, at).trim(), answer: dialogue.slice(at + ASSISTANT_TURN.length).trim() };
}

/**
 * openai/weak-to-strong's anthropic_hh: label = rng.random() < 0.5; text = chosen if label else rejected (one
 * transcript shown, hence near chance). For debate the question is the shown dialogue up to its final assistant turn
 * and the answer is that final reply: "is this reply the preferred one?".
 */
export function formatAnthropicHh(row: AnthropicHhRow, rng: Rng, id: string): Example {
  const label = rng.random() < 0.5 ? 1 : 0;
  const text = label ? row.chosen : row.rejected;
  return { id, text, label, ...splitFinalAssistantTurn(text), meta: {} };
}
