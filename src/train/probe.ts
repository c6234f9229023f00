/**
 * The in-process `probe` FineTuneBackend: featurize texts (hashed n-grams or a model's embeddings), then fit a linear
 * head to 2 logits on the soft labels with the chosen weak-to-strong loss. The trained state is plain JSON.
 */
import { UserError } from '../errors.js';
import { applyLengthRule, DEFAULT_LENGTH_RULE, LENGTH_RULES, type LengthRule } from './featurizers.js';
import {
  checkHyperparams,
  headFromJSON,
  headToJSON,
  predictProba,
  trainLogistic,
  type LogisticOptions,
} from './logistic.js';
import type { Featurizer, FineTuneBackend, PredictRow, TrainedModel, TrainOptions, TrainRow } from './types.js';

/** Hyperparameters; each can also be overridden per call through TrainOptions.params. */
export interface ProbeHyperparams {
  optimizer: 'adam' | 'lbfgs';
  /** Adam epochs; L-BFGS target-refresh rounds for non-xent losses (default 2, as the recipe). */
  epochs: number;
  /** Adam learning rate (default 1e-3). */
  lr: number;
  /** Adam batch size (default 32, as the recipe). */
  batchSize: number;
  /** Adam schedule (default 'cosine', as the recipe). */
  schedule: 'cosine' | 'constant';
  /** Coefficient of (1/2)·‖W‖² (default 0). */
  l2: number;
  /** Learn a bias (default false, as the recipe's head). */
  bias: boolean;
  /** Standardise features with training-set statistics (default false; recommended for embeddings). */
  standardize: boolean;
  /** L-BFGS iterations per round (default 100). */
  lbfgsIterations: number;
  /** L-BFGS stops when max |gradient| falls below this (default 1e-4, scikit-learn's tol). Recorded with the model. */
  lbfgsTolerance: number;
  /** Texts over the featurizer's maxLength at training time (default 'truncate_tail': keep the head). */
  lengthRule: LengthRule;
  /** logconf parameters (defaults 0.5, 0.1) and product exponents (defaults 1, 1). */
  auxCoef: number;
  warmupFrac: number;
  alpha: number;
  beta: number;
}

export interface ProbeBackendOptions extends Partial<ProbeHyperparams> {
  featurizer: Featurizer;
}

export const PROBE_DEFAULTS: ProbeHyperparams = {
  optimizer: 'adam',
  epochs: 2,
  lr: 1e-3,
  batchSize: 32,
  schedule: 'cosine',
  l2: 0,
  bias: false,
  standardize: false,
  lbfgsIterations: 100,
  lbfgsTolerance: 1e-4,
  lengthRule: DEFAULT_LENGTH_RULE,
  auxCoef: 0.5,
  warmupFrac: 0.1,
  alpha: 1,
  beta: 1,
};

/** What TrainedModel.state holds for this backend. */
export interface ProbeState {
  format: 'probe/1';
  featurizerId: string;
  dim: number;
  /** Row k maps features to logit k (2×dim). */
  weights: [number[], number[]];
  bias: [number, number] | null;
  standardization: { mean: number[]; std: number[] } | null;
  loss: TrainOptions['loss'];
  seed: number;
  hyperparams: ProbeHyperparams;
}

export interface ProbeStats {
  /** Rows the head was fitted on. */
  n: number;
  /** Rows given to train. */
  nInput: number;
  dropped: number;
  truncated: number;
  lossCurve: number[];
  steps: number;
  /** Wall time of the whole train call, and of its two parts. */
  trainSeconds: number;
  featurizeSeconds: number;
  fitSeconds: number;
}

export function createProbeBackend(opts: ProbeBackendOptions): FineTuneBackend {
  const { featurizer, ...rest } = opts;
  if (!featurizer || typeof featurizer.featurize !== 'function') {
    throw new UserError('The probe backend needs a featurizer.');
  }
  const base = resolveHyperparams(PROBE_DEFAULTS, rest, 'probe options');

  return {
    name: 'probe',

    async train(rows: TrainRow[], options: TrainOptions): Promise<TrainedModel> {
      const t0 = performance.now();
      const hp = resolveHyperparams(base, options.params ?? {}, 'params');
      checkRows(rows);
      options.signal?.throwIfAborted();
      const kept = applyLengthRule(
        rows.map((r) => r.text),
        featurizer.maxLength,
        hp.lengthRule,
      );
      if (kept.texts.length === 0) {
        throw new UserError(
          `All ${rows.length} training rows are longer than the featurizer's maxLength (${featurizer.maxLength}); ` +
            'raise maxLength or use a truncating length rule.',
        );
      }
      const features = await featurizer.featurize(kept.texts, options.signal);
      const t1 = performance.now();
      const { x, d } = pack(features, kept.texts.length, featurizer.id);
      const n = kept.indices.length;
      const soft = new Float64Array(2 * n);
      const weight = rows.some((r) => r.weight !== undefined) ? new Float64Array(n) : undefined;
      kept.indices.forEach((src, i) => {
        soft[2 * i] = rows[src]!.softLabel[0];
        soft[2 * i + 1] = rows[src]!.softLabel[1];
        if (weight) weight[i] = rows[src]!.weight ?? 1;
      });
      const stepRows = hp.optimizer === 'adam' ? Math.min(hp.batchSize, n) : n;
      const logisticOpts: LogisticOptions = {
        optimizer: hp.optimizer,
        loss: options.loss,
        seed: options.seed,
        epochs: hp.epochs,
        lr: hp.lr,
        batchSize: hp.batchSize,
        schedule: hp.schedule,
        l2: hp.l2,
        bias: hp.bias,
        standardize: hp.standardize,
        lbfgsIterations: hp.lbfgsIterations,
        lbfgsTolerance: hp.lbfgsTolerance,
        lossParams: { auxCoef: hp.auxCoef, warmupFrac: hp.warmupFrac, alpha: hp.alpha, beta: hp.beta },
        signal: options.signal,
        onProgress: options.onProgress
          ? (step, totalSteps, loss) => {
              const secs = (performance.now() - t1) / 1000;
              options.onProgress!({ step, totalSteps, loss, examplesPerSec: secs > 0 ? (step * stepRows) / secs : undefined });
            }
          : undefined,
      };
      const fit = await trainLogistic({ x, n, d, soft, weight }, logisticOpts);
      const t2 = performance.now();
      const head = headToJSON(fit.head);
      const state: ProbeState = {
        format: 'probe/1',
        featurizerId: featurizer.id,
        dim: d,
        weights: head.w,
        bias: head.b,
        standardization: head.standardization,
        loss: options.loss,
        seed: options.seed,
        hyperparams: hp,
      };
      const stats: ProbeStats = {
        n,
        nInput: rows.length,
        dropped: kept.dropped,
        truncated: kept.truncated,
        lossCurve: fit.lossCurve,
        steps: fit.steps,
        trainSeconds: (t2 - t0) / 1000,
        featurizeSeconds: (t1 - t0) / 1000,
        fitSeconds: (t2 - t1) / 1000,
      };
      return { backend: 'probe', state, stats: { ...stats } };
    },

    /**
     * Every row needs a prediction, so a text over maxLength is truncated here even when training dropped such rows
     * ('drop' predicts like 'truncate_tail'); otherwise the training rule applies.
     */
    async predict(model: TrainedModel, rows: PredictRow[], signal?: AbortSignal): Promise<number[]> {
      const state = readState(model);
      if (state.featurizerId !== featurizer.id) {
        throw new UserError(
          `This probe was trained on features "${state.featurizerId}" but the backend uses "${featurizer.id}"; ` +
            'predict with the same featurizer.',
        );
      }
      if (rows.length === 0) return [];
      const rule: LengthRule = state.hyperparams?.lengthRule === 'truncate_head' ? 'truncate_head' : 'truncate_tail';
      const kept = applyLengthRule(
        rows.map((r) => r.text),
        featurizer.maxLength,
        rule,
      );
      const head = headFromJSON({ d: state.dim, w: state.weights, b: state.bias, standardization: state.standardization });
      // In chunks, so a large split never holds all its dense feature vectors at once.
      const out: number[] = [];
      for (let start = 0; start < kept.texts.length; start += PREDICT_CHUNK) {
        const texts = kept.texts.slice(start, start + PREDICT_CHUNK);
        const { x, d } = pack(await featurizer.featurize(texts, signal), texts.length, featurizer.id);
        if (d !== state.dim) {
          throw new UserError(
            `Featurizer "${featurizer.id}" now gives ${d}-dimensional features but the probe was trained on ${state.dim}; retrain it.`,
          );
        }
        for (const p of predictProba(head, x, texts.length)) out.push(p);
      }
      return out;
    },
  };
}

/** Rows featurized at once when predicting. */
const PREDICT_CHUNK = 1024;

function readState(model: TrainedModel): ProbeState {
  const s = model?.state as ProbeState | undefined;
  if (model?.backend !== 'probe' || !s || s.format !== 'probe/1') {
    throw new UserError(`This model was trained by the "${model?.backend}" backend, not a probe/1 probe; use its own backend.`);
  }
  return s;
}

function pack(features: Float32Array[], expected: number, id: string): { x: Float32Array; d: number } {
  if (features.length !== expected) throw new Error(`${id} returned ${features.length} vectors for ${expected} texts.`);
  const d = features[0]?.length ?? 0;
  if (d === 0) throw new Error(`${id} returned empty feature vectors.`);
  const x = new Float32Array(expected * d);
  features.forEach((f, i) => {
    if (f.length !== d) throw new Error(`${id} returned vectors of lengths ${d} and ${f.length}.`);
    x.set(f, i * d);
  });
  return { x, d };
}

function checkRows(rows: TrainRow[]): void {
  if (!Array.isArray(rows) || rows.length === 0) throw new UserError('There are no training rows to fit the probe on.');
  rows.forEach((r, i) => {
    const y = r.softLabel;
    if (!Array.isArray(y) || y.length !== 2 || !y.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)) {
      throw new UserError(`Training row ${r.id ?? i} has soft label ${JSON.stringify(y)}; it must be [p0, p1] with both in [0, 1].`);
    }
    if (typeof r.text !== 'string') throw new UserError(`Training row ${r.id ?? i} has no text.`);
  });
}

const KEYS = Object.keys(PROBE_DEFAULTS) as (keyof ProbeHyperparams)[];

function resolveHyperparams(base: ProbeHyperparams, over: Record<string, unknown>, where: string): ProbeHyperparams {
  const unknown = Object.keys(over).filter((k) => !(KEYS as string[]).includes(k) && over[k] !== undefined);
  if (unknown.length > 0) {
    throw new UserError(`Unknown probe ${where}: ${unknown.join(', ')}; expected some of ${KEYS.join(', ')}.`);
  }
  const hp = { ...base };
  for (const k of KEYS) if (over[k] !== undefined) (hp as Record<string, unknown>)[k] = over[k];
  const num = (k: keyof ProbeHyperparams, ok: (v: number) => boolean, what: string): void => {
    const v = hp[k];
    if (typeof v !== 'number' || !ok(v)) throw new UserError(`The probe ${k} must be ${what}, got ${JSON.stringify(v)}.`);
  };
  checkHyperparams(hp);
  if (!LENGTH_RULES.includes(hp.lengthRule)) {
    throw new UserError(`The probe lengthRule must be one of ${LENGTH_RULES.join(', ')}, got ${JSON.stringify(hp.lengthRule)}.`);
  }
  num('auxCoef', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  num('warmupFrac', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  num('alpha', (v) => v >= 0 && Number.isFinite(v), 'a number >= 0');
  num('beta', (v) => v >= 0 && Number.isFinite(v), 'a number >= 0');
  return hp;
}
