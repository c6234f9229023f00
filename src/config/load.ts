import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { hashValue } from '../hash.js';
import { ExperimentSchema, JUDGE_DEFAULTS, type ExperimentConfig, type ModelRef } from './experiment.js';

/** Validates a parsed config; an error names the field path and what was expected. */
export function parseExperiment(raw: unknown, source = 'config'): ExperimentConfig {
  const result = ExperimentSchema.safeParse(raw);
  if (result.success) return result.data;
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
  return parseExperiment(raw, file);
}

/**
 * The hash that identifies an experiment: same config (after defaults) → same run. Left out: comments ($schema,
 * description) and what decides how a run goes, not what it computes: the audit's settings (so setting audit.onLeak
 * to "warn" after a stop resumes the same run), the gateway's (cache file, concurrency, retries, prices) and the
 * spending limits (so raising a limit resumes the run).
 */
export function configHash(config: ExperimentConfig): string {
  const { $schema: _schema, description: _description, audit: _audit, gateway: _gateway, limits: _limits, ...rest } = config;
  // dataset.source "files" is the default spelled out: the same run as a config that leaves it out.
  const { source, ...dataset } = rest.dataset;
  return hashValue({ ...rest, dataset: source === 'files' ? dataset : rest.dataset, judges: rest.judges.map(canonicalJudge) });
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
