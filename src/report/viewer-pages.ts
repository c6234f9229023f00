import { reliabilityBins } from '../metrics/index.js';
import { secretRedactor } from '../redact.js';
import { SPLITS } from '../store/examples.js';
import { testView, unscoredSubjects, type Unscored } from './analysis.js';
import { escapeHtml as esc } from './escape.js';
import { debatersSectionHtml, htmlTable, judgesSectionHtml } from './html.js';
import { judgesView } from './judges.js';
import type { MetricValue } from './queries.js';
import { pctCI, pgrCell, runDetails, runResult, type RunResult } from './results.js';
import { displayPath, locatedResults, type LocatedRun } from './results-set.js';
import { subjectName, SHORT_NAMES } from './subjects.js';
import { barChart, MIN_BIN_COUNT, reliabilityDiagram } from './svg.js';
import { STYLE, transcriptHtml } from './transcript-html.js';
import { exampleCalls } from './viewer-calls.js';
import { FIXED_SORT_KEYS, listParams, parseListQuery, runList, type ListQuery, type RunList, type SubjectColumn } from './viewer-list.js';
import type { WatchedResults } from './viewer-set.js';

/** The viewer's pages as HTML strings; viewer.ts routes to them. Every stored text goes through esc(). */

export interface PageContext {
  set: WatchedResults;
  pageSize: number;
}

/** How often a running run's pages reload themselves. */
export const REFRESH_SECONDS = 5;

const VIEWER_STYLE = `
.live-badge{display:inline-block;background:#fff3cd;border:1px solid #d9a400;color:#6b5000;border-radius:3px;padding:1px 8px;font-size:12px;font-weight:600;vertical-align:middle}
.live-badge.paused{background:#f3f3f3;border-color:#bbb;color:#555}
tr.live-row td:first-child{box-shadow:inset 4px 0 #d9a400}table.runs td:first-child{white-space:nowrap}
nav.toc a,nav.crumbs a{margin-right:12px}nav.pager{margin:10px 0;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}.card{border:1px solid #ddd;border-radius:4px;padding:6px 10px;min-width:150px;background:#fff}
.card-label{font-size:12px;color:#666}.card-value{font-size:16px;font-weight:600;font-variant-numeric:tabular-nums}
table.examples td.p{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}table.examples td.wrong{background:#fdecea}
table.examples .mark{color:#c62828;font-weight:700;margin-left:3px}table.examples th a{color:#222;text-decoration:none}table.examples th a:hover{text-decoration:underline}
table.examples th.sorted{background:#e8eef7}table.examples tfoot td{background:#fafafa;color:#555}
.cal-grid{display:flex;flex-wrap:wrap;gap:14px}figure.cal{margin:0;width:450px}figure.cal svg{width:450px;height:auto}
figure.cal figcaption{font-size:12px;color:#555}table.bins{font-size:11px}table.bins td,table.bins th{padding:1px 3px;text-align:right;white-space:nowrap}
table.bins td.hidden-bin{color:#999;font-style:italic}
form.filters{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center;background:#fafafa;border:1px solid #eee;padding:6px 10px}
form.filters input[type=search]{width:240px}
`;

/** A whole page; `refresh` adds the meta refresh of a running run. */
export function page(title: string, body: string, options: { refresh?: boolean } = {}): string {
  const refresh = options.refresh ? `<meta http-equiv="refresh" content="${REFRESH_SECONDS}">` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">${refresh}<title>${esc(title)} · w2s viewer</title><style>${STYLE}${VIEWER_STYLE}</style></head><body>${body}</body></html>`;
}

export const notFoundPage = (): string => page('Not found', '<p>Nothing here.</p><p><a href="/">runs</a></p>');

/** A path and its query string ("" leaves the ? out). */
const withQuery = (path: string, params: URLSearchParams, hash = ''): string => {
  const qs = params.toString();
  return `${path}${qs ? `?${qs}` : ''}${hash}`;
};

/** A run's page: /runs/<id> with one database; with several, /files/<i>/runs/<id>, so equal ids in two files differ. */
export function runHref(ctx: PageContext, loc: LocatedRun): string {
  return `${ctx.set.files().length > 1 ? `/files/${ctx.set.indexOf(loc.file)}` : ''}/runs/${encodeURIComponent(loc.run.id)}`;
}

/**
 * Whether a page refreshes itself: its run is running (a live owner), unless the reader paused it (?live=0). The
 * badge says which, with a link that toggles it.
 */
function liveness(running: boolean, params: URLSearchParams, path: string): { refresh: boolean; badge: string } {
  if (!running) return { refresh: false, badge: '' };
  const paused = params.get('live') === '0';
  const toggled = new URLSearchParams(params);
  if (paused) toggled.delete('live');
  else toggled.set('live', '0');
  const link = `<a class="live-toggle" href="${esc(withQuery(path, toggled))}">${paused ? `refresh every ${REFRESH_SECONDS} s` : 'stop refreshing'}</a>`;
  return paused
    ? { refresh: false, badge: `<span class="live-badge paused">live — refresh paused</span> ${link}` }
    : { refresh: true, badge: `<span class="live-badge">live — refreshing every ${REFRESH_SECONDS} s</span> ${link}` };
}

// ---------------------------------------------------------------------------------------------------------------
// The front page

export function frontPage(ctx: PageContext, params: URLSearchParams): string {
  const { set } = ctx;
  const runs = set.runs();
  const results = locatedResults(runs);
  const rows = results
    .map((res, i) => {
      const r = res.run;
      const loc = runs[i]!;
      const live = r.status === 'running';
      const cfg = r.config;
      const what = [cfg.protocol, cfg.turns === undefined ? undefined : `${cfg.turns} turn${cfg.turns === 1 ? '' : 's'}`, cfg.ensembleSize === undefined ? undefined : `${cfg.ensembleKind ?? ''} ensemble of ${cfg.ensembleSize}`.trim()]
        .filter((x): x is string => typeof x === 'string' && x !== '').join(', ');
      const updated = r.updatedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
      return `<tr class="run-row${live ? ' live-row' : ''}"><td><a class="run-link" href="${runHref(ctx, loc)}">${esc(r.id)}</a></td><td${r.hint ? ` title="${esc(r.hint)}"` : ''}>${esc(r.status)}</td><td>${esc(r.dataset ?? '')}<div class="note">${esc(what)}</div></td><td>${r.counts.examples} examples<div class="note">${r.counts.debates} debates</div></td><td>${r.counts.calls} calls<div class="note">${r.counts.cacheHits} cache hits · ${r.tokens.input + r.tokens.output} tokens · $${r.costUsd.toFixed(4)}</div></td><td>${esc(pctCI(res.ensemble))}</td><td>${esc(pctCI(res.w2s))}</td><td>${esc(pgrCell(res.pgr))}</td><td>${esc(updated)}</td><td class="file">${esc(displayPath(loc.file))}</td></tr>`;
    })
    .join('');
  const table = runs.length
    ? `<table class="runs"><thead><tr><th>run</th><th>status</th><th>dataset and setup</th><th>size</th><th>spend</th><th>${esc(SHORT_NAMES.weak_ensemble)} %</th><th>w2s % <span class="note">(${esc(SHORT_NAMES.strong)})</span></th><th>PGR %</th><th>updated</th><th>file</th></tr></thead><tbody>${rows}</tbody></table>`
    : '<p class="empty">No runs yet. This page looks for new databases each time it loads.</p>';
  const running = runs.filter((r) => r.run.status === 'running').length;
  const live = liveness(running > 0, params, '/');
  const skipped = set.skipped();
  const skippedNote = skipped.length
    ? `<details class="skipped"><summary>${skipped.length} file(s) skipped</summary><ul>${skipped.map((s) => `<li>${esc(displayPath(s.file))}: ${esc(s.reason)}</li>`).join('')}</ul></details>`
    : '';
  const body = `<h1>w2s runs</h1><p class="meta">Watching ${esc(set.describe())} · looked again for databases when this page loaded · read-only${running ? ` · ${running} run(s) live` : ''}</p>${live.badge ? `<p>${live.badge}</p>` : ''}
${table}${skippedNote}
<p class="note">Accuracies in percent on the test split with their stored intervals; PGR is n/a, with the reason, where the ceiling − weak gap is not significant. A run marked live has a process writing it; its pages reload every ${REFRESH_SECONDS} s.</p>`;
  return page('Runs', body, { refresh: live.refresh });
}

/** A run id that is in several databases, asked for without naming one: links to each. */
export function choicePage(ctx: PageContext, found: LocatedRun[], rest: string[]): string {
  const tail = rest.map((p) => `/${encodeURIComponent(p)}`).join('');
  const items = found.map((l) => `<li><a class="run-link" href="${runHref(ctx, l)}${tail}">${esc(l.run.id)}</a> in ${esc(displayPath(l.file))}</li>`).join('');
  return page(`Run ${found[0]!.run.id}`, `<nav class="crumbs"><a href="/">runs</a></nav><h1>Run ${esc(found[0]!.run.id)}</h1><p>This run id is in ${found.length} databases:</p><ul>${items}</ul>`);
}

// ---------------------------------------------------------------------------------------------------------------
// A run's page

function runMeta(loc: LocatedRun): string {
  const { run } = loc;
  const c = run.config;
  return `<p class="meta">${esc(displayPath(loc.file))} · ${esc(run.status)}${run.hint ? ` (${esc(run.hint)})` : ''} · dataset ${esc(run.dataset ?? '?')} · protocol ${esc(c.protocol ?? '?')} · ${esc(String(c.turns ?? '?'))} turns · ${esc(c.ensembleKind ?? '?')} ensemble of ${esc(String(c.ensembleSize ?? '?'))} · debaters ${esc(c.debaters.join(', ') || 'none')} · judges ${esc(c.judges.join(', ') || 'none')} · ${run.counts.calls} calls (${run.counts.cacheHits} cache hits) · ${run.tokens.input + run.tokens.output} tokens · $${run.costUsd.toFixed(4)}${run.error ? ` · <span class="bad">${esc(run.error)}</span>` : ''}</p>`;
}

function headlineCards(res: RunResult): string {
  const card = (label: string, value: string, cls: string): string => `<div class="card ${cls}"><div class="card-label">${esc(label)}</div><div class="card-value">${esc(value)}</div></div>`;
  return `<div class="cards">${[
    card(`${SHORT_NAMES.weak} %`, pctCI(res.weak), 'weak'),
    card(`${SHORT_NAMES.weak_ensemble} %`, pctCI(res.ensemble), 'ensemble'),
    card(`${SHORT_NAMES.strong} % (w2s)`, pctCI(res.w2s), 'w2s'),
    card(`${SHORT_NAMES.strong_ceiling} %`, pctCI(res.ceiling), 'ceiling'),
    card(`PGR % (${SHORT_NAMES.strong})`, pgrCell(res.pgr), 'pgr'),
    card(`PGR % (${SHORT_NAMES.strong_naive})`, pgrCell(res.pgrNaive), 'pgr-naive'),
  ].join('')}</div>`;
}

/** The leak audit as the run stored it (subjects leak_audit:<split>, name p_side_gold; src/pipeline/audit.ts). */
function leakSection(metrics: readonly MetricValue[], protocol: string | undefined): string {
  const rows = SPLITS.map((split) => metrics.find((m) => m.subject === `leak_audit:${split}` && m.name === 'p_side_gold'))
    .filter((m): m is MetricValue => m !== undefined)
    .map((m) => [m.subject.slice('leak_audit:'.length), pctCI(m), String(m.n ?? ''), m.covers ?? '', m.note ?? '']);
  const what = 'The weak models read each transcript with its sides. If the side argued first agrees with the gold label more often on a split they train on than on test, they could learn the label from the side alone. The audit stores P(advocated side = gold) per split with a cluster-robust interval and tests the training splits against test (and against 50 % where sides are drawn at random); a significant difference stops the run unless audit.onLeak is "warn".';
  const table = rows.length
    ? htmlTable(['split', 'P(advocated side = gold) % [CI]', 'transcripts', 'interval covers', 'tests'], rows, 'leak-audit')
    : `<p class="empty">${protocol === 'none' ? 'No leak audit: protocol "none" has no transcripts to leak through.' : 'No leak audit stored yet (it runs after the debates).'}</p>`;
  return `<section id="leak-audit"><h2>Leak audit</h2><p class="note">${esc(what)}</p>${table}</section>`;
}

/** One reliability diagram per subject on the test split, bins under MIN_BIN_COUNT examples hidden, every bin's count listed. */
function calibrationSection(loc: LocatedRun, metrics: readonly MetricValue[]): string {
  const view = testView(loc.q, loc.run.id, metrics);
  const subjects = view.subjects.filter((s) => s.name !== 'weak_ensemble_vote');
  if (view.labels.length === 0 || subjects.length === 0) return '<section id="calibration"><h2>Calibration</h2><p class="empty">No test predictions yet.</p></section>';
  const unscored = view.unscored.length
    ? `<p class="note unscored">Not scored, so not drawn: ${view.unscored.map((u) => `${esc(u.label)} (n/a: ${esc(u.note)})`).join('; ')}.</p>`
    : '';
  const figures = subjects.map((s) => {
    const names = subjectName(s.name, loc.run.config);
    const bins = reliabilityBins(s.probs, view.labels, 10);
    const shown = bins.filter((b) => b.count >= MIN_BIN_COUNT);
    const hidden = bins.filter((b) => b.count > 0 && b.count < MIN_BIN_COUNT);
    const chart = shown.length
      ? reliabilityDiagram({ title: `Reliability: ${names.short}`, series: [{ name: names.short, bins }], minCount: MIN_BIN_COUNT })
      : `<p class="empty">No bin holds ${MIN_BIN_COUNT} or more examples.</p>`;
    const tick = (v: number): string => String(Number(v.toFixed(1))).replace(/^0\./, '.');
    const range = (lo: number, hi: number): string => `${tick(lo)}–${tick(hi)}`;
    const counts = bins.map((b) => (b.count > 0 && b.count < MIN_BIN_COUNT ? `<td class="hidden-bin" title="fewer than ${MIN_BIN_COUNT} examples: not drawn">${b.count}</td>` : `<td>${b.count}</td>`)).join('');
    const observed = bins.map((b) => (b.count >= MIN_BIN_COUNT ? `<td>${b.fractionPositive!.toFixed(2)}</td>` : `<td class="hidden-bin">${b.count ? 'hidden' : '—'}</td>`)).join('');
    const table = `<table class="bins"><tbody><tr><th>P(correct)</th>${bins.map((b) => `<th>${range(b.lo, b.hi)}</th>`).join('')}</tr><tr><th>examples</th>${counts}</tr><tr><th>fraction correct</th>${observed}</tr></tbody></table>`;
    return `<figure class="cal" data-subject="${esc(s.name)}">${chart}<figcaption>${esc(names.long)}: ${shown.length} bin(s) drawn${hidden.length ? `, ${hidden.length} hidden (fewer than ${MIN_BIN_COUNT} examples)` : ''}.</figcaption>${table}</figure>`;
  });
  return `<section id="calibration"><h2>Calibration on the test split</h2><p class="note">Each point is one of 10 equal-width bins of P(correct): the bin's mean P(correct) against the fraction of its ${view.labels.length} test examples whose gold label is correct; the dashed diagonal is perfect calibration. Bins with fewer than ${MIN_BIN_COUNT} examples are not drawn (their counts are in the table below each diagram). A judge's abstentions (no reply stating a verdict) count as 0.5.</p>${unscored}<div class="cal-grid">${figures.join('')}</div></section>`;
}

/** "test split · wrong for member 0 · sorted by judge j1, descending": the list's filter and order, in words. */
function describeQuery(query: ListQuery, columns: readonly SubjectColumn[]): string {
  const label = (key: string): string => columns.find((c) => c.key === key)?.label ?? key;
  const parts = [query.split === null ? 'every split' : `${query.split} split`];
  if (query.wrong !== null) parts.push(`${label(query.wrong)} wrong`);
  if (query.disagree === 'members') parts.push('ensemble members disagree');
  if (query.disagree === 'judges') parts.push('judges disagree');
  if (query.protocol !== null) parts.push(`protocol ${query.protocol}`);
  if (query.q !== null) parts.push(`text “${query.q}”`);
  parts.push(query.sort === null ? 'stored order' : `sorted by ${FIXED_SORT_KEYS.includes(query.sort) ? query.sort : label(query.sort)}, ${query.dir === 'desc' ? 'descending' : 'ascending'}`);
  return parts.join(' · ');
}

function filterForm(href: string, query: ListQuery, list: RunList): string {
  const option = (value: string, label: string, current: string): string => `<option value="${esc(value)}"${value === current ? ' selected' : ''}>${esc(label)}</option>`;
  const split = query.split ?? 'all';
  const splits = ['test', 'train_weak', 'train_strong'].map((s) => option(s, s, split)).join('') + option('all', 'all splits', split);
  const wrong = option('', 'anyone', query.wrong ?? '') + list.columns.map((c) => option(c.key, c.label, query.wrong ?? '')).join('');
  const disagree = option('', 'no filter', query.disagree ?? '') + option('members', 'ensemble members', query.disagree ?? '') + option('judges', 'judges', query.disagree ?? '');
  const protocol = list.protocols.length
    ? `<label>protocol <select name="protocol">${option('', 'any', query.protocol ?? '')}${list.protocols.map((p) => option(p, p, query.protocol ?? '')).join('')}</select></label>`
    : '';
  const sort = query.sort === null ? '' : `<input type="hidden" name="sort" value="${esc(query.sort)}"><input type="hidden" name="dir" value="${query.dir}">`;
  return `<form class="filters" method="get" action="${href}#examples">
<label>split <select name="split">${splits}</select></label>
<label>wrong only for <select name="wrong">${wrong}</select></label>
<label>disagreement among <select name="disagree">${disagree}</select></label>
${protocol}
<label>text <input type="search" name="q" value="${esc(query.q ?? '')}" placeholder="question, answer or transcript"></label>${sort}
<button type="submit">apply</button> <a href="${href}#examples">reset</a></form>`;
}

function examplesSection(ctx: PageContext, href: string, list: RunList, query: ListQuery, params: URLSearchParams, unscored: readonly Unscored[]): string {
  const size = ctx.pageSize;
  const totals = list.totals(query);
  const pages = Math.max(1, Math.ceil(totals.total / size));
  const pageNo = Math.min(pages, Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1));
  const pageRows = list.rows(query, size, (pageNo - 1) * size);
  const base = listParams(query);
  const exampleQs = base.toString();
  const showSplit = query.split === null;

  const sortLink = (key: string, label: string, title = ''): string => {
    const active = query.sort === key;
    const next = listParams({ ...query, sort: key, dir: active && query.dir === 'asc' ? 'desc' : 'asc' });
    const arrow = active ? (query.dir === 'asc' ? ' ▲' : ' ▼') : '';
    return `<th${active ? ' class="sorted"' : ''}${title ? ` title="${esc(title)}"` : ''} data-sort="${esc(key)}"><a class="sort-link" href="${esc(withQuery(href, next, '#examples'))}">${esc(label)}${arrow}</a></th>`;
  };
  const head = [
    sortLink('id', 'example'), sortLink('question', 'question'), sortLink('answer', 'proposed answer'), sortLink('gold', 'gold'),
    ...(showSplit ? [sortLink('split', 'split')] : []),
    ...list.columns.map((c) => sortLink(c.key, c.label, `${c.description}: P(correct); ✗ = its decision (P > 0.5 = correct) is wrong`)),
  ].join('');
  const rows = pageRows
    .map((r) => {
      const cells = r.values.map((v, i) => {
        const key = esc(list.columns[i]!.key);
        if (v === null) return `<td class="p none" data-key="${key}">—</td>`;
        const wrong = (v > 0.5 ? 1 : 0) !== r.label;
        return `<td class="p${wrong ? ' wrong' : ''}" data-key="${key}"${wrong ? ' data-wrong="1"' : ''}>${v.toFixed(3)}${wrong ? '<span class="mark" title="wrong against gold">✗</span>' : ''}</td>`;
      });
      const question = r.question ?? r.text;
      const preview = question.length > 90 ? `${question.slice(0, 89)}…` : question;
      const link = `${href}/examples/${encodeURIComponent(r.id)}${exampleQs ? `?${exampleQs}` : ''}`;
      return `<tr class="example-row" data-example="${esc(r.id)}"><td><a class="example-link" href="${esc(link)}">${esc(r.id)}</a></td><td title="${esc(question)}">${esc(preview)}</td><td>${esc(r.answer ?? '')}</td><td class="gold">${r.label === 1 ? 'correct' : 'incorrect'}</td>${showSplit ? `<td>${esc(r.split)}</td>` : ''}${cells.join('')}</tr>`;
    })
    .join('');
  const foot = list.columns.length
    ? `<tfoot><tr><td colspan="${showSplit ? 5 : 4}">wrong / with a value, in this list</td>${list.columns.map((c, i) => `<td class="p" data-key="${esc(c.key)}">${totals.wrong[i]} / ${totals.valued[i]}</td>`).join('')}</tr></tfoot>`
    : '';
  const pageHref = (p: number): string => {
    const s = new URLSearchParams(base);
    if (p > 1) s.set('page', String(p));
    return esc(withQuery(href, s, '#examples'));
  };
  const pager = pages > 1
    ? `<nav class="pager">${pageNo > 1 ? `<a class="first-page" href="${pageHref(1)}">« first</a><a class="prev-page" href="${pageHref(pageNo - 1)}">‹ previous</a>` : ''}<span>page ${pageNo} of ${pages}</span>${pageNo < pages ? `<a class="next-page" href="${pageHref(pageNo + 1)}">next ›</a><a class="last-page" href="${pageHref(pages)}">last »</a>` : ''}</nav>`
    : '';
  // Judges (and judge ensembles) below their minCoverage have no column, as calibration and compare leave them out.
  const judgesUnscored = unscored.filter((u) => !u.name.startsWith('strong_by_judge:'));
  const notListed = judgesUnscored.length
    ? `<p class="note unscored">Not scored, so not listed: ${judgesUnscored.map((u) => `${esc(u.label)} (n/a: ${esc(u.note)})`).join('; ')}.</p>`
    : '';
  const table = pageRows.length
    ? `<table class="examples"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody>${foot}</table>`
    : '<p class="empty">No example matches.</p>';
  return `<section id="examples"><h2>Examples</h2>${filterForm(href, query, list)}
<p class="note"><span class="count">${totals.total}</span> example(s) match: ${esc(describeQuery(query, list.columns))}. Each column is P(correct) (= P(label 1)); <span class="mark bad">✗</span> marks a decision (P &gt; 0.5 = correct) that is wrong against gold. A judge's value is its mean over both orders, every transcript and sample. Click a header to sort.</p>${notListed}
${pager}${table}${pager}</section>`;
}

export function runPage(ctx: PageContext, loc: LocatedRun, params: URLSearchParams): string {
  const { run, q } = loc;
  const href = runHref(ctx, loc);
  const metrics = q.metrics(run.id);
  const res = runResult(q, run, metrics);
  const unscored = unscoredSubjects(metrics, run.config);
  const list = runList(q.db, run.id, run.config, q.judgeEnsembles(run.id), new Set(unscored.map((u) => u.name)));
  const query = parseListQuery(params, list.columns, list.protocols);
  const chart = barChart({
    title: 'Test accuracy',
    yLabel: 'accuracy',
    groups: [{ label: run.id, bars: [{ series: SHORT_NAMES.weak, ...res.weak }, { series: SHORT_NAMES.weak_ensemble, ...res.ensemble }, { series: SHORT_NAMES.strong, ...res.w2s }, { series: SHORT_NAMES.strong_ceiling, ...res.ceiling }] }],
  });
  const details = runDetails(metrics, run.config);
  // The leak audit has a section of its own; the other audit tables (knowledge regions) stay with the results.
  const isLeakTable = (t: { rows: string[][] }): boolean => t.rows.length > 0 && t.rows.every((r) => (SPLITS as readonly string[]).includes(r[0] ?? ''));
  const otherAudits = details.audits.filter((t) => !isLeakTable(t));
  const judges = judgesSectionHtml(judgesView(metrics, run.config, run.id), run.id);
  const debaters = debatersSectionHtml(metrics, run.id);
  const live = liveness(run.status === 'running', params, href);
  const toc = [
    ['#results', 'results'], ['#leak-audit', 'leak audit'], ...(otherAudits.length ? [['#audits', 'knowledge regions']] : []), ['#calibration', 'calibration'],
    ...(judges ? [[`#judges-${run.id}`, 'judges']] : []), ...(debaters ? [[`#debaters-${run.id}`, 'debaters']] : []), ['#examples', 'examples'],
  ].map(([h, t]) => `<a href="${esc(h)}">${esc(t)}</a>`).join('');
  const body = `<nav class="crumbs"><a href="/">runs</a></nav><h1>Run ${esc(run.id)}</h1>${live.badge ? `<p>${live.badge}</p>` : ''}
${runMeta(loc)}<nav class="toc">${toc}</nav>
<section id="results"><h2>Results</h2>${headlineCards(res)}<div class="charts">${chart}</div>
${htmlTable(details.models.header, details.models.rows, 'run-table')}<p class="note">${details.notes.map(esc).join('<br>')}</p></section>
${leakSection(metrics, run.config.protocol)}
${otherAudits.length ? `<section id="audits"><h2>Knowledge regions</h2>${otherAudits.map((t) => htmlTable(t.header, t.rows, 'audit')).join('')}</section>` : ''}
${calibrationSection(loc, metrics)}
${judges}
${debaters}
${examplesSection(ctx, href, list, query, params, unscored)}`;
  return page(`Run ${run.id}`, body, { refresh: live.refresh });
}

// ---------------------------------------------------------------------------------------------------------------
// An example's page

/** The example page, or null when the run has no such example. */
export function examplePage(ctx: PageContext, loc: LocatedRun, exampleId: string, params: URLSearchParams): string | null {
  const { run, q } = loc;
  const ex = q.example(run.id, exampleId);
  if (!ex) return null;
  const href = runHref(ctx, loc);
  const ensembles = q.judgeEnsembles(run.id);
  const unscored = unscoredSubjects(q.metrics(run.id), run.config);
  const list = runList(q.db, run.id, run.config, ensembles, new Set(unscored.map((u) => u.name)));
  const query = parseListQuery(params, list.columns, list.protocols);
  const base = listParams(query);
  const at = list.neighbours(query, ex.id);
  const exampleHref = (id: string): string => esc(withQuery(`${href}/examples/${encodeURIComponent(id)}`, base));
  const back = new URLSearchParams(base);
  if (at && at.position > ctx.pageSize) back.set('page', String(Math.ceil(at.position / ctx.pageSize)));
  const listLink = `<a class="back-to-list" href="${esc(withQuery(href, back, '#examples'))}">the list</a>`;
  const where = describeQuery(query, list.columns);
  const pager = at
    ? `<nav class="pager">${at.prev !== null ? `<a class="prev-example" rel="prev" href="${exampleHref(at.prev)}">← previous: ${esc(at.prev)}</a>` : '<span class="note">first in the list</span>'}<span class="position">example ${at.position} of ${at.total} in ${listLink} (${esc(where)})</span>${at.next !== null ? `<a class="next-example" rel="next" href="${exampleHref(at.next)}">next: ${esc(at.next)} →</a>` : '<span class="note">last in the list</span>'}</nav>`
    : `<nav class="pager"><span class="position">This example is not in ${listLink} (${esc(where)}), so there is no previous or next.</span></nav>`;
  const live = liveness(run.status === 'running', params, `${href}/examples/${encodeURIComponent(ex.id)}`);
  const redact = secretRedactor();
  const detail = transcriptHtml(ex, q.transcripts(run.id, ex.id), q.predictions(run.id, ex.id), q.judgments(run.id, ex.id), ensembles, {
    calls: exampleCalls(q.db, run.id, ex.id, redact), redact, legend: true, context: run.config,
  });
  const body = `<nav class="crumbs"><a href="/">runs</a><a href="${href}">run ${esc(run.id)}</a></nav>${pager}<h1>Example ${esc(ex.id)}</h1>${live.badge ? `<p>${live.badge}</p>` : ''}
<p class="note">Every turn and judgment below opens to the exact messages its model received, the parameters and the raw reply (secrets redacted); its tokens, latency and whether the cache answered are on its summary line.</p>
${detail}${pager}`;
  return page(`Example ${ex.id}`, body, { refresh: live.refresh });
}
