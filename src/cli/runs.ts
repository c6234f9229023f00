import type { Command } from 'commander';
import { displayPath, locatedResults, openResults } from '../report/results-set.js';
import { formatRuns } from '../report/terminal.js';

export function register(program: Command): void {
  program
    .command('runs')
    .description('list the runs in a results folder or databases: status, dataset, models, counts, tokens, cost, headline metrics and the file each run is in')
    .argument('[paths...]', 'results folders (every *.sqlite under them that holds runs) or database files; default results/')
    .option('--json', 'print JSON')
    .action((paths: string[], opts: { json?: boolean }) => {
      const set = openResults(paths);
      try {
        const runs = set.runs();
        if (opts.json) {
          const out = locatedResults(runs).map(({ run, ...results }, i) => ({ ...run, file: displayPath(runs[i]!.file), results }));
          process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        } else process.stdout.write(`${formatRuns(runs)}\n`);
      } finally {
        set.close();
      }
    });
}
