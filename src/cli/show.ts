import type { Command } from 'commander';
import { openReport } from '../report/queries.js';
import { findPromptsTarget, findShowTarget, formatPrompts, formatShow } from '../report/show.js';

export function register(program: Command): void {
  program
    .command('show')
    .description('print one example (all its transcripts) or one debate: question, sides, turns, each judge\'s and member\'s probability, gold label')
    .argument('<db>', 'a database written by w2s run')
    .argument('<id>', 'an example id or a debate id')
    .option('--run <id>', 'the run, when the example id occurs in several runs')
    .option('--prompts', 'instead, for every turn and judgment: the exact messages its model received, the raw reply, the parameters and (judgments) the parse status; secrets redacted')
    .option('--json', 'print JSON')
    .action((file: string, id: string, opts: { run?: string; prompts?: boolean; json?: boolean }) => {
      const q = openReport(file);
      try {
        if (opts.prompts) {
          const target = findPromptsTarget(q, id, opts.run);
          process.stdout.write(`${opts.json ? JSON.stringify(target, null, 2) : formatPrompts(target)}\n`);
          return;
        }
        const target = findShowTarget(q, id, opts.run);
        const width = Math.max(40, Math.min(120, (process.stdout.columns ?? 100) - 4));
        process.stdout.write(`${opts.json ? JSON.stringify(target, null, 2) : formatShow(target, width)}\n`);
      } finally {
        q.close();
      }
    });
}
