import { UserError } from '../errors.js';
import { isRetryable } from './retry.js';
import { formatModelSpec, parseModelSpec, type ModelSpec } from './spec.js';
import { ProviderError, type ModelClient } from './types.js';

/**
 * Several servers of one model: a model ref's `endpoints`, e.g. vLLM replicas
 *   {"spec": "openai:Qwen2.5-14B", "endpoints": ["http://a:8000/v1", "http://b:8000/v1"]}.
 * createClient makes one client per endpoint and wraps them in a replica set; the gateway sends each attempt of a call
 * to the least busy endpoint that is up, each endpoint with its own concurrency limit, takes an endpoint that fails out
 * for a cool-down (EndpointHealth) and retries the call on another. The answers do not depend on the replica, so the
 * set is one model to the cache: its key names the adapter, the model and the set's endpoints, sorted (one string),
 * never the replica that answered.
 */

/** Adapters whose models are served over HTTP, and so can have several servers. */
const REMOTE = new Set(['openai', 'ollama']);

export interface ReplicaIdentity {
  /**
   * The set's client id: the spec as written (no server in it), so prices keyed by spec apply and the ledger's model
   * column names the model; its endpoint column names the server of each call.
   */
  id: string;
  /** One spec per endpoint, in the order given. */
  specs: ModelSpec[];
}

/**
 * Checks a model ref's endpoints and gives the set's id and one spec per endpoint. Refused, in one sentence each: a
 * model that runs in process (llamacpp, scripted), a spec that names its own server, an empty list, an entry that is
 * not a URL or host, and an endpoint given twice.
 */
export function replicaIdentity(spec: ModelSpec, endpoints: readonly string[]): ReplicaIdentity {
  const name = formatModelSpec(spec);
  if (!REMOTE.has(spec.adapter)) {
    throw new UserError(`Model ${name} runs in process, so it has no servers to spread calls over; remove its endpoints (they are for openai and ollama models).`);
  }
  if (spec.endpoint !== undefined) {
    throw new UserError(`Model ${name} names its server after '@' and has endpoints too; give the spec without '@…' and list every server in endpoints.`);
  }
  if (endpoints.length === 0) throw new UserError(`Model ${name} has an empty endpoints list; list at least one base URL, or remove endpoints.`);
  const specs = endpoints.map((e) => {
    const parsed = parseModelSpec(`${spec.adapter}:${spec.model}@${e.trim()}`);
    if (parsed.endpoint === undefined || parsed.model !== spec.model) {
      throw new UserError(`Endpoint "${e}" of model ${name} is not a URL or host; write it as http://host:port/v1 (openai) or host:port (ollama).`);
    }
    return parsed;
  });
  const written = specs.map((s) => s.endpoint!);
  const twice = written.find((e, i) => written.indexOf(e) !== i);
  if (twice !== undefined) throw new UserError(`Model ${name} lists the endpoint ${twice} twice; list each server once.`);
  return { id: name, specs };
}

/**
 * The set's client: it carries the replicas for the gateway; its endpoint (the replicas' endpoints, sorted, joined by
 * ',') is what the cache key and the capability probe's memory name, so reordering the list changes nothing, and a
 * one-endpoint list is the same model as the spec with that endpoint after '@'. Outside a gateway its calls go to the
 * first replica.
 */
export function replicaSet(identity: ReplicaIdentity, replicas: ModelClient[]): ModelClient {
  const first = replicas[0]!;
  // Two spellings of one server (a bare host and its http:// URL) are caught once the adapters have completed them.
  const seen = replicas.map((r) => r.endpoint);
  const twice = seen.find((e, i) => seen.indexOf(e) !== i);
  if (twice !== undefined) throw new UserError(`Model ${identity.id} lists the endpoint ${twice} twice (written two ways); list each server once.`);
  return {
    id: identity.id,
    adapter: first.adapter,
    endpoint: replicas.map((r) => r.endpoint).sort().join(','),
    model: first.model,
    capabilities: first.capabilities,
    replicas,
    generate: (req, signal) => first.generate(req, signal),
    ...(first.embed && { embed: (texts: string[], signal?: AbortSignal) => first.embed!(texts, signal) }),
    async close() {
      await Promise.all(replicas.map((r) => r.close?.()));
    },
  };
}

/** An endpoint's cool-down after failing: baseMs, doubled for each further failure in a row, at most maxMs. */
export interface Cooldown {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_COOLDOWN: Cooldown = { baseMs: 2_000, maxMs: 60_000 };

/**
 * Whether a failed attempt says the endpoint is unwell rather than the request wrong: a connection error, a timeout,
 * a malformed answer, 408, 429 or a 5xx (what the gateway retries, less 409). A 400, 401, 404 says nothing about the
 * server's health, and a caller's abort nothing at all.
 */
export function endpointFailure(e: unknown): boolean {
  if (!isRetryable(e)) return false;
  return !(e instanceof ProviderError && e.info.status === 409);
}

/**
 * Which endpoints are out, and until when. An endpoint that fails is out for its cool-down (Retry-After, when longer);
 * failures while it is already out (calls that were in flight together) extend nothing. Once the cool-down is over it
 * takes calls again; a success clears its record, a failure takes it out for twice as long as the last time.
 */
export class EndpointHealth {
  private readonly byEndpoint = new Map<string, { failures: number; outUntil: number }>();

  isOut(endpoint: string, now: number): boolean {
    const h = this.byEndpoint.get(endpoint);
    return h !== undefined && h.outUntil > now;
  }

  /** When the endpoint's current cool-down ends (0: never out). */
  outUntil(endpoint: string): number {
    return this.byEndpoint.get(endpoint)?.outUntil ?? 0;
  }

  /** Records a failure at now; returns the cool-down it started in ms (0: the endpoint was already out). */
  failed(endpoint: string, now: number, cooldown: Cooldown, retryAfterMs?: number): number {
    const h = this.byEndpoint.get(endpoint) ?? { failures: 0, outUntil: 0 };
    if (h.outUntil > now) return 0;
    h.failures++;
    const ms = Math.max(Math.min(cooldown.maxMs, cooldown.baseMs * 2 ** (h.failures - 1)), retryAfterMs ?? 0);
    h.outUntil = now + ms;
    this.byEndpoint.set(endpoint, h);
    return ms;
  }

  succeeded(endpoint: string): void {
    this.byEndpoint.delete(endpoint);
  }
}
