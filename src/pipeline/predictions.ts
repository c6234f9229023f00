import type { StageContext } from './context.js';

/** The models an experiment trains, by role; member numbers 0..K-1 for the weak ensemble. */
export const ROLES = {
  weak: 'weak',
  /** Cross-fitted weak baselines (member = fold): each predicts only the train_weak examples it did not train on. */
  crossfit: 'weak_crossfit',
  member: 'weak_member',
  strong: 'strong',
  naive: 'strong_naive',
  ceiling: 'strong_ceiling',
  /** Strong models trained on a prompted judge's labels (member = the judge's index): judges as alternative supervisors. */
  byJudge: 'strong_by_judge',
} as const;

/** Predictions of a stored model, by example id. */
export function predictionsOf(ctx: StageContext, role: string, member = 0): Map<string, number> {
  const model = ctx.store.models.getModel(ctx.runId, role, member);
  if (!model) throw new Error(`model ${role}[${member}] is not trained yet`);
  return new Map(ctx.store.models.listPredictions(model.id).map((p) => [p.exampleId, p.p1]));
}

/**
 * The weak baseline's out-of-sample P(label 1) for every example: the cross-fitted fold models' on train_weak when
 * they exist, the baseline's everywhere else (it never trained on those).
 */
export function outOfSamplePredictions(ctx: StageContext): Map<string, number> {
  const out = predictionsOf(ctx, ROLES.weak);
  let folds = 0;
  for (; ctx.store.models.getModel(ctx.runId, ROLES.crossfit, folds); folds++) {
    for (const [id, p] of predictionsOf(ctx, ROLES.crossfit, folds)) out.set(id, p);
  }
  if (folds === 0 && ctx.store.examples.countBySplit(ctx.runId).train_weak > 0) {
    throw new Error('the cross-fitted weak baseline is not trained yet; out-of-sample picks on train_weak need it');
  }
  return out;
}
