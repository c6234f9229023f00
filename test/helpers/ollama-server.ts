/**
 * A real HTTP server on 127.0.0.1 speaking the Ollama API: POST /api/chat (one JSON object, or NDJSON when streamed,
 * with logprobs when asked), POST /api/embed, GET /api/tags, GET /api/version. Same hooks and faults as the
 * OpenAI server (see openai-server.ts).
 */
import {
  fakeCompletion,
  fakeEmbedding,
  fakeTokens,
  fakeTopLogprobs,
  startWireServer,
  type RequestHook,
  type WireResponse,
  type WireServer,
} from './openai-server.js';

export interface OllamaServerOptions {
  onRequest?: RequestHook;
  latencyMs?: number;
  /** Pause between streamed lines. */
  chunkDelayMs?: number;
  /** Pulled models; others get Ollama's 404 "not found". Default: any model is known. */
  models?: string[];
  /** Reported by /api/version; below 0.12.11 logprobs are ignored, as a real old server would. */
  version?: string;
  embeddingDim?: number;
  /** Streamed chats end with an error line after this many tokens (a runner crash mid-generation). */
  failStreamAfter?: number;
}

export async function startOllamaServer(opts: OllamaServerOptions = {}): Promise<WireServer> {
  const version = opts.version ?? '0.12.11';
  const logprobsSupported = compareVersions(version, '0.12.11') >= 0;
  const dim = opts.embeddingDim ?? 8;
  const createdAt = '2025-01-01T00:00:00Z';
  const notFound = (model: unknown): WireResponse => ({ status: 404, body: { error: `model "${String(model)}" not found, try pulling it first` } });
  const known = (m: unknown) => !opts.models || opts.models.includes(String(m));

  return startWireServer(
    (req) => {
      const body = req.body ?? {};
      if (req.method === 'GET' && req.path === '/api/version') return { status: 200, body: { version } };
      if (req.method === 'GET' && req.path === '/api/tags') {
        const names = opts.models ?? ['test-model:latest'];
        return {
          status: 200,
          body: { models: names.map((name) => ({ name, model: name, modified_at: createdAt, size: 1, digest: 'sha256:0', details: {} })) },
        };
      }
      if (req.method === 'POST' && req.path === '/api/chat') {
        if (!body.model) return { status: 400, body: { error: 'model is required' } };
        if (!known(body.model)) return notFound(body.model);
        const o = body.options ?? {};
        const maxTokens = typeof o.num_predict === 'number' && o.num_predict >= 0 ? o.num_predict : undefined;
        const c = fakeCompletion(body.messages, maxTokens, o.stop);
        const k = Number(body.top_logprobs ?? 0);
        const withLogprobs = body.logprobs === true && logprobsSupported;
        const lp = (t: string) => ({ token: t, logprob: -0.25, top_logprobs: k > 0 ? fakeTopLogprobs(t, k) : [] });
        const final = {
          model: body.model,
          created_at: createdAt,
          done: true,
          done_reason: c.finish,
          total_duration: 1,
          load_duration: 0,
          prompt_eval_count: c.promptTokens,
          prompt_eval_duration: 1,
          eval_count: c.tokens.length,
          eval_duration: 1,
        };
        // Ollama streams unless told otherwise.
        if (body.stream === false) {
          return {
            status: 200,
            body: {
              ...final,
              message: { role: 'assistant', content: c.text },
              ...(withLogprobs && { logprobs: c.tokens.map(lp) }),
            },
          };
        }
        const lines: unknown[] = [];
        for (const [i, t] of c.tokens.entries()) {
          if (opts.failStreamAfter !== undefined && i === opts.failStreamAfter) {
            lines.push({ error: 'model runner has unexpectedly stopped' });
            return { status: 200, body: lines, ndjson: true, chunkDelayMs: opts.chunkDelayMs };
          }
          // Text after a stop string was cut; the token that held it carries only the kept part.
          const start = c.tokens.slice(0, i).join('').length;
          const content = c.text.slice(start, start + t.length);
          lines.push({
            model: body.model,
            created_at: createdAt,
            message: { role: 'assistant', content },
            done: false,
            ...(withLogprobs && { logprobs: [lp(t)] }),
          });
        }
        lines.push({ ...final, message: { role: 'assistant', content: '' } });
        return { status: 200, body: lines, ndjson: true, chunkDelayMs: opts.chunkDelayMs };
      }
      if (req.method === 'POST' && req.path === '/api/embed') {
        if (!known(body.model)) return notFound(body.model);
        const inputs: string[] = Array.isArray(body.input) ? body.input : [body.input];
        return {
          status: 200,
          body: {
            model: body.model,
            embeddings: inputs.map((t) => fakeEmbedding(String(t), dim)),
            total_duration: 1,
            load_duration: 0,
            prompt_eval_count: inputs.reduce((s, t) => s + fakeTokens(String(t)).length, 0),
          },
        };
      }
      return { status: 404, body: '404 page not found' };
    },
    { onRequest: opts.onRequest, latencyMs: opts.latencyMs },
  );
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
