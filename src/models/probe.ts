import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TOP_LOGPROBS } from './capabilities.js';
import { withCapabilities } from './create.js';
import { w2sCacheDir } from './file-identity.js';
import { Gateway, type GatewayModel } from './gateway.js';
import { ProviderError, type ModelClient, type TokenLogprob } from './types.js';

/**
 * What a model really returns, found by asking it, not by what its adapter declares: a server may drop logprobs
 * (Hugging Face `transformers serve`) or have no embedding endpoint. Chat is not probed (the adapter knows it).
 *
 * What was found is remembered per adapter + endpoint + model (a local file model by its content, not its path) in
 * capabilities.json under the w2s cache dir, so a run probes a server that has it once a day, not once per run. What
 * was not found is never remembered: the user fixes the server (pulls the model, restarts it with more logprobs) and
 * the next run asks again. A probe that could not reach the model (a connection error, a 5xx), or a model the server
 * refuses even without logprobs (not pulled, a wrong name), is no finding: it throws, and nothing is remembered.
 *
 * Probe calls go through a gateway of their own (no cache, no ledger, 2 attempts): they are not recorded in a run's
 * ledger and do not count against --max-calls or --max-cost.
 */

export type ProbeStatus = 'found' | 'not found' | 'not tried';

export interface Finding {
  status: ProbeStatus;
  /** What the probe asked and what came back, in words. */
  detail: string;
}

export type ProbedCapability = 'logprobs' | 'embeddings' | 'seed';

export interface ProbeResult {
  logprobs: Finding;
  embeddings: Finding;
  seed: Finding;
  /** When the oldest finding used was made (ISO 8601); now when every one is fresh or none was tried. */
  probedAt: string;
  /** Every finding tried came from the cache (no call was made). */
  fromCache: boolean;
  /** A fresh logprobs probe: the first token's alternatives as they came back (absent when answered from the cache). */
  alternatives?: TokenLogprob[];
  /** A fresh embeddings probe that found them: the vector's size. */
  dimensions?: number;
}

export interface ProbeOptions {
  /** The gateway the calls go through (no response cache: a probe is never answered from an old reply). Default: one with PROBE_RETRY. */
  gateway?: Gateway;
  /** Also try the seed (two calls at temperature 1 with the same seed); default false: 'not tried'. */
  seed?: boolean;
  /** Probe afresh even when the cache holds a young finding, and replace the model's cache entry (models check). */
  fresh?: boolean;
  /** The findings file; default capabilitiesFile(); null: no cache. */
  cacheFile?: string | null;
  /** How long a cached finding is reused; default 24 h. */
  maxAgeMs?: number;
  /** What a probe that fails (unreachable, a 5xx) does: throw (default), or come back 'not tried' with the reason. */
  onError?: 'throw' | 'not tried';
  signal?: AbortSignal;
  now?: () => number;
}

export const PROBE_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * The probe's own retry budget, whatever the run's gateway.maxAttempts: a refusal (a 501 is retryable) is seen in about
 * a second, not after the run's backoff.
 */
export const PROBE_RETRY = { maxAttempts: 2, baseDelayMs: 250, maxDelayMs: 500 } as const;

/** The fewest alternatives of a token that count as logprobs: one is only the sampled token's own logprob. */
export const MIN_ALTERNATIVES = 2;

/** What the probe sends: fixed, so its requests are recognisable (and the same for every model). */
export const PROBE_INPUTS = { logprobs: 'Answer with one word: is the sky blue?', seed: 'Write one short sentence about the sea.', embed: 'hello world' } as const;
const LOGPROBS_PROMPT = PROBE_INPUTS.logprobs;
const SEED_PROMPT = PROBE_INPUTS.seed;
const SEED = 1234;
const EMBED_TEXT = PROBE_INPUTS.embed;
/** Statuses with which a server says it does not do this (no such endpoint, a parameter it refuses, not implemented). */
const REFUSALS = new Set([400, 404, 405, 422, 501]);

/** The findings file: capabilities.json under $W2S_CACHE_DIR (else ~/.cache/w2s). */
export function capabilitiesFile(): string {
  return join(w2sCacheDir(), 'capabilities.json');
}

/** The cache key of a model: adapter, endpoint and model; a local file model's content instead of its path. */
export function probeKey(client: Pick<ModelClient, 'adapter' | 'endpoint' | 'model' | 'contentId'>): string {
  return JSON.stringify(client.contentId ? [client.adapter, client.contentId] : [client.adapter, client.endpoint, client.model]);
}

const notTried = (detail = 'not asked for'): Finding => ({ status: 'not tried', detail });

/**
 * Finds out what `client` returns of what is wanted (logprobs, embeddings; seed with options.seed). A run passes
 * only what its roles need; a cached finding younger than maxAgeMs answers without a call unless options.fresh.
 */
export async function probeCapabilities(
  client: ModelClient,
  want: { logprobs?: boolean; embeddings?: boolean },
  options: ProbeOptions = {},
): Promise<ProbeResult> {
  const now = options.now ?? Date.now;
  const maxAge = options.maxAgeMs ?? PROBE_MAX_AGE_MS;
  const file = options.cacheFile === undefined ? capabilitiesFile() : options.cacheFile;
  const key = probeKey(client);
  const cached: CachedEntry = file && !options.fresh ? ((await readFindings(file))[key] ?? {}) : {};
  const gateway = options.gateway ?? new Gateway({ retry: { ...PROBE_RETRY } });
  // A model that declares no embeddings but has the call (a scripted script's narrowing) is still asked.
  const probed = client.embed && !client.capabilities.embeddings ? withCapabilities(client, { embeddings: true }) : client;
  const model = gateway.model(probed, 'probe');

  const result: ProbeResult = { logprobs: notTried(), embeddings: notTried(), seed: notTried(), probedAt: new Date(now()).toISOString(), fromCache: false };
  const fresh: Partial<Record<ProbedCapability, CachedFinding>> = {};
  let oldest = now();
  let tried = 0;
  let hits = 0;
  const run = async (cap: ProbedCapability, probe: () => Promise<Finding>): Promise<void> => {
    tried++;
    const c = cached[cap];
    const at = c ? Date.parse(c.probedAt) : NaN;
    if (c && now() - at >= 0 && now() - at < maxAge) {
      result[cap] = { status: c.status, detail: c.detail };
      oldest = Math.min(oldest, at);
      hits++;
      return;
    }
    let finding: Finding;
    try {
      finding = await probe();
    } catch (e) {
      if ((options.onError ?? 'throw') === 'throw') throw e;
      finding = notTried(`the probe failed: ${oneLine(e)}`);
    }
    result[cap] = finding;
    // Only what was found is remembered: a 'not found' is asked again by the next run (the server may be fixed by then).
    if (finding.status === 'found') fresh[cap] = { status: 'found', detail: finding.detail, probedAt: new Date(now()).toISOString() };
  };

  if (want.logprobs) {
    await run('logprobs', async () => {
      const { finding, alternatives } = await probeLogprobs(model, options.signal);
      if (alternatives) result.alternatives = alternatives;
      return finding;
    });
  }
  if (want.embeddings) {
    await run('embeddings', async () => {
      const { finding, dimensions } = await probeEmbeddings(model, options.signal);
      if (dimensions) result.dimensions = dimensions;
      return finding;
    });
  }
  if (options.seed) await run('seed', () => probeSeed(model, options.signal));

  result.probedAt = new Date(oldest).toISOString();
  result.fromCache = tried > 0 && hits === tried;
  if (file && (options.fresh || Object.keys(fresh).length > 0)) await writeFindings(file, key, fresh, options.fresh ?? false);
  return result;
}

/**
 * One short greedy generation asking for as many alternatives of its first token as a logprobs judge does. A refusal
 * is a finding only when the same request without logprobs is answered (a control): a model the server does not have
 * (Ollama's 404 for a model not pulled) refuses both, and that error propagates, the adapter's hint with it. A reply
 * with a single alternative is the sampled token's own logprob (a server that ignores top_logprobs): not found.
 */
async function probeLogprobs(model: GatewayModel, signal?: AbortSignal): Promise<{ finding: Finding; alternatives?: TokenLogprob[] }> {
  const asked = `asked for the top ${TOP_LOGPROBS} alternatives of 1 token`;
  const request = { messages: [{ role: 'user' as const, content: LOGPROBS_PROMPT }], maxTokens: 1, temperature: 0 };
  let first: TokenLogprob[];
  try {
    const r = await model.generate({ ...request, topLogprobs: TOP_LOGPROBS }, { signal });
    first = r.topLogprobs?.[0] ?? [];
  } catch (e) {
    const status = refusal(e);
    if (status === undefined) throw e;
    // The control: refused too, the trouble is the model (or the server), not its logprobs.
    await model.generate(request, { signal });
    return { finding: { status: 'not found', detail: `${asked}; the server refused the request with ${serverSaid(e, status)}, and answered it without logprobs` } };
  }
  if (first.length === 0) return { finding: { status: 'not found', detail: `${asked}; the reply had none` }, alternatives: [] };
  if (first.length < MIN_ALTERNATIVES) {
    return { finding: { status: 'not found', detail: `${asked}; ${first.length} came back (the sampled token's own: a logprobs judge needs at least ${MIN_ALTERNATIVES})` }, alternatives: first };
  }
  return { finding: { status: 'found', detail: `${asked}; ${first.length} came back` }, alternatives: first };
}

/** One embedding of one short text. */
async function probeEmbeddings(model: GatewayModel, signal?: AbortSignal): Promise<{ finding: Finding; dimensions?: number }> {
  if (!model.client.embed) return { finding: { status: 'not found', detail: `the ${model.client.adapter} adapter has no embedding call` } };
  const asked = 'asked to embed one short text';
  try {
    const r = await model.embed([EMBED_TEXT], { signal });
    const dimensions = r.vectors[0]?.length ?? 0;
    if (dimensions === 0) return { finding: { status: 'not found', detail: `${asked}; an empty vector came back` } };
    return { finding: { status: 'found', detail: `${asked}; a vector of ${dimensions} dimensions came back` }, dimensions };
  } catch (e) {
    const status = refusal(e);
    if (status === undefined) throw e;
    return { finding: { status: 'not found', detail: `${asked}; the server answered ${serverSaid(e, status)}` } };
  }
}

/**
 * Two samples at temperature 1 with the same seed. The same text twice is what a seeded sampler gives, but also
 * what a server that ignores temperature (decoding greedily) gives: the detail says so.
 */
async function probeSeed(model: GatewayModel, signal?: AbortSignal): Promise<Finding> {
  const ask = () => model.generate({ messages: [{ role: 'user', content: SEED_PROMPT }], maxTokens: 16, temperature: 1, seed: SEED }, { signal });
  const a = await ask();
  const b = await ask();
  if (a.text === b.text) {
    return { status: 'found', detail: 'the same seed gave the same text twice at temperature 1 (a server that ignores temperature would too)' };
  }
  return { status: 'not found', detail: 'the same seed gave two different texts at temperature 1' };
}

/** The HTTP status with which a backend refused the request as unsupported, or undefined for any other failure. */
function refusal(e: unknown): number | undefined {
  const status = e instanceof ProviderError ? e.info.status : undefined;
  return status !== undefined && REFUSALS.has(status) ? status : undefined;
}

/**
 * "404: Not Found (check the model name and base URL)": the status and what the server said, without the URL and the
 * status again that the adapter wrapped around it; the adapter's hint is kept (a 404 may mean the model is missing).
 */
function serverSaid(e: unknown, status: number): string {
  const said = oneLine(e).replace(/^.*?\banswered \d{3}:\s*/, '').replace(/^\d{3}\s+/, '');
  return said ? `${status}: ${said}` : String(status);
}

/** An error's message on one line, without its final stop (it goes inside a sentence). */
function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim().replace(/[.;:,\s]+$/, '');
}

// ---- the findings file --------------------------------------------------------------------------------------------

/** Only what was found is written; a 'not found' in a file from an older w2s is ignored when read. */
interface CachedFinding {
  status: 'found';
  detail: string;
  probedAt: string;
}

type CachedEntry = Partial<Record<ProbedCapability, CachedFinding>>;

/** Models kept in the file, most recently probed last; older ones are dropped. */
const MAX_ENTRIES = 200;

const isFinding = (f: unknown): f is CachedFinding => {
  const c = f as CachedFinding | null;
  return typeof c === 'object' && c !== null && c.status === 'found' && typeof c.detail === 'string' && Number.isFinite(Date.parse(c.probedAt));
};

/** The findings by model key; {} when the file is missing or unreadable (a bad file costs a probe, never a run). */
async function readFindings(file: string): Promise<Record<string, CachedEntry>> {
  try {
    const data = JSON.parse(await readFile(file, 'utf8')) as { models?: unknown };
    const models = data?.models;
    if (!models || typeof models !== 'object' || Array.isArray(models)) return {};
    const out: Record<string, CachedEntry> = {};
    for (const [key, entry] of Object.entries(models)) {
      if (!entry || typeof entry !== 'object') continue;
      const kept = Object.fromEntries(Object.entries(entry).filter(([cap, f]) => ['logprobs', 'embeddings', 'seed'].includes(cap) && isFinding(f)));
      out[key] = kept as CachedEntry;
    }
    return out;
  } catch {
    return {};
  }
}

/**
 * Merges a model's new findings into its entry (or, with replace, makes them its entry), then writes a temp file and
 * renames it over the old one: readers never see half a file. Failures are ignored: the file is a shortcut.
 */
async function writeFindings(file: string, key: string, findings: CachedEntry, replace: boolean): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    // Read again, not reused from the lookup before the probe: its calls took a while, and another process may have
    // written its own findings meanwhile, which a write from the earlier copy would drop.
    const models = await readFindings(file);
    const entry = replace ? findings : { ...models[key], ...findings };
    delete models[key]; // re-added last: the most recently probed model is the last dropped
    if (Object.keys(entry).length > 0) models[key] = entry;
    const kept = Object.entries(models).slice(-MAX_ENTRIES);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(tmp, `${JSON.stringify({ version: 1, models: Object.fromEntries(kept) }, null, 1)}\n`);
    await rename(tmp, file);
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined);
  }
}
