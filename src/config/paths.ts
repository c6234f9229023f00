import { statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * Paths inside a config are relative to the config file's folder (as in tsconfig or promptfoo); a config built in code
 * (parseExperiment without a file) resolves them against the working directory. They are made absolute when the config
 * is loaded, so every stage reads the file the config meant wherever the command runs from; the run's identity
 * (configHash) hashes them relative to that folder again, as written, so it does not depend on where the checkout or the
 * config folder is. PATH_FIELDS is the one list of fields that hold paths, used both ways.
 */

/** What a path field holds, and so which parts of its value are paths. */
type PathKind =
  /** A file or folder. */
  | 'path'
  /** A model ref (a spec string, or {spec, cacheDir, ...}): llamacpp:<file.gguf> (not hf: refs), scripted:<fixture.json>, cacheDir. */
  | 'model'
  /** The hf backend's base model when it is local: ./ ../ / or a .gguf file, or a folder that exists; else a hub id. */
  | 'baseModel'
  /** The hf backend's trainer command: the executable when it has a slash, each argument that starts with ./ or ../ or ends in .py. */
  | 'command'
  /** gateway.prices, batchPrices: keyed by model spec, so a key names the same file as the spec it prices. */
  | 'modelKeys';

/** Every config field that names a local file or folder ('*': each item of a list). */
export const PATH_FIELDS: readonly { at: string; kind: PathKind }[] = [
  { at: 'dataset.dataDir', kind: 'path' },
  { at: 'dataset.path', kind: 'path' },
  { at: 'dataset.files.train', kind: 'path' },
  { at: 'dataset.files.test', kind: 'path' },
  { at: 'debate.promptsDir', kind: 'path' },
  { at: 'debate.import.file', kind: 'path' },
  { at: 'gateway.cache', kind: 'path' },
  { at: 'debate.debaters.*', kind: 'model' },
  { at: 'debate.scorer', kind: 'model' },
  { at: 'judges.*.model', kind: 'model' },
  { at: 'weak.features.model', kind: 'model' },
  { at: 'strong.features.model', kind: 'model' },
  { at: 'weak.hf.baseModel', kind: 'baseModel' },
  { at: 'strong.hf.baseModel', kind: 'baseModel' },
  { at: 'weak.hf.command', kind: 'command' },
  { at: 'strong.hf.command', kind: 'command' },
  { at: 'gateway.prices', kind: 'modelKeys' },
  { at: 'gateway.batchPrices', kind: 'modelKeys' },
];

/**
 * Where a loaded config's relative paths were resolved from, and the absolute paths that resolving made. It sits on the
 * config under a symbol key: object spreads keep it, while JSON (the stored config, `config check`), the config hash and
 * the schema never see it.
 */
export const CONFIG_ORIGIN: unique symbol = Symbol('w2s.configOrigin');
export interface ConfigOrigin {
  /** The config file's folder (absolute), or the working directory for a config built in code. */
  dir: string;
  /** The absolute paths made from relative ones; a path written absolute is not here and stays as written. */
  resolved: ReadonlySet<string>;
}
export type WithOrigin = { [CONFIG_ORIGIN]?: ConfigOrigin };

export function configOrigin(config: object): ConfigOrigin | undefined {
  return (config as WithOrigin)[CONFIG_ORIGIN];
}

/**
 * The config with its relative paths made absolute against `dir` (a copy: the input is left as it is), remembering the
 * folder on the copy. Works on a raw (unvalidated) config too: values that are not strings are left for validation.
 * Resolving again keeps the first folder, the one the hash is relative to: a sweep cell's base file resolved against
 * its folder, then the paths the sweep sets against the sweep file's (hashed relative to the base's folder, so a cell
 * that sets no path is the base's run wherever the sweep file is), or a loaded config parsed again in code.
 */
export function resolveConfigPaths<T extends object>(config: T, dir: string): T {
  const base = resolve(dir);
  const before = configOrigin(config);
  const made = new Set<string>(before?.resolved);
  const out = mapPaths(config, base, (p) => {
    if (isAbsolute(p) || p.startsWith('~')) return p;
    const abs = resolve(base, p);
    made.add(abs);
    return abs;
  });
  // A copy at the top too, so the caller's object never gains the origin.
  return { ...out, [CONFIG_ORIGIN]: { dir: before?.dir ?? base, resolved: made } satisfies ConfigOrigin };
}

/**
 * The config as the run's identity sees it: each path that loading made absolute, relative to the config's folder again
 * (normalised, with "/"), so moving the checkout or the config folder keeps the hash. Paths written absolute, and every
 * path of a config without an origin, stay as they are.
 */
export function relativeConfigPaths<T extends object>(config: T): T {
  const origin = configOrigin(config);
  if (!origin) return config;
  return mapPaths(config, origin.dir, (p) => (origin.resolved.has(p) ? relative(origin.dir, p).split(sep).join('/') || '.' : p));
}

/** A copy of the config with `f` applied to every path in PATH_FIELDS (copy on write: untouched sections are shared). */
function mapPaths<T extends object>(config: T, dir: string, f: (path: string) => string): T {
  let out = config;
  for (const field of PATH_FIELDS) out = mapAt(out, field.at.split('.'), (v) => mapKind(field.kind, v, dir, f)) as T;
  return out;
}

/** A copy of the config with `f` applied to every model ref (the 'model' fields of PATH_FIELDS), copy on write. */
export function mapModelRefs<T extends object>(config: T, f: (ref: unknown) => unknown): T {
  let out = config;
  for (const field of PATH_FIELDS) if (field.kind === 'model') out = mapAt(out, field.at.split('.'), f) as T;
  return out;
}

function mapAt(node: unknown, keys: string[], f: (value: unknown) => unknown): unknown {
  if (keys.length === 0) return node === undefined ? node : f(node);
  const [key, ...rest] = keys as [string, ...string[]];
  if (key === '*') {
    if (!Array.isArray(node)) return node;
    const items = node.map((item) => mapAt(item, rest, f));
    return items.every((item, i) => item === node[i]) ? node : items;
  }
  if (node === null || typeof node !== 'object' || Array.isArray(node) || !(key in node)) return node;
  const value = (node as Record<string, unknown>)[key];
  const mapped = mapAt(value, rest, f);
  if (mapped === value) return node;
  // Keep symbol-keyed fields (the origin) on the copy.
  return Object.assign({}, node, { [key]: mapped });
}

function mapKind(kind: PathKind, value: unknown, dir: string, f: (path: string) => string): unknown {
  switch (kind) {
    case 'path':
      return typeof value === 'string' && value !== '' ? f(value) : value;
    case 'model':
      return mapModelRef(value, f);
    case 'baseModel':
      return typeof value === 'string' && isLocalBaseModel(value, dir) ? f(value) : value;
    case 'command':
      if (!Array.isArray(value)) return value;
      return value.map((arg, i) => (typeof arg === 'string' && isCommandPath(arg, i) ? f(arg) : arg));
    case 'modelKeys': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
      const entries = Object.entries(value);
      const mapped = entries.map(([k, v]) => [mapModelSpec(k, f), v] as const);
      return mapped.every(([k], i) => k === entries[i]![0]) ? value : Object.fromEntries(mapped);
    }
  }
}

function mapModelRef(ref: unknown, f: (path: string) => string): unknown {
  if (typeof ref === 'string') return mapModelSpec(ref, f);
  if (ref === null || typeof ref !== 'object' || Array.isArray(ref)) return ref;
  const r = ref as { spec?: unknown; cacheDir?: unknown };
  const spec = typeof r.spec === 'string' ? mapModelSpec(r.spec, f) : r.spec;
  const cacheDir = typeof r.cacheDir === 'string' && r.cacheDir !== '' ? f(r.cacheDir) : r.cacheDir;
  return spec === r.spec && cacheDir === r.cacheDir ? ref : { ...r, spec, ...(cacheDir !== undefined && { cacheDir }) };
}

/** The file inside a spec, if it names one: llamacpp:<file.gguf> (not hf: or URL refs), scripted:<fixture.json>. */
function mapModelSpec(spec: string, f: (path: string) => string): string {
  const m = /^(\s*)(llamacpp|scripted):(.*)$/s.exec(spec);
  if (!m) return spec;
  const [, lead, adapter, file] = m as unknown as [string, string, string, string];
  const isFile = adapter === 'llamacpp' ? file.trim() !== '' && !/^(hf:|huggingface:|https?:\/\/)/i.test(file) : file.toLowerCase().endsWith('.json');
  if (!isFile) return spec;
  const mapped = f(file);
  return mapped === file ? spec : `${lead}${adapter}:${mapped}`;
}

/**
 * The hf backend's base model is a local path when written as one (./, ../, /, ~/, a .gguf file) or when it names a
 * folder that exists under the config's folder (the reference trainer, too, prefers a folder to a hub id); else it is
 * a hub id (owner/name) and left alone.
 */
function isLocalBaseModel(ref: string, dir: string): boolean {
  if (/^(\.{1,2}[\\/]|[\\/]|~)/.test(ref) || isAbsolute(ref) || ref.toLowerCase().endsWith('.gguf')) return true;
  try {
    return statSync(resolve(dir, ref)).isDirectory();
  } catch {
    return false;
  }
}

/** A trainer command's paths: the executable when it has a slash; an argument starting with ./ or ../, or a .py file. */
function isCommandPath(arg: string, index: number): boolean {
  if (index === 0) return /[\\/]/.test(arg);
  return /^\.{1,2}[\\/]/.test(arg) || (!arg.startsWith('-') && /\.py$/i.test(arg));
}
