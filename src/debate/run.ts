import { hashValue } from '../hash.js';
import type { GenerateRequest, GenerateResult } from '../models/types.js';
import { deriveSeed } from '../rng.js';
import { bestOfTurn, type BestOf, type Draft } from './best-of-n.js';
import type { DebatePlan } from './protocols.js';
import { countQuotes } from './quotes.js';
import { FLAG, optionalSlots, render, type Template } from './templates.js';
import { applyWordLimit, AS_LISTED, formatTranscript, sideLabel, twoChoiceStance, type Turn } from './transcript.js';

/** The slice of a gateway model a debater needs. */
export interface Generator {
  generate(req: GenerateRequest, opts?: { sample?: number; signal?: AbortSignal }): Promise<GenerateResult & { callId: number | null }>;
}

export interface DebateTemplates {
  system: Template;
  turn: Template;
  consultancy: Template;
}

export interface DebateInput {
  plan: DebatePlan;
  task: string;
  question: string;
  answer: string;
  sample: number;
  seed: number;
  /** Debater for speaker A and B (the same model may play both). */
  debaters: { A: Generator; B: Generator };
  templates: DebateTemplates;
  maxTokens: number;
  wordLimit: number;
  temperature: number;
  /** Turns already stored from an earlier, interrupted run: they are reused, not generated again. */
  done: Turn[];
  /** Called after each new turn, so it is stored before the next one starts (with best-of-N: the kept candidate's index). */
  onTurn: (turn: Turn, keptCandidate?: number) => void;
  /** Best-of-N arguments (best-of-n.ts); absent: one sample per turn. */
  bestOf?: BestOf;
  /**
   * Two-choice examples: answer B (`answer` is answer A). Each debater is told the answer it defends, by letter and
   * text; absent or '': the claim form ("the proposed answer is correct / incorrect").
   */
  alternative?: string;
  /** The passage the debaters read (debate.passage) and whether the judges read it too; absent or null: none. */
  passage?: { text: string; judgesRead: boolean } | null;
  /** Open roles: the sides come from debater A's choice, not a draw (the system prompt then says so). */
  openRoles?: boolean;
  signal?: AbortSignal;
}

/** Runs the remaining turns of one transcript, in order; each turn's prompt carries the transcript so far. */
export async function runDebate(input: DebateInput): Promise<Turn[]> {
  const turns = input.done.slice().sort((a, b) => a.index - b.index);
  const protocol = input.plan.protocol;
  const template = protocol === 'consultancy' ? input.templates.consultancy : input.templates.turn;
  const passage = input.passage ?? null;
  const system = render(input.templates.system, {
    task: input.task,
    ...optionalSlots(input.templates.system, {
      passage_hidden: passage && !passage.judgesRead ? FLAG : '',
      passage_shared: passage?.judgesRead ? FLAG : '',
      open_roles: input.openRoles ? FLAG : '',
    }),
  });
  for (const step of input.plan.turns) {
    if (turns.some((t) => t.index === step.index)) continue;
    input.signal?.throwIfAborted();
    const slots: Record<string, string | number> = {
      task: input.task,
      question: input.question,
      answer: input.answer,
      stance: input.alternative ? twoChoiceStance(step.side, input.answer, input.alternative) : sideLabel(step.side),
      instruction: step.instruction,
      transcript: formatTranscript(turns, protocol, passage?.text, input.alternative ? AS_LISTED : undefined),
      word_limit: input.wordLimit,
    };
    if (protocol !== 'consultancy') slots.speaker = step.speaker;
    Object.assign(slots, optionalSlots(template, { passage: passage?.text ?? '', alternative: input.alternative ?? '' }));
    const prompt = render(template, slots);
    const draft = async (seed: number): Promise<Draft> => {
      const result = await input.debaters[step.speaker].generate(
        {
          messages: [
            { role: 'system', content: system },
            { role: 'user', content: prompt },
          ],
          maxTokens: input.maxTokens,
          temperature: input.temperature,
          seed,
        },
        { sample: input.sample, signal: input.signal },
      );
      const limited = applyWordLimit(result.text, input.wordLimit);
      return { text: limited.text, wordCount: limited.wordCount, truncated: limited.truncated || result.finishReason === 'length', callId: result.callId };
    };
    const asTurn = (d: Draft): Turn => ({
      index: step.index,
      speaker: step.speaker,
      side: step.side,
      text: d.text,
      wordCount: d.wordCount,
      truncated: d.truncated,
      // A turn's prompt comes from two templates; one hash names the pair.
      promptHash: hashValue([input.templates.system.hash, template.hash]),
      callId: d.callId,
      quotes: passage ? countQuotes(d.text, passage.text) : null,
    });
    const turnSeed = deriveSeed(input.seed, step.index);
    let turn: Turn;
    if (input.bestOf) {
      const { kept } = await bestOfTurn(input.bestOf, step, turnSeed, turns, draft, asTurn);
      turn = asTurn(kept);
      input.onTurn(turn, kept.candidate);
    } else {
      turn = asTurn(await draft(turnSeed));
      input.onTurn(turn);
    }
    turns.push(turn);
  }
  return turns;
}
