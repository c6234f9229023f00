/** The w2s library API. The CLI is one user of it. */
export { UserError } from './errors.js';
export { ExperimentSchema, type ExperimentConfig, type ExperimentInput, type ModelRef } from './config/experiment.js';
export { loadExperiment, parseExperiment, configHash, experimentJsonSchema } from './config/load.js';
export { createClient, requireCapability, type ClientOptions } from './models/create.js';
export { Gateway, BudgetExceededError, type GatewayModel, type GatewayOptions } from './models/gateway.js';
export { OpenAIBatchRoute, openaiBatchTransport, batchPriceOf, type BatchTransport, type BatchScheduler } from './models/batch.js';
export { probeCapabilities, type Finding, type ProbeOptions, type ProbeResult } from './models/probe.js';
export type { ModelClient, GenerateRequest, GenerateResult, Capabilities, ChatMessage, TokenLogprob } from './models/types.js';
export { openStore, dbInfo, Store } from './store/index.js';
export { loadDataset } from './data/registry.js';
export { makeSplits } from './data/splits.js';
export { runExperiment, defaultOutPath, type RunOptions, type RunOutcome } from './pipeline/run.js';
export { formatRunSummary } from './report/terminal.js';
export { createProbeBackend } from './train/probe.js';
export { hashedNgramFeaturizer, embeddingFeaturizer } from './train/featurizers.js';
export type { FineTuneBackend, TrainRow, TrainedModel, Featurizer } from './train/types.js';
export * as metrics from './metrics/index.js';
