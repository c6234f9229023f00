import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { DEFAULT_VIEWER_PORT, startViewer } from '../report/viewer.js';

export function register(program: Command): void {
  program
    .command('view')
    .description('browse a results folder (every database in it, including ones added later) or databases in a local read-only web viewer: runs, examples, transcripts, the exact prompts and replies; pages of a running run refresh themselves')
    .argument('[paths...]', 'results folders (every *.sqlite under them that holds runs) or database files; default results/')
    .option('--port <n>', `port (0 = any free port)`, (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UserError(`--port must be a whole number from 0 to 65535, got "${v}".`);
      return n;
    }, DEFAULT_VIEWER_PORT)
    .option('--host <addr>', 'address to bind; anything but 127.0.0.1 exposes the data to the network', '127.0.0.1')
    .option('--open', "open the viewer in the browser (the platform's opener: xdg-open, open or start)")
    .action(async (paths: string[], opts: { port: number; host: string; open?: boolean }) => {
      const viewer = await startViewer({ paths, port: opts.port, host: opts.host });
      const stop = (): void => {
        void viewer.close().then(() => process.exit(0));
      };
      // Before the line that says where the viewer is: whoever reads it may stop the viewer straight away.
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      process.stdout.write(`w2s viewer: ${viewer.url}  (watching ${viewer.watching}; read-only; Ctrl-C to stop)\n`);
      if (opts.open) openBrowser(viewer.url);
    });
}

/** The platform's way to open a URL in the default browser. */
function opener(url: string): { cmd: string; args: string[] } {
  if (process.platform === 'darwin') return { cmd: 'open', args: [url] };
  if (process.platform === 'win32') return { cmd: 'cmd', args: ['/c', 'start', '""', url] };
  return { cmd: 'xdg-open', args: [url] };
}

/** Opens the URL; a missing or failing opener is a warning on stderr (the viewer keeps serving). */
function openBrowser(url: string): void {
  const { cmd, args } = opener(url);
  const warn = (why: string): void => {
    process.stderr.write(`w2s: warning: could not open a browser (${why}); open ${url} yourself.\n`);
  };
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true, windowsVerbatimArguments: process.platform === 'win32' });
    child.once('error', (e: NodeJS.ErrnoException) => warn(e.code === 'ENOENT' ? `${cmd} is not installed` : `${cmd}: ${e.message}`));
    child.once('exit', (code, signal) => {
      if (code !== 0 && code !== null) warn(`${cmd} exited with code ${code}`);
      else if (signal) warn(`${cmd} was stopped by ${signal}`);
    });
    child.unref();
  } catch (e) {
    warn(`${cmd}: ${(e as Error).message}`);
  }
}
