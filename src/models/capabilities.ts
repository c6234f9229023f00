import type { AdapterName } from './spec.js';
import type { Capabilities } from './types.js';

/**
 * What each adapter's clients declare, known without loading a model or reaching a server. The adapters build their
 * clients' capabilities from this table and the preflight reads it, so the two cannot disagree. A config's
 * `capabilities` override goes on top (a server known to drop logprobs), and a scripted script may narrow its own.
 * openai and ollama declare what a server may return; a run probes what it does return (probe.ts), and that wins.
 */
export const DECLARED_CAPABILITIES: Readonly<Record<AdapterName, Readonly<Capabilities>>> = {
  openai: { chat: true, logprobs: true, embeddings: true, seed: true },
  ollama: { chat: true, logprobs: true, embeddings: true, seed: true },
  // chat: whether the GGUF has a chat template, read when the model loads; no role needs chat, so false until then.
  llamacpp: { chat: false, logprobs: true, embeddings: true, seed: true },
  scripted: { chat: true, logprobs: true, embeddings: true, seed: true },
};

/**
 * The alternatives per token a logprobs judge asks for, and so what the capability probe asks for: a server that
 * caps top_logprobs lower (TGI's default is 5) refuses the probe as it would refuse the judge.
 */
export const TOP_LOGPROBS = 10;
