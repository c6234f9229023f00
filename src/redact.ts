import { redact as redactEnv } from './log.js';

/**
 * Secrets hidden from everything w2s shows or exports of what models received and returned (show --prompts, export
 * --what calls): a model id can carry credentials in its URL (openai:gpt@https://user:key@host/v1), and a prompt or a
 * reply can hold an API key. One function decides what counts:
 *   - the userinfo of a URL (scheme://user:password@host): replaced by "[redacted]";
 *   - API keys by their well-known prefixes: sk-… (OpenAI, Anthropic, OpenRouter), hf_… (Hugging Face), ghp_/gho_/…
 *     (GitHub), xox…- (Slack), AIza… (Google);
 *   - the token after "Bearer " (an Authorization header quoted in a text);
 *   - the value of every environment variable whose name ends in _API_KEY or _TOKEN (as the logger does).
 * The database keeps the texts as they were sent; only what is displayed or exported is redacted.
 */

const PATTERNS: [RegExp, string][] = [
  // scheme://userinfo@ — userinfo has no '/', '@', whitespace, or quote characters.
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@'"<>]+@/gi, '$1[redacted]@'],
  [/\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, '$1[redacted]'],
  [/\bsk-[A-Za-z0-9_-]{16,}/g, 'sk-[redacted]'],
  [/\bhf_[A-Za-z0-9]{16,}/g, 'hf_[redacted]'],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, 'gh_[redacted]'],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/g, 'xox-[redacted]'],
  [/\bAIza[A-Za-z0-9_-]{30,}/g, 'AIza[redacted]'],
];

const SECRET_NAME = /(_API_KEY|_TOKEN)$/;

/**
 * A redaction function for many texts: the environment's secrets are read once, here (reading process.env for every
 * text of a million-row export would dominate it).
 */
export function secretRedactor(env: NodeJS.ProcessEnv = process.env): (text: string) => string {
  const secrets: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) if (SECRET_NAME.test(name) && typeof value === 'string') secrets[name] = value;
  const hasSecrets = Object.keys(secrets).length > 0;
  return (text) => {
    let out = hasSecrets ? redactEnv(text, secrets) : text;
    for (const [re, to] of PATTERNS) out = out.replace(re, to);
    return out;
  };
}

/** Redacts one text (see secretRedactor for many). */
export function redactSecrets(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return secretRedactor(env)(text);
}
