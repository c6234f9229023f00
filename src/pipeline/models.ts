import type { ModelRef } from '../config/experiment.js';
import { createClient, requireCapability, type ClientOptions } from '../models/create.js';
import type { Gateway, GatewayModel } from '../models/gateway.js';
import type { Capabilities, ModelClient } from '../models/types.js';
import type { Batching } from './batching.js';

/**
 * The models one experiment uses. A spec named in several roles is one client (one llama.cpp model in memory, one
 * HTTP connection pool), wrapped once per role so the ledger says who called.
 */
export class ModelPool {
  private clients = new Map<string, Promise<ModelClient>>();

  constructor(
    private readonly gateway: Gateway,
    /** When set, a role whose ref batches gets a model whose calls go through its Batch API route. */
    private readonly batching?: Batching,
  ) {}

  async client(ref: ModelRef): Promise<ModelClient> {
    const { spec, options } = splitRef(ref);
    const key = JSON.stringify([spec, options]);
    let client = this.clients.get(key);
    if (!client) {
      client = createClient(spec, options);
      this.clients.set(key, client);
    }
    return client;
  }

  /** The gateway-wrapped model for a role, checked for the capability the role needs before any call is made. */
  async forRole(ref: ModelRef, role: string, needs: (keyof Capabilities)[] = []): Promise<GatewayModel> {
    const client = await this.client(ref);
    for (const cap of needs) requireCapability(client, cap, role);
    const concurrency = typeof ref === 'string' ? undefined : ref.concurrency;
    // A model with several servers (endpoints): the limit holds for each server.
    if (concurrency) for (const c of client.replicas ?? [client]) this.gateway.setConcurrency(c.endpoint, concurrency);
    const model = this.gateway.model(client, role);
    return this.batching ? this.batching.wrap(model, ref) : model;
  }

  async close(): Promise<void> {
    const all = await Promise.allSettled(this.clients.values());
    for (const c of all) if (c.status === 'fulfilled') await c.value.close?.();
    this.clients.clear();
  }
}

/**
 * A config's model reference as createClient takes it: the spec, and the client's settings (concurrency is the
 * gateway's, batch the pipeline's: a batched and a direct role share one client).
 */
export function splitRef(ref: ModelRef): { spec: string; options: ClientOptions } {
  if (typeof ref === 'string') return { spec: ref, options: {} };
  const { spec, concurrency: _perEndpoint, batch: _batch, ...options } = ref;
  return { spec, options };
}
