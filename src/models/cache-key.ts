import { hashValue, sha256 } from '../hash.js';
import type { GenerateRequest, ModelClient } from './types.js';

/**
 * Who answers: a remote backend by its endpoint and model name; a local file-backed model (ModelClient.contentId) by
 * the file's content instead, since its endpoint and model are paths. Credentials are never part of it (the client's
 * id, endpoint and model name carry none).
 */
export type AnswererParts = { adapter: string; endpoint: string; model: string } | { adapter: string; content: string };

/** What a cached response depends on; fields that do not change the response under a fixed request are left out. */
export type GenerateKeyParts = AnswererParts & {
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
};

export type EmbedKeyParts = AnswererParts & { kind: 'embed'; text: string };

export type KeyParts = GenerateKeyParts | EmbedKeyParts;

type ClientIdentity = Pick<ModelClient, 'adapter' | 'endpoint' | 'model' | 'contentId'>;

// Remote clients keep the parts they always had (existing caches keep hitting); the key is the hash of their canonical
// JSON, so the field order here does not matter.
function answererParts(client: ClientIdentity): AnswererParts {
  return client.contentId !== undefined
    ? { adapter: client.adapter, content: client.contentId }
    : { adapter: client.adapter, endpoint: client.endpoint, model: client.model };
}

export function generateKeyParts(client: ClientIdentity, req: GenerateRequest, sample = 0): GenerateKeyParts {
  return {
    ...answererParts(client),
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

/**
 * cacheKey(generateKeyParts(client, req, sample)), computed without building the parts and sorting their keys: the same
 * canonical JSON written out in key order (the gateway's hot path; test/models/cache-key-content.test.ts checks the two
 * agree).
 */
export function generateKey(client: ClientIdentity, req: GenerateRequest, sample = 0): string {
  const q = JSON.stringify;
  let s =
    client.contentId !== undefined
      ? `{"adapter":${q(client.adapter)},"content":${q(client.contentId)},"kind":"generate"`
      : `{"adapter":${q(client.adapter)},"endpoint":${q(client.endpoint)},"kind":"generate","model":${q(client.model)}`;
  s += req.maxTokens === undefined ? ',"request":{"messages":[' : `,"request":{"maxTokens":${q(req.maxTokens)},"messages":[`;
  for (let i = 0; i < req.messages.length; i++) {
    const m = req.messages[i]!;
    s += `${i === 0 ? '' : ','}{"content":${q(m.content)},"role":${q(m.role)}}`;
  }
  s += ']';
  if (req.seed !== undefined) s += `,"seed":${q(req.seed)}`;
  if (req.stop && req.stop.length > 0) s += `,"stop":${q(req.stop)}`;
  if (req.temperature !== undefined) s += `,"temperature":${q(req.temperature)}`;
  if (req.topLogprobs) s += `,"topLogprobs":${q(req.topLogprobs)}`;
  return sha256(`${s}},"sample":${q(sample)}}`);
}

export function embedKeyParts(client: ClientIdentity, text: string): EmbedKeyParts {
  return { ...answererParts(client), kind: 'embed', text };
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
  const answerer = 'content' in parts ? { adapter: parts.adapter, content: parts.content } : { adapter: parts.adapter, endpoint: parts.endpoint, model: parts.model };
  const base = { ...answerer, kind: parts.kind };
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
