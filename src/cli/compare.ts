import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { compareMembers, compareRuns, testView } from '../report/analysis.js';
import { openReport } from '../report/queries.js';
import { formatComparison } from '../report/terminal.js';

function count(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 100) throw new UserError(`${name} must be a whole number of at least 100, got "${v}".`);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command('compare')
    .description('judges and ensembles side by side on the same test examples: accuracy with intervals, McNemar and paired bootstrap, Cohen\'s and Fleiss\' kappa, ECE and Brier, accuracy against ensemble size')
    .argument('<db>', 'a database written by w2s run')
    .argument('[runA]', 'first run (with runB: compare two runs on the test examples they share)')
    .argument('[runB]', 'second run')
    .option('--members', 'compare the members, ensemble, baseline and judges within one run (the default with no runs named)')
    .option('--run <id>', 'the run for --members (default: the newest)')
    .option('--bootstrap <n>', 'bootstrap resamples of the paired tests (default: the run\'s own); accuracy intervals are the stored ones', count('--bootstrap'))
    .option('--seed <n>', 'seed of the bootstrap', (v) => Number.parseInt(v, 10), 0)
    .option('--json', 'print JSON')
    .action((file: string, runA: string | undefined, runB: string | undefined, opts: { members?: boolean; run?: string; bootstrap?: number; seed: number; json?: boolean }) => {
      if (runA !== undefined && runB === undefined) throw new UserError('Name two runs to compare (w2s compare <db> <runA> <runB>), or use --members [--run <id>].');
      if (runA !== undefined && opts.members) throw new UserError('Use either two runs or --members, not both.');
      const q = openReport(file);
      try {
        const options = { resamples: opts.bootstrap, seed: Number.isFinite(opts.seed) ? opts.seed : 0 };
        let c;
        if (runA !== undefined && runB !== undefined) {
          const a = q.resolveRun(runA);
          const b = q.resolveRun(runB);
          c = compareRuns(testView(q, a.id), testView(q, b.id), { ...options, stored: q.metrics(a.id) }, q.metrics(b.id));
          if (c.n === 0) throw new UserError(`Runs ${a.id} and ${b.id} share no test examples with predictions; compare runs made on the same dataset.`);
        } else {
          const run = q.resolveRun(opts.run);
          c = compareMembers(testView(q, run.id), { ...options, stored: q.metrics(run.id) });
        }
        process.stdout.write(`${opts.json ? JSON.stringify(c, null, 2) : formatComparison(c)}\n`);
      } finally {
        q.close();
      }
    });
}
