import { basename } from 'node:path';
import {
  accuracyBySize, accuracyCI, brier, clustersFromKeys, cohenKappa, ece, fleissKappa, majorityVote, mcnemar, meanSoftLabel, pairedBootstrapDiff,
  type EnsembleSizeAccuracy, type Label,
} from '../metrics/index.js';
import { newcombeDiff, unpairedBootstrapDiff } from '../metrics/unpaired.js';
import { canonicalJson } from '../hash.js';
import { createRng, deriveSeed } from '../rng.js';
import { modelKey, type MetricValue, type ReportQueries } from './queries.js';
import { subjectName, subjectOfRole, type SubjectContext } from './subjects.js';

/** One model, ensemble or judge scored on the test examples of a run: P(label 1) per example, in a fixed order. */
export interface Subject {
  /** The stored subject ("member0", "strong_by_judge:j1"; "A:weak" for run A's): the key in --json, never printed as is. */
  name: string;
  /** Its short name, as every view prints it ("member 0", "strong on judge j1"; "A: weak model"). */
  label: string;
  /** What it is: the long label. */
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
  /** The stored config's settings that decide the test split (testSplitSettings). */
  data: Record<string, unknown>;
  /**
   * Judges and judge ensembles the run did not score (below their minCoverage: see pipeline/judges.ts), with the
   * stored reason: left out of every table and test, and listed as n/a instead.
   */
  unscored: Unscored[];
}

export interface Unscored {
  name: string;
  label: string;
  note: string;
}

/** Where a run's data came from: the files it read (name and sha256), and the config's paths they decide between. */
const DATA_KEY = 'dataset.data';
const PATH_KEYS = ['dataset.path', 'dataset.files', 'dataset.dataDir'];

/**
 * The config fields that decide which examples a run tests on: the dataset and how it is read, the split seed and the
 * test size. Train sizes are left out on purpose: the test split is drawn first from the seeded shuffle (or from its
 * own pool), so they never change it (data/splits.ts drawSplits). `data`: the files the run read, by name and sha256
 * (dataFilesRead), when it recorded them: differingSettings lets them decide whether the paths differ, since the
 * stored config holds its paths absolute and the same file read from two config folders is the same data.
 */
export function testSplitSettings(raw: Record<string, unknown>, data?: readonly string[]): Record<string, unknown> {
  const d = (raw.dataset ?? {}) as Record<string, any>;
  return {
    'dataset.name': d.name, 'dataset.path': d.path, 'dataset.files': d.files, 'dataset.dataDir': d.dataDir, ...(data?.length ? { [DATA_KEY]: data } : {}),
    'dataset.splitField': d.splitField,
    'dataset.groupBy': d.groupBy, 'dataset.skipInvalid': d.skipInvalid, 'dataset.sizes.test': d.sizes?.test, seed: raw.seed,
    // Where the files come from (absent for the default, "files", so older runs compare as before).
    ...(d.source === 'hub' ? { 'dataset.source': d.source, 'dataset.revision': d.revision, 'dataset.hub': d.hub } : {}),
  };
}

/**
 * The data files a run read, as "<file name> sha256 <hex>" in name order, from its `dataset` metrics `file:<path>`;
 * undefined when it recorded none, or one without a sha256.
 */
export function dataFilesRead(metrics: readonly MetricValue[]): string[] | undefined {
  const files = metrics.filter((m) => m.subject === 'dataset' && m.name.startsWith('file:'));
  const out: string[] = [];
  for (const m of files) {
    const sha = /\bsha256 ([0-9a-f]{64})\b/.exec(m.note ?? '')?.[1];
    if (!sha) return undefined;
    out.push(`${basename(m.name.slice('file:'.length))} sha256 ${sha}`);
  }
  return out.length ? out.sort() : undefined;
}

/**
 * The split settings two runs disagree on, each as "field A-value vs B-value". Where both runs recorded the files they
 * read (testSplitSettings' data), those decide: the same bytes under the same names are the same data wherever the
 * paths point, and other bytes under the same paths are not.
 */
export function differingSettings(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const show = (v: unknown): string => (v === undefined ? 'unset' : typeof v === 'string' ? v : canonicalJson(v));
  const differs = (k: string): boolean => canonicalJson(a[k] ?? null) !== canonicalJson(b[k] ?? null);
  const known = a[DATA_KEY] !== undefined && b[DATA_KEY] !== undefined;
  const keys = Object.keys({ ...a, ...b }).filter((k) => k !== DATA_KEY && differs(k) && !(known && !differs(DATA_KEY) && PATH_KEYS.includes(k)));
  if (known && differs(DATA_KEY) && !keys.some((k) => PATH_KEYS.includes(k))) keys.push(DATA_KEY);
  return keys.map((k) => `${k} ${show(a[k])} vs ${show(b[k])}`);
}

/** The judges, judge ensembles and judge-supervised models stored as "not scored" (a judge below its minCoverage). */
export function unscoredSubjects(metrics: readonly MetricValue[], ctx: SubjectContext): Unscored[] {
  return metrics
    .filter((m) => m.name === 'accuracy' && m.method === 'not scored' && /^(judge|judge_ensemble|strong_by_judge):[^@]*$/.test(m.subject))
    .map((m) => ({ name: m.subject, label: subjectName(m.subject, ctx).short, note: m.note ?? 'not scored' }));
}

/**
 * A run's test split with every model's predictions aligned to it. Models still missing a prediction (a run in
 * progress) are left out; a judge's missing examples count as 0.5, as the pipeline's evaluation does. `metrics`: the
 * run's stored metrics, when the caller has read them already.
 */
export function testView(q: ReportQueries, runId: string, metrics: readonly MetricValue[] = q.metrics(runId)): TestView {
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
  const ctx: SubjectContext = config;
  // A judge below its minCoverage was stored as "not scored": its 0.5s must not turn into an accuracy here either.
  const unscored = unscoredSubjects(metrics, ctx);
  const isUnscored = (name: string): boolean => unscored.some((u) => u.name === name);
  const named = (name: string, probs: number[]): Subject => {
    const n = subjectName(name, ctx);
    return { name, label: n.short, description: n.long, probs };
  };
  const ofMembers = (role: string): Subject[] => {
    const out: Subject[] = [];
    for (let k = 0; ; k++) {
      const probs = aligned(modelKey(role, k));
      if (!probs) return out;
      out.push(named(subjectOfRole(role, k, ctx), probs));
    }
  };
  const members = ofMembers('weak_member');
  const finetuneMembers = ofMembers('weak_member_finetune');
  const subjects: Subject[] = [];
  const add = (name: string, probs: number[] | undefined): void => {
    if (probs) subjects.push(named(name, probs));
  };
  add('weak', aligned(modelKey('weak', 0)));
  subjects.push(...members);
  if (members.length > 0) {
    add('weak_ensemble', meanSoftLabel(members.map((m) => m.probs)));
    if (members.length > 1) add('weak_ensemble_vote', majorityVote(members.map((m) => m.probs)));
  }
  // The ensemble ablation: the finetune ensemble, and the strong models on one member's and on its labels.
  if (finetuneMembers.length > 0) add('weak_ensemble_finetune', meanSoftLabel(finetuneMembers.map((m) => m.probs)));
  add('strong_naive', aligned(modelKey('strong_naive', 0)));
  add('strong_single', aligned(modelKey('strong_single', 0)));
  add('strong_finetune', aligned(modelKey('strong_finetune', 0)));
  add('strong', aligned(modelKey('strong', 0)));
  add('strong_ceiling', aligned(modelKey('strong_ceiling', 0)));
  for (const [judge, byExample] of q.judgeMeans(runId)) {
    if (test.length === 0) break;
    if (isUnscored(`judge:${judge}`)) continue;
    subjects.push(named(`judge:${judge}`, exampleIds.map((id) => byExample.get(id) ?? 0.5)));
  }
  // Judge ensembles, as stored (member = the ensemble's index in the config's judgeEnsembles).
  const ensembles = Array.isArray(config.raw.judgeEnsembles) ? (config.raw.judgeEnsembles as { name?: unknown }[]) : [];
  ensembles.forEach((e, k) => {
    if (typeof e?.name === 'string') add(`judge_ensemble:${e.name}`, aligned(modelKey('judge_ensemble', k)));
  });
  // The strong models trained on each judge's and judge ensemble's labels (member = the judge's index, then the ensembles').
  for (let k = 0; k < config.judges.length + ensembles.length; k++) add(subjectOfRole('strong_by_judge', k, ctx), aligned(modelKey('strong_by_judge', k)));
  return { runId, exampleIds, labels, subjects, members, groups: test.map((e) => e.group), data: testSplitSettings(config.raw, dataFilesRead(metrics)), unscored };
}

/** Restricts a view to the given example ids, in that order (for comparing two runs on the examples they share). */
export function restrictView(view: TestView, ids: readonly string[]): TestView {
  const index = new Map(view.exampleIds.map((id, i) => [id, i]));
  const pick = (arr: readonly number[]): number[] => ids.map((id) => arr[index.get(id)!]!);
  const sub = (s: Subject): Subject => ({ ...s, probs: pick(s.probs) });
  const groups = ids.map((id) => view.groups[index.get(id)!]!);
  return { ...view, exampleIds: [...ids], labels: pick(view.labels) as Label[], subjects: view.subjects.map(sub), members: view.members.map(sub), groups };
}

export interface Interval {
  value: number | null;
  lo: number | null;
  hi: number | null;
}

export interface SubjectStats {
  name: string;
  /** The short name every view prints (Subject.label). */
  label: string;
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

/** One subject of two runs that share no test examples: B's accuracy minus A's, each on its own test set. */
export interface UnpairedStats {
  a: string;
  b: string;
  nA: number;
  nB: number;
  /** Bootstrap interval and p-value, each run's test set resampled independently (whole groups where there are any). */
  diff: Interval & { pValue: number | null };
  /** Newcombe's hybrid score interval of the same difference (examples taken as independent). */
  newcombe: { lo: number; hi: number };
}

export interface Comparison {
  mode: 'members' | 'runs';
  runs: string[];
  /** Where each run is (display paths), when the caller knows. */
  files?: string[];
  /** Test examples the subjects are scored on together; 0 when two runs are compared unpaired. */
  n: number;
  /** Two runs: paired on shared examples or not, and the sentence that says why. */
  pairing?: { paired: boolean; note: string };
  /** Two runs compared unpaired: every subject in both, B against A (pairs is then empty). */
  unpaired: UnpairedStats[];
  level: number;
  resamples: number;
  subjects: SubjectStats[];
  pairs: PairStats[];
  /** Cohen's kappa between every two raters (members, baseline, judges). */
  kappa: { names: string[]; matrix: (number | null)[][] };
  /** Fleiss' kappa across the ensemble members' hard votes. */
  fleiss: number | null;
  bySize: EnsembleSizeAccuracy[];
  /** Judges and judge ensembles left out because the run did not score them, with the stored reason. */
  unscored: Unscored[];
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
    return { name: s.name, label: s.label, description: s.description, n: labels.length, accuracy, ece: storedEce.value, brier: storedBrier.value };
  }
  const random = createRng(deriveSeed(opts.seed, 'compare', tag, s.name)).random;
  const acc = accuracyCI(s.probs, labels, { random, resamples: opts.resamples, level: opts.level, groups });
  return { name: s.name, label: s.label, description: s.description, n: labels.length, accuracy: { value: acc.value, lo: acc.lo, hi: acc.hi }, ece: ece(s.probs, labels), brier: brier(s.probs, labels) };
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
  return { mode: 'members', runs: [view.runId], n, level: opts.level, resamples: opts.resamples, subjects, pairs, unpaired: [], kappa: { names: raters.map((r) => r.name), matrix }, fleiss, bySize, unscored: view.unscored };
}

/**
 * Two runs side by side, every subject present in both, named "A:weak", "B:weak", and so on. options.stored holds run
 * A's stored metrics and storedB run B's.
 *
 * When the runs share test examples (same id and gold label), they are compared paired on those examples: McNemar,
 * paired bootstrap, kappas; the note says how many of each run's examples that is, and which data settings differ
 * (testSplitSettings), if any. Only runs that share none are compared unpaired: each subject's accuracy on its own
 * test set with its stored interval, and B − A with an interval that resamples the two test sets independently.
 */
export function compareRuns(viewA: TestView, viewB: TestView, options: CompareOptions = {}, storedB?: readonly MetricValue[]): Comparison {
  const opts = resolve(options);
  const inB = new Map(viewB.exampleIds.map((id, i) => [id, viewB.labels[i]]));
  const shared = viewA.exampleIds.filter((id, i) => inB.has(id) && inB.get(id) === viewA.labels[i]);
  const differ = differingSettings(viewA.data, viewB.data);
  const unscored = [...viewA.unscored.map((u) => ({ ...u, name: `A:${u.name}`, label: `A: ${u.label}` })), ...viewB.unscored.map((u) => ({ ...u, name: `B:${u.name}`, label: `B: ${u.label}` }))];
  const base = { mode: 'runs' as const, runs: [viewA.runId, viewB.runId], level: opts.level, resamples: opts.resamples, fleiss: null, bySize: [], unscored };
  // Decided by the data, not the settings: overlapping test sets are never treated as independent samples.
  if (shared.length === 0) {
    const note = differ.length > 0
      ? `unpaired: the runs do not share test examples (different dataset/seed/split settings: ${differ.join('; ')})`
      : 'unpaired: the runs share no test example with the same id and gold label, though their dataset, seed and split settings agree';
    return { ...base, n: 0, pairing: { paired: false, note }, ...compareUnpaired(viewA, viewB, opts, options.stored, storedB) };
  }
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
    if (!sb) continue;
    const na = { ...sa, name: `A:${sa.name}`, label: `A: ${sa.label}` };
    const nb = { ...sb, name: `B:${sb.name}`, label: `B: ${sb.label}` };
    // Stored intervals apply when the shared examples are each run's whole test split.
    subjects.push(subjectStats(na, labels, opts, a.runId, groups, options.stored, sa.name), subjectStats(nb, labels, opts, b.runId, groups, storedB, sb.name));
    pairs.push(pairStats(na, nb, labels, opts, groups));
    if (sa.name === 'weak_ensemble' || sa.name.startsWith('judge:')) raters.push(na, nb);
  }
  const votes = raters.map((r) => hard(r.probs));
  const matrix = raters.map((_, i) => raters.map((__, j) => (i === j ? 1 : cohenKappa(votes[i]!, votes[j]!))));
  const whole = n === viewA.exampleIds.length && n === viewB.exampleIds.length;
  const note = whole && differ.length === 0
    ? `paired on ${n} shared test examples (same dataset, seed and split settings)`
    : `paired on the ${n} test examples both runs hold (of ${viewA.exampleIds.length} and ${viewB.exampleIds.length})${differ.length ? `; their data settings differ: ${differ.join('; ')}` : ''}`;
  return { ...base, n, pairing: { paired: true, note }, subjects, pairs, unpaired: [], kappa: { names: raters.map((r) => r.name), matrix } };
}

/** Each subject of both runs on its own test set (stored intervals), and B − A resampling the two sets independently. */
function compareUnpaired(
  viewA: TestView, viewB: TestView, opts: Required<Omit<CompareOptions, 'stored'>>, storedA?: readonly MetricValue[], storedB?: readonly MetricValue[],
): Pick<Comparison, 'subjects' | 'pairs' | 'unpaired' | 'kappa'> {
  const groupsA = clustersFromKeys(viewA.groups);
  const groupsB = clustersFromKeys(viewB.groups);
  const subjects: SubjectStats[] = [];
  const unpaired: UnpairedStats[] = [];
  const correct = (s: Subject, labels: readonly Label[]): number => hard(s.probs).filter((p, i) => p === labels[i]).length;
  for (const sa of viewA.subjects) {
    const sb = viewB.subjects.find((s) => s.name === sa.name);
    if (!sb || viewA.labels.length === 0 || viewB.labels.length === 0) continue;
    const na = { ...sa, name: `A:${sa.name}`, label: `A: ${sa.label}` };
    const nb = { ...sb, name: `B:${sb.name}`, label: `B: ${sb.label}` };
    subjects.push(subjectStats(na, viewA.labels, opts, viewA.runId, groupsA, storedA, sa.name), subjectStats(nb, viewB.labels, opts, viewB.runId, groupsB, storedB, sb.name));
    const random = createRng(deriveSeed(opts.seed, 'compare-unpaired', na.name, nb.name)).random;
    const d = unpairedBootstrapDiff(sa.probs, viewA.labels, sb.probs, viewB.labels, { random, resamples: opts.resamples, level: opts.level, groupsA, groupsB });
    const nc = newcombeDiff(correct(sa, viewA.labels), viewA.labels.length, correct(sb, viewB.labels), viewB.labels.length, opts.level);
    unpaired.push({ a: na.name, b: nb.name, nA: viewA.labels.length, nB: viewB.labels.length, diff: { value: d.diff, lo: d.lo, hi: d.hi, pValue: d.pValue }, newcombe: { lo: nc.lo, hi: nc.hi } });
  }
  // No kappa or McNemar: they need the same examples rated twice.
  return { subjects, pairs: [], unpaired, kappa: { names: [], matrix: [] } };
}

/**
 * The short name a comparison prints for a subject, pair member or rater: its label ("member 0", "A: weak ensemble"),
 * never the stored name it is keyed by.
 */
export function labelOf(c: Pick<Comparison, 'subjects'>): (name: string) => string {
  const labels = new Map(c.subjects.map((s) => [s.name, s.label]));
  return (name) => {
    const known = labels.get(name);
    if (known !== undefined) return known;
    const side = /^([AB]):/.exec(name);
    return side ? `${side[1]}: ${subjectName(name.slice(2)).short}` : subjectName(name).short;
  };
}
