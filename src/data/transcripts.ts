import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { sha256 } from '../hash.js';
import { createRng, deriveSeed } from '../rng.js';
import { DataFileError } from './readers.js';
import { describeIssues } from './rows.js';
import type { Example } from './types.js';

/**
 * Transcripts written elsewhere (human debates, another harness's output), read from a JSONL file: docs/import.md
 * describes both formats. Reading is all-or-nothing: the first malformed row stops it with one sentence naming its
 * line and field, before anything is stored.
 *
 * Sides are w2s's: "correct" argues that the example's proposed answer is correct, "incorrect" that it is not. Nothing
 * here that a judge or weak model reads depends on the gold label: the proposed answer of a two-answer source is drawn
 * by a seeded coin, and so is who speaks first when the source gives the two sides' arguments unordered.
 */

export type ImportFormat = 'w2s' | 'single_turn_debate';
export type ImportSide = 'correct' | 'incorrect';

export interface ImportedTurn {
  speaker: 'A' | 'B';
  side: ImportSide;
  /** The argument as judges and weak models read it: quotes the source lists apart are appended as <quote>…</quote>. */
  text: string;
}

export interface ImportedTranscript {
  exampleId: string;
  /** Speaker to the side it argues: {A, B} for a debate, {A} for a consultancy. */
  sides: Partial<Record<'A' | 'B', ImportSide>>;
  turns: ImportedTurn[];
  /** 1-based line of the row it came from (single_turn_debate: the first of its arguments' lines). */
  line: number;
  /** The source's own fields that w2s does not read (ids, annotators, timestamps, ...), kept as provenance. */
  meta: Record<string, unknown>;
}

export interface ImportedFile {
  /** Absolute path as read, and the sha256 of its bytes. */
  file: string;
  sha256: string;
  format: ImportFormat;
  /** The examples the rows define (rows with a question); null when the rows name dataset rows by id instead. */
  examples: Example[] | null;
  /** With examples null: the answer a row says its transcript argued about, where it gives one, by example id. */
  answers: Map<string, { answer: string; line: number }>;
  /** Transcripts by example id, in sample order (file order). */
  transcripts: Map<string, ImportedTranscript[]>;
}

export interface ReadImportOptions {
  format: ImportFormat;
  /** debate: every transcript argues both sides; consultancy: each argues one. */
  protocol: 'debate' | 'consultancy';
  /** The run's seed: draws the proposed answer of two-answer rows and who speaks first where the source has no order. */
  seed: number;
}

// ---------------------------------------------------------------------------------------------------------------
// The w2s format: one transcript per line.

const quotesSchema = z.array(z.string()).optional();
const argumentSchema = z.union([z.string().min(1), z.object({ text: z.string().min(1), quotes: quotesSchema }).strict()], {
  error: 'expected an argument: a non-empty string or {"text": ..., "quotes": [...]}',
});
const argumentsSchema = z.union([argumentSchema, z.array(argumentSchema).min(1)]);

const w2sRowSchema = z
  .object({
    id: z.union([z.string().min(1), z.number()], { error: 'expected a non-empty string or a number' }),
    question: z.string().min(1).optional(),
    answer: z.string().min(1).optional(),
    label: z.union([z.literal(0), z.literal(1), z.boolean()], { error: 'expected 0, 1, true or false' }).optional(),
    passage: z.string().min(1).optional(),
    group: z.union([z.string().min(1), z.number()]).optional(),
    for: argumentsSchema.optional(),
    against: argumentsSchema.optional(),
    turns: z
      .array(z.object({ side: z.enum(['for', 'against']), text: z.string().min(1), quotes: quotesSchema }).strict())
      .min(1)
      .optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
    if (r.turns && (r.for || r.against)) issue('turns', 'give either "turns" or "for"/"against", not both');
    if (!r.turns && !r.for && !r.against) issue('for', 'missing: give the arguments as "for" and/or "against", or as "turns"');
    if (r.question !== undefined) {
      if (r.answer === undefined) issue('answer', 'missing: a row with "question" needs the proposed "answer" its sides argue about');
      if (r.label === undefined) issue('label', 'missing: a row with "question" needs "label" (1 or true: the answer is correct)');
    } else {
      for (const key of ['label', 'passage', 'group'] as const) {
        if (r[key] !== undefined) issue(key, `"${key}" defines an example, which needs "question" too; give "question" and "answer", or name a dataset row by "id" alone`);
      }
    }
  });
type W2sRow = z.infer<typeof w2sRowSchema>;
type Argument = z.infer<typeof argumentSchema>;

// ---------------------------------------------------------------------------------------------------------------
// nyu-mll/single_turn_debate's argument data: a line is a writing task whose output_data lists arguments (or one
// argument object per line); each argument argues for one of a question's two answers.

const stdArgumentSchema = z
  .object({
    passage_id: z.union([z.string().min(1), z.number()], { error: 'expected a non-empty string or a number' }),
    question_id: z.union([z.string().min(1), z.number()], { error: 'expected a non-empty string or a number' }),
    question_text: z.string().min(1),
    argue_for: z.string().min(1),
    argue_against: z.string().min(1),
    argue_for_correct: z.boolean({ error: 'expected true or false' }),
    argument: z.string().min(1),
    selected_snippets: z.array(z.string()).optional(),
  })
  .passthrough();
type StdArgument = z.infer<typeof stdArgumentSchema>;
/** A writing task: its arguments under output_data, and its own fields (ids, annotator, timestamps). */
const stdTaskSchema = z.object({ output_data: z.array(z.unknown()).min(1) }).passthrough();

// ---------------------------------------------------------------------------------------------------------------

/** Reads and checks an import file; throws a DataFileError (a UserError) naming the line and field of the first problem. */
export async function readImportFile(file: string, options: ReadImportOptions): Promise<ImportedFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new DataFileError(file, undefined, `cannot read the transcripts to import (${why}); fix debate.import.file`);
  }
  const lines = jsonLines(file, bytes.toString('utf8'));
  if (lines.length === 0) throw new DataFileError(file, undefined, 'holds no rows; give one JSON object per line (docs/import.md)');
  const parsed = options.format === 'w2s' ? readW2s(file, lines, options) : readSingleTurnDebate(file, lines, options);
  return { file, sha256: sha256(bytes), format: options.format, ...parsed };
}

interface Line {
  line: number;
  value: unknown;
}

function jsonLines(file: string, text: string): Line[] {
  const out: Line[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      out.push({ line: i + 1, value: JSON.parse(raw) });
    } catch (e) {
      throw new DataFileError(file, i + 1, `is not valid JSON (${(e as Error).message}); write one JSON object per line`);
    }
  });
  return out;
}

function parseRow<T>(file: string, line: number, schema: z.ZodType<T>, value: unknown, prefix = ''): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new DataFileError(file, line, `${prefix}${describeIssues(r.error.issues.slice(0, 1))}`);
  return r.data;
}

/** An argument's text with the quotes its source lists apart appended, marked as w2s debaters mark them. */
function withQuotes(text: string, quotes: readonly string[] | undefined, numbered = false): string {
  const marked = (quotes ?? [])
    .map((q, i) => ({ q: q.trim(), n: i + 1 }))
    .filter(({ q }) => q !== '')
    .map(({ q, n }) => `${numbered ? `(#${n}) ` : ''}<quote>${q}</quote>`);
  return marked.length ? `${text.trim()}\n\n${marked.join('\n')}` : text.trim();
}

const argumentText = (a: Argument): string => (typeof a === 'string' ? a.trim() : withQuotes(a.text, a.quotes));
const asList = (a: Argument | Argument[] | undefined): Argument[] => (a === undefined ? [] : Array.isArray(a) ? a : [a]);
const toSide = (s: 'for' | 'against'): ImportSide => (s === 'for' ? 'correct' : 'incorrect');
const other = (s: ImportSide): ImportSide => (s === 'correct' ? 'incorrect' : 'correct');

/** Whoever speaks first gets A; the other side B. A consultancy's one speaker is A. */
function speakersOf(file: string, line: number, exampleId: string, ordered: ImportSide[], protocol: ReadImportOptions['protocol']): Pick<ImportedTranscript, 'sides'> & { speakers: ('A' | 'B')[] } {
  const first = ordered[0]!;
  const both = ordered.some((s) => s !== first);
  if (protocol === 'debate' && !both) {
    throw new DataFileError(file, line, `example "${exampleId}": protocol "debate" needs arguments for both sides, and this transcript has only ${first === 'correct' ? '"for"' : '"against"'}; add the other side, or set debate.protocol to "consultancy"`);
  }
  if (protocol === 'consultancy' && both) {
    throw new DataFileError(file, line, `example "${exampleId}": protocol "consultancy" has one advocate, and this transcript argues both sides; give one side per row, or set debate.protocol to "debate"`);
  }
  const sides: ImportedTranscript['sides'] = protocol === 'debate' ? { A: first, B: other(first) } : { A: first };
  return { sides, speakers: ordered.map((s) => (s === first ? 'A' : 'B')) };
}

/**
 * Interleaves the two sides' arguments when the source gives them as two lists: who opens is a seeded coin per
 * transcript (a source that lists the right answer's argument first must not teach anyone the label).
 */
function interleave(forArgs: string[], againstArgs: string[], seed: number, exampleId: string, sample: number): { side: ImportSide; text: string }[] {
  const forFirst = createRng(deriveSeed(seed, 'import-order', exampleId, sample)).random() < 0.5;
  const [first, second] = forFirst
    ? [forArgs.map((text) => ({ side: 'correct' as const, text })), againstArgs.map((text) => ({ side: 'incorrect' as const, text }))]
    : [againstArgs.map((text) => ({ side: 'incorrect' as const, text })), forArgs.map((text) => ({ side: 'correct' as const, text }))];
  const out: { side: ImportSide; text: string }[] = [];
  for (let i = 0; i < Math.max(first.length, second.length); i++) {
    if (first[i]) out.push(first[i]!);
    if (second[i]) out.push(second[i]!);
  }
  return out;
}

function readW2s(file: string, lines: Line[], options: ReadImportOptions): Omit<ImportedFile, 'file' | 'sha256' | 'format'> {
  const examples = new Map<string, { example: Example; line: number }>();
  const answers = new Map<string, { answer: string; line: number }>();
  const transcripts = new Map<string, ImportedTranscript[]>();
  let definesExamples: { yes: boolean; line: number } | undefined;
  for (const { line, value } of lines) {
    const row: W2sRow = parseRow(file, line, w2sRowSchema, value);
    const id = String(row.id);
    const defines = row.question !== undefined;
    definesExamples ??= { yes: defines, line };
    if (defines !== definesExamples.yes) {
      throw new DataFileError(file, line, `${defines ? 'gives' : 'gives no'} "question", unlike line ${definesExamples.line}; either every row defines its example (question, answer, label) or every row names a dataset row by "id"`);
    }
    if (defines) {
      const example = exampleOf(id, row);
      const before = examples.get(id);
      if (before && !sameExample(before.example, example)) {
        throw new DataFileError(file, line, `example "${id}" is defined differently on line ${before.line} (question, answer, label, passage or group); rows of one example must agree`);
      }
      if (!before) examples.set(id, { example, line });
    } else if (row.answer !== undefined) {
      const before = answers.get(id);
      if (before && before.answer !== row.answer) throw new DataFileError(file, line, `field "answer": example "${id}" was argued about "${before.answer}" on line ${before.line}; rows of one example must agree`);
      answers.set(id, { answer: row.answer, line });
    }
    const list = transcripts.get(id) ?? [];
    const ordered = row.turns
      ? row.turns.map((t) => ({ side: toSide(t.side), text: withQuotes(t.text, t.quotes) }))
      : interleave(asList(row.for).map(argumentText), asList(row.against).map(argumentText), options.seed, id, list.length);
    const { sides, speakers } = speakersOf(file, line, id, ordered.map((t) => t.side), options.protocol);
    list.push({ exampleId: id, sides, turns: ordered.map((t, i) => ({ speaker: speakers[i]!, side: t.side, text: t.text })), line, meta: row.meta ?? {} });
    transcripts.set(id, list);
  }
  return { examples: definesExamples?.yes ? [...examples.values()].map((e) => e.example) : null, answers, transcripts };
}

/** The example a w2s row defines; its text is the jsonl dataset's default ("Question: …\nAnswer: …"). */
function exampleOf(id: string, row: W2sRow): Example {
  const question = row.question!;
  const answer = row.answer!;
  const text = `Question: ${question}\nAnswer: ${answer}`;
  return {
    id, text, question, answer, label: row.label === true || row.label === 1 ? 1 : 0, meta: {},
    ...(row.passage !== undefined && { passage: row.passage, withoutPassage: { question, text } }),
    ...(row.group !== undefined && { group: String(row.group) }),
  };
}

const sameExample = (a: Example, b: Example): boolean =>
  a.question === b.question && a.answer === b.answer && a.label === b.label && a.passage === b.passage && a.group === b.group;

/**
 * single_turn_debate: each question has arguments for each of its two answers. The proposed answer is one of the two,
 * drawn by a seeded coin (never by which one is right); the label says whether it is the right one. protocol debate:
 * the k-th argument for each answer make transcript k; consultancy: each argument is a transcript, in a seeded order.
 */
function readSingleTurnDebate(file: string, lines: Line[], options: ReadImportOptions): Omit<ImportedFile, 'file' | 'sha256' | 'format'> {
  const byQuestion = new Map<string, { args: { arg: StdArgument; line: number; task: Record<string, unknown> }[] }>();
  for (const { line, value } of lines) {
    const isTask = value !== null && typeof value === 'object' && 'output_data' in value;
    const { output_data: items, ...task } = isTask ? parseRow(file, line, stdTaskSchema, value) : { output_data: [value] };
    items.forEach((item, i) => {
      const arg = parseRow(file, line, stdArgumentSchema, item, isTask ? `output_data[${i}]: ` : '');
      const id = `single_turn_debate/${arg.passage_id}/${arg.question_id}`;
      const q = byQuestion.get(id) ?? { args: [] };
      q.args.push({ arg, line, task });
      byQuestion.set(id, q);
    });
  }
  const examples: Example[] = [];
  const transcripts = new Map<string, ImportedTranscript[]>();
  for (const [id, { args }] of byQuestion) {
    const first = args[0]!;
    const where = (n: number): string => `example "${id}" (line ${n})`;
    const answersOf = [...new Set(args.flatMap((a) => [a.arg.argue_for, a.arg.argue_against]))].sort();
    if (answersOf.length !== 2) throw new DataFileError(file, first.line, `${where(first.line)}: its arguments name ${answersOf.length} answers (${answersOf.map((a) => JSON.stringify(a)).join(', ')}), and a debate needs exactly two; fix argue_for/argue_against`);
    const right = new Set(args.map((a) => (a.arg.argue_for_correct ? a.arg.argue_for : a.arg.argue_against)));
    if (right.size !== 1) throw new DataFileError(file, first.line, `field "argue_for_correct": the arguments of ${where(first.line)} disagree on which answer is right; fix argue_for_correct`);
    const questions = new Set(args.map((a) => a.arg.question_text.trim()));
    if (questions.size !== 1) throw new DataFileError(file, first.line, `field "question_text": the arguments of ${where(first.line)} give different question texts; fix question_text`);
    // The proposed answer: a seeded coin over the two answers in sorted order, so it carries nothing of the label.
    const rng = createRng(deriveSeed(options.seed, 'import-answer', id));
    const answer = rng.choice(answersOf);
    const question = first.arg.question_text.trim();
    const text = `Question: ${question}\nAnswer: ${answer}`;
    examples.push({ id, text, question, answer, label: right.has(answer) ? 1 : 0, meta: {}, group: `single_turn_debate/${first.arg.passage_id}` });

    const argText = (a: StdArgument): string => withQuotes(a.argument, a.selected_snippets, true);
    const forAnswer = args.filter((a) => a.arg.argue_for === answer);
    const againstAnswer = args.filter((a) => a.arg.argue_for !== answer);
    const meta = (picked: typeof args): Record<string, unknown> => ({ arguments: picked.map((a) => ({ line: a.line, ...provenanceOf(a.arg, a.task) })) });
    const list: ImportedTranscript[] = [];
    if (options.protocol === 'debate') {
      const n = Math.min(forAnswer.length, againstAnswer.length);
      if (n === 0) {
        const has = forAnswer.length ? 'the proposed answer' : 'the other answer';
        throw new DataFileError(file, first.line, `${where(first.line)}: protocol "debate" pairs an argument for each answer, and this question has arguments for ${has} only; add the other, or set debate.protocol to "consultancy"`);
      }
      for (let k = 0; k < n; k++) {
        const ordered = interleave([argText(forAnswer[k]!.arg)], [argText(againstAnswer[k]!.arg)], options.seed, id, k);
        const { sides, speakers } = speakersOf(file, first.line, id, ordered.map((t) => t.side), 'debate');
        const pair = [forAnswer[k]!, againstAnswer[k]!];
        list.push({ exampleId: id, sides, turns: ordered.map((t, i) => ({ speaker: speakers[i]!, side: t.side, text: t.text })), line: Math.min(...pair.map((a) => a.line)), meta: meta(pair) });
      }
    } else {
      const shuffled = createRng(deriveSeed(options.seed, 'import-samples', id)).shuffle(args);
      for (const a of shuffled) {
        const side: ImportSide = a.arg.argue_for === answer ? 'correct' : 'incorrect';
        list.push({ exampleId: id, sides: { A: side }, turns: [{ speaker: 'A', side, text: argText(a.arg) }], line: a.line, meta: meta([a]) });
      }
    }
    transcripts.set(id, list);
  }
  return { examples, answers: new Map(), transcripts };
}

/** What of a single_turn_debate argument w2s does not otherwise keep: its ids and its writing task's fields. */
function provenanceOf(arg: StdArgument, task: Record<string, unknown>): Record<string, unknown> {
  const { question_text: _q, argument: _a, selected_snippets: _s, ...ids } = arg;
  return { ...ids, ...(Object.keys(task).length ? { task } : {}) };
}
