/** The interface every fine-tuning backend implements: the in-process probe, or an external trainer process. */

export interface TrainRow {
  id: string;
  text: string;
  /** [P(label 0), P(label 1)]; hard labels are [1,0] or [0,1]. */
  softLabel: [number, number];
  weight?: number;
}

export interface PredictRow {
  id: string;
  text: string;
}

export type LossName = 'xent' | 'logconf' | 'logconf_linear' | 'product';

export interface TrainOptions {
  /** Which model is being trained, for progress and the store: e.g. "weak_member", "strong". */
  role: string;
  seed: number;
  loss: LossName;
  /** Backend-specific hyperparameters (validated by the backend). */
  params?: Record<string, unknown>;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
}

export interface TrainProgress {
  step: number;
  totalSteps: number;
  loss: number;
  examplesPerSec?: number;
}

export interface TrainedModel {
  backend: string;
  /** Serialisable state: the probe keeps its weights here; external backends keep an artifact path. */
  state: unknown;
  artifactPath?: string;
  artifactSha256?: string;
  /** Loss per step or epoch, counts of dropped/truncated rows, timing. */
  stats: Record<string, unknown>;
}

export interface FineTuneBackend {
  readonly name: string;
  train(rows: TrainRow[], options: TrainOptions): Promise<TrainedModel>;
  /** P(label = 1) for each row, in order. */
  predict(model: TrainedModel, rows: PredictRow[], signal?: AbortSignal): Promise<number[]>;
  close?(): Promise<void>;
}

/** Turns texts into fixed-length feature vectors for a probe head. */
export interface Featurizer {
  /** Stable identifier, e.g. "hashed-ngram:2^16" or "embed:llamacpp:…"; part of cache keys and stored model config. */
  readonly id: string;
  readonly dim: number;
  /** Maximum text length the featurizer accepts, in its own units (tokens or characters), if bounded. */
  readonly maxLength?: number;
  featurize(texts: string[], signal?: AbortSignal): Promise<Float32Array[]>;
}
