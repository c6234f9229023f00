/** Transcripts: the turn type, the word limit, and the fenced text shown to later debaters, judges and weak models. */

export type Side = 'correct' | 'incorrect';
export type Speaker = 'A' | 'B';

export interface Turn {
  index: number;
  speaker: Speaker;
  side: Side;
  text: string;
  wordCount: number;
  truncated: boolean;
  promptHash: string;
  callId: number | null;
}

export interface Transcript {
  debateId: string;
  exampleId: string;
  protocol: string;
  sample: number;
  turns: Turn[];
}

/** Keeps at most `limit` words; reports whether anything was cut. Whitespace inside the kept part is preserved. */
export function applyWordLimit(text: string, limit: number): { text: string; wordCount: number; truncated: boolean } {
  const trimmed = text.trim();
  const words = trimmed.length ? trimmed.split(/\s+/) : [];
  if (words.length <= limit) return { text: trimmed, wordCount: words.length, truncated: false };
  let seen = 0;
  const re = /\S+/g;
  let end = 0;
  for (let m = re.exec(trimmed); m && seen < limit; m = re.exec(trimmed)) {
    seen++;
    end = m.index + m[0].length;
  }
  return { text: trimmed.slice(0, end), wordCount: limit, truncated: true };
}

/** Debater text may not open or close fences or fake prompt tags: angle brackets are escaped. */
export function escapeArgument(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function sideLabel(side: Side): string {
  return side === 'correct' ? 'the proposed answer is correct' : 'the proposed answer is incorrect';
}

/** The transcript as later prompts see it: one fenced block per turn. */
export function formatTranscript(turns: readonly Pick<Turn, 'speaker' | 'side' | 'text'>[], protocol = 'debate'): string {
  if (turns.length === 0) return '(no arguments yet)';
  return turns
    .map((t) => {
      const who = protocol === 'consultancy' ? 'Consultant' : `Debater ${t.speaker}`;
      return `<argument speaker="${who}" side="${t.side}">\n${escapeArgument(t.text)}\n</argument>`;
    })
    .join('\n');
}

/** What a weak model trained "with the debate as context" reads: the example text, then the transcript. */
export function withTranscript(text: string, turns: readonly Pick<Turn, 'speaker' | 'side' | 'text'>[], protocol = 'debate'): string {
  if (turns.length === 0) return text;
  return `${text}\n\nDebate:\n${formatTranscript(turns, protocol)}`;
}
