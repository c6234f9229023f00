import { resolve } from 'node:path';
import type { ExperimentConfig } from '../config/experiment.js';
import { configHash } from '../config/load.js';
import { BudgetExceededError, Gateway, type EndpointLimits } from '../models/gateway.js';
import type { Logger } from '../log.js';
import { UserError } from '../errors.js';
import { describeOwner, LEASE_HEARTBEAT_MS, openStore, type MetricRow, type RunLimits, type RunRow, type Store } from '../store/index.js';
import { auditLeaks } from './audit.js';
import { Batching } from './batching.js';
import { checkStop, InterruptedError, PartialFailureError, type StageContext } from './context.js';
import { runDebates } from './debates.js';
import { importDebates } from './import.js';
import { evaluate } from './evaluate.js';
import { aggregateJudgeEnsembles } from './judge-ensembles.js';
import { runJudges } from './judges.js';
import { ModelPool } from './models.js';
import { formatPlan, preflight } from './preflight.js';
import { prepareExamples } from './prepare.js';
import { pendingNeeds, probeRoles } from './probe-roles.js';
import { silent, type ProgressListener } from './progress.js';
import { trainStrong, trainWeakBaseline, trainWeakEnsemble } from './training.js';

export interface RunOptions {
  config: ExperimentConfig;
  /** The experiment's database; default results/<name>-<hash>.sqlite. */
  out?: string;
  /** The shared response cache; default config.gateway.cache, then results/cache.sqlite. */
  cacheFile?: string;
  noCache?: boolean;
  retryFailed?: boolean;
  /** Override config.limits; limits bound the run's total spend over all its sessions, and are kept with the run. */
  maxCalls?: number;
  maxCostUsd?: number;
  progress?: ProgressListener;
  logger?: Logger;
  /**
   * Abort to stop: no new work or call starts, calls in flight get config.gateway.stopGraceMs to finish and are then
   * cut off, and the run is marked interrupted.
   */
  stop?: AbortSignal;
  /** When another live process owns the run: wait for it to finish, then resume (default: refuse at once). */
  waitForOwner?: boolean;
  /** Per-endpoint concurrency limiters shared with other runs in this process (a sweep's cells); default: the run's own. */
  endpointLimits?: EndpointLimits;
  /** Send every openai model's calls through the Batch API (w2s run --batch); a model ref's own "batch" setting wins. */
  batch?: boolean;
}

export type RunOutcome =
  | { status: 'completed'; runId: string; out: string; metrics: MetricRow[] }
  /** budget: the run's spending limit was reached; interrupted: a stop request. Both resume. */
  | { status: 'interrupted' | 'budget' | 'failed'; runId: string; out: string; reason: string };

/** The stages, in order. Each reads its inputs from the store and records that it finished, so reruns skip it. */
const STAGES: { name: string; run: (ctx: StageContext) => Promise<void> }[] = [
  { name: 'prepare', run: prepareExamples },
  { name: 'train_weak_baseline', run: trainWeakBaseline },
  // debate.import: transcripts written elsewhere are stored instead (import.ts).
  { name: 'debates', run: (ctx) => (ctx.config.debate.import ? importDebates(ctx) : runDebates(ctx)) },
  // Before any weak model reads a transcript.
  { name: 'leak_audit', run: async (ctx) => void auditLeaks(ctx) },
  { name: 'judges', run: runJudges },
  { name: 'judge_ensembles', run: aggregateJudgeEnsembles },
  { name: 'train_weak_ensemble', run: trainWeakEnsemble },
  { name: 'train_strong', run: trainStrong },
  // Every number, computed once and stored; every view reads them.
  { name: 'evaluate', run: async (ctx) => void evaluate(ctx) },
];

/**
 * The limits this session enforces: a command-line limit, else the config's, else the one stored with the run by an
 * earlier session. The result is stored, so a resume that names none keeps it.
 */
function runLimits(store: Store, runId: string, options: RunOptions): RunLimits {
  const stored = store.limits.getLimits(runId);
  const { limits } = options.config;
  const chosen: RunLimits = {
    maxCalls: options.maxCalls ?? limits.maxCalls ?? stored.maxCalls,
    maxCostUsd: options.maxCostUsd ?? limits.maxCostUsd ?? stored.maxCostUsd,
  };
  store.limits.setLimits(runId, chosen);
  return chosen;
}

/** A run's id: its name and the start of its config hash, so the same config resumes the same run. */
export function runIdOf(config: ExperimentConfig): string {
  return `${config.name}-${configHash(config).slice(0, 12)}`;
}

export function defaultOutPath(config: ExperimentConfig): string {
  return resolve('results', `${config.name}-${configHash(config).slice(0, 8)}.sqlite`);
}

/**
 * Runs (or resumes) one experiment. The run is identified by its config hash: running the same config against the
 * same database resumes it, and a finished run's rerun reads its stored metrics with no model calls. Before anything is
 * written, the remote models of roles whose stages are still to run are probed for the capability they need
 * (probe-roles.ts; none for a finished run): the probe's calls are not in the run's ledger and do not count against
 * --max-calls or --max-cost; every call of the stages is, and does.
 */
export async function runExperiment(options: RunOptions): Promise<RunOutcome> {
  const { config } = options;
  if (options.maxCalls !== undefined && !(Number.isInteger(options.maxCalls) && options.maxCalls > 0)) {
    throw new UserError(`The call limit must be a whole number of calls, got ${options.maxCalls}; fix --max-calls.`);
  }
  const out = resolve(options.out ?? defaultOutPath(config));
  const progress = options.progress ?? silent;
  // Nothing is written until the config's models, files and prompts check out (preflight.ts).
  const plan = await preflight(config);
  progress({ stage: 'preflight', kind: 'info', message: `ok — ${formatPlan(plan)}` });
  const runId = runIdOf(config);
  const notStarted: RunOutcome = { status: 'interrupted', runId, out, reason: 'stopped by Ctrl-C before the run started; nothing was changed' };
  if (options.stop?.aborted) return notStarted;
  // What the remote models of roles that need a capability really return, asked before anything is written; a role
  // whose stages this database already finished for this config is not asked (read-only: nothing is created).
  try {
    const needed = pendingNeeds(config, out, runId);
    await probeRoles(config, { progress, logger: options.logger, stop: options.stop, endpointLimits: options.endpointLimits, needed });
  } catch (e) {
    if (e instanceof InterruptedError || options.stop?.aborted) return notStarted;
    throw e;
  }

  // The cache is opened first, so a bad cache file (another program's, a newer w2s's) stops the run before anything
  // is written to its database.
  const cacheFile = resolve(options.cacheFile ?? config.gateway.cache ?? resolve('results', 'cache.sqlite'));
  const cacheStore = options.noCache || cacheFile === out ? undefined : openStore(cacheFile);
  let store: Store;
  let claim: Claim | undefined;
  try {
    store = openStore(out);
  } catch (e) {
    cacheStore?.close();
    throw e;
  }
  // One owner per run, claimed before the try below, whose catch writes the run's status: a refused process changes
  // nothing.
  const lost = new AbortController();
  try {
    claim = await claimRun(store, runId, config, options, () => lost.abort());
  } catch (e) {
    cacheStore?.close();
    store.close();
    throw e;
  }
  if (!claim) {
    cacheStore?.close();
    store.close();
    return { status: 'interrupted', runId, out, reason: 'stopped while waiting for the process that owns the run; nothing was changed' };
  }
  // Ctrl-C, or this process losing the run to another (as if it were dead): either way no new work starts.
  const stop = options.stop ? AbortSignal.any([options.stop, lost.signal]) : lost.signal;
  let models: ModelPool | undefined;
  try {
    progress({ stage: 'run', kind: 'info', message: options.noCache ? 'response cache off (--no-cache)' : `response cache ${cacheFile}` });
    const limits = runLimits(store, runId, options);
    const spent = store.calls.ledgerSummary(runId).total;
    const gateway = new Gateway({
      cache: options.noCache ? null : (cacheStore ?? store).cache,
      ledger: store.calls,
      runId,
      // This run instance: the same config in another database is another instance, with its own ledger.
      payer: `${runId}@${claim.run.createdAt}@${store.databaseId()}`,
      noCache: options.noCache,
      concurrency: config.gateway.concurrency,
      limits: options.endpointLimits,
      retry: { maxAttempts: config.gateway.maxAttempts, timeoutMs: config.gateway.timeoutMs },
      prices: config.gateway.prices,
      budget: { maxCalls: limits.maxCalls ?? undefined, maxCostUsd: limits.maxCostUsd ?? undefined },
      spent: { calls: spent.calls - spent.hits, costUsd: spent.costUsd },
      stop,
      stopGraceMs: config.gateway.stopGraceMs,
      logger: options.logger,
    });
    // The Batch API routes, when a model batches (batching.ts); batches are kept in the run's database.
    const batching = new Batching({
      config, all: options.batch, store, runId, cache: options.noCache ? null : (cacheStore ?? store).cache, stop, progress, logger: options.logger,
    });
    const batched = batching.any ? batching : undefined;
    models = new ModelPool(gateway, batched);
    // The live counters (calls, hits, retries, tokens, cost, back-offs) for the progress display.
    progress({ stage: 'run', kind: 'info', stats: () => gateway.stats() });
    const ctx: StageContext = { config, runId, store, gateway, models, progress, stop, retryFailed: options.retryFailed ?? false, batching: batched };
    for (const stage of STAGES) {
      if (store.stages.isStageDone(runId, stage.name)) {
        progress({ stage: stage.name, kind: 'skip' });
        continue;
      }
      checkStop(ctx);
      progress({ stage: stage.name, kind: 'start' });
      // A training stage's embeddings, fetched ahead in one batch when its featurizer model batches.
      await batched?.prefetchEmbeddings(ctx, stage.name);
      await stage.run(ctx);
      store.stages.markStageDone(runId, stage.name);
      progress({ stage: stage.name, kind: 'end' });
    }
    store.runs.setRunStatus(runId, 'completed');
    if (batched) progress({ stage: 'run', kind: 'info', message: batchSummary(batched) });
    return { status: 'completed', runId, out, metrics: store.metrics.listMetrics(runId) };
  } catch (e) {
    // Another process owns the run now: its status is that process's to write.
    if (lost.signal.aborted) {
      return { status: 'failed', runId, out, reason: 'another process took the run over (this one looked dead to it); this process stopped and left the run to it' };
    }
    if (e instanceof BudgetExceededError) {
      store.runs.setRunStatus(runId, 'interrupted', e.message);
      return { status: 'budget', runId, out, reason: e.message };
    }
    // A stop cuts off whatever was running: a model call, or a trainer that rejects with its own AbortError.
    if (e instanceof InterruptedError || stop.aborted) {
      const reason = 'stopped by Ctrl-C; run the same command again to resume';
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
    cacheStore?.close();
    claim.release();
    store.close();
  }
}

/** What this session's batches did, in one line. */
function batchSummary(b: Batching): string {
  const s = b.stats();
  const back = s.fellBack ? `, ${s.fellBack} made as ordinary calls` : '';
  return `batches: ${s.submitted} submitted, ${s.resumed} resumed; ${s.answered} requests answered${back}`;
}

interface Claim {
  run: RunRow;
  /** Stops the heartbeat and gives the lease up. */
  release(): void;
}

const OWNER_POLL_MS = 1_000;

/**
 * Makes this process the run's one owner: creates the run row (or marks the existing one running) and takes its lease
 * in one IMMEDIATE transaction, so two processes started together cannot both create or resume it. A run owned by a
 * live process is refused with a UserError naming it, or, with waitForOwner, waited for (a finished run then reruns
 * with no model calls). Undefined: stopped while waiting.
 */
async function claimRun(store: Store, runId: string, config: ExperimentConfig, options: RunOptions, onLost: () => void): Promise<Claim | undefined> {
  const tryClaim = store.db.transaction(() => {
    const existing = store.runs.getRun(runId);
    // A new run has no lease row (the lease references the run), so acquire cannot refuse after create.
    const run = existing ?? store.runs.createRun({ id: runId, name: config.name, config, configHash: configHash(config), dataset: config.dataset.name });
    const lease = store.leases.acquire(runId);
    if (!lease.acquired) return lease;
    if (existing) store.runs.setRunStatus(runId, 'running');
    return { ...lease, run };
  });
  let waiting = false;
  for (;;) {
    const got = tryClaim.immediate();
    if (got.acquired) return { run: got.run, release: keepLease(store, runId, got.token, options.logger, onLost) };
    const owner = describeOwner(runId, got.owner);
    if (!options.waitForOwner) throw new UserError(`${owner}; wait for it to finish, or pass --wait to wait for it.`);
    if (!waiting) (options.progress ?? silent)({ stage: 'run', kind: 'info', message: `${owner}; waiting for it to finish (--wait)` });
    waiting = true;
    await new Promise((r) => setTimeout(r, OWNER_POLL_MS));
    if (options.stop?.aborted) return undefined;
  }
}

/**
 * Heartbeats the lease while the run goes on; returns what gives it up. A lost lease (taken over as if this process
 * were dead) is not fought over: onLost stops this process's work on the run.
 */
function keepLease(store: Store, runId: string, token: string, logger: Logger | undefined, onLost: () => void): () => void {
  const heartbeat = setInterval(() => {
    try {
      if (store.leases.heartbeat(token)) return;
      logger?.error(`Run ${runId} was taken over by another process; this process stops and leaves the run to it.`);
      clearInterval(heartbeat);
      onLost();
    } catch (e) {
      logger?.warn(`Lease heartbeat failed: ${(e as Error).message}`);
    }
  }, LEASE_HEARTBEAT_MS).unref();
  return () => {
    clearInterval(heartbeat);
    try {
      store.leases.release(token);
    } catch (e) {
      // Left behind, the lease names a dead process, which the next run takes over.
      logger?.warn(`Could not release the run's lease: ${(e as Error).message}`);
    }
  };
}
