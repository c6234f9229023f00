import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { hashValue } from '../hash.js';
import type { ExperimentConfig } from './experiment.js';
import { configHash, parseExperiment } from './load.js';
import { CONFIG_ORIGIN, configOrigin, resolveConfigPaths } from './paths.js';

/**
 * A sweep file: a base experiment config and the config paths to vary over it. Every cell is an ordinary experiment
 * (its own config, hash and database); the pipeline (pipeline/sweep.ts) runs them with one shared response cache.
 *
 * - `axes`: {"<path>": [values]}, crossed with each other (a product);
 * - `zip`: groups {"<path>": [...], "<path2>": [...]} whose lists go together (equal lengths), each group one more
 *   factor of the product;
 * - `cells`: an explicit list of {"<path>": value, ...} (with an optional "$name" naming the entry), one more factor.
 * With all three, the cells are the product of every axis, every zip group and the list, the list varying fastest.
 */

/** A dotted config path: keys, and array indices as numbers (judges.0.model). */
const PATH = /^\w+(\.\w+)*$/;
const NAME = /^[\w.-]+$/;

const Values = z.array(z.unknown(), { error: 'give the values as a list, as in [1, 2]' }).min(1, 'give at least one value');
const PathKey = z.string().regex(PATH, 'a config path is dotted keys, as in weak.ensemble.size');

export const SweepSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().min(1).regex(NAME, 'use letters, digits, dot, dash or underscore'),
    description: z.string().optional().describe('Printed first by `w2s sweep`.'),
    base: z
      .union([z.string().min(1), z.record(z.string(), z.unknown())])
      .describe('The experiment config every cell starts from: an object, or the path of a config file (relative to the sweep file; the paths inside a base file are relative to that file).'),
    axes: z.record(PathKey, Values).default({}).describe('Config paths and their values, crossed with each other.'),
    zip: z
      .array(z.record(PathKey, Values).refine((g) => Object.keys(g).length > 0, 'a zip group needs at least one path'))
      .default([])
      .describe('Groups of paths whose value lists go together, position by position (equal lengths).'),
    cells: z
      .array(z.record(z.string(), z.unknown()).refine((c) => Object.keys(c).some((k) => k !== '$name'), 'a cell needs at least one path'))
      .min(1, 'give at least one cell')
      .optional()
      .describe('An explicit list of {"<path>": value} settings, each one cell ("$name": a short name for it).'),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (Object.keys(s.axes).length === 0 && s.zip.length === 0 && !s.cells) {
      ctx.addIssue({ code: 'custom', path: ['axes'], message: 'a sweep needs at least one axis, zip group or cell; give "axes": {"<config path>": [values]}' });
    }
    s.zip.forEach((group, i) => {
      const lengths = Object.entries(group).map(([p, v]) => `${p} has ${v.length}`);
      if (new Set(Object.values(group).map((v) => v.length)).size > 1) {
        ctx.addIssue({ code: 'custom', path: ['zip', i], message: `zipped lists go together, so they need equal lengths, but ${lengths.join(', ')}` });
      }
    });
    // Every path is set in one place only, so a cell's config never depends on which setting wins.
    const seen = new Map<string, string>();
    const claim = (path: string, where: string, at: (string | number)[]): void => {
      const first = seen.get(path);
      if (first && first !== where) ctx.addIssue({ code: 'custom', path: at, message: `${path} is also set by ${first}; set each path in one place` });
      else seen.set(path, where);
    };
    for (const p of Object.keys(s.axes)) claim(p, 'axes', ['axes', p]);
    s.zip.forEach((g, i) => Object.keys(g).forEach((p) => claim(p, `zip[${i}]`, ['zip', i, p])));
    s.cells?.forEach((c, i) => {
      for (const [p, v] of Object.entries(c)) {
        if (p === '$name') {
          if (typeof v !== 'string' || !NAME.test(v)) ctx.addIssue({ code: 'custom', path: ['cells', i, p], message: 'a cell\'s name uses letters, digits, dot, dash or underscore' });
        } else if (!PATH.test(p)) ctx.addIssue({ code: 'custom', path: ['cells', i, p], message: 'a config path is dotted keys, as in weak.ensemble.size' });
        else claim(p, 'cells', ['cells', i, p]);
      }
    });
    if (seen.has('name')) ctx.addIssue({ code: 'custom', path: [], message: 'the sweep names its cells (<sweep name>.<settings>); do not set "name" in axes, zip or cells' });
  });

export type SweepFile = z.infer<typeof SweepSchema>;

/** One cell: what it sets, what it is called, and its validated config. */
export interface SweepCell {
  /** Readable: `<sweep>/<key=value,...>`. */
  label: string;
  /** For file names and config.name: [\w.-] only. */
  slug: string;
  /** The config paths this cell sets, in sweep order. */
  set: Record<string, unknown>;
  config: ExperimentConfig;
  hash: string;
}

export interface Sweep {
  file: SweepFile;
  source: string;
  cells: SweepCell[];
}

function userError(source: string, result: z.ZodSafeParseError<unknown>): UserError {
  const issue = result.error.issues[0]!;
  const path = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
  // A record's bad key carries the key schema's own message inside.
  const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  const what = issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove or rename them` : message.replace(/\.$/, '');
  return new UserError(`${source}: field ${path}: ${what}.`);
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`Cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}.`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${what[0]!.toUpperCase()}${what.slice(1)} ${file} is not valid JSON: ${(e as Error).message}.`);
  }
}

export function loadSweep(file: string): Sweep {
  return parseSweep(readJson(file, 'sweep file'), file, dirname(resolve(file)));
}

/**
 * Validates a sweep and expands it into cells, every cell's config validated: a bad path or value fails here. Paths
 * are relative to the sweep file's folder `dir` (default the working directory): `base` when it names a file, and the
 * paths the sweep sets; a base file's own paths are relative to the base file. A cell's hash takes its paths relative
 * to the base file's folder (else `dir`), so neither depends on where the two files are, only on where they are from
 * each other.
 */
export function parseSweep(raw: unknown, source = 'sweep', dir = process.cwd()): Sweep {
  const result = SweepSchema.safeParse(raw);
  if (!result.success) throw userError(source, result);
  const file = result.data;
  const baseFile = typeof file.base === 'string' ? resolve(dir, file.base) : undefined;
  const base = baseFile ? readJson(baseFile, 'base config') : file.base;
  if (!base || typeof base !== 'object' || Array.isArray(base)) throw new UserError(`${source}: field base: the base config must be a JSON object.`);
  // A base file's paths are its own folder's; what is left relative after that is the sweep's.
  const resolvedBase = baseFile ? resolveConfigPaths(base as Record<string, unknown>, dirname(baseFile)) : (base as Record<string, unknown>);
  return { file, source, cells: expandCells(file, resolvedBase, source, dir) };
}

/** One value of one factor of the product: the paths it sets, and its part of the cell's name. */
interface Choice {
  set: [string, unknown][];
  name: string[];
}

function expandCells(file: SweepFile, base: Record<string, unknown>, source: string, dir: string): SweepCell[] {
  const paths = [...Object.keys(file.axes), ...file.zip.flatMap((g) => Object.keys(g)), ...(file.cells ?? []).flatMap((c) => Object.keys(c).filter((p) => p !== '$name'))];
  const key = shortKeys(paths);
  const part = (path: string, value: unknown): string => `${key(path)}=${valueText(value)}`;
  const factors: Choice[][] = [
    ...Object.entries(file.axes).map(([p, values]) => values.map((v) => ({ set: [[p, v]] as [string, unknown][], name: [part(p, v)] }))),
    ...file.zip.map((group) => {
      const entries = Object.entries(group);
      return entries[0]![1].map((_, i) => {
        const set = entries.map(([p, values]) => [p, values[i]] as [string, unknown]);
        return { set, name: set.map(([p, v]) => part(p, v)) };
      });
    }),
  ];
  if (file.cells) {
    factors.push(
      file.cells.map((c) => {
        const set = Object.entries(c).filter(([p]) => p !== '$name');
        return { set, name: typeof c.$name === 'string' ? [c.$name] : set.map(([p, v]) => part(p, v)) };
      }),
    );
  }

  // The product, the last factor varying fastest.
  let combos: Choice[] = [{ set: [], name: [] }];
  for (const f of factors) combos = combos.flatMap((c) => f.map((choice) => ({ set: [...c.set, ...choice.set], name: [...c.name, ...choice.name] })));

  const bySlug = new Map<string, string>();
  const byExperiment = new Map<string, string>();
  return combos.map((combo) => {
    const label = `${file.name}/${combo.name.join(',')}`;
    const slug = slugOf(combo.name);
    // structuredClone drops symbol keys: carry the base's origin (what its folder resolved) over by hand.
    const raw: Record<string, unknown> = Object.assign(structuredClone(base), { [CONFIG_ORIGIN]: configOrigin(base) });
    for (const [p, v] of combo.set) setPath(raw, p, structuredClone(v), `${source}: cell ${label}`);
    raw.name = `${file.name}.${slug}`;
    const config = parseExperiment(raw, `${source}: cell ${label}`, dir);
    // A guard for any section that drops keys it does not know instead of refusing them: a path the parsed config
    // lacks was dropped, and would silently change nothing.
    for (const [p] of combo.set) {
      if (getPath(config, p) === undefined) throw new UserError(`${source}: cell ${label}: field ${p}: not a config field, so it would change nothing; check its spelling.`);
    }
    const other = bySlug.get(slug);
    if (other) throw new UserError(`${source}: cells ${other} and ${label} get the same file name "${slug}"; give their values (or their "$name") distinct letters.`);
    bySlug.set(slug, label);
    // The same experiment under two names would run twice; the name is part of the hash, so compare without it.
    const same = configHash({ ...config, name: '' });
    const twin = byExperiment.get(same);
    if (twin) throw new UserError(`${source}: cells ${twin} and ${label} are the same experiment (what differs is not part of a run's identity); remove one.`);
    byExperiment.set(same, label);
    return { label, slug, set: Object.fromEntries(combo.set), config, hash: configHash(config) };
  });
}

/**
 * Short names for paths in cell names: the last key (dataset.name → dataset, since "name" says nothing; an index
 * takes its array's key: debate.debaters.1 → debaters.1), or the whole path where two paths would share one.
 */
function shortKeys(paths: string[]): (path: string) => string {
  const short = (p: string): string => {
    const keys = p.split('.');
    const last = keys.at(-1)!;
    return keys.length > 1 && (last === 'name' || /^\d+$/.test(last)) ? keys.slice(-2).join('.').replace(/\.name$/, '') : last;
  };
  const count = new Map<string, Set<string>>();
  for (const p of paths) count.set(short(p), (count.get(short(p)) ?? new Set()).add(p));
  return (p) => (count.get(short(p))!.size > 1 ? p : short(p));
}

/** A value as a cell name shows it: scalars as they are, a model by its spec, lists joined by "+", other objects by a hash. */
function valueText(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return v.map(valueText).join('+');
  const spec = (v as { spec?: unknown }).spec;
  return typeof spec === 'string' ? spec : hashValue(v).slice(0, 8);
}

/** The cell's name as a file name: [\w.-] only, key-value pairs joined by "_", long names shortened with a hash. */
function slugOf(parts: string[]): string {
  const slug = parts.map((p) => p.replace('=', '-').replace(/[^\w.-]+/g, '-')).join('_');
  return slug.length <= 80 ? slug : `${slug.slice(0, 71)}-${hashValue(parts).slice(0, 8)}`;
}

function getPath(root: unknown, path: string): unknown {
  let node = root;
  for (const k of path.split('.')) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[k] : undefined;
  return node;
}

/** Sets a dotted path in a raw config, making the objects on the way; indices address existing array items. */
function setPath(root: Record<string, unknown>, path: string, value: unknown, where: string): void {
  const keys = path.split('.');
  let node: unknown = root;
  keys.forEach((k, i) => {
    const at = keys.slice(0, i).join('.') || '(top level)';
    let holder: Record<string, unknown>;
    if (Array.isArray(node)) {
      const index = Number(k);
      if (!/^\d+$/.test(k) || index >= node.length) {
        throw new UserError(`${where}: field ${path}: ${at} is a list of ${node.length}, so "${k}" must be an index below ${node.length}.`);
      }
      holder = node as unknown as Record<string, unknown>;
    } else if (node !== null && typeof node === 'object') holder = node as Record<string, unknown>;
    else throw new UserError(`${where}: field ${path}: ${at} is ${JSON.stringify(node)}, not an object with keys to set.`);
    if (i === keys.length - 1) holder[k] = value;
    else {
      if (holder[k] === undefined) holder[k] = {};
      node = holder[k];
    }
  });
}
