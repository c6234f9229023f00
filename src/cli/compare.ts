import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { compareMembers, compareRuns, testView } from '../report/analysis.js';
import { formatJudges, hasJudges, judgesView } from '../report/judges.js';
import { displayPath, isPathArg, openResults } from '../report/results-set.js';
import { formatComparison } from '../report/terminal.js';

function count(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 100) throw new UserError(`${name} must be a whole number of at least 100, got "${v}".`);
    return n;
  };
}

const USAGE = 'w2s compare [folder or db...] <runA> <runB> (or --runs <runA> <runB>), --members [--run <id>], or --judges [run]';

export function register(program: Command): void {
  program
    .command('compare')
    .description(
      'two runs side by side, from one database or different ones: paired on their shared test examples when the runs have the same dataset, seed and split settings (McNemar, paired bootstrap, kappas), unpaired otherwise (each run\'s stored interval, and a difference that resamples each test set independently); or, with --members, the members, ensemble, baseline and judges of one run: accuracy with intervals, ECE and Brier, kappas, accuracy against ensemble size; or, with --judges, one run\'s judges and judge ensembles as stored (scores, cost, frontier, each ensemble against its best member and the weak-model ensemble, judge pairs)',
    )
    .argument('[paths-and-runs...]', 'results folders or database files (default results/), then two run ids or unique prefixes; a word that exists on disk, has a slash or ends in .sqlite/.db is a path, any other a run id; one id named twice compares its copies in the first two databases holding it')
    .option('--runs <ids...>', 'the two runs to compare (ids or unique prefixes), when a run id could be mistaken for a path')
    .option('--members', 'compare the members, ensemble, baseline and judges within one run (the default with no runs named)')
    .option('--judges [run]', 'one run\'s judges and judge ensembles, as stored: accuracy with intervals, AUROC, ECE, Brier, coverage, position bias, tokens and $ per example, the accuracy–cost frontier, the strong model on each one\'s labels; each judge ensemble against its best member and the weak-model ensemble; accuracy against ensemble size; judge pairs (the run: id or unique prefix, default the newest)')
    .option('--run <id>', 'the run for --members or --judges (id or unique prefix; default: the newest)')
    .option('--bootstrap <n>', 'bootstrap resamples of the paired and unpaired tests (default: the run\'s own); accuracy intervals are the stored ones', count('--bootstrap'))
    .option('--seed <n>', 'seed of the bootstrap', (v) => Number.parseInt(v, 10), 0)
    .option('--json', 'print JSON')
    .action((words: string[], opts: { runs?: string[]; members?: boolean; judges?: string | boolean; run?: string; bootstrap?: number; seed: number; json?: boolean }) => {
      // `--judges results/` takes no run: a path after --judges is one of the paths.
      if (typeof opts.judges === 'string' && isPathArg(opts.judges)) {
        words = [opts.judges, ...words];
        opts.judges = true;
      }
      if (opts.judges !== undefined) return compareJudges(words, opts);
      const paths = words.filter(isPathArg);
      const named = words.filter((w) => !isPathArg(w));
      if (opts.runs && named.length) throw new UserError(`Name the runs either with --runs or as arguments, not both (${USAGE}).`);
      const ids = opts.runs ?? named;
      if (ids.length === 1) throw new UserError(`Name two runs to compare (${USAGE}).`);
      if (ids.length > 2) throw new UserError(`Name two runs to compare, got ${ids.length}: ${ids.join(', ')}; a path that does not exist is read as a run id (${USAGE}).`);
      if (ids.length === 2 && opts.members) throw new UserError('Use either two runs or --members, not both.');
      const set = openResults(paths);
      try {
        const options = { resamples: opts.bootstrap, seed: Number.isFinite(opts.seed) ? opts.seed : 0 };
        let c;
        if (ids.length === 2) {
          // One id named twice, held by two files (a run and its copy, or the same config run on two machines): A is
          // the first file's, B the second's.
          const copies = ids[0] === ids[1] ? set.locate(ids[0]!) : [];
          const [a, b] = copies.length >= 2 ? copies : [set.resolveRun(ids[0]), set.resolveRun(ids[1])];
          const [ma, mb] = [a.q.metrics(a.run.id), b.q.metrics(b.run.id)];
          c = compareRuns(testView(a.q, a.run.id, ma), testView(b.q, b.run.id, mb), { ...options, stored: ma }, mb);
          c.files = [displayPath(a.file), displayPath(b.file)];
          if (c.subjects.length === 0) throw new UserError(`Runs ${a.run.id} and ${b.run.id} have no model with predictions on their test examples in common; compare finished runs.`);
        } else {
          const { run, q } = set.resolveRun(opts.run);
          const metrics = q.metrics(run.id);
          c = compareMembers(testView(q, run.id, metrics), { ...options, stored: metrics });
        }
        process.stdout.write(`${opts.json ? JSON.stringify(c, null, 2) : formatComparison(c)}\n`);
      } finally {
        set.close();
      }
    });
}

/** `w2s compare --judges [run]`: one run's judges and judge ensembles, read from its stored metrics. */
function compareJudges(words: string[], opts: { runs?: string[]; members?: boolean; judges?: string | boolean; run?: string; json?: boolean }): void {
  const paths = words.filter(isPathArg);
  const named = words.filter((w) => !isPathArg(w));
  if (opts.members || opts.runs?.length) throw new UserError(`Use --judges on its own, not with ${opts.members ? '--members' : '--runs'} (${USAGE}).`);
  const ids = [typeof opts.judges === 'string' ? opts.judges : undefined, opts.run, ...named].filter((x): x is string => x !== undefined);
  if (ids.length > 1) throw new UserError(`--judges compares within one run, got ${ids.length}: ${ids.join(', ')}; name one run (${USAGE}).`);
  const set = openResults(paths);
  try {
    const { run, q } = set.resolveRun(ids[0]);
    const view = judgesView(q.metrics(run.id), run.config, run.id);
    if (!hasJudges(view)) {
      const configured = run.config.judges.length > 0 || (run.config.judgeEnsembles?.length ?? 0) > 0;
      throw new UserError(configured
        ? `Run ${run.id} has no stored judge metrics yet (it is ${run.status}); finish it with \`w2s run\` and compare again.`
        : `Run ${run.id} has no judges; add judges and judgeEnsembles to its config.`);
    }
    process.stdout.write(`${opts.json ? JSON.stringify(view, null, 2) : formatJudges(view)}\n`);
  } finally {
    set.close();
  }
}
