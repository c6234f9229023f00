import { bootstrapCI, type BootstrapOptions, type BootstrapResult } from './bootstrap.js';
import { checkMembers, majorityVote, meanSoftLabel } from './ensemble.js';
import { checkInt, checkLabels, checkValues, type Label } from './validate.js';

/**
 * Ensembles of weak judges: aggregating their P(label = 1) (label 1 = "the proposed answer is correct"), stacking
 * them with a logistic regression, their position bias, how differently they err, and which are worth their cost.
 * memberProbs is members × examples, as in ensemble.ts; a prediction is 1 when prob > 0.5, so exactly 0.5 predicts 0.
 */

export type JudgeAggregate = 'mean' | 'vote' | 'logit-mean';

/**
 * Probabilities are clipped to [CLIP, 1 − CLIP] before taking logits: a judge whose verdict was parsed from text
 * reports exactly 0 or 1, whose logit is infinite and would swamp every other member. The clip is applied on the logit
 * scale (±LOGIT_CAP), which is the same monotone clip but exactly symmetric: in floats 1 − (1 − 1e-6) ≠ 1e-6, so
 * clipping p would leave logit(0) and logit(1) not quite opposite.
 */
const CLIP = 1e-6;
const LOGIT_CAP = Math.log((1 - CLIP) / CLIP);

/**
 * One P(label = 1) per example from several judges.
 * - 'mean': the mean soft label (meanSoftLabel).
 * - 'vote': the hard majority vote as 0/1 (majorityVote; a tie falls back to the thresholded mean).
 * - 'logit-mean': sigmoid of the mean logit of the clipped probs, i.e. the normalised geometric mean of the odds;
 *   unlike the mean, one confident member outweighs several lukewarm ones.
 */
export function aggregateJudges(memberProbs: readonly (readonly number[])[], how: JudgeAggregate): number[] {
  const n = checkMembers('aggregateJudges', memberProbs);
  if (how === 'mean') return meanSoftLabel(memberProbs);
  if (how === 'vote') return majorityVote(memberProbs);
  if (how === 'logit-mean') {
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (const m of memberProbs) sum += logit(m[i]!);
      out[i] = sigmoid(sum / memberProbs.length);
    }
    return out;
  }
  throw new RangeError(`aggregateJudges: how must be 'mean', 'vote' or 'logit-mean' (got ${String(how)}).`);
}

/**
 * aggregateJudges per example over the members that stated a verdict there (null: the member abstained), so an
 * abstention is neither a vote for "incorrect" nor a pull toward 0.5; null where every member abstained.
 */
export function aggregateSpoken(memberProbs: readonly (readonly (number | null)[])[], how: JudgeAggregate): (number | null)[] {
  if (memberProbs.every((m) => m.every((p) => p !== null))) return aggregateJudges(memberProbs as number[][], how);
  const n = memberProbs[0]?.length ?? 0;
  const out = new Array<number | null>(n);
  for (let i = 0; i < n; i++) {
    const spoken = memberProbs.flatMap((m) => (m[i] === null || m[i] === undefined ? [] : [[m[i]!]]));
    out[i] = spoken.length ? aggregateJudges(spoken, how)[0]! : null;
  }
  return out;
}

// ---- stacking ----

/** A logistic regression on the members' logits: P(label = 1) = σ(intercept + Σ_j weights[j]·logit(clip(p_j))). */
export interface StackerModel {
  intercept: number;
  weights: number[];
}

export interface StackerOptions {
  /**
   * Ridge penalty on the weights (not the intercept), on the scale of the summed log-likelihood: the fit maximises
   * Σᵢ log P(yᵢ) − (l2 / 2)·Σ_j w_j². Default 1: little next to hundreds of uncertain examples, but it keeps the
   * weights finite when members separate the labels, and on (nearly) separable data it is what sets their size.
   * Must be > 0.
   */
  l2?: number;
  /**
   * Most Newton steps (default 100); the current estimate is returned after that. Typical fits take 5–15 steps,
   * nearly separable data with a tiny l2 up to about 40.
   */
  maxIter?: number;
}

/**
 * Fits a StackerModel by Newton's method (IRLS) on the penalised log-likelihood, starting from all zeros and halving
 * any step that would lower the objective, so the result is deterministic. The objective is strictly concave when
 * l2 > 0 and both classes occur, so its maximum is unique; labels of one class throw (the intercept would diverge).
 */
export function fitStacker(
  memberProbs: readonly (readonly number[])[],
  labels: readonly Label[],
  options: StackerOptions = {},
): StackerModel {
  const fn = 'fitStacker';
  const n = checkMembers(fn, memberProbs);
  checkLabels(fn, labels);
  if (labels.length !== n) throw new RangeError(`${fn}: members have ${n} predictions but labels has ${labels.length}; they must match.`);
  const { l2, maxIter } = stackerOptions(fn, options);
  const positives = labels.reduce<number>((s, y) => s + y, 0);
  if (positives === 0 || positives === n) {
    throw new RangeError(`${fn}: every label is ${labels[0]}; stacking needs examples of both classes.`);
  }
  return newton(designMatrix(memberProbs), labels, l2, maxIter);
}

/** P(label = 1) per example from a fitted stacker; memberProbs must have one row per weight. */
export function applyStacker(model: StackerModel, memberProbs: readonly (readonly number[])[]): number[] {
  const fn = 'applyStacker';
  checkModel(fn, model);
  const n = checkMembers(fn, memberProbs);
  if (memberProbs.length !== model.weights.length) {
    throw new RangeError(`${fn}: the model has ${model.weights.length} weights but memberProbs has ${memberProbs.length} members; they must match.`);
  }
  return predict(model, designMatrix(memberProbs), n);
}

export interface StackingTrainSet {
  memberProbs: readonly (readonly number[])[];
  labels: readonly Label[];
  /**
   * A key per row; rows sharing a key (e.g. one question's transcripts) always land in the same fold. A null or
   * undefined key makes the row a unit of its own (as in clustersFromKeys).
   */
  groups?: readonly (string | null | undefined)[];
}

export interface CrossFitOptions extends StackerOptions {
  /** Number of folds (default 5); with fewer units (groups and ungrouped rows) than folds, one fold per unit. */
  folds?: number;
  /** Uniform [0, 1) source for the fold assignment, e.g. a seeded Rng's random. */
  random: () => number;
}

export interface CrossFitResult {
  /** Out-of-fold P(label = 1) per train row, each from the fold model that never saw that row. */
  train: number[];
  /** P(label = 1) per apply example, from the model fit on all train rows. */
  apply: number[];
  /** The model fit on all train rows. */
  model: StackerModel;
  /** foldModels[f] was fit on the train rows outside fold f. */
  foldModels: StackerModel[];
  /** Fold index per train row. */
  foldOf: number[];
}

/**
 * Cross-fitted stacking: the stacker's predictions on its own training rows would be optimistic, so each train row
 * gets the prediction of a model fit without its fold, and the apply set gets the model fit on every train row.
 * Folds are built from units (a group, or a row without a group) shuffled by `random`, each then given to the fold
 * with the fewest rows so far, so a group is never split and fold sizes stay close. Needs at least 2 units; apply
 * may hold zero examples (one empty row per member).
 */
export function stackedCrossFit(
  train: StackingTrainSet,
  apply: readonly (readonly number[])[],
  options: CrossFitOptions,
): CrossFitResult {
  const fn = 'stackedCrossFit';
  if (train === null || typeof train !== 'object') throw new RangeError(`${fn}: train must be { memberProbs, labels, groups? }.`);
  const n = checkMembers(fn, train.memberProbs);
  const k = train.memberProbs.length;
  checkLabels(fn, train.labels);
  if (train.labels.length !== n) throw new RangeError(`${fn}: train members have ${n} predictions but train.labels has ${train.labels.length}; they must match.`);
  checkApply(fn, apply, k);
  if (options === null || typeof options !== 'object' || typeof options.random !== 'function') {
    throw new RangeError(`${fn}: options.random must be a function returning uniform numbers in [0, 1), e.g. a seeded Rng's random.`);
  }
  const folds = options.folds ?? 5;
  checkInt(fn, 'folds', folds, 2);
  const fit = stackerOptions(fn, options);

  const units = unitsOf(fn, train.groups, n);
  if (units.length < 2) throw new RangeError(`${fn}: the train rows form ${units.length} group(s); cross-fitting needs at least 2.`);
  const used = Math.min(folds, units.length);
  const foldOf = assignFolds(units, used, options.random, n);

  const x = designMatrix(train.memberProbs);
  const out = new Array<number>(n);
  const foldModels: StackerModel[] = [];
  for (let f = 0; f < used; f++) {
    const inFold: number[] = [];
    const rest: number[] = [];
    for (let i = 0; i < n; i++) (foldOf[i] === f ? inFold : rest).push(i);
    const y = rest.map((i) => train.labels[i]!);
    const positives = y.reduce<number>((s, v) => s + v, 0);
    if (positives === 0 || positives === y.length) {
      throw new RangeError(`${fn}: the rows outside fold ${f} all have label ${y[0]}; each fold's training rows need both classes (use fewer folds or more data).`);
    }
    const model = newton(rest.map((i) => x[i]!), y, fit.l2, fit.maxIter);
    foldModels.push(model);
    const p = predict(model, inFold.map((i) => x[i]!), inFold.length);
    inFold.forEach((i, j) => (out[i] = p[j]!));
  }
  const model = newton(x, train.labels, fit.l2, fit.maxIter);
  const applyN = apply[0]!.length;
  return { train: out, apply: predict(model, designMatrix(apply), applyN), model, foldModels, foldOf };
}

// ---- position bias ----

/**
 * Mean P(first option) over presentations: 0.5 for a judge with no order preference, 1 for one that always picks the
 * option shown first. The caller converts each stored presentation's output to P(option shown first).
 */
export function positionBias(pFirst: readonly number[]): number {
  if (!Array.isArray(pFirst) || pFirst.length === 0) throw new RangeError('positionBias: pFirst must be a non-empty array of probabilities.');
  checkValues('positionBias', 'pFirst', pFirst, pFirst.length, true);
  let sum = 0;
  for (const p of pFirst) sum += p;
  return sum / pFirst.length;
}

/**
 * positionBias with a bootstrap interval over examples: pFirstByExample[e] lists P(first option) from example e's
 * presentations (both orders, several transcripts), which are not independent, so whole examples are resampled and
 * the statistic is the mean of all values in the resample. options.groups clusters examples further (e.g. by passage).
 */
export function positionBiasCI(pFirstByExample: readonly (readonly number[])[], options: BootstrapOptions): BootstrapResult {
  const fn = 'positionBiasCI';
  if (!Array.isArray(pFirstByExample) || pFirstByExample.length === 0) {
    throw new RangeError(`${fn}: pFirstByExample must be a non-empty array with one list of P(first option) per example.`);
  }
  const sums = new Float64Array(pFirstByExample.length);
  const counts = new Float64Array(pFirstByExample.length);
  pFirstByExample.forEach((values, e) => {
    if (!Array.isArray(values) || values.length === 0) throw new RangeError(`${fn}: pFirstByExample[${e}] must be a non-empty array of probabilities.`);
    checkValues(fn, `pFirstByExample[${e}]`, values, values.length, true);
    for (const v of values) sums[e]! += v;
    counts[e] = values.length;
  });
  return bootstrapCI(
    pFirstByExample.length,
    (idx) => {
      let sum = 0;
      let count = 0;
      for (let j = 0; j < idx.length; j++) {
        sum += sums[idx[j]!]!;
        count += counts[idx[j]!]!;
      }
      return sum / count;
    },
    options,
  );
}

// ---- diversity ----

/** Fraction of examples on which two raters' hard decisions (prob > 0.5) agree. */
export function pairAgreement(a: readonly number[], b: readonly number[]): number {
  checkPair('pairAgreement', a, b);
  let agree = 0;
  for (let i = 0; i < a.length; i++) if (a[i]! > 0.5 === b[i]! > 0.5) agree++;
  return agree / a.length;
}

/**
 * Pearson correlation (phi) of two raters' error indicators (1 = the hard decision is wrong). 0 means they err
 * independently, which is what makes a vote help; 1 means they make the same mistakes. Null when either rater is
 * always right or always wrong: the correlation is 0/0 there, as with kappa's degenerate case.
 */
export function errorCorrelation(a: readonly number[], b: readonly number[], labels: readonly Label[]): number | null {
  const fn = 'errorCorrelation';
  checkLabels(fn, labels);
  checkValues(fn, 'a', a, labels.length, true);
  checkValues(fn, 'b', b, labels.length, true);
  // 2×2 table of (a wrong, b wrong): n11 both wrong, n10 only a, n01 only b, n00 neither.
  let n11 = 0;
  let n10 = 0;
  let n01 = 0;
  let n00 = 0;
  for (let i = 0; i < labels.length; i++) {
    const ea = (a[i]! > 0.5 ? 1 : 0) !== labels[i];
    const eb = (b[i]! > 0.5 ? 1 : 0) !== labels[i];
    if (ea && eb) n11++;
    else if (ea) n10++;
    else if (eb) n01++;
    else n00++;
  }
  const margins = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00);
  if (margins === 0) return null;
  return (n11 * n00 - n10 * n01) / Math.sqrt(margins);
}

// ---- cost ----

/**
 * Names of the points on the cost–accuracy frontier. A point is dominated when another costs no more and is no less
 * accurate, and is strictly better in one of the two; exact duplicates do not dominate each other, so both stay.
 * Names must be unique (they are the result's identity).
 */
export function costFrontier(points: readonly { name: string; cost: number; accuracy: number }[]): Set<string> {
  const fn = 'costFrontier';
  if (!Array.isArray(points) || points.length === 0) throw new RangeError(`${fn}: points must be a non-empty array of { name, cost, accuracy }.`);
  const seen = new Set<string>();
  points.forEach((p, i) => {
    if (p === null || typeof p !== 'object' || typeof p.name !== 'string') throw new RangeError(`${fn}: points[${i}] must be { name: string, cost, accuracy }.`);
    if (seen.has(p.name)) throw new RangeError(`${fn}: points[${i}] repeats the name "${p.name}"; names must be unique.`);
    seen.add(p.name);
    if (typeof p.cost !== 'number' || !Number.isFinite(p.cost) || p.cost < 0) {
      throw new RangeError(`${fn}: points[${i}] ("${p.name}") has cost ${String(p.cost)}; expected a finite number ≥ 0.`);
    }
    if (typeof p.accuracy !== 'number' || !Number.isFinite(p.accuracy)) {
      throw new RangeError(`${fn}: points[${i}] ("${p.name}") has accuracy ${String(p.accuracy)}; expected a finite number.`);
    }
  });
  const out = new Set<string>();
  for (const p of points) {
    const dominated = points.some(
      (q) => q.cost <= p.cost && q.accuracy >= p.accuracy && (q.cost < p.cost || q.accuracy > p.accuracy),
    );
    if (!dominated) out.add(p.name);
  }
  return out;
}

// ---- internals ----

/** logit(clip(p)); p = 0 and 1 give ∓Infinity before the cap. */
function logit(p: number): number {
  return Math.min(LOGIT_CAP, Math.max(-LOGIT_CAP, Math.log(p / (1 - p))));
}

function sigmoid(z: number): number {
  // Two branches so that exp never overflows.
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** log(1 + eᶻ) without overflow. */
function softplus(z: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

/** Rows of [1, logit(p₁), …, logit(p_K)], one per example. Inputs are assumed checked. */
function designMatrix(memberProbs: readonly (readonly number[])[]): Float64Array[] {
  const n = memberProbs[0]!.length;
  const k = memberProbs.length;
  const rows: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const r = new Float64Array(k + 1);
    r[0] = 1;
    for (let j = 0; j < k; j++) r[j + 1] = logit(memberProbs[j]![i]!);
    rows.push(r);
  }
  return rows;
}

function predict(model: StackerModel, x: readonly Float64Array[], n: number): number[] {
  const beta = [model.intercept, ...model.weights];
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = sigmoid(dot(beta, x[i]!));
  return out;
}

/**
 * Newton's method on f(β) = Σᵢ [yᵢ ηᵢ − log(1 + e^ηᵢ)] − (l2/2)·Σ_{j≥1} β_j², ηᵢ = β·xᵢ. Each step solves
 * (XᵀWX + l2·I')·δ = ∇f with W = diag(pᵢ(1 − pᵢ)) and I' the identity without the intercept entry; a step that
 * lowers f is halved (pure Newton can overshoot when the data are nearly separable).
 */
function newton(x: readonly Float64Array[], y: readonly Label[], l2: number, maxIter: number): StackerModel {
  const d = x[0]!.length;
  let beta = new Array<number>(d).fill(0);
  const objective = (b: readonly number[]): number => {
    let f = 0;
    for (let i = 0; i < x.length; i++) {
      const eta = dot(b, x[i]!);
      f -= y[i] === 1 ? softplus(-eta) : softplus(eta);
    }
    for (let j = 1; j < d; j++) f -= (l2 / 2) * b[j]! ** 2;
    return f;
  };
  let f = objective(beta);
  for (let iter = 0; iter < maxIter; iter++) {
    const grad = new Array<number>(d).fill(0);
    const hess = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let i = 0; i < x.length; i++) {
      const xi = x[i]!;
      const p = sigmoid(dot(beta, xi));
      const w = p * (1 - p);
      for (let a = 0; a < d; a++) {
        grad[a]! += (y[i]! - p) * xi[a]!;
        for (let b = 0; b <= a; b++) hess[a]![b]! += w * xi[a]! * xi[b]!;
      }
    }
    for (let a = 0; a < d; a++) for (let b = a + 1; b < d; b++) hess[a]![b] = hess[b]![a]!;
    for (let j = 1; j < d; j++) {
      grad[j]! -= l2 * beta[j]!;
      hess[j]![j]! += l2;
    }
    const step = solve(hess, grad);
    let t = 1;
    let next = beta.map((b, j) => b + step[j]!);
    let fNext = objective(next);
    while (fNext < f && t > 1e-10) {
      t /= 2;
      next = beta.map((b, j) => b + t * step[j]!);
      fNext = objective(next);
    }
    if (fNext < f) break; // no ascent left within float precision: beta is the maximum
    const moved = Math.max(...step.map((s, j) => Math.abs(t * s) / (1 + Math.abs(beta[j]!))));
    beta = next;
    f = fNext;
    if (moved < 1e-12) break;
  }
  return { intercept: beta[0]!, weights: beta.slice(1) };
}

/** Solves A·x = b for a small symmetric positive-definite A by Gaussian elimination with partial pivoting. */
function solve(a: readonly (readonly number[])[], b: readonly number[]): number[] {
  const d = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < d; c++) {
    let pivot = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[pivot]![c]!)) pivot = r;
    [m[c], m[pivot]] = [m[pivot]!, m[c]!];
    for (let r = c + 1; r < d; r++) {
      const factor = m[r]![c]! / m[c]![c]!;
      for (let k = c; k <= d; k++) m[r]![k]! -= factor * m[c]![k]!;
    }
  }
  const out = new Array<number>(d).fill(0);
  for (let r = d - 1; r >= 0; r--) {
    let s = m[r]![d]!;
    for (let k = r + 1; k < d; k++) s -= m[r]![k]! * out[k]!;
    out[r] = s / m[r]![r]!;
  }
  return out;
}

function dot(a: readonly number[], b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

function stackerOptions(fn: string, options: StackerOptions): { l2: number; maxIter: number } {
  if (options === null || typeof options !== 'object') throw new RangeError(`${fn}: options must be an object such as { l2: 1 }.`);
  const l2 = options.l2 ?? 1;
  if (typeof l2 !== 'number' || !Number.isFinite(l2) || l2 <= 0) {
    throw new RangeError(`${fn}: l2 must be a finite number > 0 (got ${String(l2)}); it keeps the weights finite on separable data.`);
  }
  const maxIter = options.maxIter ?? 100;
  checkInt(fn, 'maxIter', maxIter, 1);
  return { l2, maxIter };
}

function checkModel(fn: string, model: StackerModel): void {
  if (model === null || typeof model !== 'object' || !Array.isArray(model.weights) || model.weights.length === 0) {
    throw new RangeError(`${fn}: model must be { intercept, weights } with one weight per member, as fitStacker returns.`);
  }
  if (typeof model.intercept !== 'number' || !Number.isFinite(model.intercept)) {
    throw new RangeError(`${fn}: model.intercept is ${String(model.intercept)}; expected a finite number.`);
  }
  checkValues(fn, 'model.weights', model.weights, model.weights.length, false);
}

/** The apply set: `members` rows of equal length, possibly zero, each entry a probability. */
function checkApply(fn: string, apply: readonly (readonly number[])[], members: number): void {
  if (!Array.isArray(apply) || apply.length !== members) {
    throw new RangeError(`${fn}: apply must have one row per member (${members}), like train.memberProbs (got ${Array.isArray(apply) ? apply.length : String(apply)}).`);
  }
  const n = Array.isArray(apply[0]) ? apply[0].length : 0;
  apply.forEach((m, j) => checkValues(fn, `apply[${j}]`, m, n, true));
}

function checkPair(fn: string, a: readonly number[], b: readonly number[]): void {
  if (!Array.isArray(a) || a.length === 0) throw new RangeError(`${fn}: a must be a non-empty array of probabilities.`);
  if (!Array.isArray(b) || b.length !== a.length) {
    throw new RangeError(`${fn}: b has ${Array.isArray(b) ? b.length : String(b)} entries but a has ${a.length}; they must rate the same examples.`);
  }
  checkValues(fn, 'a', a, a.length, true);
  checkValues(fn, 'b', b, a.length, true);
}

/** Rows grouped into units: one per distinct non-null key, one per row without a key; in order of first appearance. */
function unitsOf(fn: string, groups: readonly (string | null | undefined)[] | undefined, n: number): number[][] {
  if (groups === undefined) return Array.from({ length: n }, (_, i) => [i]);
  if (!Array.isArray(groups) || groups.length !== n) {
    throw new RangeError(`${fn}: train.groups has ${Array.isArray(groups) ? groups.length : String(groups)} entries but there are ${n} train rows; give one key (or null) per row.`);
  }
  const units: number[][] = [];
  const byKey = new Map<string, number[]>();
  groups.forEach((key, i) => {
    if (key == null) {
      units.push([i]);
      return;
    }
    if (typeof key !== 'string') throw new RangeError(`${fn}: train.groups[${i}] is ${String(key)}; expected a string key or null.`);
    let unit = byKey.get(key);
    if (!unit) {
      byKey.set(key, (unit = []));
      units.push(unit);
    }
    unit.push(i);
  });
  return units;
}

/** Fold per row: units in a seeded Fisher–Yates order, each to the fold with the fewest rows (lowest index on ties). */
function assignFolds(units: readonly number[][], folds: number, random: () => number, n: number): number[] {
  const order = units.slice();
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1))); // guard a random() that returns exactly 1
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const size = new Array<number>(folds).fill(0);
  const foldOf = new Array<number>(n);
  for (const unit of order) {
    let f = 0;
    for (let g = 1; g < folds; g++) if (size[g]! < size[f]!) f = g;
    for (const i of unit) foldOf[i] = f;
    size[f]! += unit.length;
  }
  return foldOf;
}
