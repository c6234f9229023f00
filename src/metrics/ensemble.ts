import { checkInt, checkLabels, checkThreshold, checkValues, type Label } from './validate.js';

/**
 * Combining ensemble members' predictions. memberProbs is members × examples, each entry P(label = 1) from one member.
 */

/** Average of the members' P(label = 1) per example: the soft label the ensemble hands to the strong model. */
export function meanSoftLabel(memberProbs: readonly (readonly number[])[]): number[] {
  const n = checkMembers('meanSoftLabel', memberProbs);
  const out = new Array<number>(n).fill(0);
  for (const m of memberProbs) for (let i = 0; i < n; i++) out[i]! += m[i]!;
  for (let i = 0; i < n; i++) out[i] = out[i]! / memberProbs.length;
  return out;
}

/**
 * Hard majority vote per example: each member votes 1 when its prob > threshold. A tie (possible with an even number
 * of members) falls back to the mean soft label, thresholded the same way, so a 2–2 split goes to the side the
 * members are more confident about; an exact mean of `threshold` gives 0, like accuracy's tie rule.
 */
export function majorityVote(memberProbs: readonly (readonly number[])[], threshold = 0.5): (0 | 1)[] {
  const n = checkMembers('majorityVote', memberProbs);
  checkThreshold('majorityVote', threshold);
  const k = memberProbs.length;
  const out = new Array<0 | 1>(n);
  for (let i = 0; i < n; i++) {
    let ones = 0;
    let sum = 0;
    for (const m of memberProbs) {
      if (m[i]! > threshold) ones++;
      sum += m[i]!;
    }
    if (2 * ones !== k) out[i] = 2 * ones > k ? 1 : 0;
    else out[i] = sum / k > threshold ? 1 : 0;
  }
  return out;
}

/**
 * A custom way to combine members for accuracyBySize: given all members and the indices of one subset, P(label = 1)
 * per example for that subset's ensemble (e.g. a logit mean or a stacker). Its output is thresholded like 'mean'.
 */
export type MemberCombiner = (members: readonly (readonly number[])[], subset: readonly number[]) => number[];

export interface EnsembleSizeOptions {
  /** Used only when subsets are sampled rather than enumerated. */
  random: () => number;
  /** Most subsets evaluated per size (default 100); sizes with more possible subsets are sampled. */
  orderings?: number;
  /** 'mean' thresholds the mean soft label (default); 'vote' uses majorityVote; a function combines its own way. */
  combine?: 'mean' | 'vote' | MemberCombiner;
  threshold?: number;
}

export interface EnsembleSizeAccuracy {
  size: number;
  /** Mean accuracy over the evaluated subsets of this size. */
  accuracy: number;
  min: number;
  max: number;
  /** How many subsets were evaluated, and whether that was all C(K, size) of them. */
  subsets: number;
  exact: boolean;
}

/**
 * Accuracy as a function of ensemble size, for k = 1…K members. For each k the accuracy of a k-member ensemble is
 * averaged over member subsets: all C(K, k) subsets when there are at most `orderings` of them (so the usual K ≤ 6
 * case is exact and ignores `random`), otherwise `orderings` subsets drawn uniformly (with replacement between draws).
 * This separates "more members help" from "member 1 happens to be good".
 */
export function accuracyBySize(
  memberProbs: readonly (readonly number[])[],
  labels: readonly Label[],
  options: EnsembleSizeOptions,
): EnsembleSizeAccuracy[] {
  const n = checkMembers('accuracyBySize', memberProbs);
  checkLabels('accuracyBySize', labels);
  if (labels.length !== n) throw new RangeError(`accuracyBySize: members have ${n} predictions but labels has ${labels.length}; they must match.`);
  if (options === null || typeof options !== 'object' || typeof options.random !== 'function') {
    throw new RangeError('accuracyBySize: options.random must be a function returning uniform numbers in [0, 1).');
  }
  const orderings = options.orderings ?? 100;
  checkInt('accuracyBySize', 'orderings', orderings, 1);
  const combine = options.combine ?? 'mean';
  if (combine !== 'mean' && combine !== 'vote' && typeof combine !== 'function') {
    throw new RangeError(`accuracyBySize: combine must be 'mean', 'vote' or a function (got ${String(combine)}).`);
  }
  const threshold = options.threshold ?? 0.5;
  checkThreshold('accuracyBySize', threshold);

  const K = memberProbs.length;
  const score = (subset: readonly number[]): number => {
    const members = subset.map((j) => memberProbs[j]!);
    let preds: (0 | 1)[];
    if (combine === 'vote') preds = majorityVote(members, threshold);
    else {
      // A caller's combiner is checked like any probs: a wrong length or a NaN would otherwise score silently.
      const probs = combine === 'mean' ? meanSoftLabel(members) : combine(memberProbs, subset.slice());
      if (combine !== 'mean') checkValues('accuracyBySize', `combine(subset [${subset.join(', ')}])`, probs, n, true);
      preds = probs.map((p) => (p > threshold ? 1 : 0));
    }
    let hits = 0;
    for (let i = 0; i < n; i++) if (preds[i] === labels[i]) hits++;
    return hits / n;
  };

  const out: EnsembleSizeAccuracy[] = [];
  for (let k = 1; k <= K; k++) {
    const total = choose(K, k);
    const exact = total <= orderings;
    const subsets = exact ? allSubsets(K, k) : Array.from({ length: orderings }, () => randomSubset(K, k, options.random));
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const s of subsets) {
      const acc = score(s);
      sum += acc;
      min = Math.min(min, acc);
      max = Math.max(max, acc);
    }
    // Clamp float noise so that min ≤ accuracy ≤ max holds exactly (e.g. five 0.98s summing to 4.9000000000000004).
    const mean = Math.min(max, Math.max(min, sum / subsets.length));
    out.push({ size: k, accuracy: mean, min, max, subsets: subsets.length, exact });
  }
  return out;
}

/** Throws unless memberProbs is a non-empty members × examples array of probabilities; returns the example count. */
export function checkMembers(fn: string, memberProbs: readonly (readonly number[])[]): number {
  if (!Array.isArray(memberProbs) || memberProbs.length === 0) {
    throw new RangeError(`${fn}: memberProbs must be a non-empty members × examples array.`);
  }
  const n = memberProbs[0]?.length ?? 0;
  if (n === 0) throw new RangeError(`${fn}: memberProbs[0] must hold at least one prediction.`);
  memberProbs.forEach((m, j) => checkValues(fn, `memberProbs[${j}]`, m, n, true));
  return n;
}

function choose(n: number, k: number): number {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return Math.round(c);
}

/** All k-subsets of 0…n−1 in lexicographic order. */
function allSubsets(n: number, k: number): number[][] {
  const out: number[][] = [];
  const cur: number[] = [];
  const walk = (start: number): void => {
    if (cur.length === k) {
      out.push(cur.slice());
      return;
    }
    for (let i = start; i <= n - (k - cur.length); i++) {
      cur.push(i);
      walk(i + 1);
      cur.pop();
    }
  };
  walk(0);
  return out;
}

/** A uniform k-subset by a partial Fisher–Yates shuffle. */
function randomSubset(n: number, k: number, random: () => number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.min(n - i - 1, Math.floor(random() * (n - i)));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k);
}
