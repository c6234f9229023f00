import type { Command } from 'commander';
import { loadExperiment } from '../config/load.js';
import { UserError } from '../errors.js';
import { createLogger, redact } from '../log.js';
import { runExperiment } from '../pipeline/run.js';
import { openReport } from '../report/queries.js';
import { formatRunSummary } from '../report/terminal.js';
import { progressRenderer } from './progress.js';

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
    .option('--cache <file>', 'shared response cache (default results/cache.sqlite)')
    .option('--no-cache', 'neither read nor write the response cache')
    .option('--retry-failed', 'redo the debates and judgments that failed in an earlier run')
    .option('--skip-invalid', 'skip dataset rows that fail validation (and count them) instead of stopping')
    .option('--max-calls <n>', 'stop cleanly before making more than this many model calls', positiveNumber('--max-calls'))
    .option('--max-cost <usd>', 'stop cleanly before spending more than this (USD, from the price table)', positiveNumber('--max-cost'))
    .action(async (configPath: string, opts: { out?: string; cache: string | boolean; retryFailed?: boolean; skipInvalid?: boolean; maxCalls?: number; maxCost?: number }) => {
      const config = loadExperiment(configPath);
      // Part of the config (and so of the run's identity): skipping rows can change the splits.
      if (opts.skipInvalid) config.dataset.skipInvalid = true;
      const verbose = program.opts().verbose === true;
      if (config.description) process.stdout.write(`${config.description}\n\n`);
      const stopper = new AbortController();
      let interrupts = 0;
      const onSigint = (): void => {
        interrupts++;
        if (interrupts === 1) {
          process.stderr.write('\nStopping: letting the calls in flight finish (Ctrl-C again to quit at once)…\n');
          stopper.abort();
        } else {
          process.exit(130);
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
          progress: progressRenderer(),
          logger: createLogger({ level: verbose ? 'debug' : 'warn' }),
          stop: stopper.signal,
        });
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
        process.stderr.write(redact(`w2s: run ${outcome.runId} ${outcome.status}: ${outcome.reason}\n`));
        process.exitCode = outcome.status === 'interrupted' ? 130 : 1;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
