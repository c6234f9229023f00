import { UserError } from '../errors.js';
import type { ExampleInfo, JudgmentView, PredictionView, ReportQueries, TranscriptView } from './queries.js';

export interface ShowTarget {
  runId: string;
  example: ExampleInfo;
  transcripts: TranscriptView[];
  predictions: PredictionView[];
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
  return { runId: m.runId, example, transcripts, predictions: q.predictions(m.runId, m.exampleId), judgments: q.judgments(m.runId, m.exampleId) };
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
  const members = t.predictions.filter((p) => p.role === 'weak_member');
  if (members.length) {
    const mean = members.reduce((s, p) => s + p.p1, 0) / members.length;
    out.push('', `Weak ensemble mean P(label 1) = ${mean.toFixed(3)} (${(mean > 0.5 ? 1 : 0) === ex.label ? 'right' : 'wrong'})`);
  }
  if (t.predictions.length) {
    out.push('', 'Model probabilities, P(label 1):');
    for (const p of t.predictions) {
      const name = p.role === 'weak_member' ? `weak_member ${p.member}` : p.role;
      out.push(`  ${name.padEnd(16)} ${p.p1.toFixed(3)}  ${(p.p1 > 0.5 ? 1 : 0) === ex.label ? 'right' : 'wrong'}${p.debateId ? `  (saw ${p.debateId})` : ''}`);
    }
  }
  const blind = t.judgments.filter((j) => j.debateId === null);
  if (blind.length) {
    out.push('', 'Judges without a transcript, P(correct):');
    for (const j of blind) out.push(`  ${safeText(j.judge)} ${j.orderSwapped ? 'swapped ' : 'original'} ${j.pCorrect.toFixed(3)} (${j.method})`);
  }
  for (const d of t.transcripts) {
    out.push('', `=== Transcript sample ${d.sample} · ${d.protocol} · ${d.status} · ${d.id}`);
    out.push(`Sides: ${Object.entries(d.sides).map(([k, v]) => `${k} argues the answer is ${v}`).join('; ')}`);
    if (d.error) out.push(`Error: ${safeText(d.error)}`);
    for (const u of d.turns) {
      out.push('', `[Turn ${u.idx + 1}] ${u.speaker} (${u.side}, ${u.wordCount} words${u.truncated ? ', truncated' : ''}):`, wrap(safeText(u.text), width, '  '));
    }
    const verdicts = t.judgments.filter((j) => j.debateId === d.id);
    const judges = [...new Set(verdicts.map((j) => j.judge))];
    if (judges.length) out.push('');
    for (const judge of judges) {
      const js = verdicts.filter((j) => j.judge === judge);
      const mean = js.reduce((s, j) => s + j.pCorrect, 0) / js.length;
      out.push(`Judge ${safeText(judge)}: P(correct) = ${mean.toFixed(3)} (${js.map((j) => `${j.orderSwapped ? 'swapped' : 'original'} ${j.pCorrect.toFixed(3)}`).join(', ')})`);
    }
    for (const p of members.filter((m) => m.debateId === d.id)) out.push(`Ensemble member ${p.member} (read this transcript): P(label 1) = ${p.p1.toFixed(3)}`);
  }
  if (t.transcripts.length === 0) out.push('', '(no transcripts)');
  return out.join('\n');
}
