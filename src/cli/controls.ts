import type { Command } from 'commander';
import { formatControls, loadControls, runControls } from '../pipeline/controls.js';

export function register(program: Command): void {
  program
    .command('controls')
    .description('built-in controls on a synthetic task with known truth: a real debate effect is detected, none is invented, intervals cover')
    .argument('[file]', 'controls file (JSON)', 'examples/controls.json')
    .option('--out-dir <dir>', 'where the data, the runs\' database and the response cache go (default results/controls)')
    .option('--no-coverage', 'skip the coverage check (it trains 2 models per coverage seed)')
    .action(async (file: string, opts: { outDir?: string; coverage: boolean }) => {
      const controls = loadControls(file);
      const stopper = new AbortController();
      const onSigint = (): void => {
        if (stopper.signal.aborted) process.exit(130);
        process.stderr.write('\nStopping after the work in flight (Ctrl-C again to quit at once)…\n');
        stopper.abort();
      };
      process.on('SIGINT', onSigint);
      try {
        const result = await runControls({
          controls,
          outDir: opts.outDir,
          coverage: opts.coverage,
          onInfo: (message) => process.stderr.write(`${message}\n`),
          stop: stopper.signal,
        });
        process.stdout.write(`${formatControls(result)}\n`);
        if (!result.pass) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
