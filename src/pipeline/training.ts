import pLimit from 'p-limit';
import { UserError } from '../errors.js';
import { lettersFor, withTranscript } from '../debate/transcript.js';
import { meanSoftLabel } from '../metrics/index.js';
import { createRng, deriveSeed } from '../rng.js';
import { groupKey, type ExampleRow, type Split } from '../store/index.js';
import type { FineTuneBackend, LossName, TrainRow } from '../train/types.js';
import { checkStop, settleAll, type StageContext } from './context.js';
import { createBackend } from './backends.js';
import { debateId, toTurn } from './debates.js';
import { judgeName } from '../config/experiment.js';
import { shortName } from '../report/subjects.js';
import { ensembleAbstentions } from './judge-ensembles.js';
import { silentSubjects } from './judges.js';
import { predictionsOf, primarySeed, ROLES, seededRole, trainingSeeds } from './predictions.js';

interface TrainSpec {
  /** The role before seeding (weak, weak_member, strong, ...); stored as seededRole(role, trainingSeed). */
  role: string;
  member: number;
  /** The replicate's training seed (config.seeds). */
  trainingSeed: number;
  backend: FineTuneBackend;
  loss: LossName;
  rows: TrainRow[];
  /** The examples to predict, with the text each is shown. */
  predict: { example: ExampleRow; text: string; debateId: string | null }[];
  config: Record<string, unknown>;
}


/** Trains one model and stores it with its predictions in one transaction; skipped when already stored. */
async function trainAndStore(ctx: StageContext, spec: TrainSpec): Promise<void> {
  const role = seededRole(ctx.config, spec.role, spec.trainingSeed);
  if (ctx.store.models.getModel(ctx.runId, role, spec.member)) return;
  checkStop(ctx);
  // Training seed 0 keeps the derivation runs had before seeds existed, so their models are unchanged.
  const seed = spec.trainingSeed === 0
    ? deriveSeed(ctx.config.seed, 'train', spec.role, spec.member)
    : deriveSeed(ctx.config.seed, 'train', spec.role, spec.member, 'seed', spec.trainingSeed);
  // The model's name as every view prints it ("member 1", "strong on judge j1"), with its training seed when not the first.
  const names = { judges: ctx.config.judges.map(judgeName), judgeEnsembles: ctx.config.judgeEnsembles };
  const label = shortName({ role, member: spec.member }, names);
  ctx.progress({ stage: 'train', part: label, kind: 'info', message: `training ${label} on ${spec.rows.length} rows (${spec.backend.name}, ${spec.loss})` });
  const trained = await spec.backend.train(spec.rows, {
    role,
    seed,
    loss: spec.loss,
    signal: ctx.stop,
    // A part of the stage running: displays show its steps under that stage, not as a stage of their own.
    onProgress: (p) => ctx.progress({ stage: 'train', part: label, kind: 'tick', done: p.step, total: p.totalSteps }),
  });
  const probs = await spec.backend.predict(trained, spec.predict.map((p) => ({ id: p.example.id, text: p.text })), ctx.stop);
  ctx.store.transaction(() => {
    const row = ctx.store.models.insertModel({
      id: `${ctx.runId}/${role}/${spec.member}`,
      runId: ctx.runId,
      role,
      member: spec.member,
      backend: trained.backend,
      seed,
      config: { ...spec.config, loss: spec.loss, trainingSeed: spec.trainingSeed },
      state: trained.state,
      artifactPath: trained.artifactPath ?? null,
      artifactSha256: trained.artifactSha256 ?? null,
      stats: trained.stats,
    });
    ctx.store.models.insertPredictions(
      row.id,
      ctx.runId,
      spec.predict.map((p, i) => ({ exampleId: p.example.id, p1: probs[i]!, debateId: p.debateId })),
    );
  });
}

const hard = (label: 0 | 1): [number, number] => (label === 1 ? [0, 1] : [1, 0]);
const soft = (p1: number): [number, number] => [1 - p1, p1];

function examplesOf(ctx: StageContext, split: Split): ExampleRow[] {
  return ctx.store.examples.listExamples(ctx.runId, split);
}

/** Folds of the cross-fitted weak baseline (market protocol). */
const CROSSFIT_FOLDS = 5;

/**
 * The weak baseline: ground truth, no debate. It predicts every split. For market debates it also trains
 * CROSSFIT_FOLDS fold models, so each train_weak example gets a pick from a model that never saw it: the baseline's own
 * pick there is in-sample (it memorises its training rows), and arguing against it would hand the gold label to the
 * weak models that train on those transcripts. (Fold models see 4/5 of train_weak, so their picks are a little less
 * accurate than the baseline's on test; the leak audit's tolerance absorbs that small shift.)
 */
export async function trainWeakBaseline(ctx: StageContext): Promise<void> {
  const crossfit = ctx.config.debate.protocol === 'market';
  const backend = await createBackend(ctx, 'weak', ctx.config.weak);
  try {
    const all = ctx.store.examples.listExamples(ctx.runId);
    const trainWeak = examplesOf(ctx, 'train_weak');
    const config = { group: 'weak', context: 'none', labels: 'ground truth', features: ctx.config.weak.features };
    for (const trainingSeed of trainingSeeds(ctx.config)) {
      await trainAndStore(ctx, {
        role: ROLES.weak, member: 0, trainingSeed, backend, loss: ctx.config.weak.loss,
        rows: trainWeak.map((e) => ({ id: e.id, text: e.text, softLabel: hard(e.label) })),
        predict: all.map((e) => ({ example: e, text: e.text, debateId: null })),
        config,
      });
    }
    if (!crossfit) return;
    // The debates are shared by every seed; their picks come from the primary seed's folds.
    const trainingSeed = primarySeed(ctx.config);
    const folds = crossfitFolds(trainWeak, CROSSFIT_FOLDS, deriveSeed(ctx.config.seed, 'crossfit'));
    for (let f = 0; f < folds.length; f++) {
      const heldOut = new Set(folds[f]!.map((e) => e.id));
      await trainAndStore(ctx, {
        role: ROLES.crossfit, member: f, trainingSeed, backend, loss: ctx.config.weak.loss,
        rows: trainWeak.filter((e) => !heldOut.has(e.id)).map((e) => ({ id: e.id, text: e.text, softLabel: hard(e.label) })),
        predict: folds[f]!.map((e) => ({ example: e, text: e.text, debateId: null })),
        config: { ...config, crossfit: { fold: f, folds: folds.length } },
      });
    }
  } finally {
    await backend.close?.();
  }
}

/**
 * Splits examples into k folds by group (an example without a group is its own group), groups in a seeded order and
 * dealt to the fold with the fewest examples so far, so fold sizes stay within one group of each other.
 */
function crossfitFolds(examples: readonly ExampleRow[], k: number, seed: number): ExampleRow[][] {
  const groups = new Map<string, ExampleRow[]>();
  for (const e of examples) {
    const key = groupKey(e);
    const list = groups.get(key);
    if (list) list.push(e);
    else groups.set(key, [e]);
  }
  if (groups.size < 2) {
    throw new UserError(`market needs out-of-sample weak picks on train_weak, from folds of at least 2 groups, but train_weak holds ${groups.size}; raise sizes.train_weak or choose another protocol.`);
  }
  const folds: ExampleRow[][] = Array.from({ length: Math.min(k, groups.size) }, () => []);
  for (const key of createRng(seed).shuffle([...groups.keys()])) {
    const smallest = folds.reduce((best, f) => (f.length < best.length ? f : best));
    smallest.push(...groups.get(key)!);
  }
  return folds;
}

/**
 * The weak ensemble, trained on ground truth with a transcript as context, once per training seed. Debate ensemble:
 * member k reads transcript sample k. Finetune ensemble (or protocol "none"): every member reads sample 0 (or none)
 * and only the seed differs. The ensemble ablation trains a finetune ensemble beside the debate ensemble.
 */
export async function trainWeakEnsemble(ctx: StageContext): Promise<void> {
  const { size, kind, ablation } = ctx.config.weak.ensemble;
  const protocol = ctx.config.debate.protocol;
  const backend = await createBackend(ctx, 'weak', ctx.config.weak);
  const families: { role: string; kind: 'debate' | 'finetune' }[] = [{ role: ROLES.member, kind }];
  if (ablation) families.push({ role: ROLES.memberFinetune, kind: 'finetune' });
  try {
    // Members are separate trainings: several at once only where the backend runs them out of process.
    const limit = pLimit(ctx.config.weak.backend === 'hf' ? ctx.config.weak.hf!.parallel : 1);
    const train = async (family: (typeof families)[number], member: number, trainingSeed: number): Promise<void> => {
      const sample = family.kind === 'debate' ? member : 0;
      const view = (e: ExampleRow): { example: ExampleRow; text: string; debateId: string | null } => {
        if (protocol === 'none') return { example: e, text: e.text, debateId: null };
        const id = debateId(ctx.runId, e.id, protocol, sample);
        return { example: e, text: withTranscript(e.text, ctx.store.debates.listTurns(id).map(toTurn), protocol, e.passage, lettersFor(e)), debateId: id };
      };
      await trainAndStore(ctx, {
        role: family.role, member, trainingSeed, backend, loss: ctx.config.weak.loss,
        rows: examplesOf(ctx, 'train_weak').map((e) => ({ id: e.id, text: view(e).text, softLabel: hard(e.label) })),
        predict: [...examplesOf(ctx, 'train_strong'), ...examplesOf(ctx, 'test')].map(view),
        config: { group: 'weak', ensemble: family.kind, transcriptSample: protocol === 'none' ? null : sample, protocol, labels: 'ground truth', features: ctx.config.weak.features },
      });
    };
    const jobs: (() => Promise<void>)[] = [];
    for (const trainingSeed of trainingSeeds(ctx.config)) {
      for (const family of families) for (let member = 0; member < size; member++) jobs.push(() => train(family, member, trainingSeed));
    }
    await settleAll(jobs, limit);
  } finally {
    await backend.close?.();
  }
}

/** An ensemble's soft labels: its members' P(label 1) averaged, per example (the configured ensemble by default). */
export function ensembleLabels(ctx: StageContext, examples: ExampleRow[], trainingSeed = primarySeed(ctx.config), role: string = ROLES.member): number[] {
  const members = Array.from({ length: ctx.config.weak.ensemble.size }, (_, k) => predictionsOf(ctx, seededRole(ctx.config, role, trainingSeed), k));
  return meanSoftLabel(members.map((m) => examples.map((e) => m.get(e.id)!)));
}

/**
 * The strong models, on train_strong texts without transcripts, once per training seed: w2s on the ensemble's soft
 * labels, naive w2s on the weak baseline's soft labels, w2s on each judge's labels, and the ceiling on ground truth;
 * with the ensemble ablation also w2s on one weak model's labels (member 0) and on the finetune ensemble's. All
 * predict the test split.
 */
export async function trainStrong(ctx: StageContext): Promise<void> {
  const trainSet = examplesOf(ctx, 'train_strong');
  const test = examplesOf(ctx, 'test').map((e) => ({ example: e, text: e.text, debateId: null }));
  const backend = await createBackend(ctx, 'strong', ctx.config.strong);
  const loss = ctx.config.strong.loss;
  const config = { group: 'strong', context: 'none', features: ctx.config.strong.features };
  const onLabels = (labels: readonly number[]): TrainRow[] => trainSet.map((e, i) => ({ id: e.id, text: e.text, softLabel: soft(labels[i]!) }));
  const of = (preds: Map<string, number>): number[] => trainSet.map((e) => preds.get(e.id)!);
  const silent = silentSubjects(ctx);
  // What each judge and judge ensemble supervises with (the same for every training seed, so read once): a judge on the
  // examples where it stated a verdict, a judge (or ensemble) below its minCoverage not at all. Judge ensembles' members
  // follow the judges' (member = number of judges + the ensemble's index).
  const supervisors: { member: number; labels: string; rows: TrainRow[] }[] = [];
  for (const [index, j] of ctx.config.judges.entries()) {
    const name = judgeName(j, index);
    if (silent.has(`judge:${name}`)) continue;
    const means = ctx.store.judgments.meanByExample(ctx.runId, name);
    const spoken = trainSet.filter((e) => means.has(e.id));
    if (spoken.length === 0) continue; // nothing to supervise with: evaluate reports the strong model as not scored
    const labels = spoken.length < trainSet.length ? ` (the ${spoken.length} of ${trainSet.length} train_strong examples it stated a verdict on)` : '';
    supervisors.push({ member: index, labels: `prompted judge ${name}${labels}`, rows: spoken.map((e) => ({ id: e.id, text: e.text, softLabel: soft(means.get(e.id)!) })) });
  }
  for (const [index, e] of (ctx.config.judgeEnsembles ?? []).entries()) {
    if (silent.has(`judge_ensemble:${e.name}`)) continue;
    const preds = predictionsOf(ctx, ROLES.judgeEnsemble, index);
    const abstained = ensembleAbstentions(ctx, index);
    const spoken = trainSet.filter((x) => !abstained.has(x.id));
    if (spoken.length === 0) continue;
    const labels = spoken.length < trainSet.length ? ` (the ${spoken.length} of ${trainSet.length} train_strong examples a member stated a verdict on)` : '';
    supervisors.push({
      member: ctx.config.judges.length + index, labels: `judge ensemble ${e.name} (${e.aggregate})${labels}`,
      rows: spoken.map((x) => ({ id: x.id, text: x.text, softLabel: soft(preds.get(x.id)!) })),
    });
  }
  try {
    for (const trainingSeed of trainingSeeds(ctx.config)) {
      const seeded = (role: string): string => seededRole(ctx.config, role, trainingSeed);
      const common = { member: 0, trainingSeed, backend, loss, predict: test };
      await trainAndStore(ctx, {
        ...common, role: ROLES.strong, config: { ...config, labels: 'weak ensemble (mean soft label)' }, rows: onLabels(ensembleLabels(ctx, trainSet, trainingSeed)),
      });
      await trainAndStore(ctx, { ...common, role: ROLES.naive, config: { ...config, labels: 'weak baseline' }, rows: onLabels(of(predictionsOf(ctx, seeded(ROLES.weak)))) });
      if (ctx.config.weak.ensemble.ablation) {
        await trainAndStore(ctx, {
          ...common, role: ROLES.single, config: { ...config, labels: 'one weak model (ensemble member 0)' }, rows: onLabels(of(predictionsOf(ctx, seeded(ROLES.member), 0))),
        });
        await trainAndStore(ctx, {
          ...common, role: ROLES.finetune, config: { ...config, labels: 'finetune ensemble (mean soft label)' },
          rows: onLabels(ensembleLabels(ctx, trainSet, trainingSeed, ROLES.memberFinetune)),
        });
      }
      for (const s of supervisors) {
        await trainAndStore(ctx, { ...common, role: ROLES.byJudge, member: s.member, config: { ...config, labels: s.labels }, rows: s.rows });
      }
      await trainAndStore(ctx, {
        ...common, role: ROLES.ceiling, loss: 'xent', config: { ...config, labels: 'ground truth' }, rows: trainSet.map((e) => ({ id: e.id, text: e.text, softLabel: hard(e.label) })),
      });
    }
  } finally {
    await backend.close?.();
  }
}
