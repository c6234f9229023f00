import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../errors.js';
import { SPLITS } from '../store/examples.js';
import { escapeHtml as esc } from './escape.js';
import type { ExampleListFilter } from './queries.js';
import { judgesSectionHtml, runDetailsHtml } from './html.js';
import { judgesView } from './judges.js';
import { pctCI, pgrCell, runResult } from './results.js';
import { displayPath, locatedResults, openResults, type LocatedRun, type ResultSet } from './results-set.js';
import { barChart } from './svg.js';
import { STYLE, transcriptHtml } from './transcript-html.js';

/**
 * The local viewer: server-rendered pages over databases opened read-only (one, or every one in a results folder), so
 * it keeps working while a run writes (WAL). It serves exactly these routes and nothing from the file system; every
 * other path is a 404.
 *   /                                   runs of every database, with the file each is in
 *   /runs/<run>?split=&outcome=&disagree=1&page=   a run's results and its examples, filtered
 *   /runs/<run>/examples/<example>      one example: transcripts, each model's and judge's probability, gold label
 *   /files/<i>/runs/<run>[/examples/<example>]      the same, in database i of the set (the form links take with
 *                                       several databases, so the same run id in two files is never ambiguous)
 *   /api/runs                           the runs as JSON, each with its file
 * Pages carry no script; a Content-Security-Policy forbids any, so even text that escaped escaping could not run.
 * The databases are the ones found at start; a database added to the folder later shows after a restart.
 */

export interface ViewerOptions {
  /** A database; or use paths. */
  db?: string;
  /** Results folders or database files (see openResults); default results/ when db is not given either. */
  paths?: readonly string[];
  /** Default 127.0.0.1; anything else exposes the data to the network. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  pageSize?: number;
}

export interface Viewer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

class NotFound extends Error {}

export async function startViewer(options: ViewerOptions): Promise<Viewer> {
  const set = openResults(options.paths ?? (options.db === undefined ? [] : [options.db]));
  const host = options.host ?? '127.0.0.1';
  const pageSize = options.pageSize ?? 200;
  const server = createServer((req, res) => {
    try {
      handle(set, req, res, { pageSize, loopbackOnly: LOOPBACK.has(host) });
    } catch (e) {
      const notFound = e instanceof NotFound;
      send(res, notFound ? 404 : 500, page(notFound ? 'Not found' : 'Error', `<p>${esc(notFound ? 'Nothing here.' : (e as Error).message)}</p><p><a href="/">runs</a></p>`), req.method === 'HEAD');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      set.close();
      reject(e.code === 'EADDRINUSE' ? new UserError(`Port ${options.port} on ${host} is in use; pass another --port (0 picks a free one).`) : e);
    });
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          set.close();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, body: string, headOnly = false, type = 'text/html; charset=utf-8'): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  res.end(headOnly ? undefined : body);
}

function handle(set: ResultSet, req: IncomingMessage, res: ServerResponse, opts: { pageSize: number; loopbackOnly: boolean }): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, page('Method not allowed', '<p>This viewer is read-only.</p>'));
    return;
  }
  // Refuse other Host names on a loopback bind, so a web page cannot reach the viewer through DNS rebinding.
  const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '');
  if (opts.loopbackOnly && !LOOPBACK.has(hostHeader)) {
    send(res, 403, page('Forbidden', '<p>Open the viewer through 127.0.0.1 or localhost.</p>'));
    return;
  }
  const raw = req.url ?? '/';
  // Dot segments, backslashes and NULs never name anything we serve (segments are decoded one by one, after splitting).
  if (/(^|\/)\.\.?(\/|$)|\\|%00/i.test(raw.split('?')[0]!)) throw new NotFound();
  const url = new URL(raw, 'http://viewer.invalid');
  let parts: string[];
  try {
    parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  } catch {
    throw new NotFound();
  }
  const head = req.method === 'HEAD';
  if (parts.length === 0) return send(res, 200, runsPage(set), head);
  if (parts.length === 2 && parts[0] === 'api' && parts[1] === 'runs') {
    const runs = set.runs().map((l) => ({ ...l.run, config: { ...l.run.config, raw: undefined }, file: displayPath(l.file), fileIndex: set.files.indexOf(l.file) }));
    return send(res, 200, JSON.stringify(runs), head, 'application/json; charset=utf-8');
  }
  // /files/<i>/runs/... names the database; /runs/... finds the run in whichever database holds it.
  let fileIndex: number | undefined;
  if (parts[0] === 'files' && parts.length >= 2) {
    if (!/^\d+$/.test(parts[1]!) || Number(parts[1]) >= set.files.length) throw new NotFound();
    fileIndex = Number(parts[1]);
    parts = parts.slice(2);
  }
  if (parts[0] === 'runs' && (parts.length === 2 || (parts.length === 4 && parts[2] === 'examples'))) {
    const found = set.locate(parts[1]!).filter((l) => fileIndex === undefined || l.file === set.files[fileIndex]);
    if (found.length === 0) throw new NotFound();
    if (found.length > 1) return send(res, 300, choicePage(set, found, parts.slice(2)), head);
    const loc = found[0]!;
    if (parts.length === 2) return send(res, 200, runPage(set, loc, url.searchParams, opts.pageSize), head);
    const { run, q } = loc;
    const ex = q.example(run.id, parts[3]!);
    if (!ex) throw new NotFound();
    const body = `<nav><a href="/">runs</a><a href="${runHref(set, loc)}">run ${esc(run.id)}</a></nav><h1>Example ${esc(ex.id)}</h1>${transcriptHtml(ex, q.transcripts(run.id, ex.id), q.predictions(run.id, ex.id), q.judgments(run.id, ex.id), q.judgeEnsembles(run.id))}`;
    return send(res, 200, page(`Example ${ex.id}`, body), head);
  }
  throw new NotFound();
}

/** A run's page: /runs/<id> with one database; with several, /files/<i>/runs/<id>, so equal ids in two files differ. */
const runHref = (set: ResultSet, loc: LocatedRun): string =>
  `${set.files.length > 1 ? `/files/${set.files.indexOf(loc.file)}` : ''}/runs/${encodeURIComponent(loc.run.id)}`;

/** A run id that is in several databases, asked for without naming one: links to each. */
function choicePage(set: ResultSet, found: LocatedRun[], rest: string[]): string {
  const tail = rest.map((p) => `/${encodeURIComponent(p)}`).join('');
  const items = found.map((l) => `<li><a class="run-link" href="${runHref(set, l)}${tail}">${esc(l.run.id)}</a> in ${esc(displayPath(l.file))}</li>`).join('');
  return page(`Run ${found[0]!.run.id}`, `<nav><a href="/">runs</a></nav><h1>Run ${esc(found[0]!.run.id)}</h1><p>This run id is in ${found.length} databases:</p><ul>${items}</ul>`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)} · w2s viewer</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

function runsPage(set: ResultSet): string {
  const runs = set.runs();
  // The file is the last column, so each row still starts with the run and its status.
  const rows = locatedResults(runs)
    .map((res, i) => {
      const r = res.run;
      return `<tr><td><a class="run-link" href="${runHref(set, runs[i]!)}">${esc(r.id)}</a></td><td${r.hint ? ` title="${esc(r.hint)}"` : ''}>${esc(r.status)}</td><td>${esc(r.dataset ?? '')}</td><td>${r.counts.examples}</td><td>${r.counts.debates}</td><td>${r.counts.calls}</td><td>${r.tokens.input + r.tokens.output}</td><td>$${r.costUsd.toFixed(4)}</td><td>${esc(pctCI(res.ensemble))}</td><td>${esc(pctCI(res.w2s))}</td><td>${esc(pgrCell(res.pgr))}</td><td>${esc(r.updatedAt)}</td><td class="file">${esc(displayPath(runs[i]!.file))}</td></tr>`;
    })
    .join('');
  const table = runs.length
    ? `<table class="runs"><thead><tr><th>run</th><th>status</th><th>dataset</th><th>examples</th><th>debates</th><th>calls</th><th>tokens</th><th>cost</th><th>ensemble %</th><th>w2s %</th><th>PGR %</th><th>updated</th><th>file</th></tr></thead><tbody>${rows}</tbody></table>`
    : '<p class="empty">No runs yet.</p>';
  const files = set.files.length === 1 ? displayPath(set.files[0]!) : `${set.files.length} databases`;
  return page('Runs', `<h1>w2s runs</h1><p class="meta">${esc(files)}</p>${table}<p class="note">Read-only view; reload to see a running experiment's progress.</p>`);
}

function runPage(set: ResultSet, loc: LocatedRun, params: URLSearchParams, pageSize: number): string {
  const { run, q } = loc;
  const href = runHref(set, loc);
  const split = params.get('split') ?? '';
  const outcome = params.get('outcome') ?? '';
  const disagree = params.get('disagree') === '1';
  const pageNo = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const filter: ExampleListFilter = {
    split: (SPLITS as readonly string[]).includes(split) ? split : undefined,
    outcome: outcome === 'right' || outcome === 'wrong' ? outcome : undefined,
    disagree,
    limit: pageSize,
    offset: (pageNo - 1) * pageSize,
  };
  const metrics = q.metrics(run.id);
  const res = runResult(q, run, metrics);
  const chart = barChart({
    title: 'Test accuracy',
    yLabel: 'accuracy',
    groups: [{ label: run.id, bars: [{ series: 'weak', ...res.weak }, { series: 'weak ensemble', ...res.ensemble }, { series: 'w2s', ...res.w2s }, { series: 'strong ceiling', ...res.ceiling }] }],
  });
  const { total, items } = q.listExamples(run.id, filter);
  const option = (value: string, label: string, current: string): string => `<option value="${esc(value)}"${value === current ? ' selected' : ''}>${esc(label)}</option>`;
  const form = `<form class="filters" method="get" action="${href}">
<label>split <select name="split">${option('', 'all', split)}${SPLITS.map((s) => option(s, s, split)).join('')}</select></label>
<label>ensemble <select name="outcome">${option('', 'right or wrong', outcome)}${option('right', 'right', outcome)}${option('wrong', 'wrong', outcome)}</select></label>
<label><input type="checkbox" name="disagree" value="1"${disagree ? ' checked' : ''}> members disagree</label>
<button type="submit">filter</button></form>`;
  const rows = items
    .map((e) => {
      const score = e.ensemble ?? e.weak;
      const verdict = score === null ? '' : (score > 0.5 ? 1 : 0) === e.label ? '<span class="good">right</span>' : '<span class="bad">wrong</span>';
      return `<tr class="example-row"><td><a class="example-link" href="${href}/examples/${encodeURIComponent(e.id)}">${esc(e.id)}</a></td><td>${esc(e.split)}</td><td>${e.label}</td><td>${e.ensemble === null ? 'n/a' : e.ensemble.toFixed(3)}</td><td>${e.members ? `${e.votesFor1}/${e.members}` : ''}</td><td>${e.weak === null ? 'n/a' : e.weak.toFixed(3)}</td><td>${verdict}</td><td>${esc(e.preview)}</td></tr>`;
    })
    .join('');
  const qs = (p: number): string => {
    const s = new URLSearchParams(params);
    s.set('page', String(p));
    return `${href}?${esc(s.toString())}`;
  };
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const pager = pages > 1 ? `<p>${pageNo > 1 ? `<a href="${qs(pageNo - 1)}">previous</a> ` : ''}page ${pageNo} of ${pages}${pageNo < pages ? ` <a href="${qs(pageNo + 1)}">next</a>` : ''}</p>` : '';
  const body = `<nav><a href="/">runs</a></nav><h1>Run ${esc(run.id)}</h1>
<p class="meta">${esc(displayPath(loc.file))} · ${esc(run.status)}${run.hint ? ` (${esc(run.hint)})` : ''} · dataset ${esc(run.dataset ?? '?')} · protocol ${esc(run.config.protocol ?? '?')} · ${esc(String(run.config.turns ?? '?'))} turns · ensemble ${esc(String(run.config.ensembleSize ?? '?'))} · judges ${esc(run.config.judges.join(', ') || 'none')}${run.error ? ` · <span class="bad">${esc(run.error)}</span>` : ''}</p>
${runDetailsHtml(metrics, run.config)}
<div class="charts">${chart}</div>
${judgesSectionHtml(judgesView(metrics, run.config, run.id), run.id)}
<h2>Examples</h2>${form}<p class="note"><span class="count">${total}</span> example(s) match. Right or wrong by the ensemble's mean P(label 1) (the weak baseline where no ensemble exists).</p>
<table class="examples"><thead><tr><th>example</th><th>split</th><th>gold</th><th>ensemble P(1)</th><th>votes for 1</th><th>weak P(1)</th><th></th><th>question</th></tr></thead><tbody>${rows}</tbody></table>${pager}`;
  return page(`Run ${run.id}`, body);
}
