/** Pure metric functions: no I/O, no imports from the rest of w2s. Randomness comes in as a `random` argument. */
export { accuracy, auroc, logLoss } from './classification.js';
export { brier, calibrationCI, ece, reliabilityBins, type ReliabilityBin } from './calibration.js';
export { pgr } from './pgr.js';
export { pairedPgrDiff, type PgrDiffResult } from './pgr-diff.js';
export {
  bootstrapCI,
  clustersFromKeys,
  accuracyCI,
  aurocCI,
  pgrCI,
  type BootstrapOptions,
  type BootstrapResult,
  type MetricCIOptions,
  type PairedMetric,
  type PgrCIOptions,
  type PgrCIResult,
  type Statistic,
} from './bootstrap.js';
export { clusteredProportion, tInterval, wilson, zForLevel, type ClusteredProportion, type MeanInterval, type ProportionInterval } from './intervals.js';
export { cohenKappa, fleissKappa, fleissKappaFromCounts } from './agreement.js';
export {
  mcnemar,
  mcnemarFromCounts,
  pairedBootstrapDiff,
  type McNemarResult,
  type PairedDiffOptions,
  type PairedDiffResult,
} from './paired.js';
export {
  meanSoftLabel,
  majorityVote,
  accuracyBySize,
  type EnsembleSizeOptions,
  type EnsembleSizeAccuracy,
  type MemberCombiner,
} from './ensemble.js';
export {
  aggregateJudges,
  aggregateSpoken,
  fitStacker,
  applyStacker,
  stackedCrossFit,
  positionBias,
  positionBiasCI,
  pairAgreement,
  errorCorrelation,
  costFrontier,
  type JudgeAggregate,
  type StackerModel,
  type StackerOptions,
  type StackingTrainSet,
  type CrossFitOptions,
  type CrossFitResult,
} from './judge-ensembles.js';
export { summarize, type Summary, type SummaryOptions } from './summary.js';
export { betaInc, erfc, chiSquareSurvival, normalCdf, normalQuantile, studentTCdf, studentTQuantile } from './special.js';
export type { Label } from './validate.js';
export { fitRatings, ratingsCI, pairKey, ELO_PER_LOGIT, DEFAULT_PRIOR_SD, type Match, type Ratings, type RatingEstimate, type RatingsWithIntervals, type RatingOptions } from './ratings.js';
