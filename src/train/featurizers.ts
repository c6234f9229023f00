/**
 * Featurizers for the probe: a model-free hashed n-gram bag, and a wrapper around any embedding function. Plus the
 * long-text rule every featurizer's input goes through (texts grow long once a debate transcript is appended).
 */
import { UserError } from '../errors.js';
import type { Featurizer } from './types.js';

// ---------------------------------------------------------------------------------------------------------------
// The long-text rule

/**
 * What to do with a text longer than a featurizer's maxLength (in UTF-16 code units, i.e. JS string length):
 * - 'truncate_tail': cut the tail off, keep the first maxLength characters. Keeps the question and answer, which the
 *   label is about, and the start of the debate (which is appended after them). The default.
 * - 'truncate_head': cut the head off, keep the last maxLength characters. Keeps the end of the debate but may lose
 *   the question, so the model cannot tell which answer the debate was about.
 * - 'drop': leave the row out, as openai/weak-to-strong does with examples over max_ctx (report the count).
 */
export type LengthRule = 'truncate_head' | 'truncate_tail' | 'drop';
export const LENGTH_RULES: readonly LengthRule[] = ['truncate_tail', 'truncate_head', 'drop'];
export const DEFAULT_LENGTH_RULE: LengthRule = 'truncate_tail';

export interface LengthRuleResult {
  /** The kept texts, truncated where needed, in input order. */
  texts: string[];
  /** For each kept text, its index in the input. */
  indices: number[];
  truncated: number;
  dropped: number;
}

export function applyLengthRule(
  texts: readonly string[],
  maxLength: number | undefined,
  rule: LengthRule = DEFAULT_LENGTH_RULE,
): LengthRuleResult {
  if (!LENGTH_RULES.includes(rule)) {
    throw new UserError(`The length rule must be one of ${LENGTH_RULES.join(', ')}, got "${String(rule)}".`);
  }
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength > 0)) {
    throw new UserError(`A featurizer's maxLength must be a positive integer number of characters, got ${maxLength}.`);
  }
  const out: LengthRuleResult = { texts: [], indices: [], truncated: 0, dropped: 0 };
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i]!;
    if (maxLength === undefined || t.length <= maxLength) {
      out.texts.push(t);
      out.indices.push(i);
    } else if (rule === 'drop') {
      out.dropped++;
    } else {
      out.texts.push(rule === 'truncate_tail' ? keepHead(t, maxLength) : keepTail(t, maxLength));
      out.indices.push(i);
      out.truncated++;
    }
  }
  return out;
}

/** A character budget for a model context measured in tokens (about 4 characters per token for English text). */
export function maxCharsForContext(contextTokens: number, charsPerToken = 4): number {
  return Math.max(1, Math.floor(contextTokens * charsPerToken));
}

// Never split a surrogate pair: a lone surrogate would be encoded as U+FFFD and change the text's features.
function keepHead(s: string, n: number): string {
  const c = s.charCodeAt(n - 1);
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? n - 1 : n);
}

function keepTail(s: string, n: number): string {
  const start = s.length - n;
  const c = s.charCodeAt(start);
  return s.slice(c >= 0xdc00 && c <= 0xdfff ? start + 1 : start);
}

// ---------------------------------------------------------------------------------------------------------------
// Hashed n-grams

export interface HashedNgramOptions {
  /** Number of buckets, a power of 2 (default 4096: fast, few enough weights for a probe on a few thousand rows). */
  dim?: number;
  /** Word n-gram orders [min, max] (default [1, 2]). */
  n?: [number, number];
  /** Lowercase before tokenising (default true). */
  lowercase?: boolean;
  /** Use 1 + ln(count) instead of the raw count (default true). */
  sublinearTf?: boolean;
  /** Scale each vector to unit L2 norm (default true). */
  l2Normalize?: boolean;
}

/**
 * A bag of word n-grams hashed into `dim` signed buckets ("feature hashing"). Tokens are maximal runs of letters,
 * digits and underscores (Unicode-aware); an n-gram is its tokens joined by one space. Each n-gram's hash is FNV-1a
 * 32-bit over its UTF-8 bytes followed by the murmur3 fmix32 finaliser (so the low bits used for the bucket are well
 * mixed); the bucket is hash & (dim − 1) and bit 31 picks the sign, so collisions cancel in expectation.
 * Deterministic across machines and runs; the id records every parameter.
 */
export function hashedNgramFeaturizer(opts: HashedNgramOptions = {}): Featurizer {
  const dim = opts.dim ?? 4096;
  const [nMin, nMax] = opts.n ?? [1, 2];
  const lowercase = opts.lowercase ?? true;
  const sublinear = opts.sublinearTf ?? true;
  const l2 = opts.l2Normalize ?? true;
  if (!(Number.isInteger(dim) && dim >= 2 && dim <= 1 << 20 && (dim & (dim - 1)) === 0)) {
    throw new UserError(`The hashed n-gram dim must be a power of 2 between 2 and 2^20, got ${dim}.`);
  }
  if (!(Number.isInteger(nMin) && Number.isInteger(nMax) && nMin >= 1 && nMax >= nMin && nMax <= 5)) {
    throw new UserError(`The hashed n-gram orders must be integers with 1 <= min <= max <= 5, got [${nMin}, ${nMax}].`);
  }
  const id =
    `hashed-ngram:dim=${dim},n=${nMin}-${nMax},lowercase=${lowercase ? 1 : 0},` +
    `tf=${sublinear ? 'sublinear' : 'raw'},l2=${l2 ? 1 : 0},hash=fnv1a32-fmix32`;
  const mask = dim - 1;

  const one = (text: string): Float32Array => {
    const tokens = (lowercase ? text.toLowerCase() : text).match(/[\p{L}\p{N}\p{M}_]+/gu) ?? [];
    const counts = new Map<string, number>();
    for (let n = nMin; n <= nMax; n++) {
      for (let i = 0; i + n <= tokens.length; i++) {
        const gram = n === 1 ? tokens[i]! : tokens.slice(i, i + n).join(' ');
        counts.set(gram, (counts.get(gram) ?? 0) + 1);
      }
    }
    const v = new Float32Array(dim);
    for (const [gram, c] of counts) {
      const h = hashString(gram);
      const value = sublinear ? 1 + Math.log(c) : c;
      v[h & mask] = v[h & mask]! + (h >>> 31 ? -value : value);
    }
    if (l2) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += v[j]! * v[j]!;
      if (s > 0) {
        const inv = 1 / Math.sqrt(s);
        for (let j = 0; j < dim; j++) v[j] = v[j]! * inv;
      }
    }
    return v;
  };

  return {
    id,
    dim,
    maxLength: undefined,
    async featurize(texts, signal) {
      const out: Float32Array[] = new Array(texts.length);
      for (let i = 0; i < texts.length; i++) {
        // Let abort (and other work) in every 256 texts.
        if (i % 256 === 0) {
          signal?.throwIfAborted();
          if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        }
        out[i] = one(texts[i]!);
      }
      signal?.throwIfAborted();
      return out;
    },
  };
}

/** FNV-1a 32-bit over the UTF-8 encoding of s, then murmur3's fmix32. Unsigned 32-bit result. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  const byte = (b: number): void => {
    h = Math.imul(h ^ b, 0x01000193);
  };
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (cp < 0x80) byte(cp);
    else if (cp < 0x800) {
      byte(0xc0 | (cp >> 6));
      byte(0x80 | (cp & 63));
    } else if (cp < 0x10000) {
      byte(0xe0 | (cp >> 12));
      byte(0x80 | ((cp >> 6) & 63));
      byte(0x80 | (cp & 63));
    } else {
      byte(0xf0 | (cp >> 18));
      byte(0x80 | ((cp >> 12) & 63));
      byte(0x80 | ((cp >> 6) & 63));
      byte(0x80 | (cp & 63));
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Embeddings

export interface EmbeddingFeaturizerOptions {
  /** Names the embedding model, e.g. "llamacpp:stories260K"; the featurizer id is "embed:" + id. */
  id: string;
  /** Expected vector length; learned from the first call when left out. */
  dim?: number;
  /** Longest text to send, in characters (e.g. maxCharsForContext(model context in tokens)). */
  maxLength?: number;
  /** Texts per embed call (default 64). */
  batchSize?: number;
  embed: (texts: string[], signal?: AbortSignal) => Promise<number[][]>;
}

/**
 * Wraps any embedding function (the pipeline passes a gateway model's embed). Every vector must have the same length,
 * and be finite: a model that changes dimension mid-run would silently corrupt the probe otherwise.
 * `dim` reads 0 until known (given, or learned from the first featurize call).
 */
export function embeddingFeaturizer(opts: EmbeddingFeaturizerOptions): Featurizer {
  if (!opts.id) throw new UserError('An embedding featurizer needs an id naming its model.');
  if (opts.dim !== undefined && !(Number.isInteger(opts.dim) && opts.dim > 0)) {
    throw new UserError(`The embedding dim must be a positive integer, got ${opts.dim}.`);
  }
  if (opts.maxLength !== undefined && !(Number.isInteger(opts.maxLength) && opts.maxLength > 0)) {
    throw new UserError(`The embedding maxLength must be a positive integer number of characters, got ${opts.maxLength}.`);
  }
  const batchSize = opts.batchSize ?? 64;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new UserError(`The embedding batchSize must be a positive integer, got ${batchSize}.`);
  }
  let dim = opts.dim ?? 0;
  const id = `embed:${opts.id}`;
  return {
    id,
    get dim() {
      return dim;
    },
    maxLength: opts.maxLength,
    async featurize(texts, signal) {
      const out: Float32Array[] = [];
      for (let start = 0; start < texts.length; start += batchSize) {
        signal?.throwIfAborted();
        const chunk = texts.slice(start, start + batchSize);
        const vectors = await opts.embed(chunk, signal);
        if (!Array.isArray(vectors) || vectors.length !== chunk.length) {
          throw new Error(`${id} returned ${Array.isArray(vectors) ? vectors.length : 'no'} vectors for ${chunk.length} texts.`);
        }
        for (let k = 0; k < vectors.length; k++) {
          const v = vectors[k]!;
          if (dim === 0) dim = v.length;
          if (opts.dim !== undefined && v.length !== opts.dim) {
            throw new UserError(`${id} returns ${v.length}-dimensional vectors but dim is set to ${opts.dim}; fix dim.`);
          }
          if (v.length !== dim || dim === 0) {
            throw new Error(`${id} returned a vector of length ${v.length} for text ${start + k}; expected ${dim}.`);
          }
          const f = Float32Array.from(v);
          for (let j = 0; j < f.length; j++) {
            if (!Number.isFinite(f[j]!)) throw new Error(`${id} returned a non-finite value for text ${start + k}.`);
          }
          out.push(f);
        }
      }
      return out;
    },
  };
}
