/**
 * A fault-injecting server for reliability tests: the OpenAI or Ollama wire-format test server with a fault schedule.
 * Each distinct request (same path and body) gets the faults listed for its attempts, so a schedule is deterministic
 * however many calls run at once: e.g. attempt 1 of the 3rd distinct request answers 429, attempt 2 answers normally.
 */
import { createHash } from 'node:crypto';
import { startOllamaServer, type OllamaServerOptions } from './ollama-server.js';
import {
  fakeCompletion,
  fakeTokens,
  fakeTopLogprobs,
  sleep,
  startOpenAIServer,
  type Fault,
  type OpenAIServerOptions,
  type SeenRequest,
  type WireServer,
} from './openai-server.js';

/**
 * The faults a schedule can name. The first six are failures the gateway must retry; the last three are answers
 * that succeed but are degraded (the harness must store them as they are).
 */
export type FaultKind =
  | 'latency'
  | '429'
  | '500'
  | '503'
  | 'hang'
  | 'reset'
  | 'malformed'
  | 'empty_choices'
  | 'finish_length'
  | 'no_logprobs';

/** Faults after which the same request must be tried again (everything but the degraded answers and latency). */
export const RETRYABLE_FAULTS: readonly FaultKind[] = ['429', '500', '503', 'hang', 'reset', 'malformed', 'empty_choices'];
export const ALL_FAULTS: readonly FaultKind[] = ['latency', '429', '500', '503', 'hang', 'reset', 'malformed', 'empty_choices', 'finish_length', 'no_logprobs'];

export interface FaultServerOptions {
  wire?: 'openai' | 'ollama';
  /**
   * The faults of the distinct request numbered i (from 0, in order first seen), attempt by attempt; attempts past the
   * list answer normally. Default: no faults.
   */
  schedule?: (distinct: number, req: SeenRequest) => FaultKind[];
  /** Fail every attempt of the requests this picks (a failure for good). */
  failForever?: (req: SeenRequest) => boolean;
  /** Delay before every model call (POST), read per request so a test can change it mid-run. */
  delayMs?: () => number;
  /** Delay for 'latency' faults (default 50 ms). */
  latencyMs?: number;
  /** Retry-After seconds sent with 429 (default 0: the header says "now", so tests stay fast). */
  retryAfterS?: number;
  /**
   * The text a chat call answers (cut to its max tokens); default: the test server's "Echo: <last user message>".
   * With a reply, every chat answer is built here, so degraded and normal answers share one shape.
   */
  reply?: (req: SeenRequest) => string;
  /** Passed to the underlying server. */
  server?: Omit<OpenAIServerOptions & OllamaServerOptions, 'onRequest'>;
}

export interface FaultServer extends WireServer {
  /** Every fault injected, in order, with the distinct request it hit. */
  injected: { kind: FaultKind; distinct: number; attempt: number; req: SeenRequest }[];
  /** Requests whose answer was a success (faulted-but-successful kinds included). */
  served(): number;
}

function requestKey(req: SeenRequest): string {
  return createHash('sha256').update(`${req.path}\n${JSON.stringify(req.body ?? null)}`).digest('hex');
}

type Degraded = 'empty_choices' | 'finish_length' | 'no_logprobs' | 'none';

/** The default completion, or the scripted reply cut to maxTokens words. */
function completion(req: SeenRequest, maxTokens: number | undefined, stop: string[] | undefined, reply?: (req: SeenRequest) => string) {
  const c = fakeCompletion(req.body?.messages, maxTokens, stop);
  if (!reply) return c;
  let tokens = fakeTokens(reply(req));
  const finish: 'stop' | 'length' = maxTokens !== undefined && tokens.length > maxTokens ? 'length' : 'stop';
  if (finish === 'length') tokens = tokens.slice(0, maxTokens);
  return { ...c, tokens, text: tokens.join(''), finish };
}

/** A 200 body for the OpenAI chat format, with one part spoiled (or none). */
function degradedOpenAI(req: SeenRequest, kind: Degraded, reply?: (req: SeenRequest) => string): Fault {
  const body = req.body ?? {};
  const c = completion(req, body.max_completion_tokens ?? body.max_tokens, typeof body.stop === 'string' ? [body.stop] : body.stop, reply);
  const k = Number(body.top_logprobs ?? 0);
  const logprobs =
    body.logprobs && kind !== 'no_logprobs'
      ? { content: c.tokens.map((t) => ({ token: t, logprob: -0.25, bytes: null, top_logprobs: fakeTopLogprobs(t, k).map((x) => ({ ...x, bytes: null })) })), refusal: null }
      : null;
  const choice = {
    index: 0,
    message: { role: 'assistant', content: c.text, refusal: null },
    finish_reason: kind === 'finish_length' ? 'length' : c.finish,
    logprobs,
  };
  return {
    status: 200,
    body: {
      id: `chatcmpl-fault-${req.n}`,
      object: 'chat.completion',
      created: 1_700_000_000,
      model: body.model,
      system_fingerprint: 'fp_fault',
      choices: kind === 'empty_choices' ? [] : [choice],
      usage: { prompt_tokens: c.promptTokens, completion_tokens: c.tokens.length, total_tokens: c.promptTokens + c.tokens.length },
    },
  };
}

/**
 * The same spoiled answers in Ollama's streamed /api/chat format (NDJSON). "Empty choices" is a 200 whose stream ends
 * before any line, the nearest Ollama analogue of a body with nothing in it.
 */
function degradedOllama(req: SeenRequest, kind: Degraded, reply?: (req: SeenRequest) => string): Fault {
  const ndjson = { 'content-type': 'application/x-ndjson' };
  if (kind === 'empty_choices') return { status: 200, headers: ndjson, body: '' };
  const body = req.body ?? {};
  const o = body.options ?? {};
  const c = completion(req, typeof o.num_predict === 'number' && o.num_predict >= 0 ? o.num_predict : undefined, o.stop, reply);
  const k = Number(body.top_logprobs ?? 0);
  const createdAt = '2025-01-01T00:00:00Z';
  const lines: unknown[] = c.tokens.map((t) => ({
    model: body.model,
    created_at: createdAt,
    message: { role: 'assistant', content: t },
    done: false,
    ...(body.logprobs && kind !== 'no_logprobs' && { logprobs: [{ token: t, logprob: -0.25, top_logprobs: k > 0 ? fakeTopLogprobs(t, k) : [] }] }),
  }));
  lines.push({
    model: body.model,
    created_at: createdAt,
    message: { role: 'assistant', content: '' },
    done: true,
    done_reason: kind === 'finish_length' ? 'length' : c.finish,
    prompt_eval_count: c.promptTokens,
    eval_count: c.tokens.length,
  });
  return { status: 200, headers: ndjson, body: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' };
}

const isChat = (req: SeenRequest) => req.method === 'POST' && /\/chat(\/completions)?$/.test(req.path);

function degraded(req: SeenRequest, kind: Degraded, wire: 'openai' | 'ollama', reply?: (req: SeenRequest) => string): Fault {
  return wire === 'openai' ? degradedOpenAI(req, kind, reply) : degradedOllama(req, kind, reply);
}

function faultFor(kind: FaultKind, req: SeenRequest, wire: 'openai' | 'ollama', opts: FaultServerOptions): Fault {
  switch (kind) {
    case 'latency':
      return { latencyMs: opts.latencyMs ?? 50 };
    case '429':
      return { status: 429, headers: { 'retry-after': String(opts.retryAfterS ?? 0) }, body: { error: { message: 'Rate limit reached (injected)', type: 'requests', code: 'rate_limit_exceeded' } } };
    case '500':
    case '503':
      return { status: Number(kind) };
    case 'hang':
    case 'reset':
    case 'malformed':
      return kind;
    default:
      // Degraded answers only make sense for chat calls; embeddings answer normally.
      return isChat(req) ? degraded(req, kind, wire, opts.reply) : undefined;
  }
}

export async function startFaultServer(opts: FaultServerOptions = {}): Promise<FaultServer> {
  const wire = opts.wire ?? 'openai';
  const distinctOf = new Map<string, { n: number; attempts: number }>();
  const injected: FaultServer['injected'] = [];
  let served = 0;
  const onRequest = async (req: SeenRequest): Promise<Fault> => {
    // Listings and version probes are never faulted: they are not model calls.
    if (req.method === 'GET') return undefined;
    const delay = opts.delayMs?.() ?? 0;
    if (delay > 0) await sleep(delay);
    const key = requestKey(req);
    let d = distinctOf.get(key);
    if (!d) {
      d = { n: distinctOf.size, attempts: 0 };
      distinctOf.set(key, d);
    }
    const attempt = ++d.attempts;
    if (opts.failForever?.(req)) {
      injected.push({ kind: '500', distinct: d.n, attempt, req });
      return { status: 500, body: { error: { message: 'permanent failure (injected)' } } };
    }
    const kind = opts.schedule?.(d.n, req)[attempt - 1];
    if (!kind) {
      served++;
      return opts.reply && isChat(req) ? degraded(req, 'none', wire, opts.reply) : undefined;
    }
    injected.push({ kind, distinct: d.n, attempt, req });
    if (!RETRYABLE_FAULTS.includes(kind)) served++;
    if (kind === 'latency' && opts.reply && isChat(req)) {
      // The server's own latency fault answers with its default text; wait here and answer with the reply instead.
      await sleep(opts.latencyMs ?? 50);
      return degraded(req, 'none', wire, opts.reply);
    }
    return faultFor(kind, req, wire, opts);
  };
  const server = wire === 'openai' ? await startOpenAIServer({ ...opts.server, onRequest }) : await startOllamaServer({ ...opts.server, onRequest });
  return Object.assign(server, { injected, served: () => served });
}

/** Schedule: the distinct request i fails once with kinds[i mod kinds.length] (a first attempt), then answers. */
export function roundRobin(kinds: readonly FaultKind[], every = 1): (distinct: number) => FaultKind[] {
  return (i) => (i % every === 0 ? [kinds[(i / every) % kinds.length]!] : []);
}
