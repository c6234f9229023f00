import { aggregateSpoken, stackedCrossFit } from '../metrics/index.js';
import { describeSubject } from '../report/subjects.js';
import { createRng, deriveSeed } from '../rng.js';
import type { ExperimentConfig } from '../config/experiment.js';
import type { ExampleRow } from '../store/index.js';
import { checkStop, type StageContext } from './context.js';
import { probabilitiesOn, silentSubjects } from './judges.js';
import { ROLES } from './predictions.js';

/** Folds of a stacked ensemble's cross-fit on train_weak. */
export const STACKING_FOLDS = 5;

/** What a stacked ensemble is fit on: train_weak's members' P(correct), gold labels and groups. */
const stackingSet = (trainWeak: readonly Pick<ExampleRow, 'label' | 'group'>[], memberProbs: number[][]) => ({
  memberProbs, labels: trainWeak.map((x) => x.label), groups: trainWeak.map((x) => x.group),
});

/**
 * Whether train_weak can fit a stacked ensemble: its cross-fit needs two groups and both labels outside every fold.
 * The folds depend only on the labels, the groups and the seed, so the preflight checks them, with the same seed,
 * before any judge is paid; null when it can, else why not.
 */
export function stackingProblem(config: ExperimentConfig, name: string, trainWeak: readonly Pick<ExampleRow, 'label' | 'group'>[]): string | null {
  if (trainWeak.length > 0 && trainWeak.every((x) => x.label === trainWeak[0]!.label)) return `every train_weak label is ${trainWeak[0]!.label}`;
  try {
    const blank = [trainWeak.map(() => 0.5)];
    stackedCrossFit(stackingSet(trainWeak, blank), [[]], { folds: STACKING_FOLDS, random: createRng(deriveSeed(config.seed, 'judge_ensemble', name)).random });
    return null;
  } catch (e) {
    if (e instanceof RangeError) return e.message.replace(/^stackedCrossFit: /, '').replace(/ \(use fewer folds or more data\)/, '').replace(/\.$/, '');
    throw e;
  }
}

/**
 * Each judge ensemble's P(correct) on the examples its members judged, stored as a model with predictions (role
 * judge_ensemble, member = its index), so training, evaluation and every view read one stored copy.
 *
 * mean, vote and logit-mean combine the members' per-example P(correct). stacked fits a logistic regression on the
 * members' log-odds on train_weak, where the gold is known and which no judge ensemble labels: the fit on all of
 * train_weak labels train_strong and test, and train_weak itself gets out-of-fold values (a fold's weights never saw
 * its rows), so even its stored train_weak predictions are honest. Folds keep an example's group together.
 *
 * An ensemble with a member below its minCoverage is not built (see silentSubjects): no predictions are stored, and
 * every later stage and view reports it as n/a with the reason.
 */
export async function aggregateJudgeEnsembles(ctx: StageContext): Promise<void> {
  const ensembles = ctx.config.judgeEnsembles ?? [];
  const examples = (split: 'train_weak' | 'train_strong' | 'test'): ExampleRow[] => ctx.store.examples.listExamples(ctx.runId, split);
  const toLabel = [...examples('train_strong'), ...examples('test')];
  // Each judge's means are read once, however many ensembles (and splits) it serves.
  const means = new Map<string, Map<string, number>>();
  const meansOf = (judge: string): Map<string, number> => {
    let m = means.get(judge);
    if (!m) means.set(judge, (m = ctx.store.judgments.meanByExample(ctx.runId, judge)));
    return m;
  };
  const silent = silentSubjects(ctx);
  for (const [index, e] of ensembles.entries()) {
    if (ctx.store.models.getModel(ctx.runId, ROLES.judgeEnsemble, index)) continue;
    const why = silent.get(`judge_ensemble:${e.name}`);
    if (why) {
      ctx.progress({ stage: 'judge_ensembles', kind: 'info', message: `${describeSubject(`judge_ensemble:${e.name}`, { judgeEnsembles: ensembles })}: not built, ${why}` });
      continue;
    }
    checkStop(ctx);
    const membersOn = (rows: readonly ExampleRow[]): number[][] => e.members.map((m) => probabilitiesOn(meansOf(m), rows.map((r) => r.id)));
    // Examples on which every member abstained: stored as 0.5, named in the model's state, supervising nothing.
    const abstainedOn = toLabel.filter((x) => e.members.every((m) => !meansOf(m).has(x.id))).map((x) => x.id);
    const abstained = new Set(abstainedOn);
    const predictions: { exampleId: string; p1: number; debateId: null }[] = [];
    let state: Record<string, unknown> = { aggregate: e.aggregate, members: e.members };
    const seed = deriveSeed(ctx.config.seed, 'judge_ensemble', e.name);
    if (e.aggregate === 'stacked') {
      const trainWeak = examples('train_weak');
      const fit = stackedCrossFit(stackingSet(trainWeak, membersOn(trainWeak)), membersOn(toLabel), { folds: STACKING_FOLDS, random: createRng(seed).random });
      trainWeak.forEach((x, i) => predictions.push({ exampleId: x.id, p1: fit.train[i]!, debateId: null }));
      toLabel.forEach((x, i) => predictions.push({ exampleId: x.id, p1: abstained.has(x.id) ? 0.5 : fit.apply[i]!, debateId: null }));
      const byMember = (w: readonly number[]): Record<string, number> => Object.fromEntries(e.members.map((m, k) => [m, w[k]!]));
      state = {
        ...state,
        weights: { intercept: fit.model.intercept, byMember: byMember(fit.model.weights) },
        folds: fit.foldModels.map((f) => ({ intercept: f.intercept, byMember: byMember(f.weights) })),
        fitOn: `train_weak (${trainWeak.length} examples); train_weak's own values are out-of-fold over ${fit.foldModels.length} folds`,
      };
    } else {
      // Each example over the members that stated a verdict on it (a member's abstention is not a vote).
      const p = aggregateSpoken(e.members.map((m) => toLabel.map((x) => meansOf(m).get(x.id) ?? null)), e.aggregate);
      toLabel.forEach((x, i) => predictions.push({ exampleId: x.id, p1: p[i] ?? 0.5, debateId: null }));
    }
    if (abstainedOn.length) state = { ...state, abstainedOn };
    ctx.store.transaction(() => {
      const row = ctx.store.models.insertModel({
        id: `${ctx.runId}/${ROLES.judgeEnsemble}/${index}`, runId: ctx.runId, role: ROLES.judgeEnsemble, member: index, backend: 'aggregate', seed,
        config: { name: e.name, members: e.members, aggregate: e.aggregate }, state, stats: { examples: predictions.length },
      });
      ctx.store.models.insertPredictions(row.id, ctx.runId, predictions);
    });
    ctx.progress({ stage: 'judge_ensembles', kind: 'info', message: `${describeSubject(`judge_ensemble:${e.name}`, { judgeEnsembles: ensembles })} on ${predictions.length} examples` });
  }
}

/** The examples on which every member of judge ensemble `index` abstained (stored in its model's state). */
export function ensembleAbstentions(ctx: StageContext, index: number): Set<string> {
  const state = ctx.store.models.getModel(ctx.runId, ROLES.judgeEnsemble, index)?.state as { abstainedOn?: string[] } | undefined;
  return new Set(state?.abstainedOn ?? []);
}
