import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { DEFAULT_RESULTS, displayPath, locatedResults, openResults } from '../report/results-set.js';
import { formatRuns } from '../report/terminal.js';

export function register(program: Command): void {
  program
    .command('runs')
    .description('list the runs in a results folder or databases: status, dataset, models, counts, tokens, cost, headline metrics and the file each run is in')
    .argument('[paths...]', `results folders (every *.sqlite under them that holds runs) or database files; default ${DEFAULT_RESULTS}/`)
    .option('--json', 'print JSON: an array of runs, newest first, each with its file and headline results')
    .action((paths: string[], opts: { json?: boolean }) => {
      if (paths.length === 0 && !existsSync(DEFAULT_RESULTS)) {
        throw new UserError(`There is no ${DEFAULT_RESULTS}/ folder in ${process.cwd()} (where w2s run writes by default); name the folder or database to read, e.g. \`w2s runs path/to/results\`.`);
      }
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
