import type { Command } from 'commander';
import { createClient, type ClientOptions } from '../models/create.js';
import { Gateway } from '../models/gateway.js';
import { UserError } from '../errors.js';
import { PROBE_RETRY, probeCapabilities, type Finding } from '../models/probe.js';
import { replicaIdentity } from '../models/replicas.js';
import { formatModelSpec, parseModelSpec } from '../models/spec.js';
import type { ModelClient } from '../models/types.js';

interface CheckOptions {
  prompt: string;
  maxTokens: number;
  contextSize?: number;
  threads?: number;
  apiKeyEnv?: string;
  host?: string;
  endpoints?: string[];
  json?: boolean;
}

/** What `models check --json` prints: one document, written only once the model has answered. */
export interface ModelCheck {
  spec: string;
  model: string;
  adapter: string;
  endpoint: string;
  /** Whether it takes chat messages, as the adapter reports it (not probed). */
  chat: boolean;
  /** What the model returned when asked, per capability: found, not found, or not tried, with what was seen. */
  probed: { logprobs: Finding; embeddings: Finding; seed: Finding; probedAt: string };
  generation: { prompt: string; text: string; finishReason: string; inputTokens: number; outputTokens: number; ms: number };
  /** The first token's top alternatives from the logprobs probe ([]: none came back; null: the probe failed). */
  logprobs: { token: string; logprob: number }[] | null;
  /** The embedding size, when the embedding probe found one. */
  embeddings: { dimensions: number } | null;
}

/**
 * `w2s models check <spec>`: the first thing a new user runs. Sends the model one short generation and, once it has
 * answered, probes what it really returns (probe.ts): logprobs, embeddings, a seed. Each is printed as found, not
 * found or not tried, with what the probe saw; what was found replaces the model's entry in the probe cache, which runs
 * read (what was not found is never kept). Only a model that does not answer the test generation fails the check: one line naming what to fix.
 */
export function register(program: Command): void {
  const models = program.command('models').description('inspect model specs');
  models
    .command('check')
    .description('reach a model with one short generation, then probe what it returns (logprobs, embeddings, seed) and print each as found, not found or not tried')
    .argument('<spec>', 'openai:<model>[@<baseURL>] | ollama:<model>[@<host>] | llamacpp:<file.gguf|hf:user/repo:quant> | scripted:<name>')
    .option('--prompt <text>', 'prompt for the test generation', 'Once upon a time')
    .option('--max-tokens <n>', 'tokens to generate', (v) => toInt(v, '--max-tokens'), 24)
    .option('--context-size <n>', 'llamacpp: context size', (v) => toInt(v, '--context-size'))
    .option('--threads <n>', 'llamacpp: CPU threads', (v) => toInt(v, '--threads'))
    .option('--api-key-env <name>', 'openai: env var holding the API key')
    .option('--host <url>', 'ollama: host')
    .option('--endpoints <urls>', 'openai, ollama: several servers of the model (a config\'s endpoints), comma-separated: each is checked in turn', (v) => v.split(',').map((e) => e.trim()).filter(Boolean))
    .option('--json', 'print one JSON document (spec, model, adapter, endpoint, chat, probed, generation, logprobs, embeddings); with --endpoints, {spec, endpoints: [one per server]}')
    .action(async (spec: string, opts: CheckOptions) => {
      const clientOptions: ClientOptions = { contextSize: opts.contextSize, threads: opts.threads, apiKeyEnv: opts.apiKeyEnv, host: opts.host };
      if (opts.endpoints) return checkEndpoints(spec, opts.endpoints, clientOptions, opts);
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

/** One server's check: what checkModel found, or why it failed. */
type EndpointCheck = (ModelCheck & { ok: true }) | { ok: false; endpoint: string; error: string };

/**
 * `models check <spec> --endpoints a,b`: each server of the model checked in turn, as the spec with that endpoint
 * would be (a run spreads calls over all of them, so each must answer). Prints every check; the servers that did not
 * answer make one error line naming each, exit 1.
 */
async function checkEndpoints(spec: string, endpoints: string[], clientOptions: ClientOptions, opts: CheckOptions): Promise<void> {
  const parsed = parseModelSpec(spec);
  if (clientOptions.host !== undefined) throw new UserError(`Give the servers of ${spec} either with --host or with --endpoints, not both.`);
  const { specs } = replicaIdentity(parsed, endpoints);
  const checks: EndpointCheck[] = [];
  for (const one of specs) {
    const single = formatModelSpec(one);
    try {
      const client = await createClient(single, clientOptions).catch((e) => {
        throw checkFailed(single, 'could not be set up', e);
      });
      try {
        checks.push({ ok: true, ...(await checkModel(single, client, opts)) });
      } finally {
        await client.close?.();
      }
    } catch (e) {
      checks.push({ ok: false, endpoint: one.endpoint!, error: (e as Error).message });
    }
  }
  process.stdout.write(
    opts.json
      ? `${JSON.stringify({ spec: formatModelSpec(parsed), endpoints: checks }, null, 2)}\n`
      : checks.map((c) => (c.ok ? formatCheck(c) : `endpoint:     ${c.endpoint}\nfailed:       ${c.error}\n`)).join('\n'),
  );
  const failed = checks.filter((c): c is Extract<EndpointCheck, { ok: false }> => !c.ok);
  if (failed.length > 0) {
    throw new UserError(`${failed.length} of ${checks.length} servers of ${formatModelSpec(parsed)} did not answer: ${failed.map((f) => f.endpoint).join(', ')} (see above); start them or remove them from endpoints.`);
  }
}

async function checkModel(spec: string, client: ModelClient, opts: CheckOptions): Promise<ModelCheck> {
  const gateway = new Gateway({ retry: { ...PROBE_RETRY } });
  const model = gateway.model(client, 'check');
  const started = performance.now();
  let r: Awaited<ReturnType<typeof model.generate>>;
  try {
    r = await model.generate({ messages: [{ role: 'user', content: opts.prompt }], maxTokens: opts.maxTokens, temperature: 0, seed: 0 });
  } catch (e) {
    throw checkFailed(spec, 'did not answer a test generation', e, `check that ${client.endpoint} is up and serves this model, and the spec`);
  }
  const ms = Math.round(performance.now() - started);
  // It answered: now what it returns. A probe that fails is reported as not tried, with why; the check still passes.
  const found = await probeCapabilities(client, { logprobs: true, embeddings: true }, { gateway, seed: true, fresh: true, onError: 'not tried' });
  return {
    spec,
    model: client.id,
    adapter: client.adapter,
    endpoint: client.endpoint,
    chat: client.capabilities.chat,
    probed: { logprobs: found.logprobs, embeddings: found.embeddings, seed: found.seed, probedAt: found.probedAt },
    generation: { prompt: opts.prompt, text: r.text, finishReason: r.finishReason, inputTokens: r.usage.inputTokens, outputTokens: r.usage.outputTokens, ms },
    logprobs: found.alternatives ? found.alternatives.map((t) => ({ token: t.token, logprob: t.logprob })) : null,
    embeddings: found.dimensions ? { dimensions: found.dimensions } : null,
  };
}

/** A finding as one line: "found: asked for …; 5 came back". */
const finding = (f: Finding): string => `${f.status}: ${f.detail}`;

function formatCheck(c: ModelCheck): string {
  const lines = [
    `model:        ${c.model}`,
    `adapter:      ${c.adapter}`,
    `endpoint:     ${c.endpoint}`,
    `generation:   ${JSON.stringify(c.generation.text)}`,
    `              finish=${c.generation.finishReason} tokens in/out=${c.generation.inputTokens}/${c.generation.outputTokens} ${c.generation.ms} ms`,
    `chat:         ${c.chat ? 'yes' : 'no (prompts are sent as plain text)'}, as the adapter reports it`,
    `logprobs:     ${finding(c.probed.logprobs)}`,
  ];
  if (c.logprobs?.length) lines.push(`              first token ${c.logprobs.map((t) => `${JSON.stringify(t.token)} ${t.logprob.toFixed(2)}`).join(', ')}`);
  lines.push(`embeddings:   ${finding(c.probed.embeddings)}`, `seed:         ${finding(c.probed.seed)}`);
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
