/** The contract every model adapter implements. Cross-cutting concerns (cache, limits, retries, ledger) live in the gateway. */

export interface Capabilities {
  chat: boolean;        // accepts chat messages (false: plain completion prompt only)
  logprobs: boolean;    // returns top-k logprobs of generated tokens
  embeddings: boolean;  // implements embed()
  seed: boolean;        // honours a sampling seed
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface GenerateRequest {
  /** Chat messages. Adapters without a chat template render them as a plain prompt. */
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  seed?: number;
  stop?: string[];
  /** Ask for this many alternatives per generated token (0 or undefined: no logprobs). */
  topLogprobs?: number;
}

export interface TokenLogprob {
  token: string;
  logprob: number;
}

export type FinishReason = 'stop' | 'length' | 'error' | 'other';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface GenerateResult {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
  /** One list per generated token: the top-k alternatives at that position, best first. */
  topLogprobs?: TokenLogprob[][];
  /** Backend-specific fingerprint (OpenAI system_fingerprint), recorded for reproducibility. */
  fingerprint?: string;
}

export interface EmbedResult {
  vectors: number[][];
  usage: Usage;
}

export interface ModelClient {
  /** The canonical spec string, e.g. "openai:gpt-4o-mini@http://127.0.0.1:8000/v1". */
  readonly id: string;
  /** Adapter name: openai | ollama | llamacpp | scripted. */
  readonly adapter: string;
  /** Where calls go (base URL, host, or model file); concurrency limits are per endpoint. */
  readonly endpoint: string;
  /** The model name as the backend knows it. */
  readonly model: string;
  /**
   * What the answers depend on, for a model backed by a local file: the file's size and sha256 (and any local setting
   * that changes answers). The cache key uses it in place of the endpoint and model, which hold paths: the same file
   * reached by another path hits the cache, and a file edited in place misses it. Undefined for remote backends.
   */
  readonly contentId?: string;
  readonly capabilities: Capabilities;
  /**
   * Calls the backend itself can serve at once (an in-process model's context pool), if bounded. The gateway never
   * sends more, so waiting happens in its queue, before a call's timeout starts, rather than inside the adapter.
   */
  readonly maxConcurrency?: number;
  /**
   * Several servers of one model (a model ref's `endpoints`, see replicas.ts), each a client of its own: the gateway
   * sends each attempt to the least busy one that is up, with a concurrency limit per server. The set's own generate
   * and embed (outside a gateway) go to the first.
   */
  readonly replicas?: readonly ModelClient[];
  generate(req: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult>;
  embed?(texts: string[], signal?: AbortSignal): Promise<EmbedResult>;
  /** Release sockets, contexts, native memory. */
  close?(): Promise<void>;
}

/**
 * An error from a backend, classified for the retry policy.
 * status: the HTTP status when there was one; retryable: whether backing off and trying again can help;
 * retryAfterMs: the server's Retry-After, when given.
 */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    message: string,
    readonly info: { status?: number; retryable: boolean; retryAfterMs?: number; code?: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
