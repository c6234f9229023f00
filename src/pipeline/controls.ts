/**
 * The built-in controls (`w2s controls`): ordinary experiments on a synthetic task with known ground truth, showing
 * that the pipeline detects a real debate effect (informed debaters), invents none (uninformative debaters), and that
 * its nominal 95% intervals cover the planted truth at their stated rate.
 *
 * The task: short reviews in CONTROL_LANGUAGE ("the plot was not dull. the music was gripping. ..."); the noiseless
 * label is the reviews' tone (the sign of the clauses' polarities, "not" flipping one), the gold label is it flipped
 * with probability labelNoise. A bag of single words (the weak features) sees the adjectives and how many "not"s,
 * not which adjective each negates, so it is above chance but well below a bag of word pairs (the strong features),
 * which sees "not dull". The debater (scripted:informed-debater:q=...) reads only its prompt, computes the tone like
 * a strong model, and names it in an argument with probability q, independently per argument.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { atomicWrite } from '../atomic-write.js';
import { MetricsSchema, type ExperimentConfig } from '../config/experiment.js';
import { parseExperiment } from '../config/load.js';
import { UserError } from '../errors.js';
import { hashValue } from '../hash.js';
import {
  accuracy,
  accuracyCI,
  meanSoftLabel,
  pairedBootstrapDiff,
  pairedPgrDiff,
  type Label,
} from '../metrics/index.js';
import { CONTROL_LANGUAGE } from '../models/adapters/scripted.js';
import { createRng, deriveSeed, type Rng } from '../rng.js';
import { textTable } from '../report/results.js';
import { describeSubject, ensembleLabel } from '../report/subjects.js';
import { openStore, type Store } from '../store/index.js';
import { hashedNgramFeaturizer } from '../train/featurizers.js';
import { createProbeBackend, type ProbeState } from '../train/probe.js';
import type { Featurizer, FineTuneBackend } from '../train/types.js';
import { ROLES } from './predictions.js';
import type { ProgressListener } from './progress.js';
import { runExperiment } from './run.js';

// ---------------------------------------------------------------------------------------------------------------
// The controls file

const Fraction = z.number().min(0).max(1);
const Passthrough = z.record(z.string(), z.unknown());

export const ControlsSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().min(1).regex(/^[\w.-]+$/, 'use letters, digits, dot, dash or underscore').default('controls'),
    seed: z.number().int().min(0).default(0),
    data: z
      .object({
        clauses: z.number().int().min(1).max(41).refine((n) => n % 2 === 1, 'must be odd, so a review\'s tone is never a tie').default(5),
        negation: Fraction.default(0.2).describe('Probability that a clause is negated ("was not ...").'),
        labelNoise: z.number().min(0).lt(0.5).default(0.05).describe('Probability that the gold label is the tone flipped.'),
      })
      .strict()
      .prefault({}),
    sizes: z
      .object({
        train_weak: z.number().int().min(10).default(300),
        train_strong: z.number().int().min(10).default(300),
        test: z.number().int().min(10).default(800),
      })
      .strict()
      .prefault({}),
    q: Fraction.default(0.3).describe('Positive control: probability that an informed debater names the tone in an argument.'),
    debate: z
      .object({
        turns: z.number().int().min(1).max(10).default(2),
        samples: z.number().int().min(1).max(16).default(4),
      })
      .strict()
      .prefault({}),
    weak: Passthrough.default({ features: { kind: 'hashed', dim: 1024, ngrams: [1, 1] }, probe: { optimizer: 'lbfgs', l2: 0.01 }, ensemble: { size: 4 } })
      .describe('The experiments\' "weak" section; ensemble.kind is set by each run.'),
    audit: Passthrough.optional().describe('The experiments\' "audit" section (the leak audit), e.g. {"onLeak": "warn"}.'),
    strong: Passthrough.default({ features: { kind: 'hashed', dim: 4096, ngrams: [1, 2] }, probe: { optimizer: 'lbfgs', l2: 0.01 } }).describe('The experiments\' "strong" section.'),
    metrics: MetricsSchema,
    coverage: z
      .object({
        seeds: z.number().int().min(10).default(100),
        population: z.number().int().min(1000).default(20_000).describe('Fresh rows that measure a trained model\'s true accuracy.'),
        range: z.tuple([Fraction, Fraction]).default([0.9, 0.99]).describe('Coverage rates that pass.'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Controls = z.infer<typeof ControlsSchema>;

/** Validates a parsed controls file; an error is one sentence naming the field. */
export function parseControls(raw: unknown, source = 'controls'): Controls {
  const result = ControlsSchema.safeParse(raw);
  if (result.success) {
    // The weak and strong sections are the experiments' own: check them now, before any work.
    for (const variant of ['positive', 'negative'] as const) {
      for (const kind of ['debate', 'finetune'] as const) controlExperiment(result.data, 'controls.jsonl', variant, kind, source);
    }
    return result.data;
  }
  const issue = result.error.issues[0]!;
  const path = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
  const what =
    issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove or rename them` : issue.message.replace(/\.$/, '');
  throw new UserError(`${source}: field ${path}: ${what}.`);
}

export function loadControls(file: string): Controls {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`Cannot read controls file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}.`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError(`Controls file ${file} is not valid JSON: ${(e as Error).message}.`);
  }
  return parseControls(raw, file);
}

// ---------------------------------------------------------------------------------------------------------------
// The generator

export interface ControlRow {
  id: string;
  text: string;
  /** The gold label: the tone, flipped with probability labelNoise. */
  label: 0 | 1;
  /** tone: the noiseless label; flipped: whether the gold label is the tone flipped. */
  meta: { tone: 0 | 1; flipped: boolean };
}

/** One review: `clauses` clauses, each a random noun, a random polarity and adjective, negated with probability `negation`. */
function drawRow(rng: Rng, knobs: Controls['data'], id: string): ControlRow {
  const { nouns, positive, negative, negator } = CONTROL_LANGUAGE;
  const clauses: string[] = [];
  let sum = 0;
  for (let c = 0; c < knobs.clauses; c++) {
    const noun = rng.choice(nouns);
    const good = rng.random() < 0.5;
    const adjective = rng.choice(good ? positive : negative);
    const negated = rng.random() < knobs.negation;
    sum += (good ? 1 : -1) * (negated ? -1 : 1);
    clauses.push(`the ${noun} was ${negated ? `${negator} ` : ''}${adjective}.`);
  }
  const tone: 0 | 1 = sum > 0 ? 1 : 0;
  const flipped = rng.random() < knobs.labelNoise;
  return { id, text: clauses.join(' '), label: flipped ? ((1 - tone) as 0 | 1) : tone, meta: { tone, flipped } };
}

/** n rows from the seeded generator; the same knobs, n and seed give the same rows on any machine. */
export function generateControlRows(knobs: Controls['data'], n: number, seed: number, idPrefix = 'r'): ControlRow[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => drawRow(rng, knobs, `${idPrefix}${i}`));
}

/** Writes rows as JSONL (temp file + rename, so a crash never leaves half a file). */
function writeRows(file: string, rows: readonly ControlRow[]): void {
  atomicWrite(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

// ---------------------------------------------------------------------------------------------------------------
// The experiments

export type Variant = 'positive' | 'negative';
export type EnsembleKind = 'debate' | 'finetune';

/** The debater spec of a variant: informed debaters name the tone with probability q, uninformative ones never. */
function debaterSpec(q: number): string {
  return `scripted:informed-debater:q=${q}`;
}

/**
 * The ordinary experiment config of one control run. The debate and finetune runs of a variant share the data, the
 * seed and so the splits, the weak baseline, the naive and ceiling strong models and transcript sample 0: they differ
 * only in the weak ensemble (members reading transcripts 0..K−1, or all reading transcript 0 with different seeds).
 */
export function controlExperiment(c: Controls, dataFile: string, variant: Variant, kind: EnsembleKind, source = 'controls'): ExperimentConfig {
  const q = variant === 'positive' ? c.q : 0;
  const weak = c.weak as { ensemble?: Record<string, unknown> };
  return parseExperiment(
    {
      name: `${c.name}-${variant}-${kind}`,
      seed: c.seed,
      dataset: { name: 'jsonl', path: dataFile, sizes: c.sizes },
      debate: {
        protocol: 'debate',
        debaters: [debaterSpec(q)],
        turns: c.debate.turns,
        // The finetune ensemble reads transcript 0 only.
        samples: kind === 'debate' ? c.debate.samples : 1,
        temperature: 1,
      },
      weak: { ...c.weak, ensemble: { ...weak.ensemble, kind } },
      strong: c.strong,
      ...(c.audit && { audit: c.audit }),
      gateway: { concurrency: 16 },
      metrics: c.metrics,
    },
    `${source} (as the ${variant} control's ${kind} run)`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Reading a finished run back

/** A run's test-split predictions, in the order of `ids`, read from the store. */
export interface TestPredictions {
  ids: string[];
  labels: Label[];
  weak: number[];
  members: number[][];
  ensemble: number[];
  strong: number[];
  naive: number[];
  ceiling: number[];
}

function readTestPredictions(store: Store, runId: string, ids?: readonly string[]): TestPredictions {
  const test = store.examples.listExamples(runId, 'test');
  const byId = new Map(test.map((e) => [e.id, e]));
  const order = ids ? [...ids] : test.map((e) => e.id);
  if (order.length !== test.length || order.some((id) => !byId.has(id))) {
    throw new Error(`run ${runId} has a different test split; the paired comparisons need the same examples`);
  }
  const of = (role: string, member = 0): number[] => {
    const model = store.models.getModel(runId, role, member);
    if (!model) throw new Error(`run ${runId} has no ${role}[${member}] model`);
    const p = new Map(store.models.listPredictions(model.id).map((r) => [r.exampleId, r.p1]));
    return order.map((id) => {
      const v = p.get(id);
      if (v === undefined) throw new Error(`run ${runId}: ${role}[${member}] has no prediction for ${id}`);
      return v;
    });
  };
  const members: number[][] = [];
  while (store.models.getModel(runId, ROLES.member, members.length)) members.push(of(ROLES.member, members.length));
  return {
    ids: order,
    labels: order.map((id) => byId.get(id)!.label as Label),
    weak: of(ROLES.weak),
    members,
    ensemble: meanSoftLabel(members),
    strong: of(ROLES.strong),
    naive: of(ROLES.naive),
    ceiling: of(ROLES.ceiling),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The checks

export interface Estimate {
  value: number | null;
  lo: number | null;
  hi: number | null;
  /** Resamples where the statistic was undefined (PGR with ceiling <= weak), left out of the interval. */
  undefinedResamples?: number;
}

/** One comparison: B − A with a paired interval, and what the check expects of it. */
export interface Comparison extends Estimate {
  label: string;
  /** 'positive': the interval must lie above 0; 'zero': it must include 0; 'report': shown, not judged. */
  expect: 'positive' | 'zero' | 'report';
  /** The interval's level: Bonferroni-adjusted for judged comparisons, nominal for reported ones. */
  level: number;
  pass: boolean;
  note?: string;
}

export interface VariantFigures {
  q: number;
  runs: Record<EnsembleKind, string>;
  n: number;
  accuracy: {
    weak: Estimate;
    single: Estimate;
    finetuneEnsemble: Estimate;
    debateEnsemble: Estimate;
    strongNaive: Estimate;
    strongDebate: Estimate;
    strongFinetune: Estimate;
    ceiling: Estimate;
  };
  pgr: { naive: Estimate; debate: Estimate; finetune: Estimate };
}

export interface Check {
  name: 'positive' | 'negative' | 'coverage';
  pass: boolean;
  comparisons: Comparison[];
  figures?: VariantFigures;
  coverage?: CoverageResult;
}

export interface ControlsResult {
  controls: Controls;
  dataFile: string;
  db: string;
  checks: Check[];
  pass: boolean;
  seconds: { runs: number; coverage: number };
}

function judge(label: string, expect: Comparison['expect'], e: Estimate, note?: string): Omit<Comparison, 'level'> {
  const pass =
    expect === 'report' ? true : expect === 'positive' ? e.lo !== null && e.lo > 0 : e.lo !== null && e.hi !== null && e.lo <= 0 && e.hi >= 0;
  return { label, expect, value: e.value, lo: e.lo, hi: e.hi, pass, ...(note && { note }) };
}

/** The figures and comparisons of one variant, from the stored predictions of its debate and finetune runs. */
function analyseVariant(c: Controls, store: Store, variant: Variant, runs: Record<EnsembleKind, string>): { figures: VariantFigures; comparisons: Comparison[] } {
  const debate = readTestPredictions(store, runs.debate);
  const finetune = readTestPredictions(store, runs.finetune, debate.ids);
  const { labels } = debate;
  const { bootstrap: resamples, level } = c.metrics;
  const random = (what: string): (() => number) => createRng(deriveSeed(c.seed, 'controls', variant, what)).random;
  // A model's accuracy and PGR are the runs' stored metrics (one number, one interval, as every view shows them);
  // only the paired differences below are computed here.
  const stored = (run: string, subject: string, name: string): Estimate => {
    const m = store.metrics.getMetric(run, subject, name);
    if (!m) throw new Error(`run ${run} has no stored ${subject} ${name}`);
    return { value: m.value, lo: m.lo ?? null, hi: m.hi ?? null };
  };
  const figures: VariantFigures = {
    q: variant === 'positive' ? c.q : 0,
    runs,
    n: labels.length,
    accuracy: {
      weak: stored(runs.debate, 'weak', 'accuracy'),
      single: stored(runs.finetune, 'member0', 'accuracy'),
      finetuneEnsemble: stored(runs.finetune, 'weak_ensemble', 'accuracy'),
      debateEnsemble: stored(runs.debate, 'weak_ensemble', 'accuracy'),
      strongNaive: stored(runs.debate, 'strong_naive', 'accuracy'),
      strongDebate: stored(runs.debate, 'strong', 'accuracy'),
      strongFinetune: stored(runs.finetune, 'strong', 'accuracy'),
      ceiling: stored(runs.debate, 'strong_ceiling', 'accuracy'),
    },
    pgr: { naive: stored(runs.debate, 'strong_naive', 'pgr'), debate: stored(runs.debate, 'strong', 'pgr'), finetune: stored(runs.finetune, 'strong', 'pgr') },
  };
  // Each check judges m comparisons; each interval is at level 1 − (1 − level)/m (Bonferroni), so a check as a whole
  // raises a false alarm at most 1 − level of the time. Reported comparisons keep the nominal level.
  type Plan = [label: string, expect: Comparison['expect'], estimate: (level: number) => Estimate];
  const accDiff = (what: string, a: number[], b: number[]) => (lvl: number): Estimate => {
    const d = pairedBootstrapDiff(a, b, labels, { random: random(`diff:${what}`), resamples, level: lvl });
    return { value: d.diff, lo: d.lo, hi: d.hi };
  };
  const pgrDiff = (lvl: number): Estimate => {
    const d = pairedPgrDiff(debate.weak, debate.naive, debate.strong, debate.ceiling, labels, { random: random('pgrdiff'), resamples, level: lvl });
    return { value: d.diff, lo: d.lo, hi: d.hi, undefinedResamples: d.undefinedCount };
  };
  const dVsF = accDiff('debate-finetune', finetune.ensemble, debate.ensemble);
  const fVsW = accDiff('finetune-weak', debate.weak, finetune.ensemble);
  const dVsW = accDiff('debate-weak', debate.weak, debate.ensemble);
  const fVsS = accDiff('finetune-single', finetune.members[0]!, finetune.ensemble);
  const plans: Plan[] =
    variant === 'positive'
      ? [
          ['debate ensemble − finetune ensemble (accuracy)', 'positive', dVsF],
          ['finetune ensemble − weak baseline without debate (accuracy)', 'positive', fVsW],
          ['PGR on debate-ensemble labels − naive PGR', 'positive', pgrDiff],
          ['finetune ensemble − single weak model with debate (accuracy)', 'report', fVsS],
        ]
      : [
          ['debate ensemble − finetune ensemble (accuracy)', 'zero', dVsF],
          ['debate ensemble − weak baseline without debate (accuracy)', 'zero', dVsW],
          ['finetune ensemble − weak baseline without debate (accuracy)', 'report', fVsW],
          ['PGR on debate-ensemble labels − naive PGR', 'report', pgrDiff],
        ];
  const m = plans.filter((p) => p[1] !== 'report').length;
  const singleNote = 'the finetune members read the same transcript and differ only in training seed; convex probes converge to nearly the same model';
  const comparisons = plans.map(([label, expect, estimate]) => {
    const lvl = expect === 'report' ? level : 1 - (1 - level) / m;
    const e = estimate(lvl);
    let note: string | undefined;
    if (estimate === fVsS && finetune.members.every((p) => sameArrays(p, finetune.members[0]!))) {
      note = 'the members are one model: they read the same transcript and differ only in training seed, and a probe fit that converges (L-BFGS, l2 > 0) does not depend on the seed';
    } else if (estimate === fVsS && !significant(e)) {
      note = `not significant: ${singleNote}`;
    } else if (estimate === pgrDiff && variant === 'negative') {
      note =
        'two strong models trained on nearly the same labels can differ by more than the test sample\'s noise, a training variance this interval does not cover (README, Controls)';
    } else if (estimate === dVsF && sameArrays(debate.ensemble, finetune.ensemble)) {
      note = 'the two ensembles predict identically: with no information in the arguments, every transcript sample of an example reads the same';
    }
    if (e.undefinedResamples) {
      note = [note, `${e.undefinedResamples} of ${resamples} resamples had ceiling <= weak and are left out of the interval`].filter(Boolean).join('; ');
    }
    return { ...judge(label, expect, e, note), level: lvl };
  });
  return { figures, comparisons };
}

const sameArrays = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

const significant = (e: Estimate): boolean => e.lo !== null && e.hi !== null && (e.lo > 0 || e.hi < 0);

// ---------------------------------------------------------------------------------------------------------------
// Coverage

export interface CoverageModel {
  model: 'weak' | 'ceiling';
  covered: number;
  intervals: number;
  /** Mean of the true accuracies and of the interval widths, for the record. */
  meanTrueAccuracy: number;
  meanWidth: number;
}

export interface CoverageResult {
  seeds: number;
  level: number;
  population: number;
  n: number;
  covered: number;
  intervals: number;
  rate: number;
  range: [number, number];
  pass: boolean;
  models: CoverageModel[];
}

function probeFor(group: 'weak' | 'strong', config: ExperimentConfig): { backend: FineTuneBackend; featurizer: Featurizer } {
  const t = config[group];
  if (t.backend !== 'probe' || t.features.kind !== 'hashed') {
    throw new UserError(`The coverage check trains its models in process: give ${group} the probe backend with hashed features.`);
  }
  const featurizer = hashedNgramFeaturizer({ dim: t.features.dim, n: t.features.ngrams });
  return { backend: createProbeBackend({ featurizer, ...t.probe }), featurizer };
}

/**
 * Scores a large fixed sample under any probe trained on `featurizer`'s features: the features are computed once and
 * kept sparse (hashed n-grams have tens of non-zeros in thousands of columns), and each model's standardisation is
 * folded into its weights, z_k = Σ_j x_j·w_kj/s_j + b_k − Σ_j m_j·w_kj/s_j. So the planted value of every seed costs
 * one pass over the non-zeros, not a fresh featurisation.
 */
export async function sparseScorer(featurizer: Featurizer, texts: readonly string[], signal?: AbortSignal): Promise<(state: ProbeState) => Float64Array> {
  const rowPtr = [0];
  const col: number[] = [];
  const val: number[] = [];
  for (let start = 0; start < texts.length; start += 1024) {
    for (const v of await featurizer.featurize(texts.slice(start, start + 1024), signal)) {
      for (let j = 0; j < v.length; j++) {
        if (v[j] !== 0) {
          col.push(j);
          val.push(v[j]!);
        }
      }
      rowPtr.push(col.length);
    }
  }
  return (state) => {
    const d = state.dim;
    const w = [new Float64Array(d), new Float64Array(d)];
    const offset = [state.bias?.[0] ?? 0, state.bias?.[1] ?? 0];
    for (let k = 0; k < 2; k++) {
      for (let j = 0; j < d; j++) {
        const scale = state.standardization ? state.standardization.std[j]! : 1;
        w[k]![j] = state.weights[k]![j]! / scale;
        if (state.standardization) offset[k]! -= state.standardization.mean[j]! * w[k]![j]!;
      }
    }
    const out = new Float64Array(texts.length);
    for (let i = 0; i < texts.length; i++) {
      let z0 = offset[0]!;
      let z1 = offset[1]!;
      for (let e = rowPtr[i]!; e < rowPtr[i + 1]!; e++) {
        z0 += val[e]! * w[0]![col[e]!]!;
        z1 += val[e]! * w[1]![col[e]!]!;
      }
      out[i] = 1 / (1 + Math.exp(z0 - z1));
    }
    return out;
  };
}

/**
 * Over `seeds` fresh draws of the generator: train the weak model (on train_weak) and the ceiling (on train_strong)
 * exactly as the experiments do, take their accuracy on a fresh test split with the nominal bootstrap interval
 * (accuracyCI), and count how often the interval covers the model's true accuracy: its accuracy on `population`
 * further fresh rows (one sample, shared by all seeds and independent of them).
 */
export async function coverageCheck(
  c: Controls,
  options: { seeds?: number; population?: number; onSeed?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<CoverageResult> {
  const seeds = options.seeds ?? c.coverage.seeds;
  const populationSize = options.population ?? c.coverage.population;
  const config = controlExperiment(c, 'unused.jsonl', 'positive', 'debate');
  const probes = { weak: probeFor('weak', config), ceiling: probeFor('strong', config) };
  const population = generateControlRows(c.data, populationSize, deriveSeed(c.seed, 'coverage', 'population'), 'p');
  const popLabels = population.map((r) => r.label);
  const popTexts = population.map((r) => r.text);
  const scorers = {
    weak: await sparseScorer(probes.weak.featurizer, popTexts, options.signal),
    ceiling: await sparseScorer(probes.ceiling.featurizer, popTexts, options.signal),
  };
  const { bootstrap: resamples, level } = c.metrics;
  const tally = { weak: { covered: 0, truth: 0, width: 0 }, ceiling: { covered: 0, truth: 0, width: 0 } };
  const hard = (y: 0 | 1): [number, number] => (y === 1 ? [0, 1] : [1, 0]);
  for (let s = 0; s < seeds; s++) {
    options.signal?.throwIfAborted();
    const seed = deriveSeed(c.seed, 'coverage', s);
    const { train_weak: nw, train_strong: ns, test: nt } = c.sizes;
    const rows = generateControlRows(c.data, nw + ns + nt, seed);
    const test = rows.slice(nw + ns);
    const labels = test.map((r) => r.label);
    for (const [model, trainRows] of [['weak', rows.slice(0, nw)], ['ceiling', rows.slice(nw, nw + ns)]] as const) {
      const { backend } = probes[model];
      const trained = await backend.train(trainRows.map((r) => ({ id: r.id, text: r.text, softLabel: hard(r.label) })), {
        role: model, seed: deriveSeed(seed, 'train', model), loss: 'xent', signal: options.signal,
      });
      const probs = await backend.predict(trained, test.map((r) => ({ id: r.id, text: r.text })), options.signal);
      const ci = accuracyCI(probs, labels, { random: createRng(deriveSeed(seed, 'bootstrap', model)).random, resamples, level });
      const truth = accuracy(Array.from(scorers[model](trained.state as ProbeState)), popLabels);
      const t = tally[model];
      if (ci.lo! <= truth && truth <= ci.hi!) t.covered++;
      t.truth += truth;
      t.width += ci.hi! - ci.lo!;
    }
    options.onSeed?.(s + 1, seeds);
  }
  const models: CoverageModel[] = (['weak', 'ceiling'] as const).map((model) => ({
    model, covered: tally[model].covered, intervals: seeds, meanTrueAccuracy: tally[model].truth / seeds, meanWidth: tally[model].width / seeds,
  }));
  const covered = models.reduce((s, m) => s + m.covered, 0);
  const intervals = 2 * seeds;
  const rate = covered / intervals;
  const range = c.coverage.range;
  return { seeds, level, population: populationSize, n: c.sizes.test, covered, intervals, rate, range, pass: rate >= range[0] && rate <= range[1], models };
}

// ---------------------------------------------------------------------------------------------------------------
// Running the controls

export interface RunControlsOptions {
  controls: Controls;
  /** Where the data file, the database and the response cache go (default results/controls). */
  outDir?: string;
  /** Run the coverage check too (default true; it trains 2 × coverage.seeds models). */
  coverage?: boolean;
  /** One line per step, for the CLI. */
  onInfo?: (message: string) => void;
  progress?: ProgressListener;
  stop?: AbortSignal;
}

/**
 * Writes the synthetic data, runs the four experiments (positive and negative, each with a debate and a finetune
 * ensemble) through runExperiment, and judges the checks from their stored predictions; then the coverage check.
 * Reruns reuse the finished runs (same configs, same database) and recompute the checks.
 */
export async function runControls(options: RunControlsOptions): Promise<ControlsResult> {
  const c = options.controls;
  const info = options.onInfo ?? (() => {});
  const outDir = resolve(options.outDir ?? join('results', 'controls'));
  mkdirSync(outDir, { recursive: true });
  const t0 = performance.now();
  const { train_weak, train_strong, test } = c.sizes;
  const rows = generateControlRows(c.data, train_weak + train_strong + test, deriveSeed(c.seed, 'controls', 'data'));
  const dataFile = join(outDir, `${c.name}-data-${hashValue({ data: c.data, sizes: c.sizes, seed: c.seed }).slice(0, 8)}.jsonl`);
  writeRows(dataFile, rows);
  const db = join(outDir, `${c.name}.sqlite`);
  const cacheFile = join(outDir, 'cache.sqlite');
  const runs: Record<Variant, Record<EnsembleKind, string>> = { positive: { debate: '', finetune: '' }, negative: { debate: '', finetune: '' } };
  for (const variant of ['positive', 'negative'] as const) {
    for (const kind of ['debate', 'finetune'] as const) {
      const config = controlExperiment(c, dataFile, variant, kind);
      info(`${variant} control, ${kind} ensemble: run ${config.name}`);
      const outcome = await runExperiment({ config, out: db, cacheFile, progress: options.progress, stop: options.stop });
      if (outcome.status !== 'completed') throw new UserError(`The control run ${outcome.runId} ${outcome.status}: ${outcome.reason}`);
      runs[variant][kind] = outcome.runId;
    }
  }
  const checks: Check[] = [];
  const store = openStore(db, { readonly: true });
  try {
    for (const variant of ['positive', 'negative'] as const) {
      const { figures, comparisons } = analyseVariant(c, store, variant, runs[variant]);
      checks.push({ name: variant, pass: comparisons.every((x) => x.pass), comparisons, figures });
    }
  } finally {
    store.close();
  }
  const t1 = performance.now();
  if (options.coverage ?? true) {
    info(`coverage: ${c.coverage.seeds} seeds × 2 models`);
    const step = Math.max(1, Math.round(c.coverage.seeds / 4));
    const coverage = await coverageCheck(c, {
      signal: options.stop,
      onSeed: (done, total) => (done % step === 0 || done === total) && info(`coverage: ${done}/${total} seeds`),
    }).catch((e: unknown) => {
      if (options.stop?.aborted) throw new UserError('Interrupted during the coverage check; the runs are stored, so running the same command again redoes only the checks.');
      throw e;
    });
    checks.push({ name: 'coverage', pass: coverage.pass, comparisons: [], coverage });
  }
  const t2 = performance.now();
  return { controls: c, dataFile, db, checks, pass: checks.every((x) => x.pass), seconds: { runs: (t1 - t0) / 1000, coverage: (t2 - t1) / 1000 } };
}

// ---------------------------------------------------------------------------------------------------------------
// The report

const pct = (v: number | null, sign = false): string => (v === null ? 'n/a' : `${sign && v > 0 ? '+' : ''}${(100 * v).toFixed(1)}`);
const ci = (e: Estimate, sign = false): string => (e.value === null ? 'n/a' : `${pct(e.value, sign)} [${pct(e.lo, sign)}, ${pct(e.hi, sign)}]`);

const levelText = (level: number): string => `${+(100 * level).toFixed(2)}%`;

/** The checks as text: each check's verdict with the figures it rests on. */
export function formatControls(r: ControlsResult): string {
  const c = r.controls;
  const L = Math.round(c.metrics.level * 100);
  const out: string[] = [
    `Controls "${c.name}": synthetic reviews of ${c.data.clauses} clauses (negation ${c.data.negation}, label noise ${c.data.labelNoise}), ` +
      `splits ${c.sizes.train_weak}/${c.sizes.train_strong}/${c.sizes.test}, seed ${c.seed}; informed debaters name the tone with probability q per argument, ` +
      `${c.debate.turns} turns, ${c.debate.samples} transcripts per example.`,
    `Data ${r.dataFile}; runs in ${r.db}.`,
  ];
  const positive = r.checks.find((x) => x.name === 'positive')?.figures;
  const negative = r.checks.find((x) => x.name === 'negative')?.figures;
  if (positive && negative) {
    const debateRun = { protocol: 'debate', ensembleKind: 'debate', ensembleSize: (c.weak as { ensemble?: { size?: number } }).ensemble?.size ?? 4 };
    const rows: [string, (f: VariantFigures) => Estimate][] = [
      // The run table's own labels (one vocabulary), for the two runs of a variant.
      [describeSubject('weak', {}), (f) => f.accuracy.weak],
      ['one weak model (debate transcript 0)', (f) => f.accuracy.single],
      [`weak ${ensembleLabel({ ...debateRun, ensembleKind: 'finetune' })}`, (f) => f.accuracy.finetuneEnsemble],
      [`weak ${ensembleLabel(debateRun)}`, (f) => f.accuracy.debateEnsemble],
      [describeSubject('strong_naive', {}), (f) => f.accuracy.strongNaive],
      [describeSubject('strong', { ...debateRun, ensembleKind: 'finetune' }), (f) => f.accuracy.strongFinetune],
      [describeSubject('strong', debateRun), (f) => f.accuracy.strongDebate],
      [describeSubject('strong_ceiling', {}), (f) => f.accuracy.ceiling],
      ['PGR naive', (f) => f.pgr.naive],
      ['PGR finetune-ensemble labels', (f) => f.pgr.finetune],
      ['PGR debate-ensemble labels', (f) => f.pgr.debate],
    ];
    const head = [`test split (n = ${positive.n}), % [${L}% CI]`, `positive (q = ${positive.q})`, `negative (q = ${negative.q})`];
    out.push('', textTable(head, rows.map(([name, get]) => [name, ci(get(positive)), ci(get(negative))])));
  }
  for (const check of r.checks) {
    out.push('', `${check.name}: ${check.pass ? 'PASS' : 'FAIL'}`);
    const judged = check.comparisons.filter((x) => x.expect !== 'report');
    const each = judged.length ? ` (paired bootstrap on the same test examples; ${judged.length} intervals at ${levelText(judged[0]!.level)} each, jointly ${L}% by Bonferroni)` : '';
    if (check.name === 'positive') out.push(`  informed debaters (q = ${c.q}): each judged difference must lie above 0${each}`);
    if (check.name === 'negative') out.push(`  uninformative debaters (q = 0): each judged interval must include 0${each}`);
    for (const x of check.comparisons) {
      const verdict = x.expect === 'report' ? 'reported, not judged' : x.pass ? 'ok' : x.expect === 'positive' ? 'FAIL: not above 0' : 'FAIL: excludes 0';
      out.push(`  ${x.label}: ${ci(x, true)} points [${levelText(x.level)} CI], ${verdict}${x.note ? ` (${x.note})` : ''}`);
    }
    const cov = check.coverage;
    if (cov) {
      out.push(
        `  ${cov.covered} of ${cov.intervals} nominal ${Math.round(cov.level * 100)}% intervals (${(100 * cov.rate).toFixed(1)}%) cover the true accuracy ` +
          `(${cov.seeds} seeds, n = ${cov.n} test examples, truth on ${cov.population} fresh rows); passes in ${pct(cov.range[0])}–${pct(cov.range[1])}%`,
      );
      for (const m of cov.models) {
        out.push(`  ${m.model}: ${m.covered}/${m.intervals} covered, mean true accuracy ${pct(m.meanTrueAccuracy)}%, mean interval width ${pct(m.meanWidth)} points`);
      }
    }
  }
  out.push('', `${r.pass ? 'All checks pass' : 'A check failed'} (runs ${r.seconds.runs.toFixed(1)} s${r.checks.some((x) => x.coverage) ? `, coverage ${r.seconds.coverage.toFixed(1)} s` : ''}).`);
  return out.join('\n');
}
