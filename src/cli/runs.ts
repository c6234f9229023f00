import type { Command } from 'commander';
import { openReport } from '../report/queries.js';
import { runResults } from '../report/results.js';
import { formatRuns } from '../report/terminal.js';

export function register(program: Command): void {
  program
    .command('runs')
    .description('list the runs in a database: status, dataset, models, counts, tokens, cost and headline metrics')
    .argument('<db>', 'a database written by w2s run')
    .option('--json', 'print JSON')
    .action((file: string, opts: { json?: boolean }) => {
      const q = openReport(file);
      try {
        if (opts.json) {
          const runs = runResults(q, q.runs()).map(({ run, ...results }) => ({ ...run, results }));
          process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
        } else process.stdout.write(`${formatRuns(q)}\n`);
      } finally {
        q.close();
      }
    });
}
