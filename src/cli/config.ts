import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { experimentJsonSchema, loadExperiment } from '../config/load.js';
import { formatPlan, preflight } from '../pipeline/preflight.js';

export function register(program: Command): void {
  const config = program.command('config').description('experiment configs');
  config
    .command('schema')
    .description('print (or write) the JSON Schema of experiment configs, for editor completion')
    .option('--out <file>', 'write to this file instead of stdout')
    .action((opts: { out?: string }) => {
      const text = `${JSON.stringify(experimentJsonSchema(), null, 2)}\n`;
      if (opts.out) writeFileSync(opts.out, text);
      else process.stdout.write(text);
    });
  config
    .command('check')
    .description('validate a config (models, files, prompts, capabilities), print it with every default filled in, and plan its calls and cost')
    .argument('<config>')
    .action(async (file: string) => {
      const experiment = loadExperiment(file);
      // The same preflight `w2s run` does before it writes anything; a problem is a UserError, printed as one line.
      const plan = await preflight(experiment);
      process.stdout.write(`${JSON.stringify(experiment, null, 2)}\n`);
      process.stderr.write(`preflight: ok — ${formatPlan(plan)}\n`);
    });
}
