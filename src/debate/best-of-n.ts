/**
 * Best-of-N arguments (Khan et al. 2024; Kenton et al. 2024): a turn samples N candidate arguments, a judge scores each
 * by its probability that the debater's own side is right, and the best becomes the turn. Every candidate is kept
 * (turn_candidates), so the choice can be audited.
 */
import { deriveSeed } from '../rng.js';
import type { Side, Turn } from './transcript.js';

/** One candidate argument, word-limited as the turn would be, with its score. */
export interface Candidate {
  candidate: number;
  text: string;
  wordCount: number;
  truncated: boolean;
  callId: number | null;
  /** The scorer's probability for the debater's own side; null when its replies stated no verdict. */
  score: number | null;
  scoreCallId: number | null;
}

/** A candidate before scoring: what one sampled reply gives. */
export type Draft = Omit<Candidate, 'candidate' | 'score' | 'scoreCallId'>;

export interface BestOf {
  n: number;
  /**
   * The scorer's P(the proposed answer is correct) after reading the transcript so far with the candidate as the next
   * turn (null: no verdict), and the call it came from.
   */
  score(turns: readonly Turn[], candidate: Turn): Promise<{ pCorrect: number | null; callId: number | null }>;
  /** The candidates of turn `idx` an interrupted run already stored: they are reused, not sampled or scored again. */
  stored(idx: number): Candidate[];
  /** Called as each new candidate is scored, so it is stored before the turn is decided. */
  onCandidate(idx: number, c: Candidate): void;
}

/** Each candidate has its own seed, derived from the turn's seed and its index. */
export function candidateSeed(turnSeed: number, candidate: number): number {
  return deriveSeed(turnSeed, 'candidate', candidate);
}

/** The score for the side the debater argues, from the scorer's P(correct). */
export function ownSideScore(side: Side, pCorrect: number | null): number | null {
  return pCorrect === null ? null : side === 'correct' ? pCorrect : 1 - pCorrect;
}

/** The highest score wins; ties go to the lowest index; an unscored candidate loses to any scored one. */
export function bestCandidate(candidates: readonly Candidate[]): Candidate {
  if (candidates.length === 0) throw new Error('best-of-N needs at least one candidate');
  const sorted = [...candidates].sort((a, b) => a.candidate - b.candidate);
  return sorted.reduce((best, c) => ((c.score ?? -1) > (best.score ?? -1) ? c : best));
}

/**
 * All N candidates of one turn (stored ones reused, the rest sampled and scored at once), and the one kept.
 * `draft(seed)` samples one reply; `asTurn(draft)` is the turn it would become.
 */
export async function bestOfTurn(
  bestOf: BestOf,
  step: { index: number; side: Side },
  turnSeed: number,
  turns: readonly Turn[],
  draft: (seed: number) => Promise<Draft>,
  asTurn: (d: Draft) => Turn,
): Promise<{ kept: Candidate; candidates: Candidate[] }> {
  const stored = new Map(bestOf.stored(step.index).map((c) => [c.candidate, c]));
  const candidates = await Promise.all(
    Array.from({ length: bestOf.n }, async (_, i): Promise<Candidate> => {
      const old = stored.get(i);
      if (old) return old;
      const d = await draft(candidateSeed(turnSeed, i));
      const s = await bestOf.score(turns, asTurn(d));
      const c: Candidate = { ...d, candidate: i, score: ownSideScore(step.side, s.pCorrect), scoreCallId: s.callId };
      bestOf.onCandidate(step.index, c);
      return c;
    }),
  );
  return { kept: bestCandidate(candidates), candidates };
}
