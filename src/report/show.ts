import { UserError } from '../errors.js';
import { secretRedactor } from '../redact.js';
import { callTextsReader, TEXTS_NOT_RECORDED, type CallMessage, type ExampleCall } from '../store/calls.js';
import type { ExampleInfo, JudgmentView, PredictionView, ReportQueries, TranscriptView } from './queries.js';
import { meanVerdict, verdictP } from './results.js';
import { shortName, type SubjectContext } from './subjects.js';

/** A stored prediction with the model's short name, as every view prints it ("member 0", "strong on judge j1"). */
export type NamedPrediction = PredictionView & { name: string };

export interface ShowTarget {
  runId: string;
  example: ExampleInfo;
  transcripts: TranscriptView[];
  predictions: NamedPrediction[];
  judgments: JudgmentView[];
}

/**
 * What `w2s show` prints: the id is a debate id (that transcript) or an example id (all of its transcripts). An example
 * id present in several runs needs runId; an unknown id is a UserError.
 */
export function findShowTarget(q: ReportQueries, id: string, runId?: string): ShowTarget {
  let matches = q.findId(id);
  if (runId !== undefined) {
    q.resolveRun(runId);
    matches = matches.filter((m) => m.runId === runId);
  }
  if (matches.length === 0) throw new UserError(`No example or debate has id "${id}"${runId ? ` in run ${runId}` : ''}; list ids with \`w2s export <db> --what transcripts\`.`);
  if (matches.length > 1) throw new UserError(`Example "${id}" is in ${matches.length} runs (${matches.map((m) => m.runId).join(', ')}); choose one with --run.`);
  const m = matches[0]!;
  const example = q.example(m.runId, m.exampleId)!;
  const all = q.transcripts(m.runId, m.exampleId);
  const transcripts = m.kind === 'debate' ? all.filter((t) => t.id === m.debateId) : all;
  // Judge names and judge ensembles name the judge-trained strong models and the judge ensembles' predictions.
  const ctx: SubjectContext = { ...q.run(m.runId)?.config, judgeEnsembles: q.judgeEnsembles(m.runId) };
  const predictions = q.predictions(m.runId, m.exampleId).map((p) => ({ ...p, name: shortName({ role: p.role, member: p.member }, ctx) }));
  return { runId: m.runId, example, transcripts, predictions, judgments: q.judgments(m.runId, m.exampleId) };
}

const wrap = (text: string, width: number, indent: string): string =>
  text
    .split('\n')
    .map((para) => {
      const lines: string[] = [];
      let line = '';
      for (const word of para.split(/\s+/).filter(Boolean)) {
        if (line && line.length + 1 + word.length > width) {
          lines.push(line);
          line = word;
        } else line = line ? `${line} ${word}` : word;
      }
      lines.push(line);
      return lines.map((l) => indent + l).join('\n');
    })
    .join('\n');

/** Strips terminal control characters from stored text, so a transcript cannot move the cursor or recolour the terminal. */
export const safeText = (s: string): string => s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\uFFFD');

/** The transcript as terminal text. */
export function formatShow(t: ShowTarget, width = 100): string {
  const { example: ex } = t;
  const out: string[] = [];
  const gold = ex.label === 1 ? 'correct (label 1)' : 'incorrect (label 0)';
  out.push(`run ${t.runId} · example ${safeText(ex.id)} · split ${ex.split} · gold: ${gold}`);
  out.push('', 'Question:', wrap(safeText(ex.question ?? ex.text), width, '  '));
  if (ex.answer !== null) out.push('Proposed answer:', wrap(safeText(ex.answer), width, '  '));
  // Every model by its short name (subjects.ts), as the run table, compare and the report name it.
  const nameOf = (p: PredictionView & { name?: string }): string => safeText(p.name ?? shortName({ role: p.role, member: p.member }));
  const judgeName = (judge: string): string => safeText(shortName(`judge:${judge}`));
  const members = t.predictions.filter((p) => p.role === 'weak_member');
  if (members.length) {
    const mean = members.reduce((s, p) => s + p.p1, 0) / members.length;
    out.push('', `${shortName('weak_ensemble')}: mean P(label 1) = ${mean.toFixed(3)} (${(mean > 0.5 ? 1 : 0) === ex.label ? 'right' : 'wrong'})`);
  }
  if (t.predictions.length) {
    out.push('', 'Model probabilities, P(label 1):');
    const width = Math.max(...t.predictions.map((p) => nameOf(p).length));
    for (const p of t.predictions) {
      out.push(`  ${nameOf(p).padEnd(width)}  ${p.p1.toFixed(3)}  ${(p.p1 > 0.5 ? 1 : 0) === ex.label ? 'right' : 'wrong'}${p.debateId ? `  (saw ${p.debateId})` : ''}`);
    }
  }
  const blind = t.judgments.filter((j) => j.debateId === null);
  if (blind.length) {
    out.push('', 'Judges without a transcript, P(correct):');
    for (const j of blind) out.push(`  ${judgeName(j.judge)} ${j.orderSwapped ? 'swapped ' : 'original'} ${verdictP(j.pCorrect)} (${j.method})`);
  }
  for (const d of t.transcripts) {
    out.push('', `=== Transcript sample ${d.sample} · ${d.protocol} · ${d.status} · ${d.id}`);
    out.push(`Sides: ${Object.entries(d.sides).map(([k, v]) => `${k} argues the answer is ${v}`).join('; ')}${sidesOrigin(d)}`);
    if (d.source) out.push(`Imported from ${safeText(d.source.file)} line ${d.source.line} (${safeText(d.source.format)}, sha256 ${d.source.sha256.slice(0, 12)}…)`);
    if (d.error) out.push(`Error: ${safeText(d.error)}`);
    for (const u of d.turns) {
      out.push('', `[Turn ${u.idx + 1}] ${u.speaker} (${u.side}, ${u.wordCount} words${u.truncated ? ', truncated' : ''}${quotesNote(u.quotes)}${bestOfNote(d.candidates[u.idx])}):`, wrap(safeText(u.text), width, '  '));
    }
    const verdicts = t.judgments.filter((j) => j.debateId === d.id);
    const judges = [...new Set(verdicts.map((j) => j.judge))];
    if (judges.length) out.push('');
    for (const judge of judges) {
      const js = verdicts.filter((j) => j.judge === judge);
      const mean = meanVerdict(js.map((j) => j.pCorrect));
      out.push(`${judgeName(judge)}: P(correct) = ${verdictP(mean)} (${js.map((j) => `${j.orderSwapped ? 'swapped' : 'original'} ${verdictP(j.pCorrect)}`).join(', ')})`);
    }
    for (const p of members.filter((m) => m.debateId === d.id)) out.push(`${nameOf(p)} (read this transcript): P(label 1) = ${p.p1.toFixed(3)}`);
  }
  if (t.transcripts.length === 0) out.push('', '(no transcripts)');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// show --prompts: the exact texts behind an example's turns and judgments

/** One call as `show --prompts` shows it: its ledger facts and texts, secrets redacted. */
export interface PromptCall {
  id: number;
  model: string;
  role: string;
  cacheHit: boolean;
  finishReason: string | null;
  error: string | null;
  /** False for a call made before w2s stored prompts: messages, response and params are then empty. */
  recorded: boolean;
  params: Record<string, unknown> | null;
  messages: CallMessage[];
  response: string | null;
}

/** A turn or judgment with the call that made it (null: no ledger row, or one the ledger no longer holds). */
export type PromptEntry = ExampleCall & { call: PromptCall | null };

export interface PromptsTarget {
  runId: string;
  example: ExampleInfo;
  /** The debate asked for, or null when the id was an example's (all its transcripts and judgments). */
  debateId: string | null;
  transcripts: Pick<TranscriptView, 'id' | 'protocol' | 'sample' | 'status'>[];
  entries: PromptEntry[];
}

/**
 * What `w2s show --prompts` prints: for every call the example's debate turns and judgments made (or one debate's,
 * for a debate id), the messages the model received and its raw reply, as stored in the ledger's texts. Secrets in
 * model ids and texts are redacted (src/redact.ts).
 */
export function findPromptsTarget(q: ReportQueries, id: string, runId?: string): PromptsTarget {
  const t = findShowTarget(q, id, runId);
  const debateId = t.transcripts.length === 1 && t.transcripts[0]!.id === id ? id : null;
  const reader = callTextsReader(q.db);
  const clean = secretRedactor();
  const callOf = (callId: number | null): PromptCall | null => {
    const c = callId === null ? undefined : reader.callWithTexts(callId);
    if (!c) return null;
    return {
      id: c.id,
      model: clean(c.model),
      role: c.role,
      cacheHit: c.cacheHit,
      finishReason: c.finishReason,
      error: c.error === null ? null : clean(c.error),
      recorded: c.texts.recorded,
      params: c.texts.params,
      messages: c.texts.messages.map((m) => ({ role: m.role, content: clean(m.content) })),
      response: c.texts.response === null ? null : clean(c.texts.response),
    };
  };
  return {
    runId: t.runId,
    example: t.example,
    debateId,
    transcripts: t.transcripts.map(({ id: tid, protocol, sample, status }) => ({ id: tid, protocol, sample, status })),
    entries: reader.exampleCalls(t.runId, t.example.id, debateId ?? undefined).map((e) => ({ ...e, call: callOf(e.callId) })),
  };
}

const PARSE_STATUS: Record<string, (p: string) => string> = {
  logprobs: (p) => `logprobs (P(correct) = ${p}, read from the verdict token's logprobs)`,
  parsed: (p) => `parsed (a verdict found in the reply; P(correct) = ${p})`,
  unparsed: () => 'unparsed (no verdict in the reply, so no P(correct): the reply counts toward no mean)',
};

/**
 * A stored text as printed: control characters made visible, every non-empty line indented by four spaces (the text
 * itself unchanged; --json gives it exactly).
 */
const block = (text: string): string => (text === '' ? '    (empty)' : safeText(text).split('\n').map((l) => (l ? `    ${l}` : l)).join('\n'));

function formatPromptCall(call: PromptCall | null): string[] {
  if (!call) return ['(no ledger row for this call)'];
  const out = [`call ${call.id} · ${safeText(call.model)} · ${call.cacheHit ? 'cache hit' : 'backend call'}`];
  if (!call.recorded) return [...out, `messages and reply: ${TEXTS_NOT_RECORDED}`];
  out.push(`params: ${safeText(JSON.stringify(call.params))}`);
  for (const m of call.messages) out.push(`[${safeText(m.role)}]`, block(m.content));
  if (call.response !== null) out.push(`[reply${call.finishReason ? `, finish ${safeText(call.finishReason)}` : ''}]`, block(call.response));
  else out.push(call.error ? `[no reply: ${safeText(call.error)}]` : '[no reply]');
  return out;
}

function formatEntry(e: PromptEntry): string[] {
  if (e.what === 'turn') return ['', `--- Turn ${e.turn + 1} · debater ${safeText(e.speaker)} (argues ${e.side})`, ...formatPromptCall(e.call)];
  const parse = (PARSE_STATUS[e.method] ?? ((p: string) => `${e.method} (P(correct) = ${p})`))(verdictP(e.pCorrect));
  return ['', `--- Judge ${safeText(e.judge)} · ${e.orderSwapped ? 'swapped' : 'original'} order${e.sample ? ` · sample ${e.sample}` : ''}`, `parse: ${parse}`, ...formatPromptCall(e.call)];
}

/** The prompts as terminal text: each transcript's turns then its judgments, then judgments without a transcript. */
export function formatPrompts(t: PromptsTarget): string {
  const ex = t.example;
  const gold = ex.label === 1 ? 'correct (label 1)' : 'incorrect (label 0)';
  const out: string[] = [`run ${t.runId} · example ${safeText(ex.id)} · split ${ex.split} · gold: ${gold}`];
  out.push(`The exact messages each model received and its raw reply, for every turn and judgment${t.debateId ? ` of debate ${t.debateId}` : ''}.`);
  for (const d of t.transcripts) {
    out.push('', `=== Transcript sample ${d.sample} · ${d.protocol} · ${d.status} · ${d.id}`);
    const mine = t.entries.filter((e) => e.debateId === d.id);
    for (const e of mine) out.push(...formatEntry(e));
    if (mine.length === 0) out.push('(no turns or judgments)');
  }
  const blind = t.entries.filter((e) => e.debateId === null);
  if (blind.length) {
    out.push('', '=== Judgments without a transcript');
    for (const e of blind) out.push(...formatEntry(e));
  }
  if (t.entries.length === 0) out.push('', '(no model calls)');
  return out.join('\n');
}

/** Open roles: who chose the sides, or that its reply stated none and the seeded draw stood. */
function sidesOrigin(d: TranscriptView): string {
  if (d.roles !== 'open') return '';
  const who = d.protocol === 'consultancy' ? 'the consultant' : 'debater A';
  if (!d.choice || d.choice.stated) return ` (open roles: chosen by ${who})`;
  return ` (open roles: ${who}'s reply ${JSON.stringify(safeText(d.choice.reply).slice(0, 60))} stated no side, so the seeded draw stands)`;
}

/** Best-of-N: how many candidates the turn had and the kept one's score. */
function bestOfNote(candidates: TranscriptView['candidates'][number] | undefined): string {
  if (!candidates?.length) return '';
  const kept = candidates.find((c) => c.kept);
  const score = kept?.score == null ? 'unscored' : `score ${kept.score.toFixed(3)}`;
  return `, best of ${candidates.length}: candidate ${kept ? kept.candidate : '?'} kept, ${score}`;
}

/** A turn's quotes from the passage: ", 3 quotes, 2 verified"; nothing when the example had no passage. */
function quotesNote(q: { made: number; verified: number } | null): string {
  return q === null ? '' : `, ${q.made} quote${q.made === 1 ? '' : 's'}, ${q.verified} verified`;
}
