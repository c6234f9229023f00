import { hashValue, sha256 } from '../hash.js';
import type { GenerateRequest, ModelClient } from './types.js';

/**
 * What a cached response depends on. Credentials are never part of it (the client's id, endpoint and model name
 * carry none); fields that do not change the response under a fixed request are left out.
 */
export interface GenerateKeyParts {
  adapter: string;
  endpoint: string;
  model: string;
  kind: 'generate';
  request: {
    messages: GenerateRequest['messages'];
    maxTokens: number;
    temperature?: number;
    seed?: number;
    stop?: string[];
    topLogprobs?: number;
  };
  /** Which sample of the same request (debate ensembles draw several); different samples never share an entry. */
  sample: number;
}

export interface EmbedKeyParts {
  adapter: string;
  endpoint: string;
  model: string;
  kind: 'embed';
  text: string;
}

export type KeyParts = GenerateKeyParts | EmbedKeyParts;

type ClientIdentity = Pick<ModelClient, 'adapter' | 'endpoint' | 'model'>;

export function generateKeyParts(client: ClientIdentity, req: GenerateRequest, sample = 0): GenerateKeyParts {
  return {
    adapter: client.adapter,
    endpoint: client.endpoint,
    model: client.model,
    kind: 'generate',
    request: {
      messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
      maxTokens: req.maxTokens,
      temperature: req.temperature,
      seed: req.seed,
      // "No stop sequences" and "no logprobs" have two spellings each; give each one key.
      stop: req.stop && req.stop.length > 0 ? req.stop : undefined,
      topLogprobs: req.topLogprobs ? req.topLogprobs : undefined,
    },
    sample,
  };
}

export function embedKeyParts(client: ClientIdentity, text: string): EmbedKeyParts {
  return { adapter: client.adapter, endpoint: client.endpoint, model: client.model, kind: 'embed', text };
}

/** sha256 of the canonical JSON of the parts. */
export function cacheKey(parts: KeyParts): string {
  return hashValue(parts);
}

/**
 * The parts as log fields, short enough for a debug line: texts appear as hashes, so two keys that differ can be
 * compared field by field to explain a miss.
 */
export function describeKey(parts: KeyParts): Record<string, unknown> {
  const base = { adapter: parts.adapter, endpoint: parts.endpoint, model: parts.model, kind: parts.kind };
  if (parts.kind === 'embed') return { ...base, text: sha256(parts.text).slice(0, 12), chars: parts.text.length };
  const { messages, ...params } = parts.request;
  return {
    ...base,
    sample: parts.sample,
    messages: messages.length,
    messagesHash: hashValue(messages).slice(0, 12),
    params: JSON.stringify(params),
  };
}
