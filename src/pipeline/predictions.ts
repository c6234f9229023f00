import type { ExperimentConfig } from '../config/experiment.js';
import type { StageContext } from './context.js';

/** The models an experiment trains, by role; member numbers 0..K-1 for the weak ensemble. */
export const ROLES = {
  weak: 'weak',
  /** Cross-fitted weak baselines (member = fold): each predicts only the train_weak examples it did not train on. */
  crossfit: 'weak_crossfit',
  member: 'weak_member',
  /** The ensemble ablation's finetune ensemble (every member reads transcript 0), beside the debate ensemble. */
  memberFinetune: 'weak_member_finetune',
  strong: 'strong',
  naive: 'strong_naive',
  ceiling: 'strong_ceiling',
  /** Ensemble ablation: strong on one weak model's labels (member 0), and on the finetune ensemble's. */
  single: 'strong_single',
  finetune: 'strong_finetune',
  /** Strong models trained on a prompted judge's labels (member = the judge's index): judges as alternative supervisors. */
  byJudge: 'strong_by_judge',
  /**
   * A judge ensemble's P(correct), stored as a model (member = its index in judgeEnsembles) whose predictions are
   * computed from its members' judgments, not trained; strong models on its labels are byJudge members after the judges.
   */
  judgeEnsemble: 'judge_ensemble',
} as const;

/** The training seeds of a run (config.seeds: a count or a list); one seed, 0, by default. */
export function trainingSeeds(config: ExperimentConfig): number[] {
  const s = config.seeds;
  if (s === undefined) return [0];
  return typeof s === 'number' ? Array.from({ length: s }, (_, i) => i) : s;
}

/** The first training seed: its models keep the plain role names, and the market picks and run table come from it. */
export const primarySeed = (config: ExperimentConfig): number => trainingSeeds(config)[0]!;

/** A model's stored role in the replicate trained with `seed`: the plain role for the primary seed, role@seedN otherwise. */
export function seededRole(config: ExperimentConfig, role: string, seed: number): string {
  return seed === primarySeed(config) ? role : `${role}@seed${seed}`;
}

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
