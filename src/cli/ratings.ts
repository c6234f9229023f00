import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { elo, fitMatches, formatRatings, runMatches, type RatingsResult } from '../report/ratings.js';
import { DEFAULT_RESULTS, displayPath, openResults, type LocatedRun } from '../report/results-set.js';
import { createRng } from '../rng.js';

const positiveInt = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} takes a whole number of 1 or more (got "${v}").`);
  return n;
};

export function register(program: Command): void {
  program
    .command('ratings')
    .description('debater ratings (Bradley–Terry, Elo points, separately arguing the right and the wrong side) from the judges\' verdicts on debate transcripts, pooling several runs into one fit')
    .argument('[paths...]', `results folders or database files; default ${DEFAULT_RESULTS}/`)
    .option('--run <ids...>', 'the runs to pool (ids or unique prefixes); default every run with judged debate transcripts')
    .option('--judge <name>', 'the judge whose verdicts decide the matches; default each run\'s first judge that reads transcripts')
    .option('--resamples <n>', 'bootstrap resamples', positiveInt('--resamples'), 1000)
    .option('--seed <n>', 'the bootstrap seed', positiveInt('--seed'), 1)
    .option('--json', 'print the fit as JSON')
    .action((paths: string[], opts: { run?: string[]; judge?: string; resamples: number; seed: number; json?: boolean }) => {
      if (paths.length === 0 && !existsSync(DEFAULT_RESULTS)) {
        throw new UserError(`There is no ${DEFAULT_RESULTS}/ folder in ${process.cwd()}; name the folder or databases to read, e.g. \`w2s ratings path/to/results\`.`);
      }
      const set = openResults(paths);
      try {
        const runs: LocatedRun[] = opts.run ? opts.run.map((id) => set.resolveRun(id)) : set.runs();
        const parts = runs.map((r) => ({ r, m: runMatches(r.q.db, r.run.id, opts.judge) })).filter((p) => opts.run || p.m.matches.length > 0);
        const empty = parts.find((p) => p.m.matches.length === 0);
        if (empty) {
          const why = empty.m.judge === null ? `has no judge ${opts.judge ? `named "${opts.judge}"` : 'that reads transcripts'}` : 'has no judged debate transcripts (protocol "debate")';
          throw new UserError(`Run ${empty.r.run.id} (${displayPath(empty.r.file)}) ${why}; leave it out of --run${opts.judge ? ' or name another --judge' : ''}.`);
        }
        if (parts.length === 0) throw new UserError(`No run in ${paths.length ? paths.join(', ') : `${DEFAULT_RESULTS}/`} has judged debate transcripts (protocol "debate" with a judge) to rate; run one first.`);
        const datasets = [...new Set(parts.map((p) => p.r.run.dataset ?? '?'))];
        if (datasets.length > 1) {
          throw new UserError(`The runs are on different datasets (${datasets.join(', ')}), and a rating is only comparable on one task; pick runs of one dataset with --run.`);
        }
        const fit = fitMatches(parts.map((p) => p.m), { random: createRng(opts.seed).random, resamples: opts.resamples, level: 0.95, seed: opts.seed })!;
        if (opts.json) process.stdout.write(`${JSON.stringify(toJson(fit, parts.map((p) => p.r)), null, 2)}\n`);
        else process.stdout.write(`Runs pooled: ${parts.map((p) => `${p.r.run.id} (${displayPath(p.r.file)})`).join(', ')}\n${formatRatings(fit)}\n`);
      } finally {
        set.close();
      }
    });
}

function toJson(fit: RatingsResult, runs: LocatedRun[]): unknown {
  const est = (e: { value: number | null; lo: number | null; hi: number | null; undefinedCount: number }) => ({ value: elo(e.value), lo: elo(e.lo), hi: elo(e.hi), undefinedResamples: e.undefinedCount });
  return {
    runs: runs.map((r) => ({ id: r.run.id, file: displayPath(r.file) })), judge: fit.judge, matches: fit.n, abstained: fit.abstained, scale: 'Elo points (400 per factor of 10 in odds)',
    method: fit.method, covers: fit.covers, level: fit.level, resamples: fit.resamples, seed: fit.seed,
    models: fit.models.map((m) => ({ model: m, rating: est(fit.overall.get(m)!), correct: est(fit.correct.get(m)!), incorrect: est(fit.incorrect.get(m)!), matches: fit.matches.get(m) })),
    differences: [...fit.differences].map(([k, e]) => ({ a: k.split('\u0000')[0], b: k.split('\u0000')[1], ...est(e) })),
  };
}
