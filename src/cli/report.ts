import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { writeReport } from '../report/html.js';

export function register(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML report (inline CSS and SVG charts, no network) of every run in a results folder or databases, and a Markdown summary next to it')
    .argument('[paths...]', 'results folders (every *.sqlite under them that holds runs) or database files; default results/')
    .requiredOption('--out <file.html>', 'the HTML file; the Markdown summary goes to the same name with .md')
    .option('--run <id...>', 'only these runs, by id or unique prefix (default: all)')
    .option('--samples <n>', 'example transcripts shown per run', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UserError(`--samples must be a whole number, got "${v}".`);
      return n;
    }, 5)
    .action((paths: string[], opts: { out: string; run?: string[]; samples: number }) => {
      const { html, markdown } = writeReport(paths, opts.out, { runs: opts.run, samples: opts.samples });
      process.stdout.write(`wrote ${html}\nwrote ${markdown}\n`);
    });
}
