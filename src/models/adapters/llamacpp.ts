import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import {
  getLlama,
  LlamaLogLevel,
  resolveChatWrapper,
  resolveModelFile,
  type ChatHistoryItem,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import { UserError } from '../../errors.js';
import { createRng } from '../../rng.js';
import { DECLARED_CAPABILITIES } from '../capabilities.js';
import { firstStop } from '../stop.js';
import type { ClientOptions } from '../create.js';
import { checkLocalGguf, isRemoteModelRef } from '../gguf.js';
import { fileIdentity, formatFileIdentity } from '../file-identity.js';
import { formatModelSpec, type ModelSpec } from '../spec.js';
import {
  ProviderError,
  type ChatMessage,
  type EmbedResult,
  type FinishReason,
  type GenerateRequest,
  type GenerateResult,
  type ModelClient,
  type TokenLogprob,
} from '../types.js';

/**
 * llamacpp:<path.gguf | hf:user/repo:quant> — llama.cpp in this process through node-llama-cpp.
 *
 * - One Llama runtime per GPU setting and one loaded model per (file, GPU setting), shared by every client of it;
 *   the model is freed when its last client closes.
 * - Each client keeps a small pool of contexts (poolSize, default 1), created on first use and reused; a call
 *   takes a context for its whole generation, so calls on one context never interleave.
 * - Sampling is done here, over the raw logits of the low-level sequence API: that gives exact top-k logprobs of
 *   the model's own distribution at every step (before temperature, as OpenAI reports them), greedy decoding at
 *   temperature 0, and sampling from softmax(logits / temperature) with our seeded RNG otherwise (same seed, same
 *   text; no seed: a random one).
 * - gpu defaults to 'auto' (with build: 'never' it only picks among prebuilt binaries; on a CPU-only machine it
 *   settles on CPU in under a second, quietly).
 */

const DEFAULT_CONTEXT_SIZE = 512;
const DEFAULT_CACHE_DIR = join(homedir(), '.cache', 'w2s', 'models');

type GpuSetting = NonNullable<ClientOptions['gpu']>;

interface SharedModel {
  model: LlamaModel;
  refs: number;
}

const runtimes = new Map<string, Promise<Llama>>();
const models = new Map<string, Promise<SharedModel>>();

function runtimeFor(gpu: GpuSetting): Promise<Llama> {
  const key = String(gpu);
  let p = runtimes.get(key);
  if (!p) {
    p = getLlama({ gpu, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
    p.catch(() => runtimes.delete(key));
    runtimes.set(key, p);
  }
  return p;
}

async function acquireModel(path: string, gpu: GpuSetting): Promise<SharedModel> {
  const key = `${path}\u0000${String(gpu)}`;
  let p = models.get(key);
  if (!p) {
    p = (async () => {
      const llama = await runtimeFor(gpu);
      try {
        return { model: await llama.loadModel({ modelPath: path }), refs: 0 };
      } catch (e) {
        throw new UserError(`Could not load the model ${path} (${(e as Error).message}); check that it is a complete GGUF file for an architecture llama.cpp supports.`, { cause: e });
      }
    })();
    p.catch(() => models.delete(key));
    models.set(key, p);
  }
  const shared = await p;
  shared.refs++;
  return shared;
}

async function releaseModel(path: string, gpu: GpuSetting, shared: SharedModel): Promise<void> {
  shared.refs--;
  if (shared.refs > 0) return;
  models.delete(`${path}\u0000${String(gpu)}`);
  await shared.model.dispose();
}

/** A local path (checked: exists, GGUF magic) or an hf:/https: reference downloaded into the cache dir. */
export async function resolveModelPath(ref: string, cacheDir: string = DEFAULT_CACHE_DIR, signal?: AbortSignal): Promise<string> {
  if (!isRemoteModelRef(ref)) return checkLocalGguf(ref);
  try {
    return await resolveModelFile(ref, { directory: cacheDir, cli: false, signal });
  } catch (e) {
    throw new UserError(
      `The model ${ref} could not be downloaded (${(e as Error).message}); check the network and the reference, or download the .gguf file yourself and use llamacpp:/path/to/model.gguf.`,
      { cause: e },
    );
  }
}

/**
 * How chat messages become a prompt for a model without a chat template (a base model that continues text).
 * One user message (after any system text) is the prompt as is, so "Once upon a time" continues naturally.
 * A longer chat becomes "User: ..." / "Assistant: ..." paragraphs ending in "Assistant:"; a final assistant
 * message is left open, so the model continues it.
 */
export function renderPlainPrompt(messages: ChatMessage[]): string {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content);
  const turns = messages.filter((m) => m.role !== 'system');
  if (turns.length === 1 && turns[0]!.role === 'user') return [...system, turns[0]!.content].join('\n\n');
  const parts = turns.map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}`);
  if (turns.at(-1)?.role !== 'assistant') parts.push('Assistant:');
  return [...system, ...parts].join('\n\n');
}

interface Slot {
  context: LlamaContext;
  sequence: LlamaContextSequence;
}

/** Up to `size` contexts, made on demand and handed out one caller at a time. */
function createPool(size: number, make: () => Promise<Slot>) {
  const all: Slot[] = [];
  const free: Slot[] = [];
  const waiting: ((s: Slot) => void)[] = [];
  let making = 0;
  return {
    async acquire(): Promise<Slot> {
      const idle = free.pop();
      if (idle) return idle;
      if (all.length + making < size) {
        making++;
        try {
          const slot = await make();
          all.push(slot);
          return slot;
        } finally {
          making--;
        }
      }
      return new Promise<Slot>((r) => waiting.push(r));
    },
    release(slot: Slot): void {
      const next = waiting.shift();
      if (next) next(slot);
      else free.push(slot);
    },
    async dispose(): Promise<void> {
      await Promise.all(all.map((s) => s.context.dispose()));
      all.length = 0;
      free.length = 0;
    },
  };
}

export async function createLlamaCppClient(spec: ModelSpec, options: ClientOptions = {}): Promise<ModelClient> {
  const gpu: GpuSetting = options.gpu ?? 'auto';
  const contextSize = options.contextSize ?? DEFAULT_CONTEXT_SIZE;
  // One core is left to the orchestrator: llama.cpp's worker threads spin, and oversubscribed they slow to a crawl.
  const threads = options.threads ?? Math.max(1, availableParallelism() - 1);
  const poolSize = options.poolSize ?? 1;
  if (!Number.isInteger(contextSize) || contextSize < 16) throw new UserError(`contextSize must be an integer of at least 16, not ${contextSize}.`);
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new UserError(`poolSize must be a positive integer, not ${poolSize}.`);

  const path = await resolveModelPath(spec.model, options.cacheDir ?? DEFAULT_CACHE_DIR);
  // The cache key: the file's content, not its path, plus the context size, which cuts an answer that reaches the
  // context's end (finish 'length' before maxTokens) and sets the prompt's batch size; keyed, raising it re-asks
  // instead of replaying cut answers. Threads, GPU and pool size are left out, as a remote server's hardware is.
  const contentId = `${formatFileIdentity(await fileIdentity(path))} contextSize=${contextSize}`;
  const shared = await acquireModel(path, gpu);
  const model = shared.model;
  const chatWrapper: ChatWrapper | undefined = model.fileInfo.metadata?.tokenizer?.chat_template
    ? resolveChatWrapper(model)
    : undefined;

  const pool = createPool(poolSize, async () => {
    const context = await model.createContext({ contextSize, sequences: 1, threads });
    return { context, sequence: context.getSequence() };
  });
  let embedding: Promise<LlamaEmbeddingContext> | undefined;
  let embedQueue: Promise<unknown> = Promise.resolve();
  let closed = false;

  const tokenizePrompt = (messages: ChatMessage[]): Token[] => {
    if (chatWrapper) {
      const history: ChatHistoryItem[] = messages.map((m) =>
        m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: m.role, text: m.content },
      );
      if (messages.at(-1)?.role !== 'assistant') history.push({ type: 'model', response: [] });
      return chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(model.tokenizer);
    }
    const bos = model.tokens.shouldPrependBosToken && model.tokens.bos !== null ? [model.tokens.bos] : [];
    return [...bos, ...model.tokenize(renderPlainPrompt(messages))];
  };

  const ensureOpen = () => {
    if (closed) throw new ProviderError(`The llamacpp client for ${path} is closed.`, { retryable: false, code: 'closed' });
  };

  return {
    id: formatModelSpec(spec),
    adapter: 'llamacpp',
    endpoint: path,
    model: spec.model,
    contentId,
    capabilities: { ...DECLARED_CAPABILITIES.llamacpp, chat: chatWrapper !== undefined },
    maxConcurrency: poolSize,

    async generate(req: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult> {
      ensureOpen();
      signal?.throwIfAborted();
      const prompt = tokenizePrompt(req.messages);
      if (prompt.length >= contextSize) {
        throw new ProviderError(
          `The prompt has ${prompt.length} tokens but the llamacpp context holds ${contextSize}; raise contextSize or shorten the prompt.`,
          { retryable: false, code: 'context_length_exceeded' },
        );
      }
      const slot = await pool.acquire();
      try {
        signal?.throwIfAborted();
        return await generateOn(slot.sequence, model, prompt, req, contextSize, signal);
      } catch (e) {
        if (signal?.aborted) throw signal.reason ?? e;
        if (e instanceof ProviderError || e instanceof UserError) throw e;
        throw new ProviderError(`llama.cpp failed on ${path}: ${(e as Error).message}`, { retryable: false, code: 'llamacpp' }, { cause: e });
      } finally {
        pool.release(slot);
      }
    },

    async embed(texts: string[], signal?: AbortSignal): Promise<EmbedResult> {
      ensureOpen();
      // One embedding context, one text at a time.
      const run = embedQueue.then(async () => {
        embedding ??= model.createEmbeddingContext({ contextSize, threads });
        const ctx = await embedding;
        const vectors: number[][] = [];
        let inputTokens = 0;
        for (const text of texts) {
          signal?.throwIfAborted();
          const n = ctx.calculateInputLength(text);
          if (n > contextSize) {
            throw new ProviderError(`A text to embed has ${n} tokens but the llamacpp context holds ${contextSize}; raise contextSize.`, {
              retryable: false,
              code: 'context_length_exceeded',
            });
          }
          inputTokens += n;
          const v = text === '' ? [] : [...(await ctx.getEmbeddingFor(text)).vector];
          vectors.push(v.length > 0 ? v : new Array<number>(model.embeddingVectorSize).fill(0));
        }
        return { vectors, usage: { inputTokens, outputTokens: 0 } };
      });
      embedQueue = run.catch(() => undefined);
      return run;
    },

    async close() {
      if (closed) return;
      closed = true;
      await pool.dispose();
      if (embedding) await (await embedding).dispose();
      await releaseModel(path, gpu, shared);
    },
  };
}

/**
 * Tokens before a piece that detokenization looks at (for leading spaces and multi-byte characters). Passing the
 * whole prompt instead costs a copy of it into native code for every generated token.
 */
const DETOKENIZE_CONTEXT = 16;

/** Token-by-token generation with our own sampling, stop strings and top-k logprobs. */
async function generateOn(
  sequence: LlamaContextSequence,
  model: LlamaModel,
  prompt: Token[],
  req: GenerateRequest,
  contextSize: number,
  signal: AbortSignal | undefined,
): Promise<GenerateResult> {
  await sequence.clearHistory();
  const k = Math.max(0, req.topLogprobs ?? 0);
  const temperature = req.temperature ?? 0;
  const rng = temperature > 0 ? createRng(req.seed ?? Math.floor(Math.random() * 2 ** 32)) : undefined;
  const maxNew = Math.min(req.maxTokens, contextSize - prompt.length);
  const stops = (req.stop ?? []).filter((s) => s !== '');
  const generated: Token[] = [];
  const top: TokenLogprob[][] = [];
  const tokenEnds: number[] = []; // text length after each generated token
  let text = '';
  let finishReason: FinishReason = 'length';
  let input = prompt;
  const promptTail = prompt.slice(-DETOKENIZE_CONTEXT);

  while (generated.length < maxNew) {
    signal?.throwIfAborted();
    // Sampling needs the whole distribution; greedy decoding needs only the best k (at least 1).
    const logitsWanted = rng ? true : { filter: { includeTop: Math.max(k, 1) } };
    const items = input.map((t, i) =>
      i === input.length - 1 ? ([t, { generateNext: { logits: logitsWanted, totalLogitWeight: true } }] as const) : t,
    );
    const out = await sequence.controlledEvaluate(items as Parameters<LlamaContextSequence['controlledEvaluate']>[0]);
    const next = out[input.length - 1]?.next;
    if (!next?.logits || next.totalLogitWeight === undefined) throw new Error('no logits came back for the last token');
    const logits = [...next.logits];
    let maxLogit = -Infinity;
    for (const [, l] of logits) if (l > maxLogit) maxLogit = l;
    // totalLogitWeight = sum over the vocabulary of exp(logit - maxLogit), so log-softmax = logit - logZ.
    const logZ = maxLogit + Math.log(next.totalLogitWeight);

    const token = rng ? sample(logits, maxLogit, temperature, rng.random()) : logits.find(([, l]) => l === maxLogit)![0];
    if (model.isEogToken(token)) {
      finishReason = 'stop';
      break;
    }
    if (k > 0) {
      const context = [...prompt.slice(-DETOKENIZE_CONTEXT), ...generated].slice(-DETOKENIZE_CONTEXT);
      top.push(
        logits
          .sort((a, b) => b[1] - a[1])
          .slice(0, k)
          .map(([t, l]) => ({ token: model.detokenize([t], false, context), logprob: l - logZ })),
      );
    }
    generated.push(token);
    text = model.detokenize(generated, false, promptTail);
    tokenEnds.push(text.length);
    const cut = firstStop(text, stops);
    if (cut >= 0) {
      text = text.slice(0, cut);
      // Keep the tokens that produced the kept text (a token straddling the cut stays: its start was kept).
      const kept = tokenEnds.findIndex((end) => end >= cut) + 1;
      if (k > 0) top.length = Math.min(top.length, cut === 0 ? 0 : kept);
      finishReason = 'stop';
      break;
    }
    input = [token];
  }
  return {
    text,
    finishReason,
    usage: { inputTokens: prompt.length, outputTokens: generated.length },
    ...(k > 0 && { topLogprobs: top }),
  };
}

function sample(logits: [Token, number][], maxLogit: number, temperature: number, u: number): Token {
  let total = 0;
  const weights = logits.map(([, l]) => (total += Math.exp((l - maxLogit) / temperature)));
  const target = u * total;
  const i = weights.findIndex((w) => w > target);
  return logits[i < 0 ? logits.length - 1 : i]![0];
}

