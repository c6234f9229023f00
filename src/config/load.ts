import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { hashValue, sha256 } from '../hash.js';
import { ExperimentSchema, JUDGE_DEFAULTS, type ExperimentConfig, type ModelRef } from './experiment.js';
import { CONFIG_ORIGIN, configOrigin, mapModelRefs, relativeConfigPaths, resolveConfigPaths } from './paths.js';

/**
 * Validates a parsed config; an error names the field path and what was expected. Its relative paths are made absolute
 * against `dir`: the config file's folder (loadExperiment), else the working directory.
 */
export function parseExperiment(raw: unknown, source = 'config', dir = process.cwd()): ExperimentConfig {
  const isObject = raw !== null && typeof raw === 'object' && !Array.isArray(raw);
  const resolved = isObject ? resolveConfigPaths(raw, dir) : raw;
  const result = ExperimentSchema.safeParse(resolved);
  if (result.success) return isObject ? Object.assign(result.data, { [CONFIG_ORIGIN]: configOrigin(resolved as object) }) : result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
  throw new UserError(`${source}: field ${path}: ${describeIssue(issue)}.`);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove or rename them`;
  if (issue.code === 'invalid_value') return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return issue.message.replace(/\.$/, '');
}

export function loadExperiment(file: string): ExperimentConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`Cannot read config ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}.`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError(`Config ${file} is not valid JSON: ${(e as Error).message}.`);
  }
  return parseExperiment(raw, file, dirname(resolve(file)));
}

/**
 * The hash that identifies an experiment: same config (after defaults) → same run. Left out: comments ($schema,
 * description) and what decides how a run goes, not what it computes: the audit's settings (so setting audit.onLeak
 * to "warn" after a stop resumes the same run), the gateway's (cache file, concurrency, retries, prices) and the
 * spending limits (so raising a limit resumes the run).
 */
export function configHash(config: ExperimentConfig): string {
  // Paths as written, relative to the config's folder: moving the checkout or the config folder keeps the run.
  const { $schema: _schema, description: _description, audit: _audit, gateway: _gateway, limits: _limits, ...rest } = withoutBatch(relativeConfigPaths(config));
  // dataset.source "files" is the default spelled out: the same run as a config that leaves it out.
  const { source, ...dataset } = rest.dataset;
  // Prompts left out are w2s's own, which was "prompts" (under the working directory) before they came with the
  // package: hashed under that name, runs made from the repository keep their ids.
  const prompts = rest.debate.promptsDir === undefined ? { ...rest.debate, promptsDir: 'prompts' } : rest.debate;
  const debate = config.debate.import ? { ...prompts, import: { ...prompts.import, file: importContentHash(config.debate.import.file) } } : prompts;
  return hashValue({
    ...rest, dataset: source === 'files' ? dataset : rest.dataset, debate, judges: rest.judges.map(canonicalJudge), weak: withoutLaunch(rest.weak), strong: withoutLaunch(rest.strong),
  });
}

/** importContentHash's memo: absolute path → the (size, mtime) it was hashed at, and the hash. */
const importHashes = new Map<string, { key: string; hash: string }>();

/**
 * Imported transcripts are identified by their content, not their path: the same file moved keeps the run, an edited
 * file is a new run (so a rerun never mixes the transcripts of two versions of the file). The hash is kept per
 * (absolute path, size, mtime): a run start asks several times, and the file is read again only once it changed.
 */
function importContentHash(file: string): string {
  const abs = resolve(file);
  try {
    const st = statSync(abs);
    const key = `${st.size}:${st.mtimeMs}`;
    const known = importHashes.get(abs);
    if (known?.key === key) return known.hash;
    const hash = `sha256:${sha256(readFileSync(abs))}`;
    importHashes.set(abs, { key, hash });
    return hash;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new UserError(`debate.import.file ${file}: cannot read it (${why}); fix the path (it is relative to the config file).`);
  }
}

/**
 * How the hf trainer is launched (processes, torchrun, nodes, rendezvous) says how training runs, not what it computes
 * (several processes give one process's results up to float summation order: docs/trainer-protocol.md), so it is left
 * out: runs made before it existed keep their ids, and changing it resumes the same run.
 */
function withoutLaunch<T extends { hf?: object }>(trainer: T): T {
  if (!trainer.hf) return trainer;
  const { processes: _p, launcher: _l, nnodes: _n, rdzvEndpoint: _e, rdzvId: _i, ...hf } = trainer.hf as Record<string, unknown>;
  return { ...trainer, hf };
}

/**
 * A model's "batch" setting says how its calls are sent, not what they compute: it is left out, and a model ref that
 * then names only its spec is hashed as the spec string, so turning batching on or off resumes the same run. Only model
 * refs (the fields PATH_FIELDS marks as models): a `batch` key elsewhere (an hf trainer's params) is what it computes.
 */
function withoutBatch<T extends object>(config: T): T {
  return mapModelRefs(config, (ref) => {
    if (ref === null || typeof ref !== 'object' || !('batch' in ref)) return ref;
    const { batch: _batch, ...rest } = ref as Record<string, unknown>;
    return Object.keys(rest).length === 1 && typeof rest.spec === 'string' ? rest.spec : rest;
  });
}

/**
 * A judge as its run id sees it: the judge fields added after runs existed are left out when they hold their default
 * (so a config that spells a default out is the same run as one that leaves it out), and transcripts are sorted.
 */
function canonicalJudge(j: ExperimentConfig['judges'][number]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...j };
  for (const [key, value] of Object.entries(JUDGE_DEFAULTS)) if (out[key] === value) delete out[key];
  if (j.transcripts) out.transcripts = [...j.transcripts].sort((a, b) => a - b);
  return out;
}

export function modelSpec(ref: ModelRef): string {
  return typeof ref === 'string' ? ref : ref.spec;
}

/** The JSON Schema editors use to complete configs. */
export function experimentJsonSchema(): unknown {
  return z.toJSONSchema(ExperimentSchema, { io: 'input', unrepresentable: 'any' });
}
