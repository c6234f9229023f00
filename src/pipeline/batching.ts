/**
 * The Batch API in the pipeline: which models batch, when their queued requests go out, and the embeddings a training
 * stage will ask for, fetched ahead in one batch.
 *
 * A stage runs its jobs (one per debate, one per judged transcript) with runJobs: the jobs of a batched model all at
 * once, each in its own async context. A job's batched call queues its request on the model's route
 * (src/models/batch.ts) and waits; once every batched job of the stage waits on a route (or has finished), the routes
 * submit what is queued. So a debate's turn k goes out for every example in one batch, then turn k+1 (each turn reads
 * the ones before it), and a judge's calls, both presentations included, go out in one batch. Requests the cache
 * holds are answered at once and never batched. A job that waits on something else (an ordinary call of a model that
 * does not batch) holds the submission until it queues too; if nothing happens for IDLE_FLUSH_MS while requests are
 * queued, they go out anyway.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ExperimentConfig, ModelRef } from '../config/experiment.js';
import { modelSpec } from '../config/load.js';
import { lettersFor, withTranscript } from '../debate/transcript.js';
import type { Logger } from '../log.js';
import { cacheKey, embedKeyParts } from '../models/cache-key.js';
import type { GatewayModel } from '../models/gateway.js';
import {
  batchPriceOf,
  describeBatchEvent,
  openaiBatchTransport,
  OpenAIBatchRoute,
  type BatchScheduler,
  type BatchTransport,
  type BatchRouteStats,
} from '../models/batch.js';
import type { ModelClient } from '../models/types.js';
import type { CacheStore, Store } from '../store/index.js';
import { applyLengthRule } from '../train/featurizers.js';
import type { StageContext } from './context.js';
import { debateId, toTurn } from './debates.js';
import type { ProgressListener } from './progress.js';

/** Queued requests go out after this long without a job queuing, settling or finishing, even if some job is still busy. */
export const IDLE_FLUSH_MS = 5_000;
/** Texts per embeddings request in a batch (the featurizer's default batch size). */
const EMBED_TEXTS_PER_REQUEST = 64;

export interface BatchingOptions {
  config: ExperimentConfig;
  /** Every openai model batches (w2s run --batch); a model ref's own "batch" setting wins. */
  all?: boolean;
  /** Where batches are kept: the run's database. */
  store: Store;
  runId: string;
  /** The response cache the gateway reads (null: none), to leave cached texts out of an embeddings prefetch. */
  cache: CacheStore | null;
  stop?: AbortSignal;
  progress: ProgressListener;
  logger?: Logger;
  /** Injectable for tests: the provider side of a route. */
  transport?: (ref: ModelRef) => BatchTransport;
  idleFlushMs?: number;
}

/** The spec and settings of a model reference. */
const refObject = (ref: ModelRef): Exclude<ModelRef, string> | undefined => (typeof ref === 'string' ? undefined : ref);

/**
 * Whether a model's calls go in batches: its ref's "batch" setting, else (with --batch or gateway.batch) every openai
 * model but one spread over endpoints of its own.
 */
export function isBatchedRef(ref: ModelRef, all: boolean): boolean {
  const o = refObject(ref);
  if (o?.batch !== undefined) return o.batch;
  // A model spread over several servers of its own (endpoints) has no one Batch API to send to.
  return all && modelSpec(ref).startsWith('openai:') && (o as { endpoints?: unknown } | undefined)?.endpoints === undefined;
}

/** A run's batching: one route per batched model, and the scheduler that decides when routes submit. */
export class Batching implements BatchScheduler {
  private readonly routes = new Map<string, OpenAIBatchRoute>();
  private readonly als = new AsyncLocalStorage<number>();
  /** Batched jobs running, and how many batched items each has waiting. */
  private readonly active = new Set<number>();
  private readonly waiting = new Map<number, number>();
  private nextJob = 0;
  private checkQueued = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private stage = 'batch';
  private readonly all: boolean;
  private readonly idleFlushMs: number;

  constructor(private readonly options: BatchingOptions) {
    this.all = options.all === true || options.config.gateway.batch === true;
    this.idleFlushMs = options.idleFlushMs ?? IDLE_FLUSH_MS;
  }

  isBatched(ref: ModelRef): boolean {
    return isBatchedRef(ref, this.all);
  }

  /** Whether any model of the run batches. */
  get any(): boolean {
    const c = this.options.config;
    const refs: ModelRef[] = [...(c.debate.debaters ?? []), ...c.judges.map((j) => j.model)];
    for (const group of ['weak', 'strong'] as const) if (c[group].features.kind === 'embedding') refs.push((c[group].features as { model: ModelRef }).model);
    return refs.some((r) => this.isBatched(r));
  }

  /** The model for a role, its calls sent through its route when its ref batches. */
  wrap(model: GatewayModel, ref: ModelRef): GatewayModel {
    if (!this.isBatched(ref)) return model;
    const route = this.route(model.client, ref);
    return {
      client: model.client,
      role: model.role,
      generate: (req, opts = {}) => model.generate(req, { ...opts, batch: route }),
      embed: (texts, opts = {}) => model.embed(texts, { ...opts, batch: route }),
    };
  }

  /** Totals over every route: batches submitted and resumed, items answered and sent to ordinary calls. */
  stats(): BatchRouteStats {
    const out: BatchRouteStats = { submitted: 0, resumed: 0, answered: 0, fellBack: 0 };
    for (const r of this.routes.values()) for (const k of Object.keys(out) as (keyof BatchRouteStats)[]) out[k] += r.stats[k];
    return out;
  }

  private route(client: ModelClient, ref: ModelRef): OpenAIBatchRoute {
    let route = this.routes.get(client.id);
    if (route) return route;
    const { config, store, runId, stop, progress, logger } = this.options;
    const settings = refObject(ref);
    const g = config.gateway;
    route = new OpenAIBatchRoute({
      client,
      transport: this.options.transport?.(ref) ?? openaiBatchTransport(modelSpec(ref), { apiKeyEnv: settings?.apiKeyEnv, timeoutMs: settings?.timeoutMs }),
      store: store.batches,
      runId,
      price: batchPriceOf(client, g.prices, g.batchPrices, g.batchDiscount),
      scheduler: this,
      pollMs: g.batchPollMs,
      retry: { maxAttempts: g.maxAttempts, timeoutMs: g.timeoutMs },
      stop,
      logger,
      onEvent: (e) => progress({ stage: this.stage, kind: 'info', message: describeBatchEvent(e) }),
    });
    this.routes.set(client.id, route);
    return route;
  }

  // --- the scheduler ---

  queued(): () => void {
    const job = this.als.getStore();
    if (job !== undefined) this.waiting.set(job, (this.waiting.get(job) ?? 0) + 1);
    this.check();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (job !== undefined) this.waiting.set(job, (this.waiting.get(job) ?? 1) - 1);
      this.check();
    };
  }

  /**
   * After the current turn of the event loop (every job started or woken in it has queued what it will): submit when
   * every batched job waits on a route; otherwise wait for the next change, or IDLE_FLUSH_MS without one.
   */
  private check(): void {
    if (this.checkQueued) return;
    this.checkQueued = true;
    setImmediate(() => {
      this.checkQueued = false;
      clearTimeout(this.idleTimer);
      const routes = [...this.routes.values()].filter((r) => r.hasQueued());
      if (routes.length === 0) return;
      const blocked = [...this.active].every((job) => (this.waiting.get(job) ?? 0) > 0);
      if (blocked) {
        for (const r of routes) r.flush();
        return;
      }
      this.idleTimer = setTimeout(() => {
        for (const r of this.routes.values()) r.flush();
      }, this.idleFlushMs);
      this.idleTimer.unref();
    });
  }

  /**
   * Runs a stage's jobs and waits for all of them, even after one throws, then rethrows the first error (as
   * settleAll does). Batched jobs all start at once, each in its own context (see the file's comment); the others run
   * under limit.
   */
  async runJobs(stage: string, jobs: { run: () => Promise<void>; batched: boolean }[], limit: (fn: () => Promise<void>) => Promise<void>): Promise<void> {
    this.stage = stage;
    const ids = jobs.map((j) => (j.batched ? this.nextJob++ : -1));
    for (const id of ids) if (id >= 0) this.active.add(id);
    const started = jobs.map((j, i) => {
      const id = ids[i]!;
      if (id < 0) return limit(j.run);
      return this.als.run(id, async () => {
        try {
          await j.run();
        } finally {
          this.active.delete(id);
          this.waiting.delete(id);
          this.check();
        }
      });
    });
    const results = await Promise.allSettled(started);
    // A batch whose answers were just handed out is marked read a moment later: wait for that before the stage ends.
    await Promise.all([...this.routes.values()].map((r) => r.idle()));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  }

  /**
   * Fetches in batches the embeddings a training stage's featurizers will ask for (see prefetchTexts), so the stage
   * finds them in the cache: one batch per featurizer model rather than one per model trained. Texts already cached
   * are left out; without a cache there is nothing to fetch ahead into.
   */
  async prefetchEmbeddings(ctx: StageContext, stage: string): Promise<void> {
    const cache = this.options.cache;
    if (!cache) return;
    const wanted = prefetchTexts(ctx, stage);
    for (const [group, texts] of wanted) {
      const features = ctx.config[group].features;
      if (features.kind !== 'embedding' || !this.isBatched(features.model)) continue;
      const model = await ctx.models.forRole(features.model, `${group}_features`, ['embeddings']);
      // Looked up without counting a hit (the featurizer's own lookups count them).
      const cached = (key: string) => (cache.peekCached ? cache.peekCached(key) : cache.getCachedEntry(key)) !== undefined;
      const missing = [...new Set(texts)].filter((t) => !cached(cacheKey(embedKeyParts(model.client, t))));
      if (missing.length === 0) continue;
      ctx.progress({ stage, kind: 'info', message: `fetching ${missing.length} embeddings of ${modelSpec(features.model)} in a batch` });
      const chunks: string[][] = [];
      for (let i = 0; i < missing.length; i += EMBED_TEXTS_PER_REQUEST) chunks.push(missing.slice(i, i + EMBED_TEXTS_PER_REQUEST));
      await this.runJobs(stage, [{ batched: true, run: async () => void (await Promise.all(chunks.map((c) => model.embed(c)))) }], (fn) => fn());
    }
  }
}

/**
 * The texts each training stage featurizes with an embedding model, per group, after the length rule: the weak
 * baseline reads every example's text; the weak ensemble every training and test example with the transcript its
 * members read (sample k for debate-ensemble member k, sample 0 for a finetune ensemble); the strong models the
 * train_strong and test texts. Mirrors training.ts; a text left out is only fetched later by an ordinary call.
 */
export function prefetchTexts(ctx: StageContext, stage: string): Map<'weak' | 'strong', string[]> {
  const out = new Map<'weak' | 'strong', string[]>();
  const { config } = ctx;
  const examples = (splits: string[]) => ctx.store.examples.listExamples(ctx.runId).filter((e) => splits.includes(e.split));
  const put = (group: 'weak' | 'strong', texts: string[]): void => {
    const t = config[group];
    if (t.backend !== 'probe' || t.features.kind !== 'embedding') return;
    const kept = applyLengthRule(texts, t.features.maxChars, t.probe.lengthRule).texts;
    out.set(group, [...(out.get(group) ?? []), ...kept]);
  };
  if (stage === 'train_weak_baseline') put('weak', examples(['train_weak', 'train_strong', 'test']).map((e) => e.text));
  if (stage === 'train_weak_ensemble') {
    const { kind, size, ablation } = config.weak.ensemble;
    const protocol = config.debate.protocol;
    const all = examples(['train_weak', 'train_strong', 'test']);
    if (protocol === 'none') put('weak', all.map((e) => e.text));
    else {
      const samples = new Set<number>(kind === 'debate' ? Array.from({ length: size }, (_, k) => k) : [0]);
      if (ablation) samples.add(0);
      for (const s of samples) {
        put('weak', all.map((e) => withTranscript(e.text, ctx.store.debates.listTurns(debateId(ctx.runId, e.id, protocol, s)).map(toTurn), protocol, e.passage, lettersFor(e))));
      }
    }
  }
  if (stage === 'train_strong') put('strong', examples(['train_strong', 'test']).map((e) => e.text));
  return out;
}
