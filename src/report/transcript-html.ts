import { escapeHtml as esc } from './escape.js';
import type { ExampleInfo, JudgmentView, PredictionView, TranscriptView } from './queries.js';

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
`;

const side = (s: string | undefined): string => (s === 'correct' ? 'argues the answer is correct' : s === 'incorrect' ? 'argues the answer is incorrect' : '');

/**
 * One example with its transcripts, the probability each model and judge gave, and the gold label. Every piece of
 * stored text goes through esc(): a debater's "<script>" is shown, never run.
 */
export function transcriptHtml(ex: ExampleInfo, transcripts: TranscriptView[], predictions: PredictionView[], judgments: JudgmentView[]): string {
  const gold = ex.label === 1 ? 'correct (label 1)' : 'incorrect (label 0)';
  const head = `<div class="question"><div><b>Question</b></div><div class="text">${esc(ex.question ?? ex.text)}</div>${ex.answer !== null ? `<div><b>Proposed answer</b></div><div class="text">${esc(ex.answer)}</div>` : ''}<p>Gold: <b class="gold">${gold}</b> · split ${esc(ex.split)}</p></div>`;
  const predRows = predictions.map((p) => {
    const name = p.role === 'weak_member' ? `member ${p.member}` : p.role;
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
  return `<div class="example-detail">${head}${preds}${blind}${blocks.join('') || '<p class="empty">No transcripts.</p>'}</div>`;
}
