import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * What a file holds, independent of where it is: its size and the sha256 of its bytes. Cache keys of local models use
 * it, so a model reached by another path (another cwd, a symlink, a moved folder) keeps its cached answers, and a file
 * edited in place gets new ones.
 *
 * Hashing a multi-GB GGUF takes seconds, so identities are memoised by (real path, size, mtime): in memory, and in a
 * small JSON file under the w2s cache dir shared by every process on the machine. The memo is only a shortcut: when it
 * is missing, corrupt or unwritable, the file is hashed again.
 */
export interface FileIdentity {
  size: number;
  sha256: string;
}

export interface FileIdentityOptions {
  /** The persisted memo; default defaultMemoFile(); null: memoise in memory only. */
  memoFile?: string | null;
  /** Reads and hashes a file (tests pass one that counts reads). */
  hash?: (path: string) => Promise<FileIdentity>;
}

interface MemoEntry extends FileIdentity {
  mtimeMs: number;
}

/** Entries kept in the persisted memo, most recently hashed last; older ones are dropped. */
const MAX_MEMO_ENTRIES = 200;

/** w2s's per-machine cache folder: $W2S_CACHE_DIR, else ~/.cache/w2s. Read at each call, so tests can point it elsewhere. */
export function w2sCacheDir(): string {
  return process.env['W2S_CACHE_DIR'] || join(homedir(), '.cache', 'w2s');
}

export function defaultMemoFile(): string {
  return join(w2sCacheDir(), 'file-identity.json');
}

/** "size=<bytes> sha256=<hex>": a file's identity as a string, for ModelClient.contentId. */
export function formatFileIdentity(id: FileIdentity): string {
  return `size=${id.size} sha256=${id.sha256}`;
}

/** sha256 and size of a file's bytes, streamed (model files are too large to read at once). */
export async function hashFile(path: string): Promise<FileIdentity> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest('hex') };
}

const memory = new Map<string, MemoEntry>();
/** Lookups hashing right now, so clients of one model created at once hash it once. */
const hashing = new Map<string, Promise<FileIdentity>>();

/** Forgets the in-memory memo (as a new process would); the persisted memo stays. For tests. */
export function forgetFileIdentities(): void {
  memory.clear();
}

/** The identity of the file at path (symlinks followed), hashed only when its size or mtime changed since last time. */
export async function fileIdentity(path: string, options: FileIdentityOptions = {}): Promise<FileIdentity> {
  const real = await realpath(path);
  const { size, mtimeMs } = await stat(real);
  const current = (e: MemoEntry | undefined) => (e && e.size === size && e.mtimeMs === mtimeMs ? e : undefined);
  const known = current(memory.get(real));
  if (known) return { size: known.size, sha256: known.sha256 };

  const flightKey = `${real}\u0000${size}\u0000${mtimeMs}`;
  let p = hashing.get(flightKey);
  if (!p) {
    p = lookUp(real, size, mtimeMs, current, options).finally(() => hashing.delete(flightKey));
    hashing.set(flightKey, p);
  }
  return p;
}

async function lookUp(
  real: string,
  size: number,
  mtimeMs: number,
  current: (e: MemoEntry | undefined) => MemoEntry | undefined,
  options: FileIdentityOptions,
): Promise<FileIdentity> {
  const memoFile = options.memoFile === undefined ? defaultMemoFile() : options.memoFile;
  const persisted = memoFile ? current((await readMemo(memoFile))[real]) : undefined;
  if (persisted) {
    memory.set(real, persisted);
    return { size: persisted.size, sha256: persisted.sha256 };
  }
  const id = await (options.hash ?? hashFile)(real);
  // Memoise only what was hashed from the file as stat saw it: if it changed meanwhile, the next lookup hashes again.
  const after = await stat(real).catch(() => undefined);
  if (after?.size === size && after.mtimeMs === mtimeMs && id.size === size) {
    const entry = { ...id, mtimeMs };
    memory.set(real, entry);
    if (memoFile) await writeMemo(memoFile, real, entry);
  }
  return id;
}

const isEntry = (e: unknown): e is MemoEntry => {
  const m = e as MemoEntry | null;
  return typeof m === 'object' && m !== null && Number.isFinite(m.size) && Number.isFinite(m.mtimeMs) && typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256);
};

/** The persisted entries by real path; {} when the memo is missing or unreadable (a bad memo costs a hash, never a run). */
async function readMemo(file: string): Promise<Record<string, MemoEntry>> {
  try {
    const data = JSON.parse(await readFile(file, 'utf8')) as { files?: unknown };
    const files = data?.files;
    if (!files || typeof files !== 'object' || Array.isArray(files)) return {};
    return Object.fromEntries(Object.entries(files).filter(([, e]) => isEntry(e))) as Record<string, MemoEntry>;
  } catch {
    return {};
  }
}

/**
 * Adds an entry (read, merge, write a temp file, rename over the memo: readers never see half a file). Two processes
 * writing at once may lose one entry, which only costs a hash later. Failures are ignored: the memo is a shortcut.
 */
async function writeMemo(file: string, real: string, entry: MemoEntry): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const files = await readMemo(file);
    delete files[real]; // re-added last: the most recently hashed file is the last dropped
    files[real] = entry;
    const kept = Object.entries(files).slice(-MAX_MEMO_ENTRIES);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(tmp, `${JSON.stringify({ version: 1, files: Object.fromEntries(kept) }, null, 1)}\n`);
    await rename(tmp, file);
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined);
  }
}
