#!/usr/bin/env node
import { Command } from 'commander';
import { isUserError } from '../errors.js';
import { redact } from '../log.js';
import { W2S_VERSION } from '../version.js';

/** Every command lives in its own file and exports register(program). */
const COMMANDS: Array<() => Promise<{ register: (program: Command) => void }>> = [
  () => import('./run.js'),
  () => import('./models.js'),
  () => import('./config.js'),
  () => import('./cache.js'),
  () => import('./db.js'),
  () => import('./runs.js'),
  () => import('./show.js'),
  () => import('./export.js'),
  () => import('./compare.js'),
  () => import('./report.js'),
  () => import('./view.js'),
  () => import('./trainer.js'),
  () => import('./controls.js'),
  () => import('./table.js'),
  () => import('./sweep.js'),
  () => import('./data.js'),
  () => import('./import.js'),
  () => import('./ratings.js'),
];

async function main(argv: string[]): Promise<void> {
  const program = new Command('w2s')
    .description('Debate-assisted weak-to-strong supervision experiments, audited in SQLite.')
    .version(W2S_VERSION)
    .option('--verbose', 'print stack traces and debug logs')
    .showHelpAfterError();
  for (const load of COMMANDS) (await load()).register(program);
  await program.parseAsync(argv);
}

main(process.argv).catch((e: unknown) => {
  const verbose = process.argv.includes('--verbose');
  const err = e instanceof Error ? e : new Error(String(e));
  // redact: an error may quote a server's reply, and a server may echo a key.
  if (verbose) console.error(redact(err.stack ?? err.message));
  else console.error(redact(`w2s: ${isUserError(err) ? err.message : `${err.name}: ${err.message}`}`));
  process.exitCode = 1;
});
