import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { isHubId } from '../config/experiment.js';
import { UserError } from '../errors.js';
import { acquireLockDir } from '../lock-dir.js';

/**
 * The local cache of dataset files fetched from the Hugging Face hub. Layout, under the cache root
 * ($W2S_DATA_DIR/hub when W2S_DATA_DIR is set, else ~/.cache/w2s/datasets/hub):
 *
 *   <owner>/<name>/manifest.json                       what was fetched: per revision and path, size, sha256, ETag
 *   <owner>/<name>/<revision>/<path in the repo>       the file, under its final name only once complete and verified
 *   <owner>/<name>/<revision>/<path>.part              a download in progress (kept when interrupted, to resume)
 *   <owner>/<name>/<revision>/<path>.part.json         what the .part is a download of (its ETag), to resume safely
 *   <owner>/<name>/<revision>/<path>.lock/             held while one process fetches that file
 *
 * A revision with a slash (refs/convert/parquet) is one folder, URL-encoded (refs%2Fconvert%2Fparquet).
 */

export interface ManifestFile {
  size: number;
  sha256: string;
  /** The git blob id of the bytes (sha1 of "blob <size>\0<bytes>"): what the hub's ETag is for a file not in LFS. */
  gitOid: string;
  /** The ETag the hub sent for the file: for an LFS file its X-Linked-Etag (the sha256), else its ETag (the git blob id). */
  etag: string | null;
  /** The commit the revision pointed to (the hub's X-Repo-Commit), when it said. */
  commit: string | null;
  /** The file's mtime when it was verified: a file with this size and mtime is not hashed again. */
  mtimeMs: number;
  fetchedAt: string;
}

export interface Manifest {
  id: string;
  revisions: Record<string, { files: Record<string, ManifestFile> }>;
}

/** Where hub files are cached (see the layout above); read at each call, so tests can point it elsewhere. */
export function hubCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['W2S_DATA_DIR'] ? resolve(env['W2S_DATA_DIR']) : join(homedir(), '.cache', 'w2s', 'datasets');
  return join(base, 'hub');
}

export function checkHubId(id: string): void {
  if (!isHubId(id)) throw new UserError(`"${id}" is not a hub dataset id; write it as owner/name, e.g. allenai/sciq.`);
}

/** A path inside a repository: relative, slash-separated, no "." or ".." segment. */
export function checkRepoPath(path: string): void {
  const parts = path.split('/');
  if (path === '' || path.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..') || path.includes('\\')) {
    throw new UserError(`"${path}" is not a file path inside a hub repository; give it relative to the repository root, e.g. data/test-00000-of-00001.parquet.`);
  }
}

export function datasetCacheDir(root: string, id: string): string {
  return join(root, ...id.split('/'));
}

export function revisionCacheDir(root: string, id: string, revision: string): string {
  return join(datasetCacheDir(root, id), encodeURIComponent(revision));
}

export function cachedFilePath(root: string, id: string, revision: string, path: string): string {
  return join(revisionCacheDir(root, id, revision), ...path.split('/'));
}

export function manifestPath(root: string, id: string): string {
  return join(datasetCacheDir(root, id), 'manifest.json');
}

/** The dataset id, revision and repository path of a file under the cache root, or undefined for any other file. */
export function parseCachedPath(root: string, file: string): { id: string; revision: string; path: string } | undefined {
  const prefix = resolve(root) + sep;
  const abs = resolve(file);
  if (!abs.startsWith(prefix)) return undefined;
  const parts = abs.slice(prefix.length).split(sep);
  if (parts.length < 4) return undefined;
  const [owner, name, revision, ...rest] = parts as [string, string, string, ...string[]];
  try {
    return { id: `${owner}/${name}`, revision: decodeURIComponent(revision), path: rest.join('/') };
  } catch {
    return undefined;
  }
}

export async function readManifest(root: string, id: string): Promise<Manifest> {
  try {
    const parsed = JSON.parse(await readFile(manifestPath(root, id), 'utf8')) as Manifest;
    if (parsed && typeof parsed === 'object' && parsed.revisions && typeof parsed.revisions === 'object') return parsed;
  } catch {
    // none yet, or unreadable: treated as empty (files are then verified by hashing them)
  }
  return { id, revisions: {} };
}

export async function manifestEntry(root: string, id: string, revision: string, path: string): Promise<ManifestFile | undefined> {
  return (await readManifest(root, id)).revisions[revision]?.files[path];
}

/** Records a verified file in the dataset's manifest: under a lock, written to a temp file and renamed into place. */
export async function recordInManifest(root: string, id: string, revision: string, path: string, entry: ManifestFile): Promise<void> {
  const file = manifestPath(root, id);
  await withLock(`${file}.lock`, async () => {
    const manifest = await readManifest(root, id);
    const rev = (manifest.revisions[revision] ??= { files: {} });
    rev.files[path] = entry;
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
    await rename(tmp, file);
  });
}

export interface Digest {
  size: number;
  sha256: string;
  gitOid: string;
}

/** Size, sha256 and git blob id of a file, in one streamed pass. */
export async function digestFile(file: string): Promise<Digest> {
  const { size } = await stat(file);
  const sha256 = createHash('sha256');
  const sha1 = createHash('sha1').update(`blob ${size}\0`);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    sha256.update(chunk);
    sha1.update(chunk);
  }
  return { size, sha256: sha256.digest('hex'), gitOid: sha1.digest('hex') };
}

/**
 * The digest of a cached file, taken from its manifest entry when the file's size and mtime are the ones recorded
 * (it was verified then and has not changed), else by hashing it.
 */
export async function cachedDigest(file: string, entry: ManifestFile | undefined): Promise<Digest & { mtimeMs: number }> {
  const { size, mtimeMs } = await stat(file);
  if (entry && entry.size === size && entry.mtimeMs === mtimeMs) return { size, sha256: entry.sha256, gitOid: entry.gitOid, mtimeMs };
  return { ...(await digestFile(file)), mtimeMs };
}

/**
 * Runs fn while holding a lock folder (mkdir is atomic), so two processes never fetch one file or rewrite one manifest
 * at once. A lock whose process is gone is taken over; onWait is told once when another holder makes us wait.
 */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>, onWait?: () => void, signal?: AbortSignal): Promise<T> {
  let release: () => Promise<void>;
  try {
    release = await acquireLockDir(lockDir, { onWait, signal });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw cacheWriteError(lockDir, e);
  }
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** A failure to write under the cache root, as one sentence naming the folder and what to do. */
export function cacheWriteError(where: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
    return new UserError(`Cannot write the dataset cache at ${where} (${code}); set W2S_DATA_DIR to a folder you can write to.`, { cause: e });
  }
  return e instanceof Error ? e : new Error(String(e));
}
