import type { ExperimentConfig } from '../config/experiment.js';
import { InterruptedError } from '../errors.js';
import { BudgetExceededError, type Gateway } from '../models/gateway.js';
import type { Store } from '../store/index.js';
import type { Batching } from './batching.js';
import type { ModelPool } from './models.js';
import type { ProgressListener } from './progress.js';

/** What every stage gets: the config, the run's store, the models, progress, and the stop request. */
export interface StageContext {
  config: ExperimentConfig;
  runId: string;
  store: Store;
  gateway: Gateway;
  models: ModelPool;
  progress: ProgressListener;
  /** Aborted on the first Ctrl-C: stages start no new work; the gateway starts no call and cuts off late ones. */
  stop: AbortSignal;
  /** Redo debates and judgments that failed in an earlier run. */
  retryFailed: boolean;
  /** The run's Batch API routes and their scheduler, when a model batches (see batching.ts). */
  batching?: Batching;
}

export { InterruptedError };

/**
 * Errors that end the whole run rather than one item: a stop request, or a spent budget. A stage that records items
 * as failed must rethrow these instead (they are not the item's fault, and the item resumes on the next run).
 */
export function endsTheRun(e: unknown): boolean {
  return e instanceof InterruptedError || e instanceof BudgetExceededError;
}

export function checkStop(ctx: StageContext): void {
  if (ctx.stop.aborted) throw new InterruptedError();
}

/** Some items of a stage failed for good; the rest finished. `w2s run --retry-failed` redoes only those. */
export class PartialFailureError extends Error {
  override readonly name = 'PartialFailureError';
  constructor(
    readonly stage: string,
    readonly failed: number,
    readonly total: number,
    readonly firstError: string,
  ) {
    super(`${failed} of ${total} ${stage} failed (first error: ${firstError}); the rest are stored. Fix the cause and run again with --retry-failed to redo only those.`);
  }
}

/**
 * Runs every job under the limit and waits for all of them, even after one throws, so nothing in flight is cut off
 * half-stored; then rethrows the first error.
 */
export async function settleAll(jobs: Array<() => Promise<void>>, limit: (fn: () => Promise<void>) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(jobs.map((job) => limit(job)));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}

/**
 * settleAll for a stage whose jobs may call a model that batches: those jobs (batched: true) go through the run's
 * batching, all at once, so their requests leave in one batch per turn (see batching.ts); the rest run under limit.
 */
export async function settleStage(
  ctx: StageContext,
  stage: string,
  jobs: { run: () => Promise<void>; batched: boolean }[],
  limit: (fn: () => Promise<void>) => Promise<void>,
): Promise<void> {
  if (ctx.batching && jobs.some((j) => j.batched)) return ctx.batching.runJobs(stage, jobs, limit);
  return settleAll(jobs.map((j) => j.run), limit);
}
