import { UserError } from '../errors.js';
import { openaiApiKey } from './api-key.js';
import { DECLARED_CAPABILITIES } from './capabilities.js';
import { checkLocalGguf, isRemoteModelRef } from './gguf.js';
import { replicaIdentity, replicaSet } from './replicas.js';
import { formatModelSpec, parseModelSpec, type AdapterName, type ModelSpec } from './spec.js';
import type { Capabilities, ModelClient } from './types.js';

/** Per-adapter settings; each adapter reads the ones that concern it and ignores the rest. */
export interface ClientOptions {
  /** openai: the env var holding the API key (default OPENAI_API_KEY). Keys never come from files or configs. */
  apiKeyEnv?: string;
  /** openai, ollama: per-request timeout in ms (default 600000). */
  timeoutMs?: number;
  /** ollama: host when the spec names none (default OLLAMA_HOST, then http://127.0.0.1:11434). */
  host?: string;
  /**
   * openai, ollama: several servers of the model (base URLs or hosts), for a spec that names none; the gateway spreads
   * calls over them and works around one that fails (replicas.ts).
   */
  endpoints?: readonly string[];
  /** llamacpp: context size in tokens (default 512). */
  contextSize?: number;
  /** llamacpp: CPU threads (default: all cores but one). */
  threads?: number;
  /** llamacpp: GPU backend (default 'auto'; false forces CPU). */
  gpu?: 'auto' | 'cuda' | 'vulkan' | 'metal' | false;
  /** llamacpp: where hf: references are downloaded (default ~/.cache/w2s/models). */
  cacheDir?: string;
  /** llamacpp: contexts kept per client; calls beyond this wait their turn (default 1). */
  poolSize?: number;
  /** Overrides what the adapter declares, e.g. { logprobs: false } for a server known to drop them. */
  capabilities?: Partial<Capabilities>;
}

export type AdapterFactory = (spec: ModelSpec, options: ClientOptions) => Promise<ModelClient>;

// Adapters are imported on first use, so a broken optional backend (say, a missing native binary) breaks only its spec.
const loaders: Record<AdapterName, () => Promise<AdapterFactory>> = {
  openai: async () => (await import('./adapters/openai.js')).createOpenAIClient,
  ollama: async () => (await import('./adapters/ollama.js')).createOllamaClient,
  llamacpp: async () => (await import('./adapters/llamacpp.js')).createLlamaCppClient,
  scripted: async () => (await import('./adapters/scripted.js')).createScriptedClient,
};

/** Builds the client for a spec such as "openai:gpt-4o-mini" or "llamacpp:models/x.gguf". */
export async function createClient(spec: string, options: ClientOptions = {}): Promise<ModelClient> {
  const parsed = parseModelSpec(spec);
  let factory: AdapterFactory;
  try {
    factory = await loaders[parsed.adapter]();
  } catch (e) {
    throw new UserError(
      `The ${parsed.adapter} adapter could not be loaded (${(e as Error).message}); reinstall the project's dependencies or use another adapter.`,
      { cause: e },
    );
  }
  let client: ModelClient;
  if (options.endpoints !== undefined) {
    const identity = checkedReplicas(parsed, options);
    const { endpoints: _set, ...each } = options;
    const replicas = await Promise.all(identity.specs.map((s) => factory(s, each)));
    client = replicaSet(identity, replicas);
  } else {
    client = await factory(parsed, options);
  }
  return options.capabilities ? withCapabilities(client, options.capabilities) : client;
}

/** A ref's endpoints, checked (replicaIdentity); an ollama ref gives either host or endpoints. */
function checkedReplicas(parsed: ModelSpec, options: ClientOptions) {
  const identity = replicaIdentity(parsed, options.endpoints ?? []);
  if (options.host !== undefined) {
    throw new UserError(`Model ${formatModelSpec(parsed)} has both host and endpoints; list every server in endpoints and remove host.`);
  }
  return identity;
}

/** What can be known of a model without loading it or reaching its server (see inspectModel). */
export interface ModelInspection {
  /** The id its client will have (the canonical spec). */
  id: string;
  /** The model name as the backend knows it (prices are keyed by id or by this). */
  model: string;
  /** What its client will declare, the config's override included. */
  capabilities: Capabilities;
}

/**
 * Checks a model the way createClient would, without loading weights or making a request: the spec parses, a local
 * file it names is there and well-formed (a GGUF's magic bytes, a scripted fixture's JSON), and the capabilities its
 * client will declare. An hf: reference or a server is taken on trust: reaching it is the client's job.
 */
export async function inspectModel(spec: string, options: ClientOptions = {}): Promise<ModelInspection> {
  const parsed = parseModelSpec(spec);
  const replicas = options.endpoints !== undefined ? checkedReplicas(parsed, options) : undefined;
  let declared: Capabilities = { ...DECLARED_CAPABILITIES[parsed.adapter] };
  if (parsed.adapter === 'llamacpp' && !isRemoteModelRef(parsed.model)) await checkLocalGguf(parsed.model);
  if (parsed.adapter === 'openai') for (const s of replicas?.specs ?? [parsed]) openaiApiKey(s, options.apiKeyEnv);
  if (parsed.adapter === 'scripted') {
    const scripted = await import('./adapters/scripted.js');
    declared = scripted.scriptCapabilities(scripted.resolveScript(parsed.model).script);
  }
  return { id: replicas?.id ?? formatModelSpec(parsed), model: parsed.model, capabilities: { ...declared, ...options.capabilities } };
}

/** The same client declaring different capabilities; every call still goes to the original. */
export function withCapabilities(client: ModelClient, override: Partial<Capabilities>): ModelClient {
  const capabilities = { ...client.capabilities, ...override };
  if (capabilities.embeddings && !client.embed) {
    throw new UserError(`Model ${client.id} cannot embed; remove capabilities.embeddings = true for it.`);
  }
  // A proxy keeps extra members (e.g. the scripted client's request log) visible.
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'capabilities') return capabilities;
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const CAPABILITY_WORDING: Record<keyof Capabilities, [has: string, does: string]> = {
  chat: ['chat support', 'accepts chat messages'],
  logprobs: ['logprobs', 'returns logprobs'],
  embeddings: ['embeddings', 'returns embeddings'],
  seed: ['seed support', 'honours a sampling seed'],
};

/**
 * Throws a UserError when a client lacks what its role needs, e.g.
 * requireCapability(judge, 'logprobs', 'judge', "set judge.method to 'parsed'").
 */
export function requireCapability(client: Pick<ModelClient, 'id' | 'capabilities'>, cap: keyof Capabilities, role: string, alternative?: string): void {
  if (client.capabilities[cap]) return;
  const [has, does] = CAPABILITY_WORDING[cap];
  throw new UserError(
    `${role} model ${client.id} has no ${has}; use a model that ${does}${alternative ? ` or ${alternative}` : ''}.`,
  );
}
