import type { Command } from 'commander';
import { loadExperiment } from '../config/load.js';
import { UserError } from '../errors.js';
import { createLogger, redact } from '../log.js';
import { runExperiment } from '../pipeline/run.js';
import { openReport } from '../report/queries.js';
import { formatRunSummary } from '../report/terminal.js';
import { heartbeatFromEnv, progressRenderer } from './progress.js';

/** Exit codes besides 0 (done) and 1 (an error, or a run with failed items). */
export const EXIT_BUDGET = 3;
export const EXIT_INTERRUPTED = 130;

function wholeNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UserError(`${name} must be a whole number of at least 1, got "${v}".`);
    return n;
  };
}

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UserError(`${name} must be a positive number, got "${v}".`);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command('run')
    .description('run (or resume) the experiment a config describes, and print the result table')
    .argument('<config>', 'experiment config (JSON)')
    .option('--out <db>', 'experiment database (default results/<name>-<hash>.sqlite)')
    .option('--cache <file>', 'shared response cache (default: gateway.cache in the config, then results/cache.sqlite)')
    .option('--no-cache', 'neither read nor write the response cache')
    .option('--retry-failed', 'redo the debates and judgments that failed in an earlier run')
    .option('--skip-invalid', 'skip dataset rows that fail validation (and count them) instead of stopping')
    .option('--max-calls <n>', 'the run\'s total model calls, over all its resumes (kept with the run; cached answers are free)', wholeNumber('--max-calls'))
    .option('--wait', 'if another process is running this run, wait for it to finish and then resume (default: refuse)')
    .option('--max-cost <usd>', 'the run\'s total cost in USD, over all its resumes (kept with the run; from gateway.prices)', positiveNumber('--max-cost'))
    .option('--batch', 'send every openai model\'s calls through the Batch API (lower price, answers within 24 h; a model\'s own "batch" setting wins)')
    .action(async (configPath: string, opts: { out?: string; cache: string | boolean; retryFailed?: boolean; skipInvalid?: boolean; maxCalls?: number; maxCost?: number; wait?: boolean; batch?: boolean }) => {
      const config = loadExperiment(configPath);
      // Part of the config (and so of the run's identity): skipping rows can change the splits.
      if (opts.skipInvalid) config.dataset.skipInvalid = true;
      const verbose = program.opts().verbose === true;
      if (config.description) process.stdout.write(`${config.description}\n\n`);
      const stopper = new AbortController();
      const progress = progressRenderer({ heartbeatMs: heartbeatFromEnv() });
      let interrupts = 0;
      const onSigint = (): void => {
        interrupts++;
        if (interrupts === 1) {
          const grace = (config.gateway.stopGraceMs / 1000).toFixed(1);
          progress.print(`Stopping: no new calls start; calls in flight get ${grace} s to finish (Ctrl-C again to quit at once)…`);
          stopper.abort();
        } else {
          process.exit(EXIT_INTERRUPTED);
        }
      };
      process.on('SIGINT', onSigint);
      try {
        const outcome = await runExperiment({
          config,
          out: opts.out,
          cacheFile: typeof opts.cache === 'string' ? opts.cache : undefined,
          noCache: opts.cache === false,
          retryFailed: opts.retryFailed,
          maxCalls: opts.maxCalls,
          maxCostUsd: opts.maxCost,
          waitForOwner: opts.wait,
          batch: opts.batch,
          progress,
          // Log lines go above the live progress line, not onto it.
          logger: createLogger({ level: verbose ? 'debug' : 'warn', write: (line) => progress.print(line) }),
          stop: stopper.signal,
        });
        progress.clear();
        if (outcome.status === 'completed') {
          // The table is read back from the stored metrics, as every other view reads it.
          const q = openReport(outcome.out);
          try {
            process.stdout.write(`\nRun ${outcome.runId} (${outcome.out})\n\n${formatRunSummary(q, outcome.runId)}\n`);
          } finally {
            q.close();
          }
          return;
        }
        // An interrupted run's reason reads on from the run id ("stopped by Ctrl-C; …"); the others follow a colon.
        const what = { interrupted: '', budget: 'stopped: ', failed: 'failed: ' }[outcome.status];
        process.stderr.write(redact(`w2s: run ${outcome.runId} ${what}${outcome.reason}\n`));
        process.exitCode = { interrupted: EXIT_INTERRUPTED, budget: EXIT_BUDGET, failed: 1 }[outcome.status];
      } finally {
        progress.clear(); // an error's message, printed by main, must not land on the bar's line either
        process.off('SIGINT', onSigint);
      }
    });
}
