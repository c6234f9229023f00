import type { Generator } from '../debate/run.js';
import { render, type Template } from '../debate/templates.js';
import { formatTranscript, type Turn } from '../debate/transcript.js';
import type { TokenLogprob } from '../models/types.js';

export type JudgeMethod = 'logprobs' | 'parsed' | 'unparsed';

export interface OrderVerdict {
  orderSwapped: boolean;
  /** P(the proposed answer is correct) read from this order. */
  pCorrect: number;
  method: JudgeMethod;
  rawText: string;
  callId: number | null;
}

export interface Verdict {
  /** Mean over both answer orders, which cancels a judge's preference for the first (or second) option. */
  pCorrect: number;
  orders: [OrderVerdict, OrderVerdict];
}

const CORRECT = 'The proposed answer is correct.';
const INCORRECT = 'The proposed answer is incorrect.';
/** A choice missing from the top-k counts as this logprob (as in common logprob judges). */
const MISSING_LOGPROB = -100;

/**
 * P(A) from the first generated token's top-k alternatives: softmax over the summed probability of the tokens that
 * read "A" and those that read "B" (tokenizers differ on leading spaces). Undefined when neither appears.
 */
export function choiceProbability(top: readonly TokenLogprob[] | undefined): number | undefined {
  if (!top || top.length === 0) return undefined;
  let a = 0;
  let b = 0;
  for (const t of top) {
    const tok = t.token.trim();
    if (tok === 'A') a += Math.exp(t.logprob);
    else if (tok === 'B') b += Math.exp(t.logprob);
  }
  if (a === 0 && b === 0) return undefined;
  const la = a > 0 ? Math.log(a) : MISSING_LOGPROB;
  const lb = b > 0 ? Math.log(b) : MISSING_LOGPROB;
  const m = Math.max(la, lb);
  return Math.exp(la - m) / (Math.exp(la - m) + Math.exp(lb - m));
}

/** The stated verdict: the first standalone A or B in the reply, or after "Answer:". */
export function parseChoice(text: string): 'A' | 'B' | undefined {
  const explicit = /answer\s*[:\-]?\s*\(?([AB])\b/i.exec(text);
  if (explicit) return explicit[1]!.toUpperCase() as 'A' | 'B';
  const bare = /(?:^|[^\w])([AB])(?![\w])/.exec(text.trim());
  return bare ? (bare[1] as 'A' | 'B') : undefined;
}

export interface JudgeInput {
  model: Generator;
  /** 'logprobs' reads choice-token probabilities and falls back to parsing; 'parsed' only parses the reply. */
  method: 'logprobs' | 'parsed';
  template: Template;
  task: string;
  question: string;
  answer: string;
  turns: readonly Turn[];
  protocol: string;
  maxTokens: number;
  signal?: AbortSignal;
}

async function judgeOneOrder(input: JudgeInput, swapped: boolean): Promise<OrderVerdict> {
  const prompt = render(input.template, {
    task: input.task,
    question: input.question,
    answer: input.answer,
    transcript: formatTranscript(input.turns, input.protocol),
    option_a: swapped ? INCORRECT : CORRECT,
    option_b: swapped ? CORRECT : INCORRECT,
  });
  const result = await input.model.generate(
    {
      messages: [{ role: 'user', content: prompt }],
      maxTokens: input.maxTokens,
      temperature: 0,
      seed: 0,
      topLogprobs: input.method === 'logprobs' ? 10 : undefined,
    },
    { sample: 0, signal: input.signal },
  );
  const toCorrect = (pA: number): number => (swapped ? 1 - pA : pA);
  if (input.method === 'logprobs') {
    const pA = choiceProbability(result.topLogprobs?.[0]);
    if (pA !== undefined) return { orderSwapped: swapped, pCorrect: toCorrect(pA), method: 'logprobs', rawText: result.text, callId: result.callId };
  }
  const choice = parseChoice(result.text);
  if (choice) return { orderSwapped: swapped, pCorrect: toCorrect(choice === 'A' ? 1 : 0), method: 'parsed', rawText: result.text, callId: result.callId };
  return { orderSwapped: swapped, pCorrect: 0.5, method: 'unparsed', rawText: result.text, callId: result.callId };
}

/** Judges one transcript in both answer orders and averages. */
export async function judge(input: JudgeInput): Promise<Verdict> {
  const first = await judgeOneOrder(input, false);
  const second = await judgeOneOrder(input, true);
  return { pCorrect: (first.pCorrect + second.pCorrect) / 2, orders: [first, second] };
}
