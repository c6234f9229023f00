import { existsSync } from 'node:fs';
import type { ExperimentConfig } from '../config/experiment.js';
import { configHash } from '../config/load.js';
import { InterruptedError, UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { createClient, type ClientOptions } from '../models/create.js';
import { Gateway, type EndpointLimits } from '../models/gateway.js';
import { PROBE_RETRY, probeCapabilities, type ProbeResult } from '../models/probe.js';
import { parseModelSpec } from '../models/spec.js';
import type { ModelClient } from '../models/types.js';
import { openStore, type Store } from '../store/index.js';
import { splitRef } from './models.js';
import { capabilityNeeds, type CapabilityNeed } from './preflight.js';
import { silent, type ProgressListener } from './progress.js';

/** Adapters whose capabilities depend on a server; llamacpp and scripted ones are known in process, never probed. */
const PROBED_ADAPTERS = new Set(['openai', 'ollama']);

export interface ProbeRolesOptions {
  progress?: ProgressListener;
  logger?: Logger;
  /** Ctrl-C: the probe's calls stop as the run's would. */
  stop?: AbortSignal;
  /** Per-endpoint limiters shared with the run (a sweep's cells). */
  endpointLimits?: EndpointLimits;
  /** Which needs the run still has (pendingNeeds): a role whose stages are all done is not probed. Default: all. */
  needed?: (need: CapabilityNeed) => boolean;
}

/**
 * The run's probe, before anything is written: each distinct remote model whose role needs a capability (a logprobs
 * judge, an embedding featurizer) and whose stages are not all done (options.needed) is asked what it returns
 * (probe.ts; a 'found' younger than a day is reused). A role whose model did not return what it needs stops the run
 * with one sentence naming the role, the model, what the probe saw, what to do instead and the `w2s models check`
 * command that shows what the server returns. A model that could not be reached, or that the server refuses (not
 * pulled, a wrong name), stops it too (the run could do nothing with it). Prints one progress line per model probed.
 * The probe's calls have a gateway of their own (PROBE_RETRY, no cache, no ledger): they do not count against the
 * run's limits.
 */
export async function probeRoles(config: ExperimentConfig, options: ProbeRolesOptions = {}): Promise<void> {
  const progress = options.progress ?? silent;
  // Grouped by model as the run creates its clients (spec and settings): one probe per model, for all its roles.
  type Group = { spec: string; clientOptions: ClientOptions; needs: CapabilityNeed[] };
  const groups = new Map<string, Group>();
  for (const need of capabilityNeeds(config)) {
    if (options.needed && !options.needed(need)) continue;
    const { spec, options: clientOptions } = splitRef(need.ref);
    if (!PROBED_ADAPTERS.has(parseModelSpec(spec).adapter)) continue;
    // A declared capability is what the probe checks, so the client is built without the config's override.
    const { capabilities: _declared, ...rest } = clientOptions;
    const key = JSON.stringify([spec, rest]);
    const group: Group = groups.get(key) ?? { spec, clientOptions: rest, needs: [] };
    group.needs.push(need);
    groups.set(key, group);
  }
  if (groups.size === 0) return;
  const gateway = new Gateway({
    // Its own small retry budget, not the run's maxAttempts: a refusal is seen in about a second.
    retry: { ...PROBE_RETRY, timeoutMs: config.gateway.timeoutMs },
    concurrency: config.gateway.concurrency,
    limits: options.endpointLimits,
    stop: options.stop,
    stopGraceMs: config.gateway.stopGraceMs,
    logger: options.logger,
  });
  for (const { spec, clientOptions, needs } of groups.values()) {
    const client = await createClient(spec, clientOptions);
    let found: ProbeResult;
    try {
      found = await probeCapabilities(
        client,
        { logprobs: needs.some((n) => n.cap === 'logprobs'), embeddings: needs.some((n) => n.cap === 'embeddings') },
        { gateway, signal: options.stop },
      );
    } catch (e) {
      if (e instanceof UserError || e instanceof InterruptedError || options.stop?.aborted) throw e;
      throw unreachable(needs[0]!, client, e);
    } finally {
      await client.close?.();
    }
    const caps = [...new Set(needs.map((n) => n.cap))];
    progress({ stage: 'preflight', kind: 'info', message: `probed ${client.id}: ${caps.map((c) => `${c} ${found[c].status}`).join(', ')}${found.fromCache ? ` (remembered from ${found.probedAt})` : ''}` });
    for (const need of needs) {
      const f = found[need.cap];
      if (f.status === 'found') continue;
      throw new UserError(
        `${need.field} (${need.label}) model ${client.id} returned no ${need.cap} when probed (${f.detail}); ${need.instead} or use a server that returns ${need.cap}; ` +
          `\`${checkCommand(spec, clientOptions)}\` shows what the server returns.`,
      );
    }
  }
}

/**
 * The `w2s models check` command line for a model as the config names it (its key variable, host and servers as
 * flags: without --endpoints a spec that names no server would check the default one).
 */
function checkCommand(spec: string, o: ClientOptions): string {
  return [
    'w2s models check', spec, o.apiKeyEnv && `--api-key-env ${o.apiKeyEnv}`, o.host && `--host ${o.host}`,
    o.endpoints?.length && `--endpoints ${o.endpoints.join(',')}`,
  ].filter(Boolean).join(' ');
}

/** The run's stages (run.ts) that call a role's model for the capability it needs. */
export function stagesNeeding(need: CapabilityNeed): string[] {
  if (need.cap === 'logprobs') return ['judges'];
  return need.field.startsWith('weak.') ? ['train_weak_baseline', 'train_weak_ensemble'] : ['train_strong'];
}

/**
 * Which of a config's capability needs its run in `out` still has: every one, unless `out` holds this config's run
 * (the id and the whole config hash), then those with a stage that calls for the capability not yet done (a completed
 * run has none, so its rerun probes nothing). Reads the database read-only and creates nothing; one that cannot be read
 * so (missing, an older schema, another program's) needs them all, and the run opening it says what is wrong.
 */
export function pendingNeeds(config: ExperimentConfig, out: string, runId: string): (need: CapabilityNeed) => boolean {
  const all = (): boolean => true;
  if (!existsSync(out)) return all;
  let store: Store | undefined;
  try {
    store = openStore(out, { readonly: true });
    const run = store.runs.getRun(runId);
    if (!run || run.configHash !== configHash(config)) return all;
    const s = store;
    const pending = new Set(capabilityNeeds(config).flatMap(stagesNeeding).filter((stage) => !s.stages.isStageDone(runId, stage)));
    return (need) => stagesNeeding(need).some((stage) => pending.has(stage));
  } catch {
    return all;
  } finally {
    store?.close();
  }
}

/** A probe that got no answer: the role and model named, the backend's reason, and a fix when the reason names none. */
function unreachable(need: CapabilityNeed, client: ModelClient, e: unknown): UserError {
  const reason = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim().replace(/[.;:,\s]+$/, '');
  const namesFix = /\b(check|start|set|raise|add|pull|point|install)\b/i.test(reason);
  return new UserError(
    `${need.field} (${need.label}) model ${client.id} did not answer the capability probe: ${reason}${namesFix ? '' : `; check that ${client.endpoint} is up and serves this model`}.`,
    { cause: e },
  );
}
