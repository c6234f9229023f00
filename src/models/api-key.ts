import { UserError } from '../errors.js';
import { formatModelSpec, type ModelSpec } from './spec.js';

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
// Local OpenAI-compatible servers ignore the key, but the client refuses to start without one.
const PLACEHOLDER_KEY = 'sk-no-key-needed';

/** Where an openai: spec's calls go: its endpoint (a bare host:port means plain http, as local servers use), or OpenAI. */
export function openaiBaseURL(spec: ModelSpec): string {
  if (!spec.endpoint) return DEFAULT_BASE_URL;
  return /^https?:\/\//i.test(spec.endpoint) ? spec.endpoint : `http://${spec.endpoint}`;
}

/**
 * The API key of an openai: model, read from the environment only. Required for api.openai.com and whenever the
 * config names apiKeyEnv; a local server without one gets a placeholder. Shared by the adapter and the preflight, so a
 * missing key stops a run before any work.
 */
export function openaiApiKey(spec: ModelSpec, apiKeyEnv?: string): { apiKey: string; envName: string } {
  const envName = apiKeyEnv ?? 'OPENAI_API_KEY';
  const apiKey = process.env[envName];
  if (apiKey) return { apiKey, envName };
  if (new URL(openaiBaseURL(spec)).hostname === 'api.openai.com' || apiKeyEnv) {
    throw new UserError(`Model ${formatModelSpec(spec)} needs an API key; set the ${envName} environment variable.`);
  }
  return { apiKey: PLACEHOLDER_KEY, envName };
}
