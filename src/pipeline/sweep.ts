/**
 * A sweep: a set of ordinary runs (one database each, resumable as any run) that share one response cache and one
 * concurrency limit per endpoint. Debates two cells have in common are generated once: their requests, and so their
 * cache keys, are the same (seeds come from config.seed, the example and the sample index, never from the run).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWrite } from '../atomic-write.js';
import type { Sweep, SweepCell } from '../config/sweep.js';
import { InterruptedError, UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { EndpointLimits } from '../models/gateway.js';
import { preflight, type Plan } from './preflight.js';
import { pendingNeeds, probeRoles } from './probe-roles.js';
import type { ProgressListener } from './progress.js';
import { runExperiment, runIdOf, type RunOutcome } from './run.js';

export interface PlannedCell {
  cell: SweepCell;
  /** The cell's database: <out-dir>/<sweep>/<slug>-<hash8>.sqlite. */
  out: string;
  /** The run's id, as runExperiment names it (<config.name>-<hash12>). */
  runId: string;
  plan: Plan;
}

export interface SweepPlan {
  sweep: Sweep;
  /** <out-dir>/<sweep name>: the cells' databases and the manifest. */
  dir: string;
  manifest: string;
  /** Shared by every cell: the base config's gateway.cache, else <out-dir>/cache.sqlite. */
  cacheFile: string;
  cells: PlannedCell[];
}

/** Preflights every cell (files, models' capabilities, prompts, splits) and plans its calls; writes nothing. */
export async function planSweep(sweep: Sweep, outDir = 'results'): Promise<SweepPlan> {
  const dir = join(outDir, sweep.file.name);
  const cells: PlannedCell[] = [];
  for (const cell of sweep.cells) {
    let plan: Plan;
    try {
      plan = await preflight(cell.config);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`Sweep cell ${cell.label}: ${e.message}`, { cause: e });
      throw e;
    }
    cells.push({ cell, out: join(dir, `${cell.slug}-${cell.hash.slice(0, 8)}.sqlite`), runId: runIdOf(cell.config), plan });
  }
  const caches = new Set(sweep.cells.map((c) => c.config.gateway.cache));
  if (caches.size > 1) throw new UserError(`Sweep ${sweep.file.name}: its cells name different gateway.cache files; a sweep shares one cache, so set it in base only.`);
  const cacheFile = sweep.cells[0]?.config.gateway.cache ?? join(outDir, 'cache.sqlite');
  return { sweep, dir, manifest: join(dir, 'sweep.json'), cacheFile, cells };
}

export type CellStatus = 'pending' | 'running' | RunOutcome['status'];

/** One cell as the manifest records it. */
export interface CellState {
  name: string;
  set: Record<string, unknown>;
  configHash: string;
  runId: string;
  database: string;
  plannedCalls: number;
  status: CellStatus;
  /** Why a cell did not complete. */
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
}

export type SweepStatus = 'running' | 'completed' | 'failed' | 'budget' | 'interrupted';

export interface SweepManifest {
  sweep: string;
  source: string;
  cache: string;
  status: SweepStatus;
  updatedAt: string;
  cells: CellState[];
}

export interface SweepOptions {
  /** Cells run at once (default 1); calls to one endpoint stay within its concurrency however many cells run. */
  jobs?: number;
  retryFailed?: boolean;
  /** Aborted to stop every cell (Ctrl-C): cells running are interrupted as `w2s run` is, the rest do not start. */
  stop?: AbortSignal;
  logger?: Logger;
  /** Progress of one cell's stages (default none). */
  progress?: (cell: PlannedCell) => ProgressListener;
  /** A cell starts (status running) or ends. */
  onCell?: (state: CellState, index: number) => void;
}

/** What the sweep as a whole comes to: stopped if any cell was, else failed if any failed, else budget, else completed. */
export function sweepStatus(cells: readonly CellState[]): SweepStatus {
  const has = (s: CellStatus): boolean => cells.some((c) => c.status === s);
  if (has('running')) return 'running';
  if (has('interrupted') || has('pending')) return 'interrupted';
  if (has('failed')) return 'failed';
  if (has('budget')) return 'budget';
  return 'completed';
}

/**
 * Runs (or resumes) every cell, `jobs` at a time, each an ordinary run with the shared cache and shared endpoint
 * limiters. A cell that fails, or throws, or whose capability probe fails, does not stop the others. The manifest is
 * rewritten as each cell starts and ends, so it always says where the sweep stands; a sweep stopped (Ctrl-C) while
 * probing writes none, and returns one with every cell pending.
 */
export async function runSweep(plan: SweepPlan, options: SweepOptions = {}): Promise<SweepManifest> {
  const jobs = options.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new UserError(`The number of cells run at once must be a whole number of at least 1, got ${jobs}; fix --jobs.`);
  const states: CellState[] = plan.cells.map((c) => ({
    name: c.cell.label,
    set: c.cell.set,
    configHash: c.cell.hash,
    runId: c.runId,
    database: c.out,
    plannedCalls: c.plan.total,
    status: 'pending',
  }));
  const manifest = (): SweepManifest => ({
    sweep: plan.sweep.file.name,
    source: plan.sweep.source,
    cache: plan.cacheFile,
    status: sweepStatus(states),
    updatedAt: new Date().toISOString(),
    cells: states,
  });
  // One limiter per endpoint for the whole sweep: the first cell to call an endpoint sets its limit from its config.
  const limits = new EndpointLimits();
  // Every cell's remote models are probed for what its roles need before anything is written (a model found once is
  // remembered for the other cells, and for their runs, which probe again); a cell whose database already finished
  // the stages that need a capability is not probed. A cell whose probe fails is that cell's failure: it does not run,
  // the others do.
  const probeFailed = new Set<number>();
  for (const [i, { cell, out, runId }] of plan.cells.entries()) {
    if (options.stop?.aborted) break;
    try {
      await probeRoles(cell.config, { logger: options.logger, stop: options.stop, endpointLimits: limits, needed: pendingNeeds(cell.config, out, runId) });
    } catch (e) {
      if (e instanceof InterruptedError || options.stop?.aborted) break;
      Object.assign(states[i]!, { status: 'failed', reason: (e as Error).message, finishedAt: new Date().toISOString() });
      probeFailed.add(i);
    }
  }
  // Stopped while probing: no cell ran, and nothing is written (no folder, no manifest); the manifest returned has every
  // cell pending except those whose probe failed before the stop, which are marked failed with the probe's error.
  if (options.stop?.aborted) return manifest();
  mkdirSync(plan.dir, { recursive: true });
  writeManifest(plan.manifest, manifest());
  for (const i of probeFailed) options.onCell?.(states[i]!, i);
  const runCell = async (i: number): Promise<void> => {
    const { cell, out } = plan.cells[i]!;
    const state = states[i]!;
    Object.assign(state, { status: 'running', startedAt: new Date().toISOString() });
    delete state.reason;
    delete state.finishedAt;
    writeManifest(plan.manifest, manifest());
    options.onCell?.(state, i);
    try {
      const outcome = await runExperiment({
        config: cell.config,
        out,
        cacheFile: plan.cacheFile,
        endpointLimits: limits,
        retryFailed: options.retryFailed,
        stop: options.stop,
        logger: options.logger,
        progress: options.progress?.(plan.cells[i]!),
      });
      state.status = outcome.status;
      state.runId = outcome.runId;
      if (outcome.status !== 'completed') state.reason = outcome.reason;
    } catch (e) {
      // Another cell's run goes on: a thrown error is this cell's failure, recorded with its message.
      state.status = 'failed';
      state.reason = (e as Error).message;
    }
    state.finishedAt = new Date().toISOString();
    writeManifest(plan.manifest, manifest());
    options.onCell?.(state, i);
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < plan.cells.length && !options.stop?.aborted) {
      const i = next++;
      if (!probeFailed.has(i)) await runCell(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, plan.cells.length) }, worker));
  const final = manifest();
  writeManifest(plan.manifest, final);
  return final;
}

/** Temp file + rename: a reader (or a crash) never sees half a manifest. */
function writeManifest(file: string, m: SweepManifest): void {
  atomicWrite(file, `${JSON.stringify(m, null, 2)}\n`);
}
