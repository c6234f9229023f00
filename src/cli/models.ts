import type { Command } from 'commander';
import { createClient, type ClientOptions } from '../models/create.js';
import { Gateway } from '../models/gateway.js';
import { UserError } from '../errors.js';

interface CheckOptions {
  prompt: string;
  maxTokens: number;
  contextSize?: number;
  threads?: number;
  apiKeyEnv?: string;
  host?: string;
}

/** `w2s models check <spec>`: the first thing a new user runs. Reaches the model, shows what it can do, generates. */
export function register(program: Command): void {
  const models = program.command('models').description('inspect model specs');
  models
    .command('check')
    .description('reach a model, print its capabilities and one short generation')
    .argument('<spec>', 'openai:<model>[@<baseURL>] | ollama:<model>[@<host>] | llamacpp:<file.gguf|hf:user/repo:quant> | scripted:<name>')
    .option('--prompt <text>', 'prompt for the test generation', 'Once upon a time')
    .option('--max-tokens <n>', 'tokens to generate', (v) => toInt(v, '--max-tokens'), 24)
    .option('--context-size <n>', 'llamacpp: context size', (v) => toInt(v, '--context-size'))
    .option('--threads <n>', 'llamacpp: CPU threads', (v) => toInt(v, '--threads'))
    .option('--api-key-env <name>', 'openai: env var holding the API key')
    .option('--host <url>', 'ollama: host')
    .action(async (spec: string, opts: CheckOptions) => {
      const clientOptions: ClientOptions = { contextSize: opts.contextSize, threads: opts.threads, apiKeyEnv: opts.apiKeyEnv, host: opts.host };
      const client = await createClient(spec, clientOptions);
      try {
        const gateway = new Gateway({ retry: { maxAttempts: 2 } });
        const model = gateway.model(client, 'check');
        const out = process.stdout;
        out.write(`model:        ${client.id}\nadapter:      ${client.adapter}\nendpoint:     ${client.endpoint}\n`);
        const caps = client.capabilities;
        out.write(`capabilities: chat=${caps.chat} logprobs=${caps.logprobs} embeddings=${caps.embeddings} seed=${caps.seed}\n`);
        const started = performance.now();
        const r = await model.generate({
          messages: [{ role: 'user', content: opts.prompt }],
          maxTokens: opts.maxTokens,
          temperature: 0,
          seed: 0,
          topLogprobs: caps.logprobs ? 3 : undefined,
        });
        const ms = performance.now() - started;
        out.write(`generation:   ${JSON.stringify(r.text)}\n`);
        out.write(`              finish=${r.finishReason} tokens in/out=${r.usage.inputTokens}/${r.usage.outputTokens} ${ms.toFixed(0)} ms\n`);
        if (caps.logprobs) {
          const first = r.topLogprobs?.[0];
          out.write(first ? `logprobs:     first token ${first.map((t) => `${JSON.stringify(t.token)} ${t.logprob.toFixed(2)}`).join(', ')}\n` : 'logprobs:     requested, but none came back\n');
        }
        if (caps.embeddings && client.embed) {
          const e = await model.embed(['hello world']);
          out.write(`embeddings:   ${e.vectors[0]!.length} dimensions\n`);
        }
      } finally {
        await client.close?.();
      }
    });
}

function toInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UserError(`${name} must be a positive whole number, got "${v}".`);
  return n;
}
