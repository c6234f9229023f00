import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../errors.js';
import { escapeHtml as esc } from './escape.js';
import { displayPath } from './results-set.js';
import { examplePage, frontPage, notFoundPage, page, runPage, choicePage, type PageContext } from './viewer-pages.js';
import { watchResults, type WatchedResults } from './viewer-set.js';

/**
 * The local viewer: server-rendered pages over databases opened read-only (the files named, and every one in the
 * results folders named, found again each time the front page loads), so it keeps working while runs write (WAL) and
 * shows databases that appear after it started. It serves exactly these routes and nothing from the file system;
 * every other path is a 404.
 *   /                                   runs of every database, with the file each is in (rescans the folders)
 *   /runs/<run>?split=&wrong=&disagree=&protocol=&q=&sort=&dir=&page=
 *                                       a run's results, audits, calibration, judges, and its examples listed
 *   /runs/<run>/examples/<example>?<the list's parameters>
 *                                       one example: transcripts, every call's prompt and raw reply, each model's and
 *                                       judge's probability, the gold label; previous/next follow the list
 *   /files/<i>/runs/<run>[/examples/<example>]      the same, in database i (the form links take with several
 *                                       databases, so the same run id in two files is never ambiguous)
 *   /api/runs                           the runs as JSON, each with its file
 * Pages carry no script; a Content-Security-Policy forbids any, so even text that escaped escaping could not run. A
 * page of a running run refreshes itself every 5 s with <meta http-equiv="refresh">.
 */

export interface ViewerOptions {
  /** A database; or use paths. */
  db?: string;
  /** Results folders or database files; default results/ when db is not given either. */
  paths?: readonly string[];
  /** Default 127.0.0.1; anything else exposes the data to the network. */
  host?: string;
  /** 0 (default here; the CLI's default is DEFAULT_VIEWER_PORT) picks a free port. */
  port?: number;
  /** Examples per page of a run's list (default 100). */
  pageSize?: number;
}

/** The port `w2s view` listens on unless told otherwise. */
export const DEFAULT_VIEWER_PORT = 7377;

export interface Viewer {
  url: string;
  port: number;
  server: Server;
  /** What the viewer watches, in words ("results/ (3 databases)"). */
  watching: string;
  close(): Promise<void>;
}

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export class NotFound extends Error {}

export async function startViewer(options: ViewerOptions): Promise<Viewer> {
  const set = watchResults(options.paths ?? (options.db === undefined ? [] : [options.db]));
  const host = options.host ?? '127.0.0.1';
  const ctx: PageContext = { set, pageSize: options.pageSize ?? 100 };
  const loopbackOnly = LOOPBACK.has(host);
  const server = createServer((req, res) => {
    try {
      handle(ctx, req, res, loopbackOnly);
    } catch (e) {
      const notFound = e instanceof NotFound;
      send(res, notFound ? 404 : 500, notFound ? notFoundPage() : page('Error', `<p>${esc((e as Error).message)}</p><p><a href="/">runs</a></p>`), req.method === 'HEAD');
    }
  });
  const port = options.port ?? 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      set.close();
      reject(
        e.code === 'EADDRINUSE'
          ? new UserError(`Port ${port} on ${host} is already in use (perhaps by another w2s view); pass another port with --port <n>, or --port 0 for any free one.`)
          : e.code === 'EACCES'
            ? new UserError(`Port ${port} on ${host} needs privileges this user lacks; pass a port above 1023 with --port <n>.`)
            : e,
      );
    });
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/`,
    port: bound,
    server,
    watching: set.describe(),
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

function handle(ctx: PageContext, req: IncomingMessage, res: ServerResponse, loopbackOnly: boolean): void {
  const { set } = ctx;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, page('Method not allowed', '<p>This viewer is read-only.</p>'));
    return;
  }
  // Refuse other Host names on a loopback bind, so a web page cannot reach the viewer through DNS rebinding.
  const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '');
  if (loopbackOnly && !LOOPBACK.has(hostHeader)) {
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
  if (parts.length === 0) {
    set.rescan();
    return send(res, 200, frontPage(ctx, url.searchParams), head);
  }
  if (parts.length === 2 && parts[0] === 'api' && parts[1] === 'runs') {
    set.rescan();
    const runs = set.runs().map((l) => ({ ...l.run, config: { ...l.run.config, raw: undefined }, file: displayPath(l.file), fileIndex: set.indexOf(l.file) }));
    return send(res, 200, JSON.stringify(runs), head, 'application/json; charset=utf-8');
  }
  // /files/<i>/runs/... names the database; /runs/... finds the run in whichever database holds it.
  let fileIndex: number | undefined;
  if (parts[0] === 'files' && parts.length >= 2) {
    if (!/^\d+$/.test(parts[1]!) || set.fileAt(Number(parts[1])) === undefined) {
      set.rescan();
      if (!/^\d+$/.test(parts[1]!) || set.fileAt(Number(parts[1])) === undefined) throw new NotFound();
    }
    fileIndex = Number(parts[1]);
    parts = parts.slice(2);
  }
  if (parts[0] === 'runs' && (parts.length === 2 || (parts.length === 4 && parts[2] === 'examples'))) {
    let found = set.locate(parts[1]!, fileIndex);
    if (found.length === 0) {
      // A run in a database that appeared since the last scan.
      set.rescan();
      found = set.locate(parts[1]!, fileIndex);
    }
    if (found.length === 0) throw new NotFound();
    if (found.length > 1) return send(res, 300, choicePage(ctx, found, parts.slice(2)), head);
    const loc = found[0]!;
    if (parts.length === 2) return send(res, 200, runPage(ctx, loc, url.searchParams), head);
    const body = examplePage(ctx, loc, parts[3]!, url.searchParams);
    if (body === null) throw new NotFound();
    return send(res, 200, body, head);
  }
  throw new NotFound();
}

export type { WatchedResults };
