/**
 * Quotes from a hidden passage. Debaters mark a quote as `<quote>…</quote>`; a quote is verified when its normalised
 * text (lowercase, apostrophes dropped, other punctuation and symbols made spaces, whitespace collapsed) occurs in the
 * normalised passage as whole words. Judges see each quote marked verified or not, so a debater gains nothing by
 * inventing one.
 */

/** A quote as a debater writes it. Only this exact tag counts: `<quote verified="yes">` in a debater's text is escaped. */
const QUOTE = /<quote>([\s\S]*?)<\/quote>/gi;

/**
 * Lowercase; apostrophes dropped ("cell's" reads "cells"); other punctuation and symbols made spaces ("north-east"
 * reads "north east"); runs of whitespace made one space; trimmed.
 */
export function normaliseForQuote(text: string): string {
  return text.toLowerCase().replace(/['\u2019\u02bc]/g, '').replace(/[\p{P}\p{S}]/gu, ' ').replace(/\s+/g, ' ').trim();
}

/** The marked quotes in a turn's text, in order (their inner text as written). */
export function findQuotes(text: string): string[] {
  return [...text.matchAll(QUOTE)].map((m) => m[1]!);
}

/**
 * The check against one passage, normalised once: true when a quote, normalised, is non-empty and occurs in it as
 * whole words ("cat" is not verified by "category", nor "the answer is no" by "the answer is not clear").
 */
export function quoteChecker(passage: string): (quote: string) => boolean {
  let words: string | undefined; // normalised on the first quote: most texts quote nothing
  return (quote) => {
    const q = normaliseForQuote(quote);
    words ??= ` ${normaliseForQuote(passage)} `;
    return q !== '' && words.includes(` ${q} `);
  };
}

export function isVerified(quote: string, passage: string): boolean {
  return quoteChecker(passage)(quote);
}

/** How many quotes a turn made and how many of them check out against the passage (stored as turns.quotes*). */
export function countQuotes(text: string, passage: string): { made: number; verified: number } {
  const quotes = findQuotes(text);
  if (quotes.length === 0) return { made: 0, verified: 0 };
  const verified = quoteChecker(passage);
  return { made: quotes.length, verified: quotes.filter(verified).length };
}

/**
 * A turn's text as a judge sees it: everything escaped (so no fence or tag can be faked), each marked quote shown as
 * `<quote verified="yes">…</quote>` or `<quote verified="no">…</quote>`. The marks are added after escaping, so only
 * w2s can write them.
 */
export function markQuotes(text: string, verified: (quote: string) => boolean, escape: (s: string) => string): string {
  let out = '';
  let at = 0;
  for (const m of text.matchAll(QUOTE)) {
    const inner = m[1]!;
    out += escape(text.slice(at, m.index)) + `<quote verified="${verified(inner) ? 'yes' : 'no'}">${escape(inner)}</quote>`;
    at = m.index + m[0].length;
  }
  return out + escape(text.slice(at));
}
