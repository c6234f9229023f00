import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadSweep } from '../config/sweep.js';
import { UserError } from '../errors.js';
import { createLogger, redact } from '../log.js';
import { formatPlan } from '../pipeline/preflight.js';
import { runSweep, planSweep, type PlannedCell, type SweepManifest, type SweepPlan } from '../pipeline/sweep.js';
import { openReport } from '../report/queries.js';
import { accuracyHeader, pct, pgrHeader, runResult, textTable } from '../report/results.js';
import { EXIT_BUDGET, EXIT_INTERRUPTED } from './run.js';
import { heartbeatFromEnv, progressRenderer, type ProgressRenderer } from './progress.js';

function jobsOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--jobs must be a whole number of at least 1, got "${v}".`);
  return n;
}

/** One line per cell with its planned calls and worst-case cost, then the totals (before the shared cache). */
export function formatSweepPlan(plan: SweepPlan): string {
  const rows = plan.cells.map((c) => [c.cell.label, formatPlan(c.plan), c.out]);
  const calls = plan.cells.reduce((s, c) => s + c.plan.total, 0);
  const priced = plan.cells.filter((c) => c.plan.worstCaseUsd !== null);
  const usd = priced.reduce((s, c) => s + c.plan.worstCaseUsd!, 0);
  const cost = priced.length === 0 ? 'no prices set' : `worst-case cost $${usd.toFixed(2)}${priced.length < plan.cells.length ? ` (${plan.cells.length - priced.length} cells without prices)` : ''}`;
  return [
    textTable(['cell', 'plan', 'database'], rows),
    '',
    `${plan.cells.length} cells: at most ${calls} model calls in all; ${cost}.`,
    `Cells share the response cache ${plan.cacheFile}: requests two cells have in common (debates, judgments) are paid once, so the sweep makes fewer calls than this sum.`,
  ].join('\n');
}

/** The status table: each cell's status, run, database and, once completed, its headline numbers from the stored metrics. */
function formatStatus(m: SweepManifest): string {
  const rows = m.cells.map((c) => {
    const numbers = ['', '', '', ''];
    if (c.status === 'completed' && existsSync(c.database)) {
      const q = openReport(c.database);
      try {
        const run = q.run(c.runId);
        if (run) {
          const r = runResult(q, run);
          numbers.splice(0, 4, pct(r.weak.value), pct(r.w2s.value), pct(r.ceiling.value), pct(r.pgr.value));
        }
      } finally {
        q.close();
      }
    }
    return [c.name, c.status, c.runId, c.database, ...numbers];
  });
  return textTable(['cell', 'status', 'run', 'database', accuracyHeader('weak'), accuracyHeader('strong'), accuracyHeader('strong_ceiling'), pgrHeader('strong')], rows);
}

export function register(program: Command): void {
  program
    .command('sweep')
    .description('run (or resume) a set of experiments: a base config and axes over its paths, sharing one response cache')
    .argument('<sweep>', 'sweep file (JSON): name, base, axes, zip, cells')
    .option('--out-dir <dir>', 'where the cells\' databases (<dir>/<sweep name>/) and the shared cache (<dir>/cache.sqlite) go', 'results')
    .option('--dry-run', 'list the cells with their planned calls and worst-case cost, and write nothing')
    .option('--jobs <n>', 'cells run at once (calls per endpoint stay within gateway.concurrency however many run)', jobsOption, 1)
    .option('--retry-failed', 'redo the debates and judgments that failed in an earlier run of a cell')
    .action(async (file: string, opts: { outDir: string; dryRun?: boolean; jobs: number; retryFailed?: boolean }) => {
      const sweep = loadSweep(file);
      if (sweep.file.description) process.stdout.write(`${sweep.file.description}\n\n`);
      // Every cell is checked before any runs: a bad file or model in the last cell stops the sweep now, not later.
      const plan = await planSweep(sweep, opts.outDir);
      if (opts.dryRun) {
        process.stdout.write(`${formatSweepPlan(plan)}\n`);
        return;
      }
      const verbose = program.opts().verbose === true;
      const stopper = new AbortController();
      // One cell at a time: its stages as `w2s run` shows them, the cell's name before each stage; several at once: a
      // line as each starts and ends.
      let bar: ProgressRenderer | undefined;
      const heartbeatMs = heartbeatFromEnv();
      const cellProgress = opts.jobs === 1 ? (cell: PlannedCell): ProgressRenderer => (bar = progressRenderer({ prefix: `[${cell.cell.label}] `, heartbeatMs })) : undefined;
      /** A whole line above the cell's live progress line (or plain, with none). */
      const say = (line: string): void => void (bar ? bar.print(line) : process.stderr.write(`${line}\n`));
      let interrupts = 0;
      const onSigint = (): void => {
        interrupts++;
        if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
        say('Stopping the sweep: no new cell or call starts; calls in flight get gateway.stopGraceMs to finish (Ctrl-C again to quit at once)…');
        stopper.abort();
      };
      process.on('SIGINT', onSigint);
      const n = plan.cells.length;
      try {
        process.stderr.write(`Sweep ${sweep.file.name}: ${n} cells, ${opts.jobs} at a time; cache ${plan.cacheFile}; manifest ${plan.manifest}\n`);
        const manifest = await runSweep(plan, {
          jobs: opts.jobs,
          retryFailed: opts.retryFailed,
          stop: stopper.signal,
          logger: createLogger({ level: verbose ? 'debug' : 'warn', write: say }),
          progress: cellProgress,
          onCell: (state, i) => {
            // A cell's renderer stops with it (a failed cell's stage never ends).
            bar?.clear();
            const where = `[${i + 1}/${n}] ${state.name}`;
            if (state.status === 'running') say(`▶ ${where}`);
            else say(redact(`${state.status === 'completed' ? '✓' : '✗'} ${where}: ${state.status}${state.reason ? ` — ${state.reason}` : ''}`));
          },
        });
        bar?.clear();
        // Stopped while probing, before any cell ran: runSweep wrote nothing, so there is no manifest to name.
        if (stopper.signal.aborted && manifest.cells.every((c) => c.status === 'pending')) {
          process.stderr.write(`Sweep ${manifest.sweep}: stopped by Ctrl-C before any cell ran; run the same command to start it.\n`);
          process.exitCode = EXIT_INTERRUPTED;
          return;
        }
        process.stdout.write(`\n${formatStatus(manifest)}\n\nSweep ${manifest.sweep}: ${manifest.status}; manifest ${plan.manifest}\n`);
        const code = { completed: 0, running: 0, failed: 1, budget: EXIT_BUDGET, interrupted: EXIT_INTERRUPTED }[manifest.status];
        if (code !== 0) {
          process.stderr.write(manifest.status === 'failed' ? 'Fix what the failed cells say and run the same command (with --retry-failed to redo failed debates and judgments); completed cells make no calls again.\n' : 'Run the same command to resume the sweep.\n');
          process.exitCode = code;
        }
      } finally {
        bar?.clear();
        process.off('SIGINT', onSigint);
      }
    });
}
