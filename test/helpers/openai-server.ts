/**
 * A real HTTP server on 127.0.0.1 speaking the OpenAI wire format, for adapter, retry and fault tests.
 * Answers are deterministic functions of the request; a per-request hook injects faults.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the hook and the request log see. n counts requests from 1, across all paths. */
export interface SeenRequest {
  method: string;
  path: string;
  body: any;
  headers: IncomingHttpHeaders;
  n: number;
}

/**
 * A hook's answer: undefined (answer normally), a canned response, extra latency before the normal answer,
 * 'hang' (never answer), 'reset' (destroy the socket) or 'malformed' (200 with a truncated JSON body).
 */
export type Fault =
  | undefined
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | { latencyMs: number }
  | 'hang'
  | 'reset'
  | 'malformed';

export type RequestHook = (req: SeenRequest) => Fault | Promise<Fault>;

export interface WireServer {
  /** Base URL: ends in /v1 for the OpenAI server, bare host for the Ollama server. */
  url: string;
  /** Every request received, in order. */
  requests: SeenRequest[];
  close(): Promise<void>;
}

export interface WireResponse {
  status: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON; an array of objects with ndjson: true is streamed as NDJSON lines. */
  body: unknown;
  ndjson?: boolean;
  /** Pause between NDJSON lines. */
  chunkDelayMs?: number;
}

/** The shared core of the test servers: recording, hooks, latency, faults, clean shutdown. */
export async function startWireServer(
  handle: (req: SeenRequest) => WireResponse | Promise<WireResponse>,
  opts: { onRequest?: RequestHook; latencyMs?: number; basePath?: string } = {},
): Promise<WireServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  let n = 0;

  const server = createServer((req, res) => {
    void serve(req, res).catch((e) => {
      if (!res.headersSent) send(res, { status: 500, body: { error: { message: String(e) } } });
      else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: any = undefined;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const seen: SeenRequest = { method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0]!, body, headers: req.headers, n: ++n };
    requests.push(seen);
    if (opts.latencyMs) await sleep(opts.latencyMs);
    const fault = await opts.onRequest?.(seen);
    if (fault === 'hang') return; // the socket stays open until close()
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id": "truncated", "choices": [');
      return;
    }
    if (fault && 'latencyMs' in fault) await sleep(fault.latencyMs);
    if (fault && 'status' in fault) {
      send(res, { status: fault.status, headers: fault.headers, body: fault.body ?? { error: { message: `injected ${fault.status}` } } });
      return;
    }
    send(res, await handle(seen), () => res.destroyed);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${opts.basePath ?? ''}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released), for connection-refused tests. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function send(res: ServerResponse, r: WireResponse, gone: () => boolean = () => false): void {
  if (r.ndjson && Array.isArray(r.body)) {
    res.writeHead(r.status, { 'content-type': 'application/x-ndjson', ...r.headers });
    const lines = r.body as unknown[];
    void (async () => {
      for (const line of lines) {
        if (gone()) return;
        res.write(JSON.stringify(line) + '\n');
        if (r.chunkDelayMs) await sleep(r.chunkDelayMs);
      }
      res.end();
    })();
    return;
  }
  const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  res.writeHead(r.status, { 'content-type': typeof r.body === 'string' ? 'text/plain' : 'application/json', ...r.headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Deterministic pseudo-embedding: unit vector from the sha256 of the text. */
export function fakeEmbedding(text: string, dim: number): number[] {
  const out: number[] = [];
  for (let block = 0; out.length < dim; block++) {
    const h = createHash('sha256').update(`${block}:${text}`).digest();
    for (let i = 0; i + 1 < h.length && out.length < dim; i += 2) out.push(h.readUInt16LE(i) / 32768 - 1);
  }
  const norm = Math.sqrt(out.reduce((s, v) => s + v * v, 0)) || 1;
  return out.map((v) => v / norm);
}

/** Words with their leading whitespace, the fake servers' "tokens". */
export function fakeTokens(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

/**
 * The default completion: "Echo: <last user message>", cut to maxTokens tokens, then at the first stop string.
 * Tests can predict it exactly.
 */
export function fakeCompletion(
  messages: { role: string; content: string }[] | undefined,
  maxTokens: number | undefined,
  stop: string[] | undefined,
): { tokens: string[]; text: string; finish: 'stop' | 'length'; promptTokens: number } {
  const lastUser = [...(messages ?? [])].reverse().find((m) => m.role === 'user')?.content ?? '';
  let tokens = fakeTokens(`Echo: ${lastUser}`);
  let finish: 'stop' | 'length' = 'stop';
  if (maxTokens !== undefined && tokens.length > maxTokens) {
    tokens = tokens.slice(0, maxTokens);
    finish = 'length';
  }
  let text = tokens.join('');
  for (const s of stop ?? []) {
    const at = text.indexOf(s);
    if (s !== '' && at >= 0) {
      text = text.slice(0, at);
      finish = 'stop';
      // Keep the tokens that produced the kept text.
      let len = 0;
      tokens = tokens.filter((t) => (len += t.length) - t.length < at);
    }
  }
  const promptTokens = (messages ?? []).reduce((s, m) => s + fakeTokens(m.content).length, 0);
  return { tokens, text, finish, promptTokens };
}

/** k alternatives for a token, best first: the token itself, then alt1..alt(k-1) with falling logprobs. */
export function fakeTopLogprobs(token: string, k: number): { token: string; logprob: number }[] {
  const out = [{ token, logprob: -0.25 }];
  for (let j = 1; j < k; j++) out.push({ token: `alt${j}`, logprob: -1 - j });
  return out;
}

export interface OpenAIServerOptions {
  onRequest?: RequestHook;
  /** Delay before every answer. */
  latencyMs?: number;
  /** When set, requests without "Authorization: Bearer <apiKey>" get a 401. */
  apiKey?: string;
  /** Known models; others get a 404. Default: any model is known. */
  models?: string[];
  /** How logprobs come back when asked for: per the spec (default), left out, null, or the legacy completions format. */
  logprobs?: 'normal' | 'omit' | 'null' | 'legacy';
  embeddingDim?: number;
  fingerprint?: string;
}

export async function startOpenAIServer(opts: OpenAIServerOptions = {}): Promise<WireServer> {
  return startWireServer(openAIHandler(opts), { onRequest: opts.onRequest, latencyMs: opts.latencyMs, basePath: '/v1' });
}

/** The OpenAI server's answers (models, chat completions, embeddings), for servers that add paths to them. */
export function openAIHandler(opts: OpenAIServerOptions = {}): (req: SeenRequest) => WireResponse {
  const dim = opts.embeddingDim ?? 8;
  const created = 1_700_000_000;
  const error = (status: number, message: string, type: string, code: string | null = null): WireResponse => ({
    status,
    body: { error: { message, type, param: null, code } },
  });

  return (req) => {
    if (opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      return error(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    }
    const body = req.body ?? {};
    const knownModel = (m: unknown) => !opts.models || opts.models.includes(String(m));
    if (req.method === 'GET' && req.path === '/v1/models') {
      const ids = opts.models ?? ['test-model'];
      return { status: 200, body: { object: 'list', data: ids.map((id) => ({ id, object: 'model', created, owned_by: 'test' })) } };
    }
    if (req.method === 'POST' && req.path === '/v1/chat/completions') {
      if (!knownModel(body.model)) return error(404, `The model \`${body.model}\` does not exist.`, 'invalid_request_error', 'model_not_found');
      if (body.stream) return error(400, 'This test server does not stream.', 'invalid_request_error');
      const maxTokens = body.max_completion_tokens ?? body.max_tokens;
      const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
      const c = fakeCompletion(body.messages, maxTokens, stop);
      const k = Number(body.top_logprobs ?? 0);
      let logprobs: unknown = null;
      if (body.logprobs) {
        const mode = opts.logprobs ?? 'normal';
        if (mode === 'normal') {
          logprobs = {
            content: c.tokens.map((t) => ({ token: t, logprob: -0.25, bytes: null, top_logprobs: fakeTopLogprobs(t, k).map((x) => ({ ...x, bytes: null })) })),
            refusal: null,
          };
        } else if (mode === 'legacy') {
          logprobs = { tokens: c.tokens, top_logprobs: c.tokens.map((t) => Object.fromEntries(fakeTopLogprobs(t, k).map((x) => [x.token, x.logprob]))) };
        }
      }
      const choice: Record<string, unknown> = {
        index: 0,
        message: { role: 'assistant', content: c.text, refusal: null },
        finish_reason: c.finish,
      };
      if ((opts.logprobs ?? 'normal') !== 'omit') choice.logprobs = logprobs;
      return {
        status: 200,
        body: {
          id: `chatcmpl-${req.n}`,
          object: 'chat.completion',
          created,
          model: body.model,
          system_fingerprint: opts.fingerprint ?? 'fp_test',
          choices: [choice],
          usage: { prompt_tokens: c.promptTokens, completion_tokens: c.tokens.length, total_tokens: c.promptTokens + c.tokens.length },
        },
      };
    }
    if (req.method === 'POST' && req.path === '/v1/embeddings') {
      if (!knownModel(body.model)) return error(404, `The model \`${body.model}\` does not exist.`, 'invalid_request_error', 'model_not_found');
      const inputs: string[] = Array.isArray(body.input) ? body.input : [body.input];
      if (inputs.some((x) => typeof x !== 'string')) return error(400, 'input must be a string or a list of strings', 'invalid_request_error');
      return {
        status: 200,
        body: {
          object: 'list',
          model: body.model,
          data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(text, dim) })),
          usage: { prompt_tokens: inputs.reduce((s, t) => s + fakeTokens(t).length, 0), total_tokens: 0 },
        },
      };
    }
    return error(404, `Unknown path ${req.method} ${req.path}`, 'invalid_request_error');
  };
}
