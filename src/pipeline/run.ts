import { resolve } from 'node:path';
import type { ExperimentConfig } from '../config/experiment.js';
import { configHash } from '../config/load.js';
import { BudgetExceededError, Gateway } from '../models/gateway.js';
import type { Logger } from '../log.js';
import { openStore, type MetricRow, type Store } from '../store/index.js';
import { auditLeaks } from './audit.js';
import { InterruptedError, PartialFailureError, type StageContext } from './context.js';
import { runDebates } from './debates.js';
import { evaluate } from './evaluate.js';
import { runJudges } from './judges.js';
import { ModelPool } from './models.js';
import { prepareExamples } from './prepare.js';
import { silent, type ProgressListener } from './progress.js';
import { trainStrong, trainWeakBaseline, trainWeakEnsemble } from './training.js';

export interface RunOptions {
  config: ExperimentConfig;
  /** The experiment's database; default results/<name>-<hash>.sqlite. */
  out?: string;
  /** The shared response cache; default results/cache.sqlite. */
  cacheFile?: string;
  noCache?: boolean;
  retryFailed?: boolean;
  /** Overrides config.limits. */
  maxCalls?: number;
  maxCostUsd?: number;
  progress?: ProgressListener;
  logger?: Logger;
  /** Abort to stop cleanly: no new work starts, calls in flight finish, the run is marked interrupted. */
  stop?: AbortSignal;
}

export type RunOutcome =
  | { status: 'completed'; runId: string; out: string; metrics: MetricRow[] }
  | { status: 'interrupted' | 'failed'; runId: string; out: string; reason: string };

/** The stages, in order. Each reads its inputs from the store and records that it finished, so reruns skip it. */
const STAGES: { name: string; run: (ctx: StageContext) => Promise<void> }[] = [
  { name: 'prepare', run: prepareExamples },
  { name: 'train_weak_baseline', run: trainWeakBaseline },
  { name: 'debates', run: runDebates },
  // Before any weak model reads a transcript.
  { name: 'leak_audit', run: async (ctx) => void auditLeaks(ctx) },
  { name: 'judges', run: runJudges },
  { name: 'train_weak_ensemble', run: trainWeakEnsemble },
  { name: 'train_strong', run: trainStrong },
  // Every number, computed once and stored; every view reads them.
  { name: 'evaluate', run: async (ctx) => void evaluate(ctx) },
];

export function defaultOutPath(config: ExperimentConfig): string {
  return resolve('results', `${config.name}-${configHash(config).slice(0, 8)}.sqlite`);
}

/**
 * Runs (or resumes) one experiment. The run is identified by its config hash: running the same config against the
 * same database resumes it, and a finished run's rerun reads its stored metrics with no model calls.
 */
export async function runExperiment(options: RunOptions): Promise<RunOutcome> {
  const { config } = options;
  const out = resolve(options.out ?? defaultOutPath(config));
  const progress = options.progress ?? silent;
  const hash = configHash(config);
  const runId = `${config.name}-${hash.slice(0, 12)}`;
  const store = openStore(out);
  const cacheFile = resolve(options.cacheFile ?? resolve('results', 'cache.sqlite'));
  let cacheStore: Store | undefined;
  let models: ModelPool | undefined;
  try {
    const existing = store.runs.getRun(runId);
    const run = existing ?? store.runs.createRun({ id: runId, name: config.name, config, configHash: hash, dataset: config.dataset.name });
    if (existing) store.runs.setRunStatus(runId, 'running');
    cacheStore = options.noCache ? undefined : cacheFile === out ? store : openStore(cacheFile);
    const gateway = new Gateway({
      cache: cacheStore?.cache ?? null,
      ledger: store.calls,
      runId,
      // The same config in another database is another run instance, with its own ledger.
      payer: `${runId}@${run.createdAt}`,
      noCache: options.noCache,
      concurrency: config.gateway.concurrency,
      retry: { maxAttempts: config.gateway.maxAttempts, timeoutMs: config.gateway.timeoutMs },
      prices: config.gateway.prices,
      budget: { maxCalls: options.maxCalls ?? config.limits.maxCalls, maxCostUsd: options.maxCostUsd ?? config.limits.maxCostUsd },
      logger: options.logger,
    });
    models = new ModelPool(gateway);
    const ctx: StageContext = {
      config, runId, store, gateway, models, progress, stop: options.stop ?? new AbortController().signal, retryFailed: options.retryFailed ?? false,
    };
    for (const stage of STAGES) {
      if (store.stages.isStageDone(runId, stage.name)) {
        progress({ stage: stage.name, kind: 'skip' });
        continue;
      }
      progress({ stage: stage.name, kind: 'start' });
      await stage.run(ctx);
      store.stages.markStageDone(runId, stage.name);
      progress({ stage: stage.name, kind: 'end' });
    }
    store.runs.setRunStatus(runId, 'completed');
    return { status: 'completed', runId, out, metrics: store.metrics.listMetrics(runId) };
  } catch (e) {
    if (e instanceof InterruptedError || e instanceof BudgetExceededError) {
      const reason = e instanceof InterruptedError ? 'interrupted; run the same command again to resume' : `${e.message}; raise the limit and run again to resume`;
      store.runs.setRunStatus(runId, 'interrupted', reason);
      return { status: 'interrupted', runId, out, reason };
    }
    if (e instanceof PartialFailureError) {
      store.runs.setRunStatus(runId, 'failed', e.message);
      return { status: 'failed', runId, out, reason: e.message };
    }
    if (store.runs.getRun(runId)) store.runs.setRunStatus(runId, 'failed', (e as Error).message);
    throw e;
  } finally {
    await models?.close();
    if (cacheStore && cacheStore !== store) cacheStore.close();
    store.close();
  }
}
