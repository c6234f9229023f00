import { escapeHtml as esc } from './escape.js';
import type { ExampleInfo, JudgeEnsembleModelView, JudgmentView, PredictionView, TranscriptView } from './queries.js';
import { meanVerdict, verdictP } from './results.js';
import { shortName, type SubjectContext } from './subjects.js';
import { turnKey, type CallView, type ExampleCalls, type JudgmentCall } from './viewer-calls.js';

/**
 * Shared by the report and the viewer: one stylesheet, inline. Colours never carry a meaning alone: a turn's colour
 * is the side its debater argues (blue: the answer is correct, orange: incorrect; never green or red), and whether
 * anything agrees with the gold label is a ✓ or ✗ in words beside it (green and red are kept for that).
 */
export const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0 auto;max-width:1180px;padding:16px;color:#222}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0;font-size:13px;display:block;overflow-x:auto;max-width:100%}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.meta,.note{color:#666;font-size:12px}.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart{border:1px solid #eee;max-width:100%;height:auto;background:#fff}
.turn{border-left:5px solid #ccc;margin:8px 0;padding:4px 10px;background:#fafafa}
.turn.correct{border-color:#2b6cb0;background:#f0f5fb}.turn.incorrect{border-color:#dd6b20;background:#fdf4ec}
.side{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;color:#fff}.side.correct{background:#2b6cb0}.side.incorrect{background:#dd6b20}
.swatch{display:inline-block;width:12px;height:12px;vertical-align:-1px;margin-right:4px}.swatch.correct{background:#2b6cb0}.swatch.incorrect{background:#dd6b20}
.legend{font-size:12px;color:#444;margin:6px 0;padding:4px 8px;border:1px solid #eee;background:#fff}.legend>span{margin-right:14px}
.turn pre,.text{white-space:pre-wrap;word-break:break-word;font:13px/1.4 ui-monospace,Menlo,monospace;margin:4px 0}
.good{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}details.example{margin:6px 0}summary{cursor:pointer}
nav a{margin-right:10px}form.filters{margin:8px 0}form.filters label{margin-right:12px}.empty{color:#999}
ul.presentations,ul.members{margin:0;padding-left:16px}.disagree{background:#fdecea}.disagree .mark{color:#c62828;font-weight:600}.undecided{color:#777}
code.raw{white-space:pre-wrap;word-break:break-word;font-size:12px;color:#555}
details.call{margin:4px 0 6px;border:1px solid #e3e3e3;background:#fff;padding:2px 8px;font-size:12px}details.call>summary{color:#444}
details.call .msg-role{font-weight:600;color:#555;margin-top:6px}details.call pre{white-space:pre-wrap;word-break:break-word;font:12px/1.4 ui-monospace,Menlo,monospace;background:#f7f7f7;border:1px solid #eee;padding:4px 6px;margin:2px 0}
.not-recorded{color:#8a6d00}.judge-calls{margin:6px 0 10px}.judge-calls h5{margin:6px 0 2px;font-size:13px}
`;

const side = (s: string | undefined): string => (s === 'correct' ? 'argues the answer is correct' : s === 'incorrect' ? 'argues the answer is incorrect' : '');

/** The legend of a transcript's colours and marks (the viewer shows it once above the transcripts). */
export const TRANSCRIPT_LEGEND = '<div class="legend">Turn colour = the side its debater argues: <span><i class="swatch correct"></i>argues the answer is correct</span><span><i class="swatch incorrect"></i>argues the answer is incorrect</span>Beside it, whether that side agrees with the gold label: <span class="good">✓ agrees with gold</span> <span class="bad">✗ against gold</span>. A model or judge: <span class="good">✓ right</span> / <span class="bad">✗ wrong</span> against gold.</div>';

/** ✓ right / ✗ wrong, in words as well as colour. */
const rightHtml = (right: boolean): string => (right ? '<span class="good vs-gold">✓ right</span>' : '<span class="bad vs-gold">✗ wrong</span>');

/** A P(correct) as a decision: above 0.5 "correct", below "incorrect", exactly 0.5 or none (no reply stated a verdict) undecided. */
type Decision = 'correct' | 'incorrect' | 'undecided';
const decide = (p: number | null): Decision => (p === null || p === 0.5 ? 'undecided' : p > 0.5 ? 'correct' : 'incorrect');

/** "correct (right)": a decision and whether it matches the gold label. */
function decisionHtml(p: number | null, label: 0 | 1): string {
  const d = decide(p);
  if (d === 'undecided') return `<span class="undecided">${p === null ? 'no verdict (abstained)' : 'undecided (0.5)'}</span>`;
  const right = (d === 'correct' ? 1 : 0) === label;
  return `${d} <span class="${right ? 'good' : 'bad'}">(${right ? 'right' : 'wrong'})</span>`;
}

/** The ✓/✗ cell beside a decision (accuracy counts P(correct) > 0.5 as "correct", so 0.5 counts as "incorrect"). */
const vsGoldCell = (p: number | null, label: 0 | 1): string => `<td class="vs-gold">${p === null ? '<span class="undecided">—</span>' : rightHtml((p > 0.5 ? 1 : 0) === label)}</td>`;

/**
 * Every judge's verdict on this example (its mean P(correct), and each presentation and sample with the reply as
 * received), then each judge ensemble's stored P(correct) with its members' verdicts beside it, a member whose decision
 * differs from the ensemble's marked, so a disagreement reads in one place.
 */
function judgesHtml(ex: ExampleInfo, transcripts: TranscriptView[], predictions: PredictionView[], judgments: JudgmentView[], ensembles: readonly JudgeEnsembleModelView[], clean: (s: string) => string): string {
  const byJudge = new Map<string, JudgmentView[]>();
  for (const j of judgments) byJudge.set(j.judge, [...(byJudge.get(j.judge) ?? []), j]);
  const mean = (js: readonly JudgmentView[]): number | null => meanVerdict(js.map((j) => j.pCorrect));
  const sampleOf = new Map(transcripts.map((t) => [t.id, t.sample]));
  const where = (j: JudgmentView): string => (j.debateId === null ? 'no transcript' : sampleOf.has(j.debateId) ? `transcript ${sampleOf.get(j.debateId)}` : `debate ${j.debateId}`);
  const judgeRows = [...byJudge.entries()].map(([judge, js]) => {
    const p = mean(js);
    const items = js.map((j) => `<li class="presentation">${esc(where(j))} · ${j.orderSwapped ? 'swapped' : 'original'} · sample ${j.sample}: ${verdictP(j.pCorrect)} (${esc(j.method)})${j.rawText !== null ? ` <code class="raw">${esc(clean(j.rawText))}</code>` : ''}</li>`).join('');
    return `<tr class="judge-verdict" data-judge="${esc(judge)}"><td>${esc(judge)}</td><td class="p">${verdictP(p)}</td><td>${decisionHtml(p, ex.label)}</td>${vsGoldCell(p, ex.label)}<td><ul class="presentations">${items}</ul></td></tr>`;
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
      return `<li class="member ${disagrees ? 'disagree' : md === 'undecided' ? 'undecided' : 'agree'}" data-member="${esc(m)}">${esc(m)}: ${p === null ? 'abstained (no reply stated a verdict)' : `${verdictP(p)}, ${md === 'undecided' ? 'undecided' : md}`}${weight !== undefined ? ` <span class="note">(weight ${weight.toFixed(3)})</span>` : ''}${disagrees ? ' <span class="mark">✗ disagrees with the ensemble</span>' : ''}</li>`;
    });
    return [`<tr class="ensemble-verdict" data-ensemble="${esc(e.name)}"><td>${esc(e.name)} <span class="note">(${esc(e.aggregate)})</span></td><td class="p">${pred.p1.toFixed(3)}</td><td>${decisionHtml(pred.p1, ex.label)}</td>${vsGoldCell(pred.p1, ex.label)}<td><ul class="members">${members.join('')}</ul></td></tr>`];
  });
  if (judgeRows.length === 0 && ensembleRows.length === 0) return '';
  const judgesTable = judgeRows.length
    ? `<table class="judge-verdicts"><thead><tr><th>judge</th><th>P(correct), mean</th><th>decision</th><th>vs gold</th><th>each presentation and sample: P(correct) (how read) reply</th></tr></thead><tbody>${judgeRows.join('')}</tbody></table>`
    : '';
  const ensemblesTable = ensembleRows.length
    ? `<table class="ensemble-verdicts"><thead><tr><th>judge ensemble</th><th>P(correct)</th><th>decision</th><th>vs gold</th><th>members: mean P(correct), decision</th></tr></thead><tbody>${ensembleRows.join('')}</tbody></table>`
    : '';
  return `<div class="judges-on-example"><h4>Judges and judge ensembles on this example</h4>${judgesTable}${ensemblesTable}</div>`;
}

/** How the model table names a stored model: its short name, as every view prints it. */
function modelName(p: PredictionView, ensembles: readonly JudgeEnsembleModelView[], context: SubjectContext | undefined): string {
  if (context) return shortName({ role: p.role, member: p.member }, context);
  // Without the run's config: the stored judge ensembles, by their index, name what they can.
  const judgeEnsembles: { name: string; members: string[]; aggregate: string }[] = [];
  for (const e of ensembles) judgeEnsembles[e.index] = { name: e.name, members: e.members, aggregate: e.aggregate };
  return shortName({ role: p.role, member: p.member }, { judgeEnsembles });
}

/** 2.7 ms, 1.25 s. */
const latency = (ms: number): string => (ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`);

/** The ledger facts of a call in one line: tokens in and out, latency, and whether the cache answered. */
function callFacts(c: CallView): string {
  return `<span class="tokens">${c.inputTokens} in / ${c.outputTokens} out tokens</span> · <span class="latency">${latency(c.latencyMs)}</span> · <span class="cache">${c.cacheHit ? 'cache hit' : 'backend call'}</span>`;
}

const NOT_RECORDED = 'not recorded (run made before w2s stored prompts)';

/** What the model received and returned: each message (role and text), the parameters, the raw reply. */
function callBody(c: CallView): string {
  const head = `<div class="note">call ${c.id} · ${esc(c.model)} · role ${esc(c.role)} · ${c.attempts} attempt${c.attempts === 1 ? '' : 's'}${c.finishReason ? ` · finish ${esc(c.finishReason)}` : ''}${c.costUsd ? ` · $${c.costUsd.toFixed(6)}` : ''}</div>`;
  if (!c.recorded) return `${head}<p class="not-recorded">Messages, parameters and reply: ${NOT_RECORDED}.</p>`;
  const messages = c.messages.map((m, i) => `<div class="msg" data-position="${i}"><div class="msg-role">${esc(m.role)}</div><pre class="msg-text">${esc(m.content)}</pre></div>`).join('');
  const reply = c.response !== null
    ? `<div class="reply"><div class="msg-role">raw reply</div><pre class="reply-text">${esc(c.response)}</pre></div>`
    : `<div class="reply"><div class="msg-role">raw reply</div><p class="bad">${c.error ? `no reply: ${esc(c.error)}` : 'no reply'}</p></div>`;
  return `${head}<div class="messages">${messages || '<p class="empty">No messages.</p>'}</div><div class="params"><div class="msg-role">parameters</div><pre class="params-text">${esc(c.params ?? '')}</pre></div>${reply}`;
}

/** A turn's call: the facts in the summary (visible without opening it), the texts inside. */
function turnCallHtml(call: CallView | null | undefined): string {
  if (call === undefined) return '';
  if (call === null) return '<p class="note call-missing">No ledger row for this turn\'s call.</p>';
  return `<details class="call turn-call" data-call="${call.id}"><summary>prompt and raw reply · ${callFacts(call)}</summary>${callBody(call)}</details>`;
}

const PARSE_STATUS: Record<string, string> = {
  logprobs: 'logprobs: P(correct) read from the verdict token\'s logprobs',
  parsed: 'parsed: a verdict was found in the reply',
  unparsed: 'unparsed: no verdict in the reply, so no P(correct); it counts toward no mean',
};

/** A judgment's call: which presentation, its P(correct) and parse status, the ledger facts; the texts inside. */
function judgmentCallHtml(j: JudgmentCall): string {
  const parse = PARSE_STATUS[j.method] ?? j.method;
  const what = `judge <b>${esc(j.judge)}</b> · ${j.orderSwapped ? 'swapped' : 'original'} order · sample ${j.sample} · P(correct) ${verdictP(j.pCorrect)} · parse: ${esc(j.method)}`;
  const attrs = `data-judge="${esc(j.judge)}" data-order="${j.orderSwapped ? 'swapped' : 'original'}" data-sample="${j.sample}"`;
  if (j.call === null) return `<div class="judgment-call" ${attrs}><p class="note">${what} · no ledger row for this call</p></div>`;
  return `<details class="call judgment-call" ${attrs} data-call="${j.call.id}"><summary>${what} · ${callFacts(j.call)}</summary><p class="parse-status">Parse status: ${esc(parse)}.</p>${callBody(j.call)}</details>`;
}

export interface TranscriptOptions {
  /** The calls behind the turns and judgments: each turn and judgment then shows its prompt, parameters and reply. */
  calls?: ExampleCalls;
  /** Applied to stored model output before it is shown (the viewer passes src/redact.ts's). */
  redact?: (text: string) => string;
  /** Show the legend of the colours and marks above the transcripts. */
  legend?: boolean;
  /** The run's config, so each model is named as every view names it (else the judge ensembles name what they can). */
  context?: SubjectContext;
}

/**
 * One example with its transcripts, the probability each model and judge gave, and the gold label; with options.calls,
 * every turn's and judgment's exact prompt and raw reply. Every piece of stored text goes through esc(): a debater's
 * "<script>" is shown, never run.
 */
export function transcriptHtml(
  ex: ExampleInfo, transcripts: TranscriptView[], predictions: PredictionView[], judgments: JudgmentView[], ensembles: readonly JudgeEnsembleModelView[] = [],
  options: TranscriptOptions = {},
): string {
  const clean = options.redact ?? ((s: string) => s);
  const gold = ex.label === 1 ? 'correct (label 1)' : 'incorrect (label 0)';
  const head = `<div class="question"><div><b>Question</b></div><div class="text">${esc(ex.question ?? ex.text)}</div>${ex.answer !== null ? `<div><b>Proposed answer</b></div><div class="text">${esc(ex.answer)}</div>` : ''}<p>Gold: <b class="gold">${gold}</b> · split ${esc(ex.split)}</p></div>`;
  // Members (who read the transcripts) first, then their ensemble's mean, the weak baseline, judge ensembles, students.
  const rank = (role: string): number => {
    const i = ['weak_member', 'weak', 'judge_ensemble', 'strong', 'strong_naive', 'strong_by_judge', 'strong_ceiling'].indexOf(role);
    return i < 0 ? 99 : i;
  };
  const ordered = [...predictions].sort((a, b) => rank(a.role) - rank(b.role) || a.member - b.member);
  const members = ordered.filter((p) => p.role === 'weak_member');
  const ensembleMean = members.length > 1 ? members.reduce((s, p) => s + p.p1, 0) / members.length : null;
  const predRows = ordered.map((p) => {
    const name = modelName(p, ensembles, options.context);
    const right = (p.p1 > 0.5 ? 1 : 0) === ex.label;
    return `<tr><td>${esc(name)}</td><td>${p.p1.toFixed(3)}</td><td class="${right ? 'good' : 'bad'}">${right ? '✓ right' : '✗ wrong'}</td><td>${esc(p.debateId ?? '')}</td></tr>`;
  });
  if (ensembleMean !== null) {
    const right = (ensembleMean > 0.5 ? 1 : 0) === ex.label;
    predRows.splice(members.length, 0, `<tr class="ensemble-mean"><td>weak ensemble (mean of the ${members.length} members)</td><td>${ensembleMean.toFixed(3)}</td><td class="${right ? 'good' : 'bad'}">${right ? '✓ right' : '✗ wrong'}</td><td></td></tr>`);
  }
  const preds = predRows.length
    ? `<table class="predictions"><thead><tr><th>model</th><th>P(correct)</th><th>vs gold</th><th>transcript seen</th></tr></thead><tbody>${predRows.join('')}</tbody></table>`
    : '<p class="empty">No model predictions yet.</p>';
  const calls = options.calls;
  const blocks = transcripts.map((t) => {
    const verdicts = judgments.filter((j) => j.debateId === t.id);
    const byJudge = new Map<string, JudgmentView[]>();
    for (const j of verdicts) byJudge.set(j.judge, [...(byJudge.get(j.judge) ?? []), j]);
    const verdictHtml = [...byJudge.entries()]
      .map(([judge, js]) => {
        const mean = meanVerdict(js.map((j) => j.pCorrect));
        const orders = js.map((j) => `${j.orderSwapped ? 'swapped' : 'original'} ${verdictP(j.pCorrect)} (${esc(j.method)})`).join(', ');
        return `<li class="verdict">judge <b>${esc(judge)}</b>: P(correct) = ${verdictP(mean)} ${mean === null ? '' : rightHtml((mean > 0.5 ? 1 : 0) === ex.label)} <span class="note">${orders}</span></li>`;
      })
      .join('');
    const members = predictions.filter((p) => p.debateId === t.id && p.role === 'weak_member').map((p) => `member ${p.member}: ${p.p1.toFixed(3)}`);
    const turns = t.turns
      .map((u) => {
        const agrees = (u.side === 'correct') === (ex.label === 1);
        const mark = u.side === 'correct' || u.side === 'incorrect' ? ` <span class="vs-gold ${agrees ? 'good' : 'bad'}">${agrees ? '✓ agrees with gold' : '✗ against gold'}</span>` : '';
        const call = calls ? turnCallHtml(calls.turns.has(turnKey(t.id, u.idx)) ? calls.turns.get(turnKey(t.id, u.idx)) : null) : '';
        return `<div class="turn ${esc(u.side)}" data-turn="${u.idx}"><div><b>Turn ${u.idx + 1} · ${esc(u.speaker)}</b> <span class="side ${esc(u.side)}">${esc(side(u.side))}</span>${mark} <span class="note">(${u.wordCount} words${u.truncated ? ', truncated' : ''})</span></div><pre>${esc(clean(u.text))}</pre>${call}</div>`;
      })
      .join('');
    const sides = Object.entries(t.sides).map(([k, v]) => `${esc(k)}: ${esc(v)}`).join(', ');
    const judgeCalls = calls ? calls.judgments.filter((j) => j.debateId === t.id) : [];
    const judgeCallsHtml = judgeCalls.length ? `<div class="judge-calls"><h5>Judge calls on this transcript</h5>${judgeCalls.map(judgmentCallHtml).join('')}</div>` : '';
    // id: each debate has a stable URL, its example's page with #debate-<id>.
    return `<div class="transcript" id="debate-${esc(t.id)}" data-debate="${esc(t.id)}"><h4><a href="#debate-${esc(encodeURIComponent(t.id))}">Transcript sample ${t.sample}</a> · ${esc(t.protocol)} · ${esc(t.status)}</h4><p class="note">debate ${esc(t.id)} · sides ${sides}${members.length ? ` · ${esc(members.join(', '))}` : ''}${t.source ? ` · imported from ${esc(t.source.file)} line ${t.source.line} (${esc(t.source.format)}, sha256 ${esc(t.source.sha256.slice(0, 12))}…)` : ''}</p>${t.error ? `<p class="bad">${esc(clean(t.error))}</p>` : ''}${verdictHtml ? `<ul class="verdicts">${verdictHtml}</ul>` : ''}${turns || '<p class="empty">No turns.</p>'}${judgeCallsHtml}</div>`;
  });
  const noDebate = judgments.filter((j) => j.debateId === null);
  const blind = noDebate.length ? `<ul class="verdicts">${noDebate.map((j) => `<li class="verdict">judge <b>${esc(j.judge)}</b> (no transcript, ${j.orderSwapped ? 'swapped' : 'original'}): ${verdictP(j.pCorrect)}</li>`).join('')}</ul>` : '';
  const blindCalls = calls ? calls.judgments.filter((j) => j.debateId === null) : [];
  const blindCallsHtml = blindCalls.length ? `<div class="judge-calls"><h5>Judge calls without a transcript</h5>${blindCalls.map(judgmentCallHtml).join('')}</div>` : '';
  return `<div class="example-detail">${head}${preds}${judgesHtml(ex, transcripts, predictions, judgments, ensembles, clean)}${blind}${blindCallsHtml}${options.legend ? TRANSCRIPT_LEGEND : ''}${blocks.join('') || '<p class="empty">No transcripts.</p>'}</div>`;
}
