import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { EXPORT_FORMATS, EXPORT_WHATS, exportToFile, parseSplits, TRAINING_SPLITS, type ExportFormat, type ExportWhat } from '../report/export.js';

const HELP = `
Shapes:
  calls        jsonl: one ledger row per line (id, run_id, role, model, kind, request_hash, cache_hit, attempts,
               latency_ms, input_tokens, output_tokens, cost_usd, finish_reason, error, created_at, endpoint: the
               server that answered), then what the call sent and got back: params (maxTokens, temperature, seed,
               topLogprobs, stop, sample), messages ([{role, content}]: chat messages, or an embed call's inputs with
               role "input") and response (the raw reply; null for embed and failed calls); all three null for calls
               made before w2s stored them.
               csv: the same columns, then params_json, messages_json (JSON text) and response. --no-texts leaves
               the three out. Secrets (URL credentials, sk-… keys, Bearer tokens) are redacted.
  predictions  one row per (model, example): run_id, model_id, role, member, example_id, split, label, debate_id, p1
               (p1 = the model's P(label 1)).
  transcripts  jsonl: one debate per line {run_id, debate_id, example_id, split, label, question, answer, protocol,
               sample, sides, status, turns: [{index, speaker, side, text, word_count, truncated, call_id}]};
               csv: one row per turn.
  --format chat (transcripts only): fine-tuning data in chat-messages form, one completed debate per line:
               {"messages": [{"role": "system", "content": <judge instructions>},
                             {"role": "user", "content": "Question: …\\nProposed answer: …\\n\\nDebate:\\nDebater A (argues the answer is correct):\\n…"},
                             {"role": "assistant", "content": "correct" | "incorrect"}],
                "split": "train_weak" | "train_strong" | "test"}
               The assistant reply is the gold label. This is the JSONL shape OpenAI-style fine-tuning APIs accept.
--split (transcripts, predictions): which splits' examples, a comma list of train_weak, train_strong, test. Transcripts
               (the shape training data takes) default to train_weak,train_strong, so the test split never ends up in
               training data by accident, and asking for their test rows prints a warning (they carry gold labels);
               predictions default to every split (the strong models predict only test). Every row says its split.
Rows are streamed, so exports of any size use little memory. With --out the file appears only when complete, and the
number of rows written (not lines: a CSV field may hold line breaks; the header is not a row) goes to stderr.`;

export function register(program: Command): void {
  program
    .command('export')
    .description('stream transcripts, predictions or the call ledger out of a database as JSONL, CSV or chat-messages')
    .argument('<db>', 'a database written by w2s run')
    .requiredOption('--what <what>', `what to export: ${EXPORT_WHATS.join(' | ')}`)
    .option('--format <format>', `${EXPORT_FORMATS.join(' | ')}`, 'jsonl')
    .option('--run <id>', 'only this run (default: all runs)')
    .option('--split <names>', `transcripts and predictions of these splits, comma-separated (default for transcripts: ${TRAINING_SPLITS.join(',')}; predictions: all)`)
    .option('--out <file>', 'write here (default: stdout)')
    .option('--no-texts', 'calls: leave out each call\'s params, messages and reply')
    .addHelpText('after', HELP)
    .action(async (file: string, opts: { what: string; format: string; run?: string; split?: string; out?: string; texts: boolean }) => {
      if (!EXPORT_WHATS.includes(opts.what as ExportWhat)) throw new UserError(`--what must be one of ${EXPORT_WHATS.join(', ')} (got "${opts.what}").`);
      if (!EXPORT_FORMATS.includes(opts.format as ExportFormat)) throw new UserError(`--format must be one of ${EXPORT_FORMATS.join(', ')} (got "${opts.format}").`);
      // The ledger has no split; examples default to the training splits, so test rows leave only when asked for.
      if (opts.what === 'calls' && opts.split !== undefined) throw new UserError('--split applies to transcripts and predictions; the call ledger has no split, so drop --split.');
      const splits = opts.split !== undefined ? parseSplits(opts.split) : opts.what === 'transcripts' ? TRAINING_SPLITS : undefined;
      if (opts.what === 'transcripts' && splits?.includes('test')) process.stderr.write('w2s: warning: test rows are exported with their gold labels; do not train on them.\n');
      // A closed pipe (| head) ends the export quietly, at its next write: the export unwinds and closes the database
      // (so a read-only open leaves no -wal/-shm behind), where process.exit would skip that.
      const isEpipe = (e: unknown): boolean => (e as NodeJS.ErrnoException | null)?.code === 'EPIPE';
      process.stdout.on('error', (e: NodeJS.ErrnoException) => {
        if (!isEpipe(e)) throw e;
      });
      let n: number;
      try {
        n = await exportToFile(file, { what: opts.what as ExportWhat, format: opts.format as ExportFormat, runId: opts.run, splits, out: opts.out, texts: opts.texts });
      } catch (e) {
        if (!opts.out && isEpipe(e)) return;
        throw e;
      }
      // exportToFile counts the CSV header among what it wrote; a row is a record, however many lines its fields span.
      const rows = opts.format === 'csv' ? n - 1 : n;
      if (opts.out) process.stderr.write(`wrote ${rows} ${rows === 1 ? 'row' : 'rows'} to ${opts.out}\n`);
    });
}
