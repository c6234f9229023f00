import { escapeHtml as esc } from './escape.js';
import type { ExampleInfo, JudgeEnsembleModelView, JudgmentView, PredictionView, TranscriptView } from './queries.js';

/** Shared by the report and the viewer: one stylesheet, inline. */
export const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0 auto;max-width:1100px;padding:16px;color:#222}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0;font-size:13px;display:block;overflow-x:auto;max-width:100%}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.meta,.note{color:#666;font-size:12px}.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart{border:1px solid #eee;max-width:100%;height:auto;background:#fff}
.turn{border-left:4px solid #ccc;margin:8px 0;padding:4px 10px;background:#fafafa}.turn.correct{border-color:#59a14f}.turn.incorrect{border-color:#e15759}
.turn pre,.text{white-space:pre-wrap;word-break:break-word;font:13px/1.4 ui-monospace,Menlo,monospace;margin:4px 0}
.good{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}details.example{margin:6px 0}summary{cursor:pointer}
nav a{margin-right:10px}form.filters{margin:8px 0}form.filters label{margin-right:12px}.empty{color:#999}
ul.presentations,ul.members{margin:0;padding-left:16px}.disagree{background:#fdecea}.disagree .mark{color:#c62828;font-weight:600}.undecided{color:#777}
code.raw{white-space:pre-wrap;word-break:break-word;font-size:12px;color:#555}
`;

const side = (s: string | undefined): string => (s === 'correct' ? 'argues the answer is correct' : s === 'incorrect' ? 'argues the answer is incorrect' : '');

/** A P(correct) as a decision: above 0.5 "correct", below "incorrect", exactly 0.5 no verdict. */
type Decision = 'correct' | 'incorrect' | 'undecided';
const decide = (p: number): Decision => (p > 0.5 ? 'correct' : p < 0.5 ? 'incorrect' : 'undecided');

/** "correct (right)": a decision and whether it matches the gold label. */
function decisionHtml(p: number, label: 0 | 1): string {
  const d = decide(p);
  if (d === 'undecided') return '<span class="undecided">no verdict (0.5)</span>';
  const right = (d === 'correct' ? 1 : 0) === label;
  return `${d} <span class="${right ? 'good' : 'bad'}">(${right ? 'right' : 'wrong'})</span>`;
}

/**
 * Every judge's verdict on this example (its mean P(correct), and each presentation and sample with the reply as
 * received), then each judge ensemble's stored P(correct) with its members' verdicts beside it, a member whose decision
 * differs from the ensemble's marked, so a disagreement reads in one place.
 */
function judgesHtml(ex: ExampleInfo, transcripts: TranscriptView[], predictions: PredictionView[], judgments: JudgmentView[], ensembles: readonly JudgeEnsembleModelView[]): string {
  const byJudge = new Map<string, JudgmentView[]>();
  for (const j of judgments) byJudge.set(j.judge, [...(byJudge.get(j.judge) ?? []), j]);
  const mean = (js: readonly JudgmentView[]): number => js.reduce((s, j) => s + j.pCorrect, 0) / js.length;
  const sampleOf = new Map(transcripts.map((t) => [t.id, t.sample]));
  const where = (j: JudgmentView): string => (j.debateId === null ? 'no transcript' : sampleOf.has(j.debateId) ? `transcript ${sampleOf.get(j.debateId)}` : `debate ${j.debateId}`);
  const judgeRows = [...byJudge.entries()].map(([judge, js]) => {
    const p = mean(js);
    const items = js.map((j) => `<li class="presentation">${esc(where(j))} · ${j.orderSwapped ? 'swapped' : 'original'} · sample ${j.sample}: ${j.pCorrect.toFixed(3)} (${esc(j.method)})${j.rawText !== null ? ` <code class="raw">${esc(j.rawText)}</code>` : ''}</li>`).join('');
    return `<tr class="judge-verdict" data-judge="${esc(judge)}"><td>${esc(judge)}</td><td class="p">${p.toFixed(3)}</td><td>${decisionHtml(p, ex.label)}</td><td><ul class="presentations">${items}</ul></td></tr>`;
  });
  const ensembleRows = ensembles.flatMap((e) => {
    const pred = predictions.find((p) => p.role === 'judge_ensemble' && p.member === e.index);
    if (!pred) return [];
    const d = decide(pred.p1);
    const members = e.members.map((m) => {
      const js = byJudge.get(m);
      if (!js?.length) return `<li class="member missing" data-member="${esc(m)}">${esc(m)}: no verdict stored</li>`;
      const p = mean(js);
      const md = decide(p);
      const disagrees = d !== 'undecided' && md !== 'undecided' && md !== d;
      const weight = e.weights?.byMember[m];
      return `<li class="member ${disagrees ? 'disagree' : md === 'undecided' ? 'undecided' : 'agree'}" data-member="${esc(m)}">${esc(m)}: ${p.toFixed(3)}, ${md === 'undecided' ? 'no verdict' : md}${weight !== undefined ? ` <span class="note">(weight ${weight.toFixed(3)})</span>` : ''}${disagrees ? ' <span class="mark">✗ disagrees with the ensemble</span>' : ''}</li>`;
    });
    return [`<tr class="ensemble-verdict" data-ensemble="${esc(e.name)}"><td>${esc(e.name)} <span class="note">(${esc(e.aggregate)})</span></td><td class="p">${pred.p1.toFixed(3)}</td><td>${decisionHtml(pred.p1, ex.label)}</td><td><ul class="members">${members.join('')}</ul></td></tr>`];
  });
  if (judgeRows.length === 0 && ensembleRows.length === 0) return '';
  const judgesTable = judgeRows.length
    ? `<table class="judge-verdicts"><thead><tr><th>judge</th><th>P(correct), mean</th><th>decision</th><th>each presentation and sample: P(correct) (how read) reply</th></tr></thead><tbody>${judgeRows.join('')}</tbody></table>`
    : '';
  const ensemblesTable = ensembleRows.length
    ? `<table class="ensemble-verdicts"><thead><tr><th>judge ensemble</th><th>P(correct)</th><th>decision</th><th>members: mean P(correct), decision</th></tr></thead><tbody>${ensembleRows.join('')}</tbody></table>`
    : '';
  return `<div class="judges-on-example"><h4>Judges and judge ensembles on this example</h4>${judgesTable}${ensemblesTable}</div>`;
}

/** How the model table names a stored model. */
function modelName(p: PredictionView, ensembles: readonly JudgeEnsembleModelView[]): string {
  if (p.role === 'weak_member') return `member ${p.member}`;
  if (p.role === 'judge_ensemble') return `judge ensemble ${ensembles.find((e) => e.index === p.member)?.name ?? p.member}`;
  return p.role;
}

/**
 * One example with its transcripts, the probability each model and judge gave, and the gold label. Every piece of
 * stored text goes through esc(): a debater's "<script>" is shown, never run.
 */
export function transcriptHtml(
  ex: ExampleInfo, transcripts: TranscriptView[], predictions: PredictionView[], judgments: JudgmentView[], ensembles: readonly JudgeEnsembleModelView[] = [],
): string {
  const gold = ex.label === 1 ? 'correct (label 1)' : 'incorrect (label 0)';
  const head = `<div class="question"><div><b>Question</b></div><div class="text">${esc(ex.question ?? ex.text)}</div>${ex.answer !== null ? `<div><b>Proposed answer</b></div><div class="text">${esc(ex.answer)}</div>` : ''}<p>Gold: <b class="gold">${gold}</b> · split ${esc(ex.split)}</p></div>`;
  const predRows = predictions.map((p) => {
    const name = modelName(p, ensembles);
    const right = (p.p1 > 0.5 ? 1 : 0) === ex.label;
    return `<tr><td>${esc(name)}</td><td>${p.p1.toFixed(3)}</td><td class="${right ? 'good' : 'bad'}">${right ? 'right' : 'wrong'}</td><td>${esc(p.debateId ?? '')}</td></tr>`;
  });
  const preds = predRows.length ? `<table class="predictions"><thead><tr><th>model</th><th>P(label 1)</th><th></th><th>transcript seen</th></tr></thead><tbody>${predRows.join('')}</tbody></table>` : '<p class="empty">No model predictions yet.</p>';
  const blocks = transcripts.map((t) => {
    const verdicts = judgments.filter((j) => j.debateId === t.id);
    const byJudge = new Map<string, JudgmentView[]>();
    for (const j of verdicts) byJudge.set(j.judge, [...(byJudge.get(j.judge) ?? []), j]);
    const verdictHtml = [...byJudge.entries()]
      .map(([judge, js]) => {
        const mean = js.reduce((s, j) => s + j.pCorrect, 0) / js.length;
        const orders = js.map((j) => `${j.orderSwapped ? 'swapped' : 'original'} ${j.pCorrect.toFixed(3)} (${esc(j.method)})`).join(', ');
        return `<li class="verdict">judge <b>${esc(judge)}</b>: P(correct) = ${mean.toFixed(3)} <span class="note">${orders}</span></li>`;
      })
      .join('');
    const members = predictions.filter((p) => p.debateId === t.id && p.role === 'weak_member').map((p) => `member ${p.member}: ${p.p1.toFixed(3)}`);
    const turns = t.turns
      .map((u) => `<div class="turn ${esc(u.side)}" data-turn="${u.idx}"><div><b>Turn ${u.idx + 1} · ${esc(u.speaker)}</b> <span class="note">(${esc(side(u.side))}, ${u.wordCount} words${u.truncated ? ', truncated' : ''})</span></div><pre>${esc(u.text)}</pre></div>`)
      .join('');
    const sides = Object.entries(t.sides).map(([k, v]) => `${esc(k)}: ${esc(v)}`).join(', ');
    return `<div class="transcript" data-debate="${esc(t.id)}"><h4>Transcript sample ${t.sample} · ${esc(t.protocol)} · ${esc(t.status)}</h4><p class="note">debate ${esc(t.id)} · sides ${sides}${members.length ? ` · ${esc(members.join(', '))}` : ''}</p>${t.error ? `<p class="bad">${esc(t.error)}</p>` : ''}${verdictHtml ? `<ul class="verdicts">${verdictHtml}</ul>` : ''}${turns || '<p class="empty">No turns.</p>'}</div>`;
  });
  const noDebate = judgments.filter((j) => j.debateId === null);
  const blind = noDebate.length ? `<ul class="verdicts">${noDebate.map((j) => `<li class="verdict">judge <b>${esc(j.judge)}</b> (no transcript, ${j.orderSwapped ? 'swapped' : 'original'}): ${j.pCorrect.toFixed(3)}</li>`).join('')}</ul>` : '';
  return `<div class="example-detail">${head}${preds}${judgesHtml(ex, transcripts, predictions, judgments, ensembles)}${blind}${blocks.join('') || '<p class="empty">No transcripts.</p>'}</div>`;
}
