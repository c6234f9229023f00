/** Transcripts: the turn type, the word limit, and the fenced text shown to later debaters, judges and weak models. */

import { markQuotes, quoteChecker } from './quotes.js';

export type Side = 'correct' | 'incorrect';
export type Speaker = 'A' | 'B';

export interface Turn {
  index: number;
  speaker: Speaker;
  side: Side;
  text: string;
  wordCount: number;
  truncated: boolean;
  promptHash: string;
  callId: number | null;
  /** Quotes made from the passage and how many checked out (quotes.ts); absent or null: no passage to check against. */
  quotes?: { made: number; verified: number } | null;
}

export interface Transcript {
  debateId: string;
  exampleId: string;
  protocol: string;
  sample: number;
  turns: Turn[];
}

/** Keeps at most `limit` words; reports whether anything was cut. Whitespace inside the kept part is preserved. */
export function applyWordLimit(text: string, limit: number): { text: string; wordCount: number; truncated: boolean } {
  const trimmed = text.trim();
  const words = trimmed.length ? trimmed.split(/\s+/) : [];
  if (words.length <= limit) return { text: trimmed, wordCount: words.length, truncated: false };
  let seen = 0;
  const re = /\S+/g;
  let end = 0;
  for (let m = re.exec(trimmed); m && seen < limit; m = re.exec(trimmed)) {
    seen++;
    end = m.index + m[0].length;
  }
  return { text: trimmed.slice(0, end), wordCount: limit, truncated: true };
}

/** Debater text may not open or close fences or fake prompt tags: angle brackets are escaped. */
export function escapeArgument(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function sideLabel(side: Side): string {
  return side === 'correct' ? 'the proposed answer is correct' : 'the proposed answer is incorrect';
}

/**
 * Two-choice examples (an `alternative` beside the answer): side "correct" defends answer A (the example's answer),
 * side "incorrect" answer B, whichever is right. The letter each side's answer is shown under: A and B as the example
 * lists them (debaters, weak models), or the other way round in a judge's swapped presentation.
 */
export type AnswerLetters = Record<Side, 'A' | 'B'>;
export const AS_LISTED: AnswerLetters = { correct: 'A', incorrect: 'B' };
export const SWAPPED: AnswerLetters = { correct: 'B', incorrect: 'A' };

/** A two-choice debater's side in words: the answer it defends, never whether that answer is right. */
export function twoChoiceStance(side: Side, answer: string, alternative: string): string {
  return side === 'correct' ? `you defend answer A: ${answer}` : `you defend answer B: ${alternative}`;
}

/** The letters a two-choice example's transcript shows (as listed), or undefined for a claim (no alternative). */
export function lettersFor(example: { alternative?: string | null }): AnswerLetters | undefined {
  return example.alternative ? AS_LISTED : undefined;
}

/**
 * The transcript as later prompts see it: one fenced block per turn. With the example's passage (debate.passage set),
 * each `<quote>` is shown as verified or not against it (debate/quotes.ts); without one, quotes are escaped like any text.
 */
export function formatTranscript(
  turns: readonly Pick<Turn, 'speaker' | 'side' | 'text'>[],
  protocol = 'debate',
  passage?: string | null,
  letters?: AnswerLetters,
): string {
  if (turns.length === 0) return '(no arguments yet)';
  // Two-choice: the answer each argues for, by the letter the reader sees it under (never "correct"/"incorrect").
  const stance = (side: Side): string => (letters ? `defends="answer ${letters[side]}"` : `side="${side}"`);
  const verified = passage ? quoteChecker(passage) : null; // one checker for every turn: the passage is normalised once
  const body = (text: string): string => (verified ? markQuotes(text, verified, escapeArgument) : escapeArgument(text));
  return turns
    .map((t) => {
      const who = protocol === 'consultancy' ? 'Consultant' : `Debater ${t.speaker}`;
      return `<argument speaker="${who}" ${stance(t.side)}>\n${body(t.text)}\n</argument>`;
    })
    .join('\n');
}

/** What a weak model trained "with the debate as context" reads: the example text, then the transcript as judges see it. */
export function withTranscript(
  text: string,
  turns: readonly Pick<Turn, 'speaker' | 'side' | 'text'>[],
  protocol = 'debate',
  passage?: string | null,
  letters?: AnswerLetters,
): string {
  if (turns.length === 0) return text;
  return `${text}\n\nDebate:\n${formatTranscript(turns, protocol, passage, letters)}`;
}
