/**
 * Where a reply ends under OpenAI's stop semantics: the index of the earliest stop string in text, or -1. Adapters
 * whose backend may leave the stop string in the reply (an in-process model, some OpenAI-compatible servers such as
 * `transformers serve`) cut there, so every adapter returns the text before the stop, never the stop itself.
 */
export function firstStop(text: string, stops: readonly string[] | undefined): number {
  let best = -1;
  for (const s of stops ?? []) {
    if (s === '') continue;
    const at = text.indexOf(s);
    if (at >= 0 && (best < 0 || at < best)) best = at;
  }
  return best;
}
