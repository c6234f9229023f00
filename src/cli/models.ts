import type { Command } from 'commander';
import { createClient, type ClientOptions } from '../models/create.js';
import { Gateway } from '../models/gateway.js';
import { UserError } from '../errors.js';
import type { ModelClient } from '../models/types.js';

interface CheckOptions {
  prompt: string;
  maxTokens: number;
  contextSize?: number;
  threads?: number;
  apiKeyEnv?: string;
  host?: string;
  json?: boolean;
}

/** What `models check --json` prints: one document, written only once the model has answered. */
export interface ModelCheck {
  spec: string;
  model: string;
  adapter: string;
  endpoint: string;
  capabilities: { chat: boolean; logprobs: boolean; embeddings: boolean; seed: boolean };
  generation: { prompt: string; text: string; finishReason: string; inputTokens: number; outputTokens: number; ms: number };
  /** The first generated token's top alternatives, when the model declares logprobs (null: it does not; [] none came back). */
  logprobs: { token: string; logprob: number }[] | null;
  /** The embedding size, when the model declares embeddings. */
  embeddings: { dimensions: number } | null;
}

/**
 * `w2s models check <spec>`: the first thing a new user runs. Sends the model one short generation (and, when it
 * declares embeddings, one embedding) and only then prints what it is and what it can do: capabilities are shown for a
 * model that answered, never for one that was only parsed. A model that does not answer is one line naming what to fix.
 */
export function register(program: Command): void {
  const models = program.command('models').description('inspect model specs');
  models
    .command('check')
    .description('reach a model with one short generation, then print its capabilities and the reply')
    .argument('<spec>', 'openai:<model>[@<baseURL>] | ollama:<model>[@<host>] | llamacpp:<file.gguf|hf:user/repo:quant> | scripted:<name>')
    .option('--prompt <text>', 'prompt for the test generation', 'Once upon a time')
    .option('--max-tokens <n>', 'tokens to generate', (v) => toInt(v, '--max-tokens'), 24)
    .option('--context-size <n>', 'llamacpp: context size', (v) => toInt(v, '--context-size'))
    .option('--threads <n>', 'llamacpp: CPU threads', (v) => toInt(v, '--threads'))
    .option('--api-key-env <name>', 'openai: env var holding the API key')
    .option('--host <url>', 'ollama: host')
    .option('--json', 'print one JSON document (spec, model, adapter, endpoint, capabilities, generation, logprobs, embeddings)')
    .action(async (spec: string, opts: CheckOptions) => {
      const clientOptions: ClientOptions = { contextSize: opts.contextSize, threads: opts.threads, apiKeyEnv: opts.apiKeyEnv, host: opts.host };
      let client: ModelClient;
      try {
        client = await createClient(spec, clientOptions);
      } catch (e) {
        throw checkFailed(spec, 'could not be set up', e);
      }
      try {
        const check = await checkModel(spec, client, opts);
        process.stdout.write(opts.json ? `${JSON.stringify(check, null, 2)}\n` : formatCheck(check));
      } finally {
        await client.close?.();
      }
    });
}

async function checkModel(spec: string, client: ModelClient, opts: CheckOptions): Promise<ModelCheck> {
  const model = new Gateway({ retry: { maxAttempts: 2 } }).model(client, 'check');
  const caps = client.capabilities;
  const started = performance.now();
  let r: Awaited<ReturnType<typeof model.generate>>;
  try {
    r = await model.generate({
      messages: [{ role: 'user', content: opts.prompt }],
      maxTokens: opts.maxTokens,
      temperature: 0,
      seed: 0,
      topLogprobs: caps.logprobs ? 3 : undefined,
    });
  } catch (e) {
    throw checkFailed(spec, 'did not answer a test generation', e, `check that ${client.endpoint} is up and serves this model, and the spec`);
  }
  const ms = Math.round(performance.now() - started);
  let embeddings: ModelCheck['embeddings'] = null;
  if (caps.embeddings && client.embed) {
    try {
      const e = await model.embed(['hello world']);
      embeddings = { dimensions: e.vectors[0]!.length };
    } catch (e) {
      // It generated, so it is reachable; the likely fix is the declared capability.
      throw checkFailed(spec, 'generated but did not answer an embedding request', e, 'if it has no embeddings, give it "capabilities": {"embeddings": false} in the config');
    }
  }
  return {
    spec,
    model: client.id,
    adapter: client.adapter,
    endpoint: client.endpoint,
    capabilities: { chat: caps.chat, logprobs: caps.logprobs, embeddings: caps.embeddings, seed: caps.seed },
    generation: { prompt: opts.prompt, text: r.text, finishReason: r.finishReason, inputTokens: r.usage.inputTokens, outputTokens: r.usage.outputTokens, ms },
    logprobs: caps.logprobs ? (r.topLogprobs?.[0] ?? []).map((t) => ({ token: t.token, logprob: t.logprob })) : null,
    embeddings,
  };
}

function formatCheck(c: ModelCheck): string {
  const caps = c.capabilities;
  const lines = [
    `model:        ${c.model}`,
    `adapter:      ${c.adapter}`,
    `endpoint:     ${c.endpoint}`,
    `capabilities: chat=${caps.chat} logprobs=${caps.logprobs} embeddings=${caps.embeddings} seed=${caps.seed}`,
    `generation:   ${JSON.stringify(c.generation.text)}`,
    `              finish=${c.generation.finishReason} tokens in/out=${c.generation.inputTokens}/${c.generation.outputTokens} ${c.generation.ms} ms`,
  ];
  if (c.logprobs) {
    lines.push(c.logprobs.length ? `logprobs:     first token ${c.logprobs.map((t) => `${JSON.stringify(t.token)} ${t.logprob.toFixed(2)}`).join(', ')}` : 'logprobs:     requested, but none came back');
  }
  if (c.embeddings) lines.push(`embeddings:   ${c.embeddings.dimensions} dimensions`);
  return `${lines.join('\n')}\n`;
}

/**
 * A failed check as the CLI prints every error: one sentence that names the model and what to fix. A UserError (a bad
 * spec, a missing key or file) already is one; a backend's error gets the model named and, when it names no fix, one.
 */
function checkFailed(spec: string, what: string, e: unknown, fix = 'check the spec and its options'): Error {
  if (e instanceof UserError) return e;
  const reason = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim().replace(/[.;:,\s]+$/, '');
  const namesFix = /\b(check|start|set|raise|add|pull|point|install|reinstall|upgrade)\b/i.test(reason);
  return new UserError(`Model ${spec} ${what}: ${reason}${namesFix ? '' : `; ${fix}`}.`, { cause: e });
}

function toInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UserError(`${name} must be a positive whole number, got "${v}".`);
  return n;
}
