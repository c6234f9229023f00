/**
 * A loopback server speaking the Hugging Face hub's wire format for dataset files, for the download tests:
 *   GET  /api/datasets/{id}/tree/{revision}?recursive=true   the revision's files (JSON array, paged by a Link header)
 *   GET|HEAD /datasets/{id}/resolve/{revision}/{path}       a small file served directly (ETag = its git blob id);
 *                                                            an LFS file redirected (302) to the CDN, with
 *                                                            X-Linked-Etag (its sha256) and X-Linked-Size
 * and a second listener, the CDN (another origin, as the hub's is), serving LFS bytes at /cdn/{sha256} with Range
 * support that a test can turn off, a hook that cuts a response after some bytes, and a 400 for any request that
 * carries an Authorization header (as presigned CDN URLs answer). A gated repo answers 401 without the token, 403 with
 * a wrong one. Files are read in place (the shared datasets are never copied); every request is logged.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface HubRepoFile {
  /** Path inside the repository. */
  path: string;
  /** A local file served as this path's bytes (read in place), or the bytes themselves. */
  source: string | Buffer;
  /** Stored in LFS (served through the CDN with X-Linked-Etag); default: true for .parquet/.gz/.json(l)/.csv files. */
  lfs?: boolean;
}

export interface HubRepo {
  id: string;
  /** The branch name the repo answers to (default main); its commit answers too. */
  revision?: string;
  commit?: string;
  files: HubRepoFile[];
  /** Downloads need `Authorization: Bearer <token>` (the listing stays public, as on the hub). */
  gated?: boolean;
}

export interface HubRequest {
  n: number;
  /** Which listener answered: the hub or its CDN. */
  server: 'hub' | 'cdn';
  method: string;
  /** The URL path, decoded. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  range: string | undefined;
  status: number;
}

export interface HubServer {
  /** The hub's base URL (for HF_ENDPOINT). */
  url: string;
  cdnUrl: string;
  requests: HubRequest[];
  /** Whether the CDN (and directly served files) honour Range requests; default true. */
  rangeSupport: boolean;
  /** The next GET of this repo path's bytes sends only `afterBytes` bytes, then drops the connection. */
  cutNext(path: string, afterBytes: number): void;
  /** Sends this (wrong) checksum for a path's X-Linked-Etag / ETag from now on. */
  overrideEtag(path: string, etag: string): void;
  close(): Promise<void>;
}

interface Stored {
  path: string;
  bytes: Buffer;
  sha256: string;
  gitOid: string;
  lfs: boolean;
}

const gitOid = (bytes: Buffer): string => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
const LFS_BY_DEFAULT = /\.(parquet|gz|jsonl?|csv)$/i;

export async function startHubServer(o: { repos: HubRepo[]; token?: string; pageSize?: number }): Promise<HubServer> {
  const repos = new Map<string, { repo: HubRepo; files: Map<string, Stored>; commit: string }>();
  const bySha = new Map<string, Stored>();
  for (const repo of o.repos) {
    const files = new Map<string, Stored>();
    for (const f of repo.files) {
      const bytes = typeof f.source === 'string' ? readFileSync(f.source) : f.source;
      const stored: Stored = { path: f.path, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), gitOid: gitOid(bytes), lfs: f.lfs ?? LFS_BY_DEFAULT.test(f.path) };
      files.set(f.path, stored);
      bySha.set(stored.sha256, stored);
    }
    const commit = repo.commit ?? createHash('sha1').update(repo.id).digest('hex');
    repos.set(repo.id, { repo, files, commit });
  }
  const requests: HubRequest[] = [];
  const cuts = new Map<string, number>();
  const etags = new Map<string, string>();
  let n = 0;
  const state = { rangeSupport: true };

  const log = (server: 'hub' | 'cdn', req: IncomingMessage, status: number): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    const range = req.headers.range;
    requests.push({ n: ++n, server, method: req.method ?? 'GET', path: decodeURIComponent(url.pathname), query: url.searchParams, headers: req.headers, range: typeof range === 'string' ? range : undefined, status });
  };
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
    return status;
  };

  /** Serves a file's bytes, honouring Range when turned on, and cutting the body when a test asked for it. */
  const sendBytes = (req: IncomingMessage, res: ServerResponse, f: Stored, headers: Record<string, string>): number => {
    const size = f.bytes.length;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
    if (range && state.rangeSupport) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return 416;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    const body = f.bytes.subarray(start, end + 1);
    res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': String(body.length), ...(state.rangeSupport ? { 'accept-ranges': 'bytes' } : {}), ...headers });
    if (req.method === 'HEAD') {
      res.end();
      return status;
    }
    const cut = cuts.get(f.path);
    if (cut !== undefined) {
      cuts.delete(f.path);
      res.write(body.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 20));
      return status;
    }
    res.end(body);
    return status;
  };

  const hubHandler = (req: IncomingMessage, res: ServerResponse): number => {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').map(decodeURIComponent);
    // /api/datasets/{owner}/{name}/tree/{revision}
    if (parts[1] === 'api' && parts[2] === 'datasets' && parts[5] === 'tree') {
      const entry = repos.get(`${parts[3]}/${parts[4]}`);
      if (!entry) return json(res, 404, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
      const rev = parts.slice(6).join('/');
      if (rev !== (entry.repo.revision ?? 'main') && rev !== entry.commit) return json(res, 404, { error: 'Revision not found' }, { 'x-error-code': 'RevisionNotFound' });
      const listing: unknown[] = [];
      const dirs = new Set<string>();
      for (const f of [...entry.files.values()].sort((a, b) => (a.path < b.path ? -1 : 1))) {
        const segs = f.path.split('/');
        for (let i = 1; i < segs.length; i++) {
          const dir = segs.slice(0, i).join('/');
          if (!dirs.has(dir)) {
            dirs.add(dir);
            listing.push({ type: 'directory', oid: createHash('sha1').update(dir).digest('hex'), size: 0, path: dir });
          }
        }
        listing.push(
          f.lfs
            ? { type: 'file', oid: gitOid(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${f.sha256}\nsize ${f.bytes.length}\n`)), size: f.bytes.length, lfs: { oid: f.sha256, size: f.bytes.length, pointerSize: 134 }, path: f.path }
            : { type: 'file', oid: f.gitOid, size: f.bytes.length, path: f.path },
        );
      }
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const size = o.pageSize ?? listing.length;
      const page = listing.slice(cursor, cursor + size);
      const headers: Record<string, string> = {};
      if (cursor + size < listing.length) {
        const next = new URL(url.toString());
        next.searchParams.set('cursor', String(cursor + size));
        headers['link'] = `<${hubUrl}${next.pathname}${next.search}>; rel="next"`;
      }
      return json(res, 200, page, headers);
    }
    // /datasets/{owner}/{name}/resolve/{revision}/{path...}
    if (parts[1] === 'datasets' && parts[4] === 'resolve') {
      const entry = repos.get(`${parts[2]}/${parts[3]}`);
      if (!entry) return json(res, 404, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
      const rev = parts[5]!;
      if (rev !== (entry.repo.revision ?? 'main') && rev !== entry.commit) return json(res, 404, { error: 'Revision not found' }, { 'x-error-code': 'RevisionNotFound' });
      if (entry.repo.gated) {
        const auth = req.headers.authorization;
        if (!auth) return json(res, 401, { error: `Access to dataset ${entry.repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.` }, { 'x-error-code': 'GatedRepo' });
        if (auth !== `Bearer ${o.token}`) return json(res, 403, { error: `Access to dataset ${entry.repo.id} is restricted and you are not in the authorized list.` }, { 'x-error-code': 'GatedRepo' });
      }
      const f = entry.files.get(parts.slice(6).join('/'));
      if (!f) return json(res, 404, { error: 'Entry not found' }, { 'x-error-code': 'EntryNotFound' });
      const common = { 'x-repo-commit': entry.commit };
      if (f.lfs) {
        const linked = etags.get(f.path) ?? f.sha256;
        res.writeHead(302, { ...common, location: `${cdnUrl}/cdn/${f.sha256}?expires=3600&sig=abc`, 'x-linked-etag': `"${linked}"`, 'x-linked-size': String(f.bytes.length), etag: `"${linked}"`, 'content-length': '0' });
        res.end();
        return 302;
      }
      return sendBytes(req, res, f, { ...common, etag: `"${etags.get(f.path) ?? f.gitOid}"` });
    }
    return json(res, 404, { error: 'not found' });
  };

  const cdnHandler = (req: IncomingMessage, res: ServerResponse): number => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    const f = m ? bySha.get(m[1]!) : undefined;
    if (!f) return json(res, 404, { error: 'NoSuchKey' });
    if (req.headers.authorization) return json(res, 400, { error: 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified' });
    return sendBytes(req, res, f, { etag: `"${createHash('md5').update(f.bytes).digest('hex')}"` });
  };

  const listen = async (name: 'hub' | 'cdn', handler: (req: IncomingMessage, res: ServerResponse) => number): Promise<{ server: Server; url: string; sockets: Set<Socket> }> => {
    const sockets = new Set<Socket>();
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        let status = 500;
        try {
          status = handler(req, res);
        } catch (e) {
          status = json(res, 500, { error: String(e) });
        }
        log(name, req, status);
      });
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
  };

  const cdn = await listen('cdn', cdnHandler);
  const cdnUrl = cdn.url;
  const hub = await listen('hub', hubHandler);
  const hubUrl = hub.url;

  return {
    url: hubUrl,
    cdnUrl,
    requests,
    get rangeSupport() {
      return state.rangeSupport;
    },
    set rangeSupport(on: boolean) {
      state.rangeSupport = on;
    },
    cutNext: (path, afterBytes) => void cuts.set(path, afterBytes),
    overrideEtag: (path, etag) => void etags.set(path, etag),
    async close() {
      for (const { server, sockets } of [hub, cdn]) {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}
