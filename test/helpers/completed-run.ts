import assert from 'node:assert/strict';
import type { ExperimentConfig } from '../../src/config/experiment.js';
import { runExperiment, type RunOutcome } from '../../src/pipeline/run.js';
import { openStore, type Store } from '../../src/store/index.js';

/** Runs the experiment into `out` with its own response cache, asserts it completed, and opens its store read-only (the caller closes it). */
export async function completedRun(
  config: ExperimentConfig,
  out: string,
  cacheFile: string,
): Promise<{ outcome: Extract<RunOutcome, { status: 'completed' }>; out: string; store: Store }> {
  const outcome = await runExperiment({ config, out, cacheFile });
  assert.equal(outcome.status, 'completed', outcome.status === 'completed' ? '' : outcome.reason);
  if (outcome.status !== 'completed') throw new Error('unreachable');
  return { outcome, out, store: openStore(out, { readonly: true }) };
}
