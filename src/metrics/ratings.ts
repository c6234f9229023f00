/**
 * Debater ratings from judge outcomes: a Bradley–Terry model with separate ratings for arguing the correct and the
 * incorrect side (as Khan et al. 2024 and Kenton et al. 2024 fit Elo), by maximum a-posteriori under a weak Gaussian
 * prior, with percentile-bootstrap intervals over examples (or their groups).
 *
 * A match is one transcript: the model arguing the side the gold label makes right ("correct") against the model
 * arguing the other ("incorrect"); outcome 1 when the judge sided with the correct one, 0 when not, 0.5 for a tie.
 * P(correct side wins) = σ(θ[model_c, correct] − θ[model_i, incorrect]). A model's rating is the mean of its two.
 *
 * Only differences along matches are measured by the data: ratings of players no match connects (within one run of
 * X vs Y, "X correct vs Y incorrect" and "Y correct vs X incorrect" are two separate comparisons) are tied to each
 * other by the prior alone. The difference of two models' ratings is measured whenever both play each other on both
 * sides. The prior (mean 0, standard deviation priorSd in logits) also keeps ratings finite when one side always wins.
 */
import { distribution, identity, percentileInterval, resolveOptions, type BootstrapOptions } from './bootstrap.js';

export interface Match {
  /** The model that argued the correct side. */
  correct: string;
  /** The model that argued the incorrect side. */
  incorrect: string;
  /** 1: the judge sided with the correct side; 0: with the incorrect one; 0.5: a tie. */
  outcome: number;
}

export type RatingRole = 'correct' | 'incorrect';

export interface RatingOptions {
  /** Standard deviation of the Gaussian prior on each rating, in logits (default 2, about 350 Elo points). */
  priorSd?: number;
}

/** Ratings in logits, by model: arguing the correct side, the incorrect side, and their mean. */
export interface Ratings {
  models: string[];
  correct: Map<string, number | null>;
  incorrect: Map<string, number | null>;
  /** The mean of the two; null unless the model played both sides. */
  overall: Map<string, number | null>;
}

/** Elo points per logit: an Elo difference of 400 is odds of 10 to 1. */
export const ELO_PER_LOGIT = 400 / Math.LN10;
export const DEFAULT_PRIOR_SD = 2;

function checkMatches(matches: readonly Match[]): void {
  matches.forEach((m, i) => {
    if (typeof m.correct !== 'string' || typeof m.incorrect !== 'string' || !m.correct || !m.incorrect) {
      throw new RangeError(`ratings: match ${i} needs the names of both models (correct and incorrect).`);
    }
    if (!(m.outcome === 0 || m.outcome === 0.5 || m.outcome === 1)) throw new RangeError(`ratings: match ${i} has outcome ${String(m.outcome)}; use 1 (correct side won), 0 (lost) or 0.5 (tie).`);
  });
}

/** The maximum-a-posteriori Bradley–Terry fit (Newton's method on the concave log-posterior). */
export function fitRatings(matches: readonly Match[], options: RatingOptions = {}): Ratings {
  checkMatches(matches);
  return fitIndices(prepare(matches), identity(matches.length), options.priorSd ?? DEFAULT_PRIOR_SD);
}

interface Prepared {
  models: string[];
  /** Parameter index of each match's correct player (model's "correct" rating) and incorrect player. */
  c: Int32Array;
  i: Int32Array;
  y: Float64Array;
}

/** Parameters: 2k (model m's correct rating at 2m, incorrect at 2m + 1), models in sorted order. */
function prepare(matches: readonly Match[]): Prepared {
  const models = [...new Set(matches.flatMap((m) => [m.correct, m.incorrect]))].sort();
  const index = new Map(models.map((m, k) => [m, k]));
  return {
    models,
    c: Int32Array.from(matches, (m) => 2 * index.get(m.correct)!),
    i: Int32Array.from(matches, (m) => 2 * index.get(m.incorrect)! + 1),
    y: Float64Array.from(matches, (m) => m.outcome),
  };
}

function fitIndices(p: Prepared, idx: Int32Array, priorSd: number): Ratings {
  if (!(priorSd > 0)) throw new RangeError(`ratings: priorSd must be positive (got ${String(priorSd)}).`);
  const k = 2 * p.models.length;
  const theta = new Float64Array(k);
  const ridge = 1 / (priorSd * priorSd);
  const played = new Uint8Array(k);
  for (let r = 0; r < idx.length; r++) {
    played[p.c[idx[r]!]!] = 1;
    played[p.i[idx[r]!]!] = 1;
  }
  for (let iter = 0; iter < 100; iter++) {
    // Gradient and negative Hessian of the log-posterior.
    const g = new Float64Array(k);
    const h = new Float64Array(k * k);
    for (let a = 0; a < k; a++) {
      g[a] = -ridge * theta[a]!;
      h[a * k + a] = ridge;
    }
    for (let r = 0; r < idx.length; r++) {
      const j = idx[r]!;
      const a = p.c[j]!;
      const b = p.i[j]!;
      const q = 1 / (1 + Math.exp(-(theta[a]! - theta[b]!)));
      const resid = p.y[j]! - q;
      const w = q * (1 - q);
      g[a] += resid;
      g[b] -= resid;
      h[a * k + a] += w;
      h[b * k + b] += w;
      h[a * k + b] -= w;
      h[b * k + a] -= w;
    }
    const step = solve(h, g, k);
    let largest = 0;
    for (let a = 0; a < k; a++) {
      theta[a] += step[a]!;
      largest = Math.max(largest, Math.abs(step[a]!));
    }
    if (largest < 1e-12) break;
  }
  const correct = new Map<string, number | null>();
  const incorrect = new Map<string, number | null>();
  const overall = new Map<string, number | null>();
  p.models.forEach((m, n) => {
    const c = played[2 * n] ? theta[2 * n]! : null;
    const i = played[2 * n + 1] ? theta[2 * n + 1]! : null;
    correct.set(m, c);
    incorrect.set(m, i);
    overall.set(m, c === null || i === null ? null : (c + i) / 2);
  });
  return { models: p.models, correct, incorrect, overall };
}

/** Solves H x = g for a symmetric positive-definite H (Gaussian elimination with partial pivoting; k is small). */
function solve(h: Float64Array, g: Float64Array, k: number): Float64Array {
  const a = Float64Array.from(h);
  const x = Float64Array.from(g);
  for (let col = 0; col < k; col++) {
    let pivot = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(a[r * k + col]!) > Math.abs(a[pivot * k + col]!)) pivot = r;
    if (pivot !== col) {
      for (let c = 0; c < k; c++) [a[col * k + c], a[pivot * k + c]] = [a[pivot * k + c]!, a[col * k + c]!];
      [x[col], x[pivot]] = [x[pivot]!, x[col]!];
    }
    for (let r = col + 1; r < k; r++) {
      const f = a[r * k + col]! / a[col * k + col]!;
      for (let c = col; c < k; c++) a[r * k + c] -= f * a[col * k + c]!;
      x[r] -= f * x[col]!;
    }
  }
  for (let r = k - 1; r >= 0; r--) {
    let s = x[r]!;
    for (let c = r + 1; c < k; c++) s -= a[r * k + c]! * x[c]!;
    x[r] = s / a[r * k + r]!;
  }
  return x;
}

/** One rating (or difference) with its interval, in logits. */
export interface RatingEstimate {
  value: number | null;
  lo: number | null;
  hi: number | null;
  /** Resamples in which it was undefined (a model played no match on that side); left out of the interval and counted. */
  undefinedCount: number;
}

export interface RatingsWithIntervals {
  models: string[];
  correct: Map<string, RatingEstimate>;
  incorrect: Map<string, RatingEstimate>;
  overall: Map<string, RatingEstimate>;
  /** Overall rating of a minus that of b, for every pair a < b (sorted names), keyed "a\u0000b". */
  differences: Map<string, RatingEstimate>;
  /** Matches by model and side. */
  matches: Map<string, { correct: number; incorrect: number }>;
  level: number;
  resamples: number;
}

export const pairKey = (a: string, b: string): string => `${a}\u0000${b}`;

/**
 * fitRatings with percentile-bootstrap intervals: each resample draws the matches (or, with options.groups, whole
 * clusters of them — the transcripts of one example or group) with replacement and refits.
 */
export function ratingsCI(matches: readonly Match[], options: BootstrapOptions & RatingOptions): RatingsWithIntervals {
  checkMatches(matches);
  if (matches.length === 0) throw new RangeError('ratings: there are no matches to rate.');
  const opts = resolveOptions('ratingsCI', options);
  const priorSd = options.priorSd ?? DEFAULT_PRIOR_SD;
  const p = prepare(matches);
  const full = fitIndices(p, identity(matches.length), priorSd);
  const pairs: [string, string][] = [];
  for (let a = 0; a < p.models.length; a++) for (let b = a + 1; b < p.models.length; b++) pairs.push([p.models[a]!, p.models[b]!]);
  const stat = (r: Ratings): (number | null)[] => [
    ...p.models.flatMap((m) => [r.correct.get(m)!, r.incorrect.get(m)!, r.overall.get(m)!]),
    ...pairs.map(([a, b]) => diff(r.overall.get(a)!, r.overall.get(b)!)),
  ];
  // One refit per resample; every statistic of it is recorded here (the bootstrap's own statistic is a placeholder).
  const draws: (number | null)[][] = [];
  distribution('ratingsCI', matches.length, (idx) => {
    draws.push(stat(fitIndices(p, idx, priorSd)));
    return 0;
  }, opts);
  const point = stat(full);
  const estimate = (s: number): RatingEstimate => {
    const values = draws.map((d) => d[s]).filter((v): v is number => v !== null);
    const [lo, hi] = percentileInterval(Float64Array.from(values), opts.level);
    return { value: point[s]!, lo, hi, undefinedCount: draws.length - values.length };
  };
  const out: RatingsWithIntervals = {
    models: p.models, correct: new Map(), incorrect: new Map(), overall: new Map(), differences: new Map(), matches: new Map(),
    level: opts.level, resamples: opts.resamples,
  };
  p.models.forEach((m, n) => {
    out.correct.set(m, estimate(3 * n));
    out.incorrect.set(m, estimate(3 * n + 1));
    out.overall.set(m, estimate(3 * n + 2));
    out.matches.set(m, { correct: matches.filter((x) => x.correct === m).length, incorrect: matches.filter((x) => x.incorrect === m).length });
  });
  pairs.forEach(([a, b], k) => out.differences.set(pairKey(a, b), estimate(3 * p.models.length + k)));
  return out;
}

const diff = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a - b);
