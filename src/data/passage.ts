import type { Example } from './types.js';

/** Who reads an example's passage (debate.passage); undefined: as the task formats it (weak-to-strong's strings). */
export type PassageMode = 'debaters' | 'all' | 'none' | undefined;

/** An example as the run stores it: the question and text judges and weak models read, and the passage debaters read. */
export interface StoredForm {
  question: string;
  text: string;
  /** Null when no one in the run reads a passage (mode unset or "none", or the row has none). */
  passage: string | null;
}

/**
 * The stored form of an example under debate.passage, decided once at prepare time so that every later stage, a
 * resume and the views read the same thing:
 * - unset: question and text as the task formats them, no passage apart (the run is as it was before the option);
 * - "debaters": the passage-free question and text; the passage apart, for debaters only;
 * - "all": the passage-free question (prompts show the passage in a section of their own), the text a weak model
 *   reads with the passage before it ("Passage: {passage}\n{text}"), and the passage apart;
 * - "none": the passage-free question and text, no passage.
 * A row without a passage reads the same in every mode.
 */
export function storedForm(example: Pick<Example, 'question' | 'text' | 'passage' | 'withoutPassage'>, mode: PassageMode): StoredForm {
  const bare = example.withoutPassage;
  if (mode === undefined || example.passage === undefined || bare === undefined) {
    return { question: example.question, text: example.text, passage: null };
  }
  if (mode === 'none') return { question: bare.question, text: bare.text, passage: null };
  if (mode === 'all') return { question: bare.question, text: `Passage: ${example.passage}\n${bare.text}`, passage: example.passage };
  return { question: bare.question, text: bare.text, passage: example.passage };
}
