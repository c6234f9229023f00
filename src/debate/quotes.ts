/**
 * Quotes from a hidden passage. Debaters mark a quote as `<quote>…</quote>`; a quote is verified when its normalised
 * text (lowercase, punctuation and symbols dropped, whitespace collapsed) occurs in the normalised passage. Judges see
 * each quote marked verified or not, so a debater gains nothing by inventing one.
 */

/** A quote as a debater writes it. Only this exact tag counts: `<quote verified="yes">` in a debater's text is escaped. */
const QUOTE = /<quote>([\s\S]*?)<\/quote>/gi;

/** Lowercase, punctuation and symbols removed, runs of whitespace made one space, trimmed. */
export function normaliseForQuote(text: string): string {
  return text.toLowerCase().replace(/[\p{P}\p{S}]/gu, '').replace(/\s+/g, ' ').trim();
}

/** The marked quotes in a turn's text, in order (their inner text as written). */
export function findQuotes(text: string): string[] {
  return [...text.matchAll(QUOTE)].map((m) => m[1]!);
}

/** True when the quote, normalised, is a non-empty substring of the normalised passage. */
export function isVerified(quote: string, passage: string): boolean {
  const q = normaliseForQuote(quote);
  return q !== '' && normaliseForQuote(passage).includes(q);
}

/** How many quotes a turn made and how many of them check out against the passage (stored as turns.quotes*). */
export function countQuotes(text: string, passage: string): { made: number; verified: number } {
  const quotes = findQuotes(text);
  return { made: quotes.length, verified: quotes.filter((q) => isVerified(q, passage)).length };
}

/**
 * A turn's text as a judge sees it: everything escaped (so no fence or tag can be faked), each marked quote shown as
 * `<quote verified="yes">…</quote>` or `<quote verified="no">…</quote>`. The marks are added after escaping, so only
 * w2s can write them.
 */
export function markQuotes(text: string, passage: string, escape: (s: string) => string): string {
  let out = '';
  let at = 0;
  for (const m of text.matchAll(QUOTE)) {
    const inner = m[1]!;
    out += escape(text.slice(at, m.index)) + `<quote verified="${isVerified(inner, passage) ? 'yes' : 'no'}">${escape(inner)}</quote>`;
    at = m.index + m[0].length;
  }
  return out + escape(text.slice(at));
}
