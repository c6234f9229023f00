import { UserError } from '../errors.js';

/** The adapters a model spec can name. */
export const ADAPTERS = ['openai', 'ollama', 'llamacpp', 'scripted'] as const;
export type AdapterName = (typeof ADAPTERS)[number];

export interface ModelSpec {
  adapter: AdapterName;
  /** Model name (openai, ollama), model file or hf: reference (llamacpp), script name or fixture path (scripted). */
  model: string;
  /**
   * Base URL (openai) or host (ollama) named after the last '@', as written (trailing '/' dropped); each adapter
   * completes it (scheme, default port). Absent when the spec names none.
   */
  endpoint?: string;
}

const VALID_FORMS =
  'openai:<model>[@<baseURL>], ollama:<model>[@<host>], llamacpp:<path.gguf | hf:user/repo:quant>, scripted:<name | fixture.json>';

// A URL with a scheme, or a bare host[:port][/path]. Only these count as an endpoint after '@'.
const URL_LIKE = /^https?:\/\/[^\s@]+$/i;
const HOST_LIKE = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[^\s@]*)?$/i;

/**
 * Parses "adapter:model[@endpoint]". Only openai and ollama take an endpoint, and only when what follows the last '@'
 * looks like a URL or host, so '@' inside a model path or name survives.
 */
export function parseModelSpec(spec: string): ModelSpec {
  const s = spec.trim();
  const colon = s.indexOf(':');
  const adapter = colon < 0 ? '' : s.slice(0, colon);
  if (!(ADAPTERS as readonly string[]).includes(adapter)) {
    throw new UserError(`Unknown model spec "${spec}"; use one of: ${VALID_FORMS}.`);
  }
  let model = s.slice(colon + 1);
  let endpoint: string | undefined;
  if (adapter === 'openai' || adapter === 'ollama') {
    const at = model.lastIndexOf('@');
    if (at >= 0) {
      const tail = model.slice(at + 1);
      if (URL_LIKE.test(tail) || HOST_LIKE.test(tail)) {
        endpoint = tail.replace(/\/+$/, '');
        model = model.slice(0, at);
      }
    }
  }
  if (model.trim() === '') {
    throw new UserError(`Model spec "${spec}" names no model; use one of: ${VALID_FORMS}.`);
  }
  return endpoint === undefined ? { adapter: adapter as AdapterName, model } : { adapter: adapter as AdapterName, model, endpoint };
}

/** The canonical string for a parsed spec: parse(format(x)) equals x. */
export function formatModelSpec(spec: ModelSpec): string {
  return `${spec.adapter}:${spec.model}${spec.endpoint ? `@${spec.endpoint}` : ''}`;
}

