import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { experimentJsonSchema, loadExperiment } from '../config/load.js';

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
    .description('validate a config and print it with every default filled in')
    .argument('<config>')
    .action((file: string) => {
      process.stdout.write(`${JSON.stringify(loadExperiment(file), null, 2)}\n`);
    });
}
