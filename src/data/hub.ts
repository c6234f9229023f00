import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from '../errors.js';
import { W2S_VERSION } from '../version.js';
import {
  cacheWriteError,
  cachedDigest,
  cachedFilePath,
  checkHubId,
  checkRepoPath,
  digestFile,
  hubCacheRoot,
  manifestEntry,
  parseCachedPath,
  readManifest,
  recordInManifest,
  revisionCacheDir,
  withLock,
  type Digest,
  type ManifestFile,
} from './hub-cache.js';

/**
 * Dataset files from the Hugging Face hub, by dataset id and path, into a local cache (layout in hub-cache.ts).
 *
 * The wire format is the hub's own: `GET {endpoint}/api/datasets/{id}/tree/{revision}?recursive=true` lists a
 * revision's files (a JSON array of `{type, path, size, oid, lfs?: {oid, size}}`, paged by a `Link: <…>; rel="next"`
 * header), and `GET {endpoint}/datasets/{id}/resolve/{revision}/{path}` serves a file: directly for a small file (its
 * ETag is the git blob id), or for an LFS file by a redirect to a CDN whose first response carries X-Linked-Etag (the
 * file's sha256) and X-Linked-Size. Redirects are followed here, one hop at a time, so the token never leaves the hub's
 * origin and the hub's checksum headers are read before the CDN answers.
 *
 * Every file is verified before it appears under its final name (size, and sha256 or git blob id against what the hub
 * sent); an interrupted download keeps its `.part` and resumes with a Range request; a server that ignores Range
 * restarts it cleanly; one lock per file keeps two processes from fetching it at once. Offline mode opens no socket.
 */

/** A dataset's files on the hub: its id, the revision holding them, and the paths of the train and test pool files. */
export interface HubDatasetRef {
  id: string;
  /** A branch, tag or commit; absent: main. */
  revision?: string;
  files: { train: string; test?: string };
}

/** What a file should be, as the tree listing or the hub's headers say; each field is checked when known. */
export interface Expected {
  size?: number;
  sha256?: string;
  gitOid?: string;
}

export type HubEvent =
  | { kind: 'download'; id: string; path: string; size: number | undefined; from: number }
  | { kind: 'retry'; id: string; path: string; received: number; reason: string }
  | { kind: 'wait'; id: string; path: string }
  | { kind: 'stale'; id: string; path: string; reason: string };

export interface HubSettings {
  /** The hub's base URL, without a trailing slash: $HF_ENDPOINT, else https://huggingface.co. */
  endpoint: string;
  /** $HF_TOKEN, sent as `Authorization: Bearer …` to the endpoint's origin only; never printed. */
  token: string | undefined;
  /** --offline, HF_HUB_OFFLINE=1 or W2S_OFFLINE=1: serve from the cache, never open a socket. */
  offline: boolean;
  cacheRoot: string;
  /** A response that sends nothing for this long is treated as cut off (and resumed). */
  idleTimeoutMs: number;
  /** Tries per file; each one resumes where the last stopped. */
  attempts: number;
  onEvent?: (event: HubEvent) => void;
  signal?: AbortSignal;
  /** The fetch to use (tests may count calls); default: the global fetch. */
  fetch?: typeof fetch;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_REVISION = 'main';

const TRUE = /^(1|true|yes|on)$/i;

/** Offline when HF_HUB_OFFLINE or W2S_OFFLINE is 1 / true / yes / on. */
function offlineFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return TRUE.test(env['HF_HUB_OFFLINE']?.trim() ?? '') || TRUE.test(env['W2S_OFFLINE']?.trim() ?? '');
}

/** The settings from the environment (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE / W2S_OFFLINE, W2S_DATA_DIR), overridable. */
export function hubSettings(env: NodeJS.ProcessEnv = process.env, overrides: Partial<HubSettings> = {}): HubSettings {
  const raw = env['HF_ENDPOINT']?.trim() || DEFAULT_ENDPOINT;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) {
    throw new UserError(`HF_ENDPOINT "${raw}" is not an http(s) URL without credentials; set it to the hub or mirror's base URL, e.g. ${DEFAULT_ENDPOINT}.`);
  }
  return {
    endpoint: raw.replace(/\/+$/, ''),
    token: env['HF_TOKEN']?.trim() || undefined,
    offline: offlineFromEnv(env),
    cacheRoot: hubCacheRoot(env),
    idleTimeoutMs: 60_000,
    attempts: 3,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Listing a revision's files and picking a split's

export interface HubTreeFile {
  path: string;
  size: number;
  /** The git blob id (for an LFS file, the pointer's). */
  oid: string;
  lfs?: { oid: string; size: number };
}

/** What a listed file should be: an LFS file by its sha256, any other by its git blob id. */
export function expectedOf(file: HubTreeFile): Expected {
  if (file.lfs) return { size: file.lfs.size ?? file.size, sha256: file.lfs.oid.replace(/^sha256:/, '') };
  return { size: file.size, gitOid: file.oid };
}

/** Every file of a revision, from the tree API (all pages). */
export async function listHubFiles(s: HubSettings, id: string, revision: string): Promise<HubTreeFile[]> {
  checkHubId(id);
  if (s.offline) throw new UserError(`Offline mode cannot list ${id} on the hub; turn offline mode off, or name files already in the cache.`);
  let url: string | undefined = `${s.endpoint}/api/datasets/${id}/tree/${encodeURIComponent(revision)}?recursive=true`;
  const files: HubTreeFile[] = [];
  for (let page = 0; url !== undefined; page++) {
    if (page > 10_000) throw new UserError(`The hub's listing of ${id} never ends (over 10000 pages); check HF_ENDPOINT.`);
    const { res, abort } = await request(s, url, { method: 'GET', accept: 'application/json' });
    if (!res.ok) throw await hubHttpError(s, res, { id, revision });
    let text: string;
    try {
      text = await readBody(s, abort, async (tick) => {
        const chunks: Uint8Array[] = [];
        for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
          tick();
          chunks.push(chunk);
        }
        return Buffer.concat(chunks).toString('utf8');
      });
    } catch (e) {
      if (s.signal?.aborted) throw s.signal.reason ?? e;
      throw new UserError(`The hub at ${s.endpoint} stopped sending the listing of ${id} (${(e as Error).message}); check the network or HF_ENDPOINT, and rerun.`, { cause: e });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw new UserError(`The hub at ${s.endpoint} answered the listing of ${id} with something that is not JSON; check HF_ENDPOINT.`, { cause: e });
    }
    if (!Array.isArray(body)) throw new UserError(`The hub at ${s.endpoint} answered the listing of ${id} with ${typeof body}, not a list of files; check HF_ENDPOINT.`);
    for (const item of body as Record<string, unknown>[]) {
      if (item?.['type'] !== 'file' || typeof item['path'] !== 'string') continue;
      const lfs = item['lfs'] as { oid?: unknown; size?: unknown } | undefined;
      files.push({
        path: item['path'],
        size: Number(item['size']),
        oid: String(item['oid'] ?? ''),
        ...(lfs && typeof lfs.oid === 'string' ? { lfs: { oid: lfs.oid, size: Number(lfs.size ?? item['size']) } } : {}),
      });
    }
    url = nextLink(res.headers.get('link'), url);
  }
  return files;
}

function nextLink(header: string | null, base: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) return new URL(m[1]!, base).toString();
  }
  return undefined;
}

/** Files a dataset can be read from: JSON, JSON lines, CSV, TSV (MC-TACO, SST-2) or parquet, gzipped or not. */
export const DATA_FILE = /\.(jsonl|ndjson|json|csv|tsv|parquet)(\.gz)?$/i;

/** Words that name the same split in file names: validation is also valid, val or dev. */
const SPLIT_WORDS: Record<string, string[]> = {
  train: ['train'],
  test: ['test'],
  validation: ['validation', 'valid', 'val', 'dev'],
};

function wordsFor(split: string): string[] {
  const lower = split.toLowerCase();
  for (const words of Object.values(SPLIT_WORDS)) if (words.includes(lower)) return words;
  return [lower];
}

/** True when the segment names the split as a whole word: `test`, `test-00000-of-00001.parquet`, `harmless_test.jsonl`. */
function segmentNames(segment: string, words: string[]): boolean {
  const tokens = segment.toLowerCase().split(/[-_.\s]+/);
  return words.some((w) => tokens.includes(w));
}

/** The split (one of `splits`) a path names: its file name first, else its nearest folder; undefined if none. */
export function splitOfPath(path: string, splits: string[]): string | undefined {
  const segments = path.split('/').reverse();
  for (const segment of segments) {
    for (const split of splits) if (segmentNames(segment, wordsFor(split))) return split;
  }
  return undefined;
}

/**
 * The data files of each split asked for (every file whose path names the split, shards included), in path order.
 * Without splits: the files naming train, validation or test; or, when no file names one, every data file. A split
 * that no file names is an error listing the data files there are.
 */
export function pickSplitFiles<T extends { path: string }>(files: T[], splits: string[] | undefined, what: string): { split: string; file: T }[] {
  const data = files.filter((f) => DATA_FILE.test(f.path)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (data.length === 0) {
    throw new UserError(`${what} has no data file (JSON, JSON lines, CSV, TSV or parquet, gzipped or not); its files are: ${list(files.map((f) => f.path))}.`);
  }
  const wanted = splits ?? Object.keys(SPLIT_WORDS);
  const picked: { split: string; file: T }[] = [];
  for (const file of data) {
    const split = splitOfPath(file.path, wanted);
    if (split !== undefined) picked.push({ split, file });
  }
  if (splits === undefined) return picked.length ? picked : data.map((file) => ({ split: 'all', file }));
  for (const split of splits) {
    if (!picked.some((p) => p.split === split)) {
      throw new UserError(`${what} has no data file for split "${split}"; its data files are: ${list(data.map((f) => f.path))} (name a split one of their paths contains).`);
    }
  }
  return picked;
}

function list(items: string[], max = 12): string {
  if (items.length === 0) return 'none';
  return items.length > max ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', ');
}

// ---------------------------------------------------------------------------------------------------------------
// One file into the cache

export interface HubFileRef {
  id: string;
  revision: string;
  path: string;
  /** From the tree listing, when the caller has it; otherwise the hub's headers (or, offline, the manifest) say. */
  expected?: Expected;
}

export interface HubFile {
  id: string;
  revision: string;
  path: string;
  /** The cached file (absolute). */
  file: string;
  size: number;
  sha256: string;
  etag: string | null;
  commit: string | null;
  status: 'downloaded' | 'cached';
}

/** A 40-hex revision is a commit: its files never change, so a verified cached copy is used without asking the hub. */
const isCommit = (revision: string): boolean => /^[0-9a-f]{40}$/i.test(revision);

function matches(d: Digest, want: Expected): boolean {
  return (want.size === undefined || d.size === want.size) && (want.sha256 === undefined || d.sha256 === want.sha256) && (want.gitOid === undefined || d.gitOid === want.gitOid);
}

/**
 * The file at `ref` in the cache: served from it when a verified copy is there (and, online, still what the hub
 * has at that revision), else downloaded, verified and recorded in the dataset's manifest.
 */
export async function ensureHubFile(s: HubSettings, ref: HubFileRef): Promise<HubFile> {
  checkHubId(ref.id);
  checkRepoPath(ref.path);
  const final = cachedFilePath(s.cacheRoot, ref.id, ref.revision, ref.path);
  const cached = await cachedCopy(s, ref, final);
  if (cached.file) return cached.file;
  if (s.offline) throw offlineError(s, ref, final, cached.reason);
  return withLock(
    `${final}.lock`,
    async () => {
      // Another process may have fetched it while we waited.
      const again = await cachedCopy(s, { ...ref, expected: cached.expected ?? ref.expected }, final, true);
      if (again.file) return again.file;
      return download(s, ref, final, cached.expected ?? ref.expected);
    },
    () => s.onEvent?.({ kind: 'wait', id: ref.id, path: ref.path }),
    s.signal,
  ).catch((e: unknown) => {
    throw cacheWriteError(dirname(final), e);
  });
}

/**
 * A verified cached copy, if there is one that is current: offline, or for a commit, the manifest's record is
 * enough; online, what the listing (or a HEAD request to the hub) says the file is must match too. Without a copy,
 * the reason why and what the hub said the file should be.
 */
async function cachedCopy(
  s: HubSettings,
  ref: HubFileRef,
  final: string,
  locked = false,
): Promise<{ file?: HubFile; reason: string; expected?: Expected }> {
  const entry = await manifestEntry(s.cacheRoot, ref.id, ref.revision, ref.path);
  let local: (Digest & { mtimeMs: number }) | undefined;
  try {
    local = await cachedDigest(final, entry);
  } catch {
    local = undefined;
  }
  if (!local) return { reason: 'is not in the cache', expected: ref.expected };
  const recorded = entry && matches(local, { size: entry.size, sha256: entry.sha256 }) ? entry : undefined;
  const hit = (etag: string | null, commit: string | null): HubFile => ({
    id: ref.id, revision: ref.revision, path: ref.path, file: final, size: local.size, sha256: local.sha256,
    etag: etag ?? recorded?.etag ?? null, commit: commit ?? recorded?.commit ?? null, status: 'cached',
  });
  if (s.offline) {
    if (recorded && (ref.expected === undefined || matches(local, ref.expected))) return { file: hit(null, null), reason: '' };
    return { reason: recorded ? 'in the cache differs from what was asked for' : 'in the cache has no verified record in its manifest' };
  }
  let expected = ref.expected;
  let etag: string | null = null;
  let commit: string | null = null;
  if (expected === undefined && recorded && (isCommit(ref.revision) || locked)) expected = { size: recorded.size, sha256: recorded.sha256 };
  if (expected === undefined) {
    try {
      const head = await headFile(s, ref);
      expected = head.expected;
      etag = head.etag;
      commit = head.commit;
    } catch (e) {
      // The hub cannot be reached: a verified copy still serves (as the hub's own clients do), and says so.
      if (recorded && e instanceof HubUnreachable) {
        s.onEvent?.({ kind: 'stale', id: ref.id, path: ref.path, reason: e.message });
        return { file: hit(null, null), reason: '' };
      }
      throw e;
    }
  }
  if (!matches(local, expected)) return { reason: 'in the cache is not the file the hub has at that revision', expected };
  if (!recorded || (etag !== null && recorded.etag !== etag)) {
    await record(s, ref, final, local, etag ?? recorded?.etag ?? null, commit ?? recorded?.commit ?? null);
  }
  return { file: hit(etag, commit), reason: '', expected };
}

function offlineError(s: HubSettings, ref: HubFileRef, final: string, reason: string): UserError {
  return new UserError(
    `Offline mode is on and ${ref.id} ${ref.path} at revision ${ref.revision} ${reason} (${final}); fetch it once online with \`w2s data get ${ref.id} --revision ${ref.revision}\`, or turn offline mode off (--offline, HF_HUB_OFFLINE, W2S_OFFLINE).`,
  );
}

async function record(s: HubSettings, ref: HubFileRef, final: string, d: Digest, etag: string | null, commit: string | null): Promise<ManifestFile> {
  const { mtimeMs } = await stat(final);
  const entry: ManifestFile = { size: d.size, sha256: d.sha256, gitOid: d.gitOid, etag, commit, mtimeMs, fetchedAt: new Date().toISOString() };
  await recordInManifest(s.cacheRoot, ref.id, ref.revision, ref.path, entry);
  return entry;
}

/** The hub's checksum headers for a file, without its body: HEAD, following redirects within the hub's origin only. */
async function headFile(s: HubSettings, ref: HubFileRef): Promise<{ expected: Expected; etag: string | null; commit: string | null }> {
  const { res, first } = await request(s, resolveUrl(s, ref), { method: 'HEAD', stopAtForeignRedirect: true });
  if (!res.ok && !isRedirect(res.status)) throw await hubHttpError(s, res, ref);
  return checksumHeaders(first, res);
}

/** What the hub's headers say the file is: X-Linked-Etag / X-Linked-Size for LFS, else ETag and the length. */
function checksumHeaders(first: Headers, res: Response): { expected: Expected; etag: string | null; commit: string | null } {
  const linked = cleanEtag(first.get('x-linked-etag'));
  const etag = linked ?? cleanEtag(first.get('etag'));
  const expected: Expected = {};
  if (etag && /^[0-9a-f]{64}$/.test(etag)) expected.sha256 = etag;
  else if (etag && /^[0-9a-f]{40}$/.test(etag)) expected.gitOid = etag;
  const linkedSize = first.get('x-linked-size');
  if (linkedSize !== null && /^\d+$/.test(linkedSize)) expected.size = Number(linkedSize);
  else if (linked === null && res.status === 200) {
    const length = res.headers.get('content-length');
    if (length !== null && /^\d+$/.test(length)) expected.size = Number(length);
  }
  return { expected, etag, commit: first.get('x-repo-commit') };
}

function cleanEtag(value: string | null): string | null {
  if (!value) return null;
  return value.replace(/^W\//, '').replace(/^"|"$/g, '').trim().toLowerCase() || null;
}

function resolveUrl(s: HubSettings, ref: { id: string; revision: string; path: string }): string {
  return `${s.endpoint}/datasets/${ref.id}/resolve/${encodeURIComponent(ref.revision)}/${ref.path.split('/').map(encodeURIComponent).join('/')}`;
}

interface PartInfo {
  etag: string | null;
  path: string;
}

async function readPartInfo(file: string): Promise<PartInfo | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as PartInfo;
  } catch {
    return undefined;
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/**
 * Downloads the file into `<final>.part` (resuming one left by an interrupted try, when it is a download of the same
 * file), verifies it against what the hub said, and renames it to its final name. Called with the file's lock held.
 */
async function download(s: HubSettings, ref: HubFileRef, final: string, listed: Expected | undefined): Promise<HubFile> {
  const part = `${final}.part`;
  const info = `${part}.json`;
  await mkdir(dirname(final), { recursive: true });
  const what = `${ref.id} ${ref.path}`;
  /** The verified part becomes the file under its final name, recorded in the manifest. */
  const keep = async (got: Digest, head: { etag: string | null; commit: string | null }): Promise<HubFile> => {
    await rename(part, final);
    await rm(info, { force: true });
    await record(s, ref, final, got, head.etag, head.commit);
    return { id: ref.id, revision: ref.revision, path: ref.path, file: final, size: got.size, sha256: got.sha256, etag: head.etag, commit: head.commit, status: 'downloaded' };
  };
  let lastReason = '';
  for (let attempt = 1; attempt <= s.attempts; attempt++) {
    if (attempt > 1) await sleep(Math.min(200 * 2 ** (attempt - 2), 2000), s.signal);
    const partInfo = await readPartInfo(info);
    let offset = partInfo ? await sizeOf(part) : 0;
    const { res, first, abort } = await request(s, resolveUrl(s, ref), { method: 'GET', range: offset > 0 ? `bytes=${offset}-` : undefined }).catch((e: unknown) => {
      if (e instanceof HubUnreachable && attempt < s.attempts) return { res: undefined, first: undefined, abort: undefined };
      throw e instanceof HubUnreachable ? new UserError(`${e.message}; ${offset > 0 ? `the part downloaded so far is kept (${part}), so a rerun resumes it` : 'rerun when the hub is reachable'}.`) : e;
    });
    if (!res || !first || !abort) {
      lastReason = 'the hub could not be reached';
      continue;
    }
    if (res.status === 416) {
      // The range starts at or past the end: the part is the whole file (a download killed before its rename), or it
      // is not a prefix of this file. The whole file, verified, is kept; anything else starts over, a try not counted.
      await res.body?.cancel();
      const head = checksumHeaders(first, res);
      const want: Expected = { ...head.expected, ...(listed ?? {}) };
      const checkable = want.sha256 !== undefined || want.gitOid !== undefined;
      if (offset > 0 && checkable && head.etag !== null && partInfo?.etag === head.etag) {
        const got = await digestFile(part);
        if (matches(got, want)) return keep(got, head);
      }
      await rm(part, { force: true });
      await rm(info, { force: true });
      lastReason = `the part kept (${offset} bytes) was not the start of this file (HTTP 416)`;
      if (offset > 0) attempt--; // the next try starts from zero, without a Range
      continue;
    }
    if (!res.ok) {
      if ((res.status === 429 || res.status >= 500) && attempt < s.attempts) {
        await res.body?.cancel();
        lastReason = `HTTP ${res.status}`;
        continue;
      }
      throw await hubHttpError(s, res, ref);
    }
    const head = checksumHeaders(first, res);
    const want: Expected = { ...head.expected, ...(listed ?? {}) };
    // A part from another version of the file (the revision moved), or a server that ignored the Range: start over.
    const sameFile = partInfo !== undefined && partInfo.etag === head.etag;
    if (offset > 0 && (res.status !== 206 || !sameFile || rangeStart(res) !== offset)) {
      if (res.status === 206) {
        await res.body?.cancel();
        await rm(part, { force: true });
        await rm(info, { force: true });
        attempt--; // not a failed try: the next one starts from zero
        continue;
      }
      offset = 0;
    }
    await writeFile(info, JSON.stringify({ etag: head.etag, path: ref.path } satisfies PartInfo));
    const total = res.status === 206 ? totalOf(res) : Number(res.headers.get('content-length') ?? NaN);
    s.onEvent?.({ kind: 'download', id: ref.id, path: ref.path, size: want.size ?? (Number.isFinite(total) ? total : undefined), from: offset });
    const cut = await pump(s, res, part, offset, abort);
    if (cut !== undefined) {
      const received = await sizeOf(part);
      lastReason = `cut off after ${received} bytes (${cut})`;
      if (attempt < s.attempts) {
        s.onEvent?.({ kind: 'retry', id: ref.id, path: ref.path, received, reason: cut });
        continue;
      }
      throw new UserError(`The download of ${what} was ${lastReason}; the part is kept (${part}), so rerunning the same command resumes it.`);
    }
    const got = await digestFile(part);
    if (want.size !== undefined && got.size < want.size) {
      lastReason = `ended after ${got.size} of ${want.size} bytes`;
      if (attempt < s.attempts) continue;
      throw new UserError(`The download of ${what} ${lastReason}; the part is kept (${part}), so rerunning the same command resumes it.`);
    }
    if (!matches(got, want)) {
      await rm(part, { force: true });
      await rm(info, { force: true });
      const which = want.sha256 !== undefined && got.sha256 !== want.sha256
        ? `sha256 ${got.sha256}, the hub's ETag says ${want.sha256}`
        : want.gitOid !== undefined && got.gitOid !== want.gitOid
          ? `git blob id ${got.gitOid}, the hub's ETag says ${want.gitOid}`
          : `${got.size} bytes, the hub says ${want.size}`;
      throw new UserError(`The download of ${what} from ${s.endpoint} is corrupt (${which}), so nothing was kept; rerun to fetch it again, and if it fails again check HF_ENDPOINT.`);
    }
    return keep(got, head);
  }
  throw new UserError(`The download of ${what} failed ${s.attempts} times (last: ${lastReason}); rerun to resume it${(await sizeOf(part)) > 0 ? ` from the part kept in ${part}` : ''}.`);
}

function rangeStart(res: Response): number {
  const m = /^bytes\s+(\d+)-/i.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : NaN;
}

function totalOf(res: Response): number {
  const m = /\/(\d+)\s*$/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : NaN;
}

/** Streams the body into the part file (appending from offset); resolves undefined when complete, else why it stopped. */
async function pump(s: HubSettings, res: Response, part: string, offset: number, abort: (reason: Error) => void): Promise<string | undefined> {
  const handle = await open(part, offset > 0 ? 'a' : 'w');
  try {
    if (!res.body) return undefined;
    await readBody(s, abort, async (tick) => {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        tick();
        await handle.write(chunk);
      }
    });
    return undefined;
  } catch (e) {
    if (s.signal?.aborted) throw s.signal.reason ?? e;
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    return cause ? `${(e as Error).message}: ${cause}` : (e as Error).message;
  } finally {
    await handle.close();
  }
}

/**
 * Reads a response's body with `read`, which calls `tick` on each chunk: a body that sends nothing for idleTimeoutMs,
 * or the caller's signal, aborts the transfer. The timer and the signal's listener end with the read.
 */
async function readBody<T>(s: HubSettings, abort: (reason: Error) => void, read: (tick: () => void) => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => abort(new Error(`no data for ${Math.round(s.idleTimeoutMs / 1000)} s`)), s.idleTimeoutMs);
  };
  const onStop = (): void => abort(s.signal?.reason);
  s.signal?.addEventListener('abort', onStop, { once: true });
  try {
    if (s.signal?.aborted) onStop();
    tick();
    return await read(tick);
  } finally {
    clearTimeout(timer);
    s.signal?.removeEventListener('abort', onStop);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

/** The hub (or the CDN it redirected to) could not be reached at all: no HTTP answer. */
class HubUnreachable extends UserError {}

const isRedirect = (status: number): boolean => status === 301 || status === 302 || status === 303 || status === 307 || status === 308;

/**
 * One request, following redirects by hand: the token goes to the endpoint's origin only, compression is refused
 * (so ranges and sizes are of the file's bytes), and the first response's headers (the hub's, with its checksums)
 * are returned with the last one. With stopAtForeignRedirect, a redirect to another origin is returned as it is.
 */
async function request(
  s: HubSettings,
  url: string,
  o: { method: 'GET' | 'HEAD'; range?: string | undefined; accept?: string; stopAtForeignRedirect?: boolean },
): Promise<{ res: Response; first: Headers; abort: (reason: Error) => void }> {
  const controller = new AbortController();
  // The caller's signal stops the request until it answers; readBody attaches it again while the body is read.
  const onStop = (): void => controller.abort(s.signal?.reason);
  s.signal?.addEventListener('abort', onStop, { once: true });
  try {
    return await follow(s, url, o, controller);
  } finally {
    s.signal?.removeEventListener('abort', onStop);
  }
}

/** request's hops: each redirect followed by hand, under `controller` (which the idle timer aborts too). */
async function follow(
  s: HubSettings,
  url: string,
  o: { method: 'GET' | 'HEAD'; range?: string | undefined; accept?: string; stopAtForeignRedirect?: boolean },
  controller: AbortController,
): Promise<{ res: Response; first: Headers; abort: (reason: Error) => void }> {
  const doFetch = s.fetch ?? fetch;
  const origin = new URL(s.endpoint).origin;
  let current = new URL(url);
  let first: Headers | undefined;
  for (let hop = 0; hop < 10; hop++) {
    const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': `w2s/${W2S_VERSION}` };
    if (o.accept) headers['accept'] = o.accept;
    if (o.range) headers['range'] = o.range;
    if (s.token && current.origin === origin) headers['authorization'] = `Bearer ${s.token}`;
    let res: Response;
    const timer = setTimeout(() => controller.abort(new Error(`no answer for ${Math.round(s.idleTimeoutMs / 1000)} s`)), s.idleTimeoutMs);
    try {
      res = await doFetch(current, { method: o.method, headers, redirect: 'manual', signal: controller.signal });
    } catch (e) {
      if (s.signal?.aborted) throw s.signal.reason ?? e;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new HubUnreachable(`Could not reach ${current.origin} (${cause?.code ?? cause?.message ?? (e as Error).message}); check the network or HF_ENDPOINT, or use --offline with files already in the cache`);
    } finally {
      clearTimeout(timer);
    }
    first ??= res.headers;
    if (!isRedirect(res.status)) return { res, first, abort: (reason) => controller.abort(reason) };
    const location = res.headers.get('location');
    const next = location ? new URL(location, current) : undefined;
    if (!next || (o.stopAtForeignRedirect && (next.origin !== origin || res.headers.has('x-linked-etag')))) {
      await res.body?.cancel();
      return { res, first, abort: (reason) => controller.abort(reason) };
    }
    await res.body?.cancel();
    // A redirect to a plain-HTTP host from an HTTPS one would expose the transfer; the hub never does that.
    if (current.protocol === 'https:' && next.protocol !== 'https:') {
      throw new UserError(`The hub at ${s.endpoint} redirected ${current.pathname} to a plain-HTTP address; refusing to follow it.`);
    }
    current = next;
  }
  throw new UserError(`The hub at ${s.endpoint} redirected ${url} more than 10 times; check HF_ENDPOINT.`);
}

/** An HTTP error from the hub as one sentence: what is missing or refused, and what to do about it. */
async function hubHttpError(s: HubSettings, res: Response, what: { id: string; revision: string; path?: string }): Promise<UserError> {
  const code = res.headers.get('x-error-code') ?? '';
  await res.body?.cancel().catch(() => {});
  const page = `${s.endpoint}/datasets/${what.id}`;
  const item = what.path === undefined ? what.id : `${what.id} ${what.path}`;
  if (res.status === 401) {
    return new UserError(
      s.token
        ? `The hub refused HF_TOKEN for ${item} (HTTP 401); check that the token is valid and can read ${what.id}, and that its account accepted the terms on ${page}.`
        : `${what.id} is gated or private (HTTP 401); set HF_TOKEN to a token of an account that accepted the dataset's terms on ${page}.`,
    );
  }
  if (res.status === 403) {
    return new UserError(
      s.token
        ? `HF_TOKEN has no access to ${what.id} (HTTP 403); accept the dataset's terms on ${page} with the token's account, or use a token that has access.`
        : `${what.id} needs access (HTTP 403); accept the dataset's terms on ${page} and set HF_TOKEN to a token of that account.`,
    );
  }
  if (res.status === 404) {
    if (code === 'RepoNotFound') return new UserError(`There is no dataset ${what.id} on ${s.endpoint} (or it is private: set HF_TOKEN); check the id.`);
    if (code === 'RevisionNotFound') return new UserError(`${what.id} has no revision "${what.revision}" on ${s.endpoint}; check --revision (or dataset.revision).`);
    if (what.path !== undefined) return new UserError(`${what.id} has no file ${what.path} at revision ${what.revision} on ${s.endpoint}; check the path against the files listed on ${page}/tree/${encodeURIComponent(what.revision)}.`);
    return new UserError(`The hub at ${s.endpoint} has no dataset ${what.id} at revision ${what.revision} (HTTP 404); check the id and the revision.`);
  }
  return new UserError(`The hub at ${s.endpoint} answered HTTP ${res.status} for ${item}${code ? ` (${code})` : ''}; try again later, or check HF_ENDPOINT.`);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Several files: a whole `data get`, a run's pool files

/** Fetches (or finds in the cache) each file in turn. */
export async function fetchHubFiles(s: HubSettings, refs: HubFileRef[]): Promise<HubFile[]> {
  const out: HubFile[] = [];
  for (const ref of refs) out.push(await ensureHubFile(s, ref));
  return out;
}

/**
 * The files of a dataset id's splits: online, from the tree listing (with what each file should be); offline, from
 * what the manifest records for that revision (no socket is opened).
 */
export async function splitFilesOf(s: HubSettings, id: string, revision: string, splits: string[] | undefined): Promise<(HubFileRef & { split: string })[]> {
  checkHubId(id);
  const what = `${id} at revision ${revision}`;
  if (s.offline) {
    const manifest = await readManifest(s.cacheRoot, id);
    const known = Object.entries(manifest.revisions[revision]?.files ?? {}).map(([path, e]) => ({ path, entry: e }));
    if (known.length === 0) {
      throw new UserError(`Offline mode is on and nothing of ${what} is in the cache (${revisionCacheDir(s.cacheRoot, id, revision)}); fetch it once online with \`w2s data get ${id}\`, or turn offline mode off.`);
    }
    return pickSplitFiles(known, splits, `The cached copy of ${what}`).map(({ split, file }) => ({
      id, revision, path: file.path, split, expected: { size: file.entry.size, sha256: file.entry.sha256 },
    }));
  }
  const files = await listHubFiles(s, id, revision);
  return pickSplitFiles(files, splits, what).map(({ split, file }) => ({ id, revision, path: file.path, split, expected: expectedOf(file) }));
}

/** A run's pool files from the hub (downloaded into the cache when missing; offline: the cache only). */
export async function hubPoolFiles(s: HubSettings, ref: HubDatasetRef, revision?: string): Promise<{ pool: 'train' | 'test'; path: string; hub: HubFile }[]> {
  const rev = revision ?? ref.revision ?? DEFAULT_REVISION;
  const out: { pool: 'train' | 'test'; path: string; hub: HubFile }[] = [];
  for (const pool of ['train', 'test'] as const) {
    const path = ref.files[pool];
    if (path === undefined) continue;
    out.push({ pool, path, hub: await ensureHubFile(s, { id: ref.id, revision: rev, path }) });
  }
  return out;
}

/** Where a cached hub file came from, for the run's record (undefined for a file outside the cache). */
export async function hubProvenance(file: string, cacheRoot = hubCacheRoot()): Promise<{ id: string; revision: string; path: string; commit: string | null; etag: string | null } | undefined> {
  const where = parseCachedPath(cacheRoot, file);
  if (!where) return undefined;
  const entry = await manifestEntry(cacheRoot, where.id, where.revision, where.path);
  return { ...where, commit: entry?.commit ?? null, etag: entry?.etag ?? null };
}
