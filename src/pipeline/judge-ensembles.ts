import { aggregateJudges, stackedCrossFit } from '../metrics/index.js';
import { createRng, deriveSeed } from '../rng.js';
import type { ExampleRow } from '../store/index.js';
import { checkStop, type StageContext } from './context.js';
import { judgeProbabilities } from './judges.js';
import { ROLES } from './predictions.js';

/** Folds of a stacked ensemble's cross-fit on train_weak. */
export const STACKING_FOLDS = 5;

/**
 * Each judge ensemble's P(correct) on the examples its members judged, stored as a model with predictions (role
 * judge_ensemble, member = its index), so training, evaluation and every view read one stored copy.
 *
 * mean, vote and logit-mean combine the members' per-example P(correct). stacked fits a logistic regression on the
 * members' log-odds on train_weak, where the gold is known and which no judge ensemble labels: the fit on all of
 * train_weak labels train_strong and test, and train_weak itself gets out-of-fold values (a fold's weights never saw
 * its rows), so even its stored train_weak predictions are honest. Folds keep an example's group together.
 */
export async function aggregateJudgeEnsembles(ctx: StageContext): Promise<void> {
  const ensembles = ctx.config.judgeEnsembles ?? [];
  const examples = (split: 'train_weak' | 'train_strong' | 'test'): ExampleRow[] => ctx.store.examples.listExamples(ctx.runId, split);
  for (const [index, e] of ensembles.entries()) {
    if (ctx.store.models.getModel(ctx.runId, ROLES.judgeEnsemble, index)) continue;
    checkStop(ctx);
    const labelled = [...examples('train_strong'), ...examples('test')];
    const membersOn = (rows: readonly ExampleRow[]): number[][] => e.members.map((m) => judgeProbabilities(ctx, m, rows.map((r) => r.id)));
    const predictions: { exampleId: string; p1: number; debateId: null }[] = [];
    let state: Record<string, unknown> = { aggregate: e.aggregate, members: e.members };
    const seed = deriveSeed(ctx.config.seed, 'judge_ensemble', e.name);
    if (e.aggregate === 'stacked') {
      const trainWeak = examples('train_weak');
      const fit = stackedCrossFit(
        { memberProbs: membersOn(trainWeak), labels: trainWeak.map((x) => x.label), groups: trainWeak.map((x) => x.group) },
        membersOn(labelled),
        { folds: STACKING_FOLDS, random: createRng(seed).random },
      );
      trainWeak.forEach((x, i) => predictions.push({ exampleId: x.id, p1: fit.train[i]!, debateId: null }));
      labelled.forEach((x, i) => predictions.push({ exampleId: x.id, p1: fit.apply[i]!, debateId: null }));
      const byMember = (w: readonly number[]): Record<string, number> => Object.fromEntries(e.members.map((m, k) => [m, w[k]!]));
      state = {
        ...state,
        weights: { intercept: fit.model.intercept, byMember: byMember(fit.model.weights) },
        folds: fit.foldModels.map((f) => ({ intercept: f.intercept, byMember: byMember(f.weights) })),
        fitOn: `train_weak (${trainWeak.length} examples); train_weak's own values are out-of-fold over ${fit.foldModels.length} folds`,
      };
    } else {
      const p = aggregateJudges(membersOn(labelled), e.aggregate);
      labelled.forEach((x, i) => predictions.push({ exampleId: x.id, p1: p[i]!, debateId: null }));
    }
    ctx.store.transaction(() => {
      const row = ctx.store.models.insertModel({
        id: `${ctx.runId}/${ROLES.judgeEnsemble}/${index}`, runId: ctx.runId, role: ROLES.judgeEnsemble, member: index, backend: 'aggregate', seed,
        config: { name: e.name, members: e.members, aggregate: e.aggregate }, state, stats: { examples: predictions.length },
      });
      ctx.store.models.insertPredictions(row.id, ctx.runId, predictions);
    });
    ctx.progress({ stage: 'judge_ensembles', kind: 'info', message: `judge ensemble ${e.name} (${e.aggregate} of ${e.members.join(', ')}) on ${predictions.length} examples` });
  }
}
