import type { Command } from 'commander';
import { atomicWrite } from '../atomic-write.js';
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseExperiment } from '../config/load.js';
import { readImportFile, type ImportFormat } from '../data/transcripts.js';
import { UserError } from '../errors.js';
import { readyConfig, summarizeImport, type ImportSummary } from '../pipeline/import.js';
import { formatPlan, preflight } from '../pipeline/preflight.js';

const FORMATS: readonly ImportFormat[] = ['w2s', 'single_turn_debate'];
const PROTOCOLS = ['debate', 'consultancy'] as const;

/** `w2s import`: check a file of transcripts written elsewhere and, with --out, write the config that runs it. */
export function register(program: Command): void {
  program
    .command('import')
    .description('check a JSONL file of transcripts written elsewhere (docs/import.md) and, with --out, write a config whose run stores them as debates (then judged, read by the weak models and audited like generated ones)')
    .argument('<file>', 'the transcripts, one JSON object per line')
    .option('--format <format>', `${FORMATS.join(' or ')}`, 'w2s')
    .option('--protocol <protocol>', 'debate (each transcript argues both sides) or consultancy (one side)', 'debate')
    .option('--seed <n>', 'the run\'s seed (draws the proposed answer of two-answer rows and who opens)', '0')
    .option('--dataset <name>', 'for rows that name dataset rows by id: the dataset they come from (e.g. sciq)')
    .option('--out <config.json>', 'write a ready config here (paths relative to it), checked by the preflight first')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, opts: { format: string; protocol: string; seed: string; dataset?: string; out?: string; json?: boolean }) => {
      if (!FORMATS.includes(opts.format as ImportFormat)) throw new UserError(`--format must be ${FORMATS.join(' or ')}, got "${opts.format}".`);
      if (!(PROTOCOLS as readonly string[]).includes(opts.protocol)) throw new UserError(`--protocol must be debate or consultancy, got "${opts.protocol}".`);
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed) || seed < 0) throw new UserError(`--seed must be a whole number of 0 or more, got "${opts.seed}".`);
      const protocol = opts.protocol as (typeof PROTOCOLS)[number];
      const imported = await readImportFile(resolve(file), { format: opts.format as ImportFormat, protocol, seed });
      const summary = summarizeImport(imported);
      let plan = '';
      if (opts.out) {
        const out = resolve(opts.out);
        if (existsSync(out)) throw new UserError(`${out} exists; choose another --out (w2s import does not overwrite a config).`);
        const raw = readyConfig(imported, { configDir: dirname(out), protocol, dataset: opts.dataset, name: configName(out), seed });
        // The config is checked as `w2s run` would check it (ids against the dataset, samples) before it is written.
        plan = formatPlan(await preflight(parseExperiment(raw, out, dirname(out))));
        atomicWrite(out, `${JSON.stringify(raw, null, 2)}\n`);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify({ ...summary, config: opts.out ? resolve(opts.out) : null }, null, 2)}\n`);
      else process.stdout.write(`${formatSummary(summary)}\n`);
      if (opts.out) process.stderr.write(`wrote ${resolve(opts.out)} (preflight: ok — ${plan}); run it with: w2s run ${opts.out}\n`);
    });
}

/** The config's name: its file name, in the characters a run name allows. */
function configName(out: string): string {
  return basename(out).replace(/\.json$/i, '').replace(/[^\w.-]/g, '-') || 'imported';
}

function formatSummary(s: ImportSummary): string {
  const per = s.perExample.min === s.perExample.max ? `${s.perExample.min}` : `${s.perExample.min}–${s.perExample.max}`;
  return [
    `${s.file} (${s.format}, sha256 ${s.sha256})`,
    `examples:    ${s.examples} (${s.examplesFrom === 'file' ? 'defined by the rows' : 'named by id: matched against the dataset when the run starts'})`,
    `transcripts: ${s.transcripts} (${per} per example), ${s.turns} turns, ${s.turnsWithQuotes} with quotes`,
  ].join('\n');
}
