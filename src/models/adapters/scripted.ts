import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { sha256 } from '../../hash.js';
import { createRng } from '../../rng.js';
import { DECLARED_CAPABILITIES } from '../capabilities.js';
import { firstStop } from '../stop.js';
import type { ClientOptions } from '../create.js';
import { formatFileIdentity } from '../file-identity.js';
import { formatModelSpec, type ModelSpec } from '../spec.js';
import {
  ProviderError,
  type Capabilities,
  type EmbedResult,
  type GenerateRequest,
  type GenerateResult,
  type ModelClient,
} from '../types.js';

/**
 * scripted:<name> — a deterministic, offline model for logic tests (never a stand-in for the real adapters' tests).
 *
 * Two sources of answers:
 * - a script registered in code: registerScript('judge-a', { generate: (req, ctx) => 'A' });
 * - a JSON fixture, scripted:path/to/fixture.json: an object whose keys are substrings and whose values are answers
 *   (a string, or an object with text/finishReason/usage/topLogprobs). The first key, in file order, found in the
 *   request's messages (joined by blank lines) wins; the key "*" matches anything and is best put last.
 *   Example: { "Answer: A or B": "A", "debate": "I argue it is correct.", "*": "no opinion" }
 * The built-in script "echo" answers with the last user message; "informed-debater[:q=p]" is the controls' debater.
 *
 * Answers are then treated like a model's output: cut at the first stop string, then to maxTokens whitespace tokens.
 */

export interface ScriptContext {
  /** 1 for the client's first generate call, then 2, 3, ... */
  n: number;
  name: string;
}

export type ScriptAnswer = string | Partial<GenerateResult>;

export interface Script {
  generate?(req: GenerateRequest, ctx: ScriptContext): ScriptAnswer | Promise<ScriptAnswer>;
  embed?(text: string): number[];
  capabilities?: Partial<Capabilities>;
}

export interface ScriptedClient extends ModelClient {
  /** Every generate request, in order (copies: later changes by the caller don't show). */
  readonly requests: GenerateRequest[];
  /** Every embed call's texts, in order. */
  readonly embedRequests: string[][];
}

const scripts = new Map<string, Script>();

export function registerScript(name: string, script: Script): void {
  scripts.set(name, script);
}

export function unregisterScript(name: string): void {
  scripts.delete(name);
}

const lastUserMessage = (req: GenerateRequest) => [...req.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
const BUILTIN: Record<string, Script> = { echo: { generate: lastUserMessage } };

// ---------------------------------------------------------------------------------------------------------------
// The built-in controls' language and debater (w2s controls)

/**
 * The synthetic review language of the built-in controls: a text is clauses "the <noun> was [not] <adjective>.". A
 * clause's tone is its adjective's polarity, flipped by "not"; the text's tone is the sign of the clauses' sum (the
 * controls use an odd number of clauses, so there is no tie). Word order matters: a bag of single words sees "not"
 * but not which adjective it negates, a bag of word pairs sees "not dull". The controls' data generator draws texts
 * in this language; the informed debater reads them with it.
 */
export const CONTROL_LANGUAGE = {
  nouns: ['plot', 'acting', 'music', 'ending', 'pacing', 'dialogue', 'camera', 'cast', 'script', 'score', 'lighting', 'setting'],
  positive: ['brilliant', 'moving', 'charming', 'gripping', 'elegant', 'witty', 'superb', 'vivid', 'tender', 'clever', 'stunning', 'lively'],
  negative: ['dull', 'clumsy', 'bland', 'tedious', 'shallow', 'messy', 'awkward', 'flat', 'stale', 'forced', 'sloppy', 'limp'],
  negator: 'not',
} as const;

const POLARITY = new Map<string, number>([
  ...CONTROL_LANGUAGE.positive.map((w) => [w, 1] as [string, number]),
  ...CONTROL_LANGUAGE.negative.map((w) => [w, -1] as [string, number]),
]);

/** The tone of a text in the controls' language: 1 favourable, 0 unfavourable, null with no clause or a tie. */
export function controlTone(text: string): 0 | 1 | null {
  let sum = 0;
  let clauses = 0;
  for (const m of text.toLowerCase().matchAll(/\bwas (not )?([a-z]+)\b/g)) {
    const polarity = POLARITY.get(m[2]!);
    if (polarity === undefined) continue;
    clauses++;
    sum += m[1] ? -polarity : polarity;
  }
  return clauses === 0 || sum === 0 ? null : sum > 0 ? 1 : 0;
}

/**
 * scripted:informed-debater[:q=<0..1>] — a debater for the built-in controls that knows the controls' language, like a
 * strong model: it reads only its prompt (the text in <question>, its side), works out the text's tone, and with
 * probability q (drawn from the request's seed, so every argument, and so every transcript sample, is an independent
 * and reproducible draw) names it in its argument ("the overall tone is favourable"); otherwise it argues its side
 * without naming it, in the same words every time. It never sees a gold label: with label noise, what it names is the
 * noiseless tone. Default q = 1.
 */
function informedDebater(params: string | undefined): Script {
  const m = params === undefined ? ['', '1'] : /^q=(\S+)$/.exec(params);
  const q = m ? Number(m[1]) : NaN;
  if (!(q >= 0 && q <= 1)) {
    throw new UserError(`scripted:informed-debater takes a probability between 0 and 1, as in scripted:informed-debater:q=0.3; got "${params}".`);
  }
  return {
    generate(req) {
      const prompt = lastUserMessage(req);
      const text = /<question>\n([\s\S]*?)\n<\/question>/.exec(prompt)?.[1];
      const side = /Your side: the proposed answer is (correct|incorrect)/.exec(prompt)?.[1];
      if (text === undefined || side === undefined) {
        throw new ProviderError('scripted:informed-debater needs a debate prompt with a <question> block and "Your side: ..."', {
          retryable: false,
          code: 'no_script_answer',
        });
      }
      const tone = controlTone(text);
      const claim = `I argue that the proposed answer is ${side}.`;
      // Uninformative arguments are the same in every transcript sample, so only the information varies between
      // samples: text that varied at random would itself make ensembles over samples differ (see README, Controls).
      if (tone === null || !(createRng(req.seed ?? 0).random() < q)) return `${claim} Each clause can be read more than one way.`;
      const agrees = (tone === 1) === (side === 'correct');
      return `${claim} Weighing every clause, the overall tone is ${tone === 1 ? 'favourable' : 'unfavourable'}${agrees ? ', as my side says.' : ', yet I hold my side.'}`;
    },
  };
}

/** Built-in scripts that take parameters after the name: name:params. */
const BUILTIN_WITH_PARAMS: Record<string, (params: string | undefined) => Script> = { 'informed-debater': informedDebater };

function builtinScript(name: string): Script | undefined {
  const colon = name.indexOf(':');
  const base = colon < 0 ? name : name.slice(0, colon);
  return Object.hasOwn(BUILTIN_WITH_PARAMS, base) ? BUILTIN_WITH_PARAMS[base]!(colon < 0 ? undefined : name.slice(colon + 1)) : undefined;
}

/** The script a name resolves to: a JSON fixture (read and checked), a registered script or a built-in; else a UserError. */
export function resolveScript(name: string): { script: Script; fixture?: ReturnType<typeof loadFixture> } {
  const fixture = name.toLowerCase().endsWith('.json') ? loadFixture(name) : undefined;
  const script = fixture?.script ?? scripts.get(name) ?? BUILTIN[name] ?? builtinScript(name);
  if (!script) {
    throw new UserError(
      `No script is registered as "${name}"; call registerScript("${name}", ...) first or use scripted:<fixture.json>.`,
    );
  }
  return fixture ? { script, fixture } : { script };
}

/** What a script's client declares: the adapter's capabilities, narrowed by the script's own. */
export function scriptCapabilities(script: Script): Capabilities {
  return { ...DECLARED_CAPABILITIES.scripted, ...script.capabilities };
}

export async function createScriptedClient(spec: ModelSpec, _options: ClientOptions = {}): Promise<ScriptedClient> {
  const name = spec.model;
  const { script, fixture } = resolveScript(name);
  const requests: GenerateRequest[] = [];
  const embedRequests: string[][] = [];
  const id = formatModelSpec(spec);

  return {
    id,
    adapter: 'scripted',
    endpoint: id,
    model: name,
    // A fixture's answers are its bytes: key the cache by them, so an edited fixture misses and a moved one hits.
    // Scripts in code have no file and keep their name.
    ...(fixture && { contentId: fixture.contentId }),
    capabilities: scriptCapabilities(script),
    requests,
    embedRequests,

    async generate(req: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult> {
      signal?.throwIfAborted();
      requests.push(structuredClone(req));
      const answer = await (script.generate ?? lastUserMessage)(req, { n: requests.length, name });
      signal?.throwIfAborted();
      return finishAnswer(req, answer);
    },

    async embed(texts: string[], signal?: AbortSignal): Promise<EmbedResult> {
      signal?.throwIfAborted();
      embedRequests.push([...texts]);
      const vectors = texts.map((t) => (script.embed ? script.embed(t) : hashEmbedding(t)));
      return { vectors, usage: { inputTokens: texts.reduce((s, t) => s + words(t).length, 0), outputTokens: 0 } };
    },

    async close() {},
  };
}

const words = (text: string) => text.match(/\s*\S+/g) ?? [];

/** Turns a script's answer into a model result: stop strings, then maxTokens, then usage and logprobs if missing. */
function finishAnswer(req: GenerateRequest, answer: ScriptAnswer): GenerateResult {
  const partial: Partial<GenerateResult> = typeof answer === 'string' ? { text: answer } : answer;
  let text = partial.text ?? '';
  let finishReason = partial.finishReason ?? 'stop';
  const at = firstStop(text, req.stop);
  if (at >= 0) {
    text = text.slice(0, at);
    finishReason = 'stop';
  }
  const tokens = words(text);
  if (tokens.length > req.maxTokens) {
    text = tokens.slice(0, req.maxTokens).join('');
    finishReason = 'length';
  }
  const outTokens = words(text);
  const k = req.topLogprobs ?? 0;
  return {
    text,
    finishReason,
    usage: partial.usage ?? {
      inputTokens: req.messages.reduce((s, m) => s + words(m.content).length, 0),
      outputTokens: outTokens.length,
    },
    // Without scripted logprobs, each token is certain: one alternative with logprob 0.
    ...(k > 0 && { topLogprobs: partial.topLogprobs ?? outTokens.map((t) => [{ token: t, logprob: 0 }]) }),
    ...(partial.fingerprint !== undefined && { fingerprint: partial.fingerprint }),
  };
}

/** The fixture's script, and the identity of the bytes it was parsed from. */
function loadFixture(path: string): { script: Script; contentId: string } {
  let data: unknown;
  let bytes: Buffer;
  try {
    bytes = readFileSync(resolve(path));
    data = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `is not valid JSON (${(e as Error).message})`;
    throw new UserError(`Scripted fixture ${path} ${why}; point scripted:<path> at a JSON object of substring -> answer.`, { cause: e });
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new UserError(`Scripted fixture ${path} must be a JSON object mapping prompt substrings to answers.`);
  }
  const entries = Object.entries(data as Record<string, ScriptAnswer>);
  const script: Script = {
    generate(req) {
      const prompt = req.messages.map((m) => m.content).join('\n\n');
      const hit = entries.find(([key]) => key === '*' || prompt.includes(key));
      if (!hit) {
        throw new ProviderError(`Scripted fixture ${path} has no answer for a prompt starting "${prompt.slice(0, 60)}"; add a key it contains, or "*".`, {
          retryable: false,
          code: 'no_script_answer',
        });
      }
      return hit[1];
    },
  };
  return { script, contentId: formatFileIdentity({ size: bytes.length, sha256: sha256(bytes) }) };
}

/**
 * A deterministic bag-of-words vector: each lowercased word adds ±1 to a hashed bucket, then unit length.
 * Texts sharing words point the same way, so probe-training logic tests see real signal.
 */
export function hashEmbedding(text: string, dim = 64): number[] {
  const v = new Array<number>(dim).fill(0);
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const h = createHash('sha256').update(w).digest();
    v[h.readUInt32LE(0) % dim]! += h[4]! & 1 ? 1 : -1;
  }
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return norm === 0 ? v : v.map((x) => x / norm);
}
