import { Ollama, type ChatRequest, type ChatResponse, type Logprob } from 'ollama';
import { DECLARED_CAPABILITIES } from '../capabilities.js';
import type { ClientOptions } from '../create.js';
import { isRetryableStatus, rootCause } from '../retry.js';
import { formatModelSpec, type ModelSpec } from '../spec.js';
import {
  ProviderError,
  type EmbedResult,
  type FinishReason,
  type GenerateRequest,
  type GenerateResult,
  type ModelClient,
  type TokenLogprob,
} from '../types.js';

const DEFAULT_HOST = 'http://127.0.0.1:11434';
const DEFAULT_TIMEOUT_MS = 600_000;

/**
 * ollama:<model>[@<host>] through the official client.
 *
 * Generation streams (NDJSON): Node's fetch gives up when response headers take over 300 s, which a long
 * non-streamed generation exceeds; a stream sends headers and tokens as they come. Each call gets its own light
 * Ollama instance whose fetch carries that call's AbortSignal and deadline, because the client itself has no
 * per-request cancellation (its abort() stops every stream of the instance).
 */
export async function createOllamaClient(spec: ModelSpec, options: ClientOptions = {}): Promise<ModelClient> {
  const host = normaliseOllamaHost(spec.endpoint ?? options.host ?? process.env.OLLAMA_HOST ?? DEFAULT_HOST);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  // Runs one request with a fresh client bound to the caller's signal and a deadline; classifies any failure.
  async function call<T>(signal: AbortSignal | undefined, run: (client: Ollama) => Promise<T>): Promise<T> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const boundFetch: typeof fetch = (input, init) =>
      fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, combined]) : combined });
    try {
      return await run(new Ollama({ host, fetch: boundFetch }));
    } catch (e) {
      if (signal?.aborted) throw signal.reason ?? e;
      if (deadline.aborted) {
        throw new ProviderError(`Request to Ollama at ${host} timed out after ${timeoutMs} ms.`, { retryable: true, code: 'timeout' }, { cause: e });
      }
      throw toProviderError(e, host, spec.model);
    }
  }

  return {
    id: formatModelSpec(spec),
    adapter: 'ollama',
    endpoint: host,
    model: spec.model,
    capabilities: { ...DECLARED_CAPABILITIES.ollama },

    async generate(req: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult> {
      const k = req.topLogprobs ?? 0;
      const request: ChatRequest & { stream: true } = {
        model: spec.model,
        messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
        stream: true,
        options: {
          num_predict: req.maxTokens,
          ...(req.temperature !== undefined && { temperature: req.temperature }),
          ...(req.seed !== undefined && { seed: req.seed }),
          ...(req.stop && req.stop.length > 0 && { stop: req.stop }),
        },
        ...(k > 0 && { logprobs: true, top_logprobs: k }),
      };
      return call(signal, async (client) => {
        let text = '';
        const logprobs: TokenLogprob[][] = [];
        let last: ChatResponse | undefined;
        for await (const part of await client.chat(request)) {
          text += part.message?.content ?? '';
          for (const lp of part.logprobs ?? []) logprobs.push(topAlternatives(lp, k));
          last = part;
        }
        return {
          text,
          finishReason: mapDoneReason(last?.done_reason),
          usage: { inputTokens: last?.prompt_eval_count ?? 0, outputTokens: last?.eval_count ?? 0 },
          // Servers before 0.12.11 ignore the request and send no logprobs: report none rather than guess.
          ...(k > 0 && logprobs.length > 0 && { topLogprobs: logprobs }),
        };
      });
    },

    async embed(texts: string[], signal?: AbortSignal): Promise<EmbedResult> {
      if (texts.length === 0) return { vectors: [], usage: { inputTokens: 0, outputTokens: 0 } };
      const res = await call(signal, (client) => client.embed({ model: spec.model, input: texts }));
      if (!Array.isArray(res?.embeddings) || res.embeddings.length !== texts.length) {
        throw new ProviderError(`Ollama at ${host} returned ${res?.embeddings?.length ?? 0} embeddings for ${texts.length} inputs.`, {
          retryable: true,
          code: 'bad_response',
        });
      }
      return { vectors: res.embeddings, usage: { inputTokens: res.prompt_eval_count ?? 0, outputTokens: 0 } };
    },

    async close() {
      // Nothing held between calls.
    },
  };
}

/**
 * OLLAMA_HOST forms ("0.0.0.0", ":11434", "host", "host:port", "https://host") to a full URL. As in the Ollama CLI,
 * a host written without a scheme or port gets port 11434; one with a scheme keeps that scheme's default port.
 */
export function normaliseOllamaHost(raw: string): string {
  let h = raw.trim().replace(/\/+$/, '');
  if (h.startsWith(':')) h = `127.0.0.1${h}`;
  const explicitScheme = /^https?:\/\//i.test(h);
  if (!explicitScheme) h = `http://${h}`;
  const url = new URL(h);
  // The server listens on 0.0.0.0; clients connect through loopback.
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  const authority = h.replace(/^https?:\/\//i, '').split('/')[0]!;
  if (!explicitScheme && !/:\d+$/.test(authority)) url.port = '11434';
  return url.toString().replace(/\/+$/, '');
}

function topAlternatives(lp: Logprob, k: number): TokenLogprob[] {
  const top = (lp.top_logprobs ?? []).map((t) => ({ token: t.token, logprob: t.logprob }));
  if (top.length === 0) top.push({ token: lp.token, logprob: lp.logprob });
  return top.sort((a, b) => b.logprob - a.logprob).slice(0, Math.max(k, 1));
}

function mapDoneReason(reason: string | undefined): FinishReason {
  if (reason === 'stop') return 'stop';
  if (reason === 'length') return 'length';
  return 'other';
}

function toProviderError(e: unknown, host: string, model: string): ProviderError {
  const err = e as { status_code?: unknown; error?: unknown; message?: string };
  if (typeof err?.status_code === 'number') {
    const status = err.status_code;
    const hint = status === 404 ? ` (pull the model with "ollama pull ${model}" or check its name)` : '';
    return new ProviderError(`Ollama at ${host} answered ${status}: ${String(err.error ?? err.message)}${hint}`, {
      status,
      retryable: isRetryableStatus(status),
    }, { cause: e });
  }
  const { code } = rootCause(e);
  if (code || (e instanceof TypeError && /fetch failed/i.test(e.message))) {
    return new ProviderError(
      `Could not reach Ollama at ${host} (${code ?? 'fetch failed'}); start it with "ollama serve" or set OLLAMA_HOST to where it runs.`,
      { retryable: true, code: code ?? 'connection' },
      { cause: e },
    );
  }
  // Bad JSON, an error line mid-stream, a stream cut before "done": the server's trouble, often transient.
  return new ProviderError(`Ollama at ${host} failed: ${err?.message ?? String(e)}`, { retryable: true, code: 'bad_response' }, { cause: e });
}
