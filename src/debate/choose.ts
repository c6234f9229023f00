/**
 * Open roles (Kenton et al. 2024): before the first turn the agent chooses the side it argues, in one short call.
 * Debate: debater A chooses and B takes the other side; consultancy: the consultant chooses.
 */
import type { Protocol } from './protocols.js';
import type { Generator } from './run.js';
import { optionalSlots, render, type Template } from './templates.js';
import type { Side } from './transcript.js';
import { deriveSeed } from '../rng.js';

/** What the choice call returned: the side it states (null when it states none), its reply and its ledger row. */
export interface Choice {
  side: Side | null;
  reply: string;
  callId: number | null;
}

/** The reply may be cut short or wordy: room for "Side: incorrect" and a few words around it. */
export const CHOICE_MAX_TOKENS = 16;

const ROLE: Partial<Record<Protocol, string>> = {
  debate: 'You are Debater A in a debate with another debater, who will argue the opposite side.',
  consultancy: 'You are a consultant: you alone will argue one side to a judge.',
};

/**
 * The side a reply states: the word "correct" or "incorrect" after its last "Side:" marker, or, in a reply without a
 * marker, as its first word (the prompt ends in "Side:", so the reply starts with the value). Anything else, or a
 * reply naming both, states no side.
 */
export function parseSide(reply: string): Side | null {
  const markers = [...reply.matchAll(/\bside\s*:/gi)];
  const last = markers[markers.length - 1];
  const rest = last ? reply.slice(last.index! + last[0].length) : reply;
  const m = /^[\s*"'`]*(correct|incorrect)\b/i.exec(rest);
  return m ? (m[1]!.toLowerCase() as Side) : null;
}

export async function chooseSide(input: {
  protocol: Protocol;
  template: Template;
  task: string;
  question: string;
  answer: string;
  /** The passage, when the debaters read one (debate.passage "debaters" or "all"). */
  passage?: string | null;
  chooser: Generator;
  seed: number;
  sample: number;
  temperature: number;
  signal?: AbortSignal;
}): Promise<Choice> {
  const role = ROLE[input.protocol];
  if (!role) throw new Error(`open roles apply to debate and consultancy, not ${input.protocol}`);
  const prompt = render(input.template, { task: input.task, question: input.question, answer: input.answer, role, ...optionalSlots(input.template, { passage: input.passage ?? '' }) });
  const result = await input.chooser.generate(
    { messages: [{ role: 'user', content: prompt }], maxTokens: CHOICE_MAX_TOKENS, temperature: input.temperature, seed: deriveSeed(input.seed, 'choose') },
    { sample: input.sample, signal: input.signal },
  );
  return { side: parseSide(result.text), reply: result.text, callId: result.callId };
}
