import { JUDGE_DEFAULTS } from '../config/experiment.js';
import type { Generator } from '../debate/run.js';
import { FLAG, optionalSlots, render, type Template } from '../debate/templates.js';
import { AS_LISTED, formatTranscript, SWAPPED, type Turn } from '../debate/transcript.js';
import { TOP_LOGPROBS } from '../models/capabilities.js';
import type { TokenLogprob } from '../models/types.js';

export type JudgeMethod = 'logprobs' | 'parsed' | 'unparsed';

/** One reply of a judge: to one presentation (original or swapped), one sample. */
export interface JudgeReply {
  /**
   * False: options "A: correct / B: incorrect" (two-choice: "A: answer A / B: answer B"), debaters under their own names. True: the options in the other order
   * AND the debaters' names exchanged (see swapDebaterNames); stored as judgments.order_swapped.
   */
  orderSwapped: boolean;
  /** Which sampled reply to this presentation (self-consistency judges sample several; 0 otherwise). */
  sample: number;
  /** P(the proposed answer is correct) (two-choice: P(answer A is right)) read from this order; null when the reply stated no verdict. */
  pCorrect: number | null;
  method: JudgeMethod;
  rawText: string;
  callId: number | null;
  /** The call's tokens (from the cache's copy when it was a hit). */
  inputTokens: number;
  outputTokens: number;
}

export interface Verdict {
  /**
   * Mean over the replies that stated a verdict: with both presentations, the original and the swapped one count
   * equally, which cancels a judge's preference for the first (or second) option and for the debater called "A" (or
   * "B"). Null when no reply stated one: the judge abstained, which is not P = 0.5.
   */
  pCorrect: number | null;
  replies: JudgeReply[];
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

/**
 * The value after the final `Answer:` marker: the capital letter A or B (optionally in parentheses or markdown bold),
 * ending the line or followed directly by punctuation ("Answer: B." / "Answer: B, since ..." / "Answer: A) ...").
 * A letter followed by a space and more words ("Answer: A careful reader ...") is not a standalone verdict: the
 * article "A" reads the same. The marker may be in markdown bold ("**Answer:** B").
 */
const ANSWER_MARKER = /\banswer\**\s*:\**/gi;
const ANSWER_VALUE = /^\s*(?:\*\*|\()?([AB])(?:\*\*)?(?:\)|[ \t]*(?:\r?\n|$)|[.,;:!])/;

/**
 * The stated verdict, or undefined when the reply does not state one unambiguously: the standalone capital A or B
 * after the reply's LAST "Answer:" marker, or, in a reply without one, at its start (the prompt ends in "Answer:", so
 * the reply begins with the value: "B", "B. The proposed answer ...", "A) ..."). A lowercase letter, a letter that
 * starts a longer phrase ("A careful reader ..."), or letters elsewhere in free text ("The answer a careful reader
 * gives is B") do not count: such replies stay unparsed (stored as method 'unparsed', with no probability).
 */
export function parseChoice(text: string): 'A' | 'B' | undefined {
  let last: RegExpExecArray | null = null;
  for (const m of text.matchAll(ANSWER_MARKER)) last = m as RegExpExecArray;
  const value = ANSWER_VALUE.exec(last ? text.slice(last.index + last[0].length) : text);
  return value ? (value[1] as 'A' | 'B') : undefined;
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
  /** The example's passage (debate.passage "debaters" or "all"): quotes in the transcript are marked against it. */
  passage?: string | null;
  /**
   * Two-choice examples: answer B (`answer` is answer A). The options are then the two answers themselves, A's first
   * in the original presentation and second in the swapped one, and pCorrect reads P(answer A is right).
   */
  alternative?: string | null;
  /**
   * What the judge reads besides the question and answer: the transcript (default), or the question alone ("question",
   * the judge-alone baseline) or with the passage ("question-and-passage"). A transcript reader sees the passage
   * itself only when everyone reads it (passageShown).
   */
  reads?: 'transcript' | 'question' | 'question-and-passage';
  /** debate.passage "all": a transcript reader sees the passage too. */
  passageShown?: boolean;
  /** Which presentations to read (default both). */
  orders?: 'both' | 'original' | 'swapped';
  /** Replies sampled per presentation (self-consistency), each with its own seed; default 1. */
  samples?: number;
  /** Default 0. */
  temperature?: number;
  signal?: AbortSignal;
  /** Ask for every reply at once rather than one after another (a judge whose calls go out in one batch). */
  concurrent?: boolean;
}

/**
 * The turns as the swapped judgment shows them: Debater A is called Debater B and vice versa. The turns keep their
 * chronological order (B's turns answer A's, so a sequential debate cannot be re-ordered without being re-run); what
 * changes is the name each argument is presented under, so the names now appear in the other order (B, A, B, ...)
 * and each side is introduced by the other name. Consultancy shows "Consultant" and is unaffected.
 */
export function swapDebaterNames<T extends Pick<Turn, 'speaker'>>(turns: readonly T[]): T[] {
  return turns.map((t) => ({ ...t, speaker: t.speaker === 'A' ? 'B' : 'A' }));
}

async function judgeOneOrder(input: JudgeInput, swapped: boolean, sample: number): Promise<JudgeReply> {
  // Both swaps go into the one swapped call, so a transcript costs two judge calls, not four. Each bias cancels in
  // the mean of the two calls: a preference for option letter A picks "correct" in one and "incorrect" in the other;
  // a preference for whatever "Debater A" says backs one side in one and the opposite side in the other (the name
  // moved to the other debater). Swapping both together also keeps the pairing of names with option letters: whether
  // the debater named "A" defends the statement listed as option A is the same in both calls (as in Khan et al.,
  // where Debater A always defends answer A). A 2x2 design (four calls) would add only separate estimates of the two
  // biases, at twice the cost.
  const turns = swapped ? swapDebaterNames(input.turns) : input.turns;
  const reads = input.reads ?? JUDGE_DEFAULTS.reads;
  // The claim form's options are "correct" / "incorrect"; two-choice options are the answers, and each argument is
  // shown defending the letter its answer has in this presentation.
  const [first, second] = input.alternative ? [input.answer, input.alternative] : [CORRECT, INCORRECT];
  const letters = input.alternative ? (swapped ? SWAPPED : AS_LISTED) : undefined;
  const passage = input.passage ?? '';
  const showsPassage = reads === 'question-and-passage' || (reads === 'transcript' && input.passageShown === true);
  const prompt = render(input.template, {
    task: input.task,
    question: input.question,
    answer: input.answer,
    // A judge that reads the question alone gets no transcript: the template's {{#transcript}} section drops out.
    transcript: reads === 'transcript' ? formatTranscript(turns, input.protocol, passage, letters) : '',
    option_a: swapped ? second : first,
    option_b: swapped ? first : second,
    ...optionalSlots(input.template, {
      alternative: input.alternative ?? '',
      passage: showsPassage ? passage : '',
      quotes_checked: passage && reads === 'transcript' && turns.length > 0 ? FLAG : '',
    }),
  });
  const result = await input.model.generate(
    {
      messages: [{ role: 'user', content: prompt }],
      maxTokens: input.maxTokens,
      temperature: input.temperature ?? JUDGE_DEFAULTS.temperature,
      seed: sample,
      topLogprobs: input.method === 'logprobs' ? TOP_LOGPROBS : undefined,
    },
    { sample, signal: input.signal },
  );
  const common = { orderSwapped: swapped, sample, rawText: result.text, callId: result.callId, inputTokens: result.usage?.inputTokens ?? 0, outputTokens: result.usage?.outputTokens ?? 0 };
  // P(option A) maps back to P(correct) through the option order only: the names carry no answer.
  const toCorrect = (pA: number): number => (swapped ? 1 - pA : pA);
  if (input.method === 'logprobs') {
    const pA = choiceProbability(result.topLogprobs?.[0]);
    if (pA !== undefined) return { ...common, pCorrect: toCorrect(pA), method: 'logprobs' };
  }
  const choice = parseChoice(result.text);
  if (choice) return { ...common, pCorrect: toCorrect(choice === 'A' ? 1 : 0), method: 'parsed' };
  return { ...common, pCorrect: null, method: 'unparsed' };
}

/** The presentations a judge reads, as order_swapped values. */
export function presentations(orders: JudgeInput['orders'] = JUDGE_DEFAULTS.orders): boolean[] {
  return orders === 'both' ? [false, true] : [orders === 'swapped'];
}

/**
 * Judges one transcript as given and swapped (answer order and debater names), or in the one presentation asked for,
 * `samples` times each, and averages every reply. `skip(swapped, sample)` leaves out replies already stored.
 */
export async function judge(input: JudgeInput, skip: (swapped: boolean, sample: number) => boolean = () => false): Promise<Verdict> {
  const wanted: [swapped: boolean, sample: number][] = [];
  for (const swapped of presentations(input.orders)) {
    for (let sample = 0; sample < (input.samples ?? JUDGE_DEFAULTS.samples); sample++) if (!skip(swapped, sample)) wanted.push([swapped, sample]);
  }
  const replies: JudgeReply[] = [];
  if (input.concurrent) replies.push(...(await Promise.all(wanted.map(([swapped, sample]) => judgeOneOrder(input, swapped, sample)))));
  else for (const [swapped, sample] of wanted) replies.push(await judgeOneOrder(input, swapped, sample));
  const read = replies.flatMap((o) => (o.pCorrect === null ? [] : [o.pCorrect]));
  return { pCorrect: read.length ? read.reduce((s, p) => s + p, 0) / read.length : null, replies };
}
