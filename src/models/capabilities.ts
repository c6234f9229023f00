import type { AdapterName } from './spec.js';
import type { Capabilities } from './types.js';

/**
 * What each adapter's clients declare, known without loading a model or reaching a server. The adapters build their
 * clients' capabilities from this table and the preflight reads it, so the two cannot disagree. A config's
 * `capabilities` override goes on top (a server known to drop logprobs), and a scripted script may narrow its own.
 */
export const DECLARED_CAPABILITIES: Readonly<Record<AdapterName, Readonly<Capabilities>>> = {
  openai: { chat: true, logprobs: true, embeddings: true, seed: true },
  ollama: { chat: true, logprobs: true, embeddings: true, seed: true },
  // chat: whether the GGUF has a chat template, read when the model loads; no role needs chat, so false until then.
  llamacpp: { chat: false, logprobs: true, embeddings: true, seed: true },
  scripted: { chat: true, logprobs: true, embeddings: true, seed: true },
};
