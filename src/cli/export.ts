import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { EXPORT_FORMATS, EXPORT_WHATS, exportToFile, type ExportFormat, type ExportWhat } from '../report/export.js';

const HELP = `
Shapes:
  calls        jsonl: one ledger row per line (id, run_id, role, model, kind, request_hash, cache_hit, attempts,
               latency_ms, input_tokens, output_tokens, cost_usd, finish_reason, error, created_at); csv: same columns.
  predictions  one row per (model, example): run_id, model_id, role, member, example_id, split, label, debate_id, p1
               (p1 = the model's P(label 1)).
  transcripts  jsonl: one debate per line {run_id, debate_id, example_id, split, label, question, answer, protocol,
               sample, sides, status, turns: [{index, speaker, side, text, word_count, truncated, call_id}]};
               csv: one row per turn.
  --format chat (transcripts only): fine-tuning data in chat-messages form, one completed debate per line:
               {"messages": [{"role": "system", "content": <judge instructions>},
                             {"role": "user", "content": "Question: …\\nProposed answer: …\\n\\nDebate:\\nDebater A (argues the answer is correct):\\n…"},
                             {"role": "assistant", "content": "correct" | "incorrect"}]}
               The assistant reply is the gold label. This is the JSONL shape OpenAI-style fine-tuning APIs accept.
Rows are streamed, so exports of any size use little memory. With --out the file appears only when complete.`;

export function register(program: Command): void {
  program
    .command('export')
    .description('stream transcripts, predictions or the call ledger out of a database as JSONL, CSV or chat-messages')
    .argument('<db>', 'a database written by w2s run')
    .requiredOption('--what <what>', `what to export: ${EXPORT_WHATS.join(' | ')}`)
    .option('--format <format>', `${EXPORT_FORMATS.join(' | ')}`, 'jsonl')
    .option('--run <id>', 'only this run (default: all runs)')
    .option('--out <file>', 'write here (default: stdout)')
    .addHelpText('after', HELP)
    .action(async (file: string, opts: { what: string; format: string; run?: string; out?: string }) => {
      if (!EXPORT_WHATS.includes(opts.what as ExportWhat)) throw new UserError(`--what must be one of ${EXPORT_WHATS.join(', ')} (got "${opts.what}").`);
      if (!EXPORT_FORMATS.includes(opts.format as ExportFormat)) throw new UserError(`--format must be one of ${EXPORT_FORMATS.join(', ')} (got "${opts.format}").`);
      // A closed pipe (| head) ends the export quietly.
      process.stdout.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EPIPE') process.exit(0);
        throw e;
      });
      const n = await exportToFile(file, { what: opts.what as ExportWhat, format: opts.format as ExportFormat, runId: opts.run, out: opts.out });
      if (opts.out) process.stderr.write(`wrote ${n} line(s) to ${opts.out}\n`);
    });
}
