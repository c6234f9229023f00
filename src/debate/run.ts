import { hashValue } from '../hash.js';
import type { GenerateRequest, GenerateResult } from '../models/types.js';
import { deriveSeed } from '../rng.js';
import type { DebatePlan } from './protocols.js';
import { render, type Template } from './templates.js';
import { applyWordLimit, formatTranscript, sideLabel, type Turn } from './transcript.js';

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
  /** Called after each new turn, so it is stored before the next one starts. */
  onTurn: (turn: Turn) => void;
  signal?: AbortSignal;
}

/** Runs the remaining turns of one transcript, in order; each turn's prompt carries the transcript so far. */
export async function runDebate(input: DebateInput): Promise<Turn[]> {
  const turns = input.done.slice().sort((a, b) => a.index - b.index);
  const protocol = input.plan.protocol;
  const template = protocol === 'consultancy' ? input.templates.consultancy : input.templates.turn;
  const system = render(input.templates.system, { task: input.task });
  for (const step of input.plan.turns) {
    if (turns.some((t) => t.index === step.index)) continue;
    input.signal?.throwIfAborted();
    const slots: Record<string, string | number> = {
      task: input.task,
      question: input.question,
      answer: input.answer,
      stance: sideLabel(step.side),
      instruction: step.instruction,
      transcript: formatTranscript(turns, protocol),
      word_limit: input.wordLimit,
    };
    if (protocol !== 'consultancy') slots.speaker = step.speaker;
    const prompt = render(template, slots);
    const result = await input.debaters[step.speaker].generate(
      {
        messages: [
          { role: 'system', content: system },
          { role: 'user', content: prompt },
        ],
        maxTokens: input.maxTokens,
        temperature: input.temperature,
        seed: deriveSeed(input.seed, step.index),
      },
      { sample: input.sample, signal: input.signal },
    );
    const limited = applyWordLimit(result.text, input.wordLimit);
    const turn: Turn = {
      index: step.index,
      speaker: step.speaker,
      side: step.side,
      text: limited.text,
      wordCount: limited.wordCount,
      truncated: limited.truncated || result.finishReason === 'length',
      // A turn's prompt comes from two templates; one hash names the pair.
      promptHash: hashValue([input.templates.system.hash, template.hash]),
      callId: result.callId,
    };
    input.onTurn(turn);
    turns.push(turn);
  }
  return turns;
}
