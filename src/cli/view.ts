import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { startViewer } from '../report/viewer.js';

export function register(program: Command): void {
  program
    .command('view')
    .description('browse the runs of a results folder or databases, their examples and transcripts, in a local read-only web viewer (works while a run is writing)')
    .argument('[paths...]', 'results folders (every *.sqlite under them that holds runs) or database files; default results/')
    .option('--port <n>', 'port (0 = any free port)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UserError(`--port must be a whole number from 0 to 65535, got "${v}".`);
      return n;
    }, 0)
    .option('--host <addr>', 'address to bind; anything but 127.0.0.1 exposes the data to the network', '127.0.0.1')
    .action(async (paths: string[], opts: { port: number; host: string }) => {
      const viewer = await startViewer({ paths, port: opts.port, host: opts.host });
      process.stdout.write(`w2s viewer: ${viewer.url}  (read-only; Ctrl-C to stop)\n`);
      const stop = (): void => {
        void viewer.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
