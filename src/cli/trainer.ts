import type { Command } from 'commander';
import { checkTrainer } from '../train/external.js';
import { defaultTrainerVenvDir, ensureTrainerEnv } from '../train/trainer-env.js';

/** `w2s trainer setup|check`: the reference trainer's Python environment. */
export function register(program: Command): void {
  const trainer = program.command('trainer').description('the external fine-tuning trainer (Python, transformers + PEFT)');
  trainer
    .command('setup')
    .description('create the trainer venv and install trainers/hf/requirements.txt (idempotent)')
    .option('--python <exe>', 'the Python that creates the venv (default $W2S_PYTHON or python3)')
    .option('--venv <dir>', `where the venv lives (default $W2S_TRAINER_VENV or ${defaultTrainerVenvDir()})`)
    .option('--quiet', 'print only the summary, not pip output')
    .action(async (opts: { python?: string; venv?: string; quiet?: boolean }) => {
      const started = Date.now();
      const env = await ensureTrainerEnv({
        ...(opts.python ? { python: opts.python } : {}),
        ...(opts.venv ? { cacheDir: opts.venv } : {}),
        ...(opts.quiet ? {} : { onLine: (l: string) => process.stderr.write(`  ${l}\n`) }),
      });
      const versions = Object.entries(env.versions).map(([k, v]) => `${k} ${v}`).join(', ');
      const how = env.reused ? 'already set up' : `set up in ${((Date.now() - started) / 1000).toFixed(0)} s`;
      console.log(`trainer venv ${env.venvDir}: ${how} (${versions})`);
    });
  trainer
    .command('check')
    .description('run the trainer\'s "check" request: versions and the device it would train on')
    .option('--command <cmd...>', 'a trainer executable and its arguments (default: the reference trainer)')
    .action(async (opts: { command?: string[] }) => {
      const info = await checkTrainer(opts.command);
      const { type: _t, op: _o, ...rest } = info;
      console.log(JSON.stringify(rest, null, 2));
    });
}
