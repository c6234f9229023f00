/** A tiny leveled logger to stderr. Every line passes through redact(), so secrets from the environment never reach logs. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  readonly level: LogLevel;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go (default: process.stderr). */
  write?: (line: string) => void;
  /** Environment whose secrets are redacted (default: process.env, read at each line so late-set keys count). */
  env?: NodeJS.ProcessEnv;
}

const SECRET_NAME = /(_API_KEY|_TOKEN)$/;
/** Shorter values would redact ordinary words (a key of "1" or "abc" is a test value, not a secret). */
const MIN_SECRET_LENGTH = 4;

/** Replaces the value of every env var whose name ends in _API_KEY or _TOKEN with "[redacted:NAME]". */
export function redact(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let out = text;
  const secrets = Object.entries(env)
    .filter((e): e is [string, string] => SECRET_NAME.test(e[0]) && typeof e[1] === 'string' && e[1].length >= MIN_SECRET_LENGTH)
    // Longest first, so a secret that contains another is replaced whole.
    .sort((a, b) => b[1].length - a[1].length);
  for (const [name, value] of secrets) out = out.split(value).join(`[redacted:${name}]`);
  return out;
}

function formatFields(fields: Record<string, unknown> | undefined): string {
  if (!fields) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.length ? ` ${parts.join(' ')}` : '';
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const emit = (at: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
    if (RANK[at] < RANK[level]) return;
    write(redact(`[w2s ${at}] ${message}${formatFields(fields)}`, options.env ?? process.env));
  };
  return { level, debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** A logger that drops everything (library default). */
export const silentLogger: Logger = createLogger({ level: 'silent', write: () => {} });
