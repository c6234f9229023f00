import {
  accuracyBySize, accuracyCI, brier, clustersFromKeys, cohenKappa, ece, fleissKappa, majorityVote, mcnemar, meanSoftLabel, pairedBootstrapDiff,
  type EnsembleSizeAccuracy, type Label,
} from '../metrics/index.js';
import { createRng, deriveSeed } from '../rng.js';
import { modelKey, type MetricValue, type ReportQueries } from './queries.js';
import { describeSubject } from './subjects.js';

/** One model, ensemble or judge scored on the test examples of a run: P(label 1) per example, in a fixed order. */
export interface Subject {
  name: string;
  description: string;
  probs: number[];
}

export interface TestView {
  runId: string;
  exampleIds: string[];
  labels: Label[];
  /** Everything comparable, in display order: baseline, members, ensemble, strong models, judges. */
  subjects: Subject[];
  /** The ensemble members alone (also in subjects). */
  members: Subject[];
  /** Each example's group, so paired tests resample whole groups as the stored intervals do. */
  groups: (string | null)[];
}

/**
 * A run's test split with every model's predictions aligned to it. Models still missing a prediction (a run in
 * progress) are left out; a judge's missing examples count as 0.5, as the pipeline's evaluation does.
 */
export function testView(q: ReportQueries, runId: string): TestView {
  const test = q.examples(runId, 'test');
  const config = q.run(runId)?.config ?? { raw: {}, debaters: [], judges: [] };
  const exampleIds = test.map((e) => e.id);
  const labels = test.map((e) => e.label);
  const preds = q.modelPredictions(runId);
  const aligned = (key: string): number[] | undefined => {
    const m = preds.get(key);
    if (!m || test.length === 0) return undefined;
    const out: number[] = [];
    for (const id of exampleIds) {
      const p = m.get(id);
      if (p === undefined) return undefined;
      out.push(p);
    }
    return out;
  };
  const members: Subject[] = [];
  for (let k = 0; ; k++) {
    const probs = aligned(modelKey('weak_member', k));
    if (!probs) break;
    members.push({ name: `member${k}`, description: describeSubject(`member${k}`, config), probs });
  }
  const subjects: Subject[] = [];
  const add = (name: string, probs: number[] | undefined): void => {
    if (probs) subjects.push({ name, description: describeSubject(name, config), probs });
  };
  add('weak', aligned(modelKey('weak', 0)));
  subjects.push(...members);
  if (members.length > 0) {
    add('weak_ensemble', meanSoftLabel(members.map((m) => m.probs)));
    if (members.length > 1) add('weak_ensemble_vote', majorityVote(members.map((m) => m.probs)));
  }
  add('strong_naive', aligned(modelKey('strong_naive', 0)));
  add('strong', aligned(modelKey('strong', 0)));
  add('strong_ceiling', aligned(modelKey('strong_ceiling', 0)));
  for (const [judge, byExample] of q.judgeMeans(runId)) {
    if (test.length === 0) break;
    subjects.push({ name: `judge:${judge}`, description: describeSubject(`judge:${judge}`, config), probs: exampleIds.map((id) => byExample.get(id) ?? 0.5) });
  }
  return { runId, exampleIds, labels, subjects, members, groups: test.map((e) => e.group) };
}

/** Restricts a view to the given example ids, in that order (for comparing two runs on the examples they share). */
export function restrictView(view: TestView, ids: readonly string[]): TestView {
  const index = new Map(view.exampleIds.map((id, i) => [id, i]));
  const pick = (arr: readonly number[]): number[] => ids.map((id) => arr[index.get(id)!]!);
  const sub = (s: Subject): Subject => ({ ...s, probs: pick(s.probs) });
  const groups = ids.map((id) => view.groups[index.get(id)!]!);
  return { runId: view.runId, exampleIds: [...ids], labels: pick(view.labels) as Label[], subjects: view.subjects.map(sub), members: view.members.map(sub), groups };
}

export interface Interval {
  value: number | null;
  lo: number | null;
  hi: number | null;
}

export interface SubjectStats {
  name: string;
  description: string;
  n: number;
  accuracy: Interval;
  ece: number;
  brier: number;
}

export interface PairStats {
  a: string;
  b: string;
  /** McNemar on the discordant pairs: b = A right and B wrong, c = the reverse. */
  mcnemar: { b: number; c: number; pValue: number; method: string };
  /** accuracy(B) − accuracy(A) with its paired bootstrap interval and p-value. */
  diff: Interval & { pValue: number | null };
  /** Cohen's kappa of the two hard predictions (null when undefined: all in one class). */
  kappa: number | null;
}

export interface Comparison {
  mode: 'members' | 'runs';
  runs: string[];
  n: number;
  level: number;
  resamples: number;
  subjects: SubjectStats[];
  pairs: PairStats[];
  /** Cohen's kappa between every two raters (members, baseline, judges). */
  kappa: { names: string[]; matrix: (number | null)[][] };
  /** Fleiss' kappa across the ensemble members' hard votes. */
  fleiss: number | null;
  bySize: EnsembleSizeAccuracy[];
}

export interface CompareOptions {
  resamples?: number;
  level?: number;
  seed?: number;
  /** The run's stored metrics: subjects' accuracy intervals, ECE and Brier are read from them, not recomputed. */
  stored?: readonly MetricValue[];
}

const hard = (probs: readonly number[]): (0 | 1)[] => probs.map((p) => (p > 0.5 ? 1 : 0));

/**
 * A subject's accuracy interval, ECE and Brier: read from the run's stored metrics when they were computed on these
 * same examples (one number, one interval, in every view); computed here only for a subset of the test split.
 */
function subjectStats(
  s: Subject, labels: readonly Label[], opts: Required<Omit<CompareOptions, 'stored'>>, tag: string, groups: number[] | undefined, stored?: readonly MetricValue[], storedName = s.name,
): SubjectStats {
  const get = (name: string): MetricValue | undefined => stored?.find((m) => m.subject === storedName && m.name === name && m.n === labels.length);
  const [storedAcc, storedEce, storedBrier] = [get('accuracy'), get('ece'), get('brier')];
  if (storedAcc && storedEce?.value != null && storedBrier?.value != null) {
    const accuracy = { value: storedAcc.value, lo: storedAcc.lo, hi: storedAcc.hi };
    return { name: s.name, description: s.description, n: labels.length, accuracy, ece: storedEce.value, brier: storedBrier.value };
  }
  const random = createRng(deriveSeed(opts.seed, 'compare', tag, s.name)).random;
  const acc = accuracyCI(s.probs, labels, { random, resamples: opts.resamples, level: opts.level, groups });
  return { name: s.name, description: s.description, n: labels.length, accuracy: { value: acc.value, lo: acc.lo, hi: acc.hi }, ece: ece(s.probs, labels), brier: brier(s.probs, labels) };
}

function pairStats(a: Subject, b: Subject, labels: readonly Label[], opts: Required<Omit<CompareOptions, 'stored'>>, groups: number[] | undefined, names = [a.name, b.name]): PairStats {
  const ha = hard(a.probs);
  const hb = hard(b.probs);
  const m = mcnemar(ha.map((p, i) => p === labels[i]), hb.map((p, i) => p === labels[i]));
  const random = createRng(deriveSeed(opts.seed, 'compare-pair', names[0]!, names[1]!)).random;
  const d = pairedBootstrapDiff(a.probs, b.probs, labels, { random, resamples: opts.resamples, level: opts.level, groups });
  return { a: names[0]!, b: names[1]!, mcnemar: { b: m.b, c: m.c, pValue: m.pValue, method: m.method }, diff: { value: d.diff, lo: d.lo, hi: d.hi, pValue: d.pValue }, kappa: cohenKappa(ha, hb) };
}

const resolve = (o: CompareOptions): Required<Omit<CompareOptions, 'stored'>> => {
  // The stored evaluation's level and resamples, so paired tests are made at the level the intervals are.
  const weak = o.stored?.find((m) => m.subject === 'weak' && m.name === 'accuracy');
  return { resamples: o.resamples ?? weak?.resamples ?? 1000, level: o.level ?? weak?.level ?? 0.95, seed: o.seed ?? 0 };
};

/**
 * Judges and ensembles of one run side by side on its test examples: each subject's accuracy (bootstrap interval),
 * ECE and Brier; every subject against the ensemble (McNemar, paired bootstrap); Cohen's kappa between every two
 * raters; Fleiss' kappa across members; accuracy against ensemble size 1..K.
 */
export function compareMembers(view: TestView, options: CompareOptions = {}): Comparison {
  const opts = resolve(options);
  const { labels } = view;
  const n = labels.length;
  const groups = clustersFromKeys(view.groups);
  const subjects = n === 0 ? [] : view.subjects.map((s) => subjectStats(s, labels, opts, view.runId, groups, options.stored));
  const reference = view.subjects.find((s) => s.name === 'weak_ensemble') ?? view.subjects.find((s) => s.name === 'weak');
  const pairs = !reference || n === 0 ? [] : view.subjects.filter((s) => s !== reference && s.name !== 'weak_ensemble_vote').map((s) => pairStats(reference, s, labels, opts, groups));
  const raters = view.subjects.filter((s) => s.name === 'weak' || s.name.startsWith('member') || s.name.startsWith('judge:') || s.name === 'weak_ensemble');
  const votes = raters.map((r) => hard(r.probs));
  const matrix = raters.map((_, i) => raters.map((__, j) => (n === 0 ? null : i === j ? 1 : cohenKappa(votes[i]!, votes[j]!))));
  const memberVotes = view.members.map((m) => hard(m.probs));
  const fleiss = view.members.length > 1 && n > 0 ? fleissKappa(labels.map((_, i) => memberVotes.map((v) => v[i]!)), 2) : null;
  const bySize = view.members.length > 0 && n > 0
    ? accuracyBySize(view.members.map((m) => m.probs), labels, { random: createRng(deriveSeed(opts.seed, 'compare-size', view.runId)).random })
    : [];
  return { mode: 'members', runs: [view.runId], n, level: opts.level, resamples: opts.resamples, subjects, pairs, kappa: { names: raters.map((r) => r.name), matrix }, fleiss, bySize };
}

/**
 * Two runs on the test examples they share (by example id, same gold label): every subject present in both, A's
 * against B's, with paired tests. Subjects are named "A:weak", "B:weak", and so on. options.stored holds run A's
 * stored metrics and storedB run B's.
 */
export function compareRuns(viewA: TestView, viewB: TestView, options: CompareOptions = {}, storedB?: readonly MetricValue[]): Comparison {
  const opts = resolve(options);
  const inB = new Map(viewB.exampleIds.map((id, i) => [id, viewB.labels[i]]));
  const shared = viewA.exampleIds.filter((id, i) => inB.has(id) && inB.get(id) === viewA.labels[i]);
  const a = restrictView(viewA, shared);
  const b = restrictView(viewB, shared);
  const labels = a.labels;
  const n = labels.length;
  const groups = clustersFromKeys(a.groups);
  const subjects: SubjectStats[] = [];
  const pairs: PairStats[] = [];
  const raters: Subject[] = [];
  for (const sa of a.subjects) {
    const sb = b.subjects.find((s) => s.name === sa.name);
    if (!sb || n === 0) continue;
    const na = { ...sa, name: `A:${sa.name}` };
    const nb = { ...sb, name: `B:${sb.name}` };
    // Stored intervals apply when the shared examples are each run's whole test split.
    subjects.push(subjectStats(na, labels, opts, a.runId, groups, options.stored, sa.name), subjectStats(nb, labels, opts, b.runId, groups, storedB, sb.name));
    pairs.push(pairStats(na, nb, labels, opts, groups));
    if (sa.name === 'weak_ensemble' || sa.name.startsWith('judge:')) raters.push(na, nb);
  }
  const votes = raters.map((r) => hard(r.probs));
  const matrix = raters.map((_, i) => raters.map((__, j) => (i === j ? 1 : cohenKappa(votes[i]!, votes[j]!))));
  return {
    mode: 'runs', runs: [viewA.runId, viewB.runId], n, level: opts.level, resamples: opts.resamples, subjects, pairs,
    kappa: { names: raters.map((r) => r.name), matrix }, fleiss: null, bySize: [],
  };
}
