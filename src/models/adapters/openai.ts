import OpenAI from 'openai';
import { openaiApiKey, openaiBaseURL } from '../api-key.js';
import { DECLARED_CAPABILITIES } from '../capabilities.js';
import type { ClientOptions } from '../create.js';
import { isRetryableStatus, rootCause } from '../retry.js';
import { formatModelSpec, type ModelSpec } from '../spec.js';
import { firstStop } from '../stop.js';
import {
  ProviderError,
  type EmbedResult,
  type FinishReason,
  type GenerateRequest,
  type GenerateResult,
  type ModelClient,
  type TokenLogprob,
} from '../types.js';

const DEFAULT_TIMEOUT_MS = 600_000;

/**
 * openai:<model>[@<baseURL>] through the official client, one attempt per call (maxRetries 0: the gateway retries).
 * Works against api.openai.com and OpenAI-compatible servers (vLLM, llama.cpp server, LM Studio).
 */
export async function createOpenAIClient(spec: ModelSpec, options: ClientOptions = {}): Promise<ModelClient> {
  const baseURL = openaiBaseURL(spec);
  const isOfficial = new URL(baseURL).hostname === 'api.openai.com';
  const { apiKey, envName } = openaiApiKey(spec, options.apiKeyEnv);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: timeoutMs });
  const fail = (e: unknown, signal?: AbortSignal) => toProviderError(e, { baseURL, envName, timeoutMs, signal });

  return {
    id: formatModelSpec(spec),
    adapter: 'openai',
    endpoint: baseURL,
    model: spec.model,
    capabilities: { ...DECLARED_CAPABILITIES.openai },

    async generate(req: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult> {
      let res: OpenAI.Chat.ChatCompletion;
      try {
        res = await client.chat.completions.create(chatCompletionBody(spec.model, isOfficial, req), { signal });
      } catch (e) {
        throw fail(e, signal);
      }
      return chatCompletionResult(res, req, baseURL, spec.model);
    },

    async embed(texts: string[], signal?: AbortSignal): Promise<EmbedResult> {
      if (texts.length === 0) return { vectors: [], usage: { inputTokens: 0, outputTokens: 0 } };
      let res: OpenAI.CreateEmbeddingResponse;
      try {
        res = await client.embeddings.create(embeddingsBody(spec.model, texts), { signal });
      } catch (e) {
        throw fail(e, signal);
      }
      return embeddingsResult(res, texts.length, baseURL);
    },

    async close() {
      // The client holds no resources beyond keep-alive sockets, which the process releases.
    },
  };
}

/**
 * The chat completion request body for a generate request. api.openai.com wants max_completion_tokens (reasoning models
 * reject max_tokens); compatible servers know max_tokens. Shared with the Batch API (src/models/batch.ts), whose JSONL
 * lines carry the same body, so a batched request and a direct one are the same request.
 */
export function chatCompletionBody(model: string, isOfficial: boolean, req: GenerateRequest): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming {
  const k = req.topLogprobs ?? 0;
  return {
    model,
    messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
    ...(isOfficial ? { max_completion_tokens: req.maxTokens } : { max_tokens: req.maxTokens }),
    ...(req.temperature !== undefined && { temperature: req.temperature }),
    ...(req.seed !== undefined && { seed: req.seed }),
    ...(req.stop && req.stop.length > 0 && { stop: req.stop }),
    ...(k > 0 && { logprobs: true, top_logprobs: k }),
  };
}

/** A chat completion's answer to a generate request (a direct call's or a batch line's body). */
export function chatCompletionResult(res: OpenAI.Chat.ChatCompletion, req: GenerateRequest, baseURL: string, model: string): GenerateResult {
  const k = req.topLogprobs ?? 0;
  const choice = res?.choices?.[0];
  if (!choice) {
    throw new ProviderError(`${baseURL} returned no choices for model ${model}.`, { retryable: true, code: 'empty_choices' });
  }
  // Some compatible servers (transformers serve, TGI) leave the stop string in the reply; OpenAI never does.
  const raw = choice.message?.content ?? '';
  const cut = firstStop(raw, req.stop);
  return {
    text: cut >= 0 ? raw.slice(0, cut) : raw,
    finishReason: cut >= 0 ? 'stop' : mapFinishReason(choice.finish_reason),
    usage: { inputTokens: res.usage?.prompt_tokens ?? 0, outputTokens: res.usage?.completion_tokens ?? 0 },
    ...(k > 0 && { topLogprobs: parseLogprobs(choice.logprobs, k) }),
    ...(res.system_fingerprint ? { fingerprint: res.system_fingerprint } : {}),
  };
}

/** The embeddings request body. 'float' explicitly: the client's default (base64) is not understood by every compatible server. */
export function embeddingsBody(model: string, texts: string[]): OpenAI.EmbeddingCreateParams {
  return { model, input: texts, encoding_format: 'float' };
}

/** An embeddings response's vectors, in input order. */
export function embeddingsResult(res: OpenAI.CreateEmbeddingResponse, count: number, baseURL: string): EmbedResult {
  const data = [...(res?.data ?? [])].sort((a, b) => a.index - b.index);
  if (data.length !== count) {
    throw new ProviderError(`${baseURL} returned ${data.length} embeddings for ${count} inputs.`, {
      retryable: true,
      code: 'bad_response',
    });
  }
  return {
    vectors: data.map((d) => Array.from(d.embedding)),
    usage: { inputTokens: res.usage?.prompt_tokens ?? 0, outputTokens: 0 },
  };
}

function mapFinishReason(reason: string | null | undefined): FinishReason {
  if (reason === 'stop') return 'stop';
  if (reason === 'length') return 'length';
  return 'other';
}

/**
 * Top-k alternatives per generated token, best first. Servers differ: the chat format
 * (content[].top_logprobs), the legacy completions format (top_logprobs: [{token: logprob}]), or nothing at all.
 * Nothing usable gives undefined, never a guess.
 */
export function parseLogprobs(raw: unknown, k: number): TokenLogprob[][] | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const obj = raw as Record<string, unknown>;
  const sortTop = (list: TokenLogprob[]) =>
    list.filter((t) => Number.isFinite(t.logprob)).sort((a, b) => b.logprob - a.logprob).slice(0, k);
  if (Array.isArray(obj.content)) {
    const out = obj.content.map((entry: Record<string, unknown>) => {
      const top = Array.isArray(entry?.top_logprobs)
        ? (entry.top_logprobs as Record<string, unknown>[]).map((t) => ({ token: String(t.token), logprob: Number(t.logprob) }))
        : [];
      if (top.length === 0 && typeof entry?.token === 'string' && typeof entry.logprob === 'number') {
        top.push({ token: entry.token, logprob: entry.logprob });
      }
      return sortTop(top);
    });
    return out.length > 0 ? out : undefined;
  }
  if (Array.isArray(obj.top_logprobs)) {
    const out = (obj.top_logprobs as unknown[]).map((m) =>
      m && typeof m === 'object'
        ? sortTop(Object.entries(m as Record<string, unknown>).map(([token, lp]) => ({ token, logprob: Number(lp) })))
        : [],
    );
    return out.length > 0 ? out : undefined;
  }
  return undefined;
}

/** Retry-After as milliseconds: retry-after-ms, else retry-after in seconds or as an HTTP date. */
export function parseRetryAfter(headers: { get(name: string): string | null } | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function toProviderError(
  e: unknown,
  ctx: { baseURL: string; envName: string; timeoutMs: number; signal?: AbortSignal },
): unknown {
  // The caller cancelled: pass its reason through untouched so the gateway does not retry it.
  if (ctx.signal?.aborted) return ctx.signal.reason ?? e;
  if (e instanceof OpenAI.APIUserAbortError) return e;
  if (e instanceof OpenAI.APIConnectionTimeoutError) {
    return new ProviderError(`Request to ${ctx.baseURL} timed out after ${ctx.timeoutMs} ms.`, { retryable: true, code: 'timeout' }, { cause: e });
  }
  if (e instanceof OpenAI.APIConnectionError) {
    const { code, message } = rootCause(e);
    return new ProviderError(
      `Could not reach ${ctx.baseURL} (${code ?? message}); check that the server is running and the URL is right.`,
      { retryable: true, code: code ?? 'connection' },
      { cause: e },
    );
  }
  if (e instanceof OpenAI.APIError && typeof e.status === 'number') {
    const status = e.status;
    const hint =
      status === 401 ? ` (check the key in ${ctx.envName})` : status === 404 ? ' (check the model name and base URL)' : '';
    const retryAfterMs = parseRetryAfter(e.headers);
    return new ProviderError(
      `${ctx.baseURL} answered ${status}: ${e.message}${hint}`,
      { status, retryable: isRetryableStatus(status), ...(retryAfterMs !== undefined && { retryAfterMs }), ...(e.code ? { code: e.code } : {}) },
      { cause: e },
    );
  }
  // A body that is not the JSON we expect (truncated, a proxy's HTML page): often transient.
  return new ProviderError(`Unexpected response from ${ctx.baseURL}: ${(e as Error)?.message ?? String(e)}`, { retryable: true, code: 'bad_response' }, { cause: e });
}
