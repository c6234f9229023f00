import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { cachedFilePath, manifestPath, type Manifest } from '../../src/data/hub-cache.js';
import { ensureHubFile, hubSettings, listHubFiles, pickSplitFiles, splitFilesOf, splitOfPath, type HubSettings } from '../../src/data/hub.js';
import { UserError } from '../../src/errors.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * `w2s data get` and the hub cache against a loopback server speaking the hub's wire format (tree API, resolve with a
 * 302 to a CDN on another origin, X-Linked-Etag, Range), serving the shared datasets in place. Expected checksums are
 * computed here from the shared files' bytes.
 */

const SHARED = join(import.meta.dirname, '../../../shared/datasets');
const HH = join(SHARED, 'anthropic_hh/harmless-base_test.jsonl.gz');
const SCIQ = (f: string): string => join(SHARED, 'sciq', f);
const TOKEN = 'hf_loopbackTestToken0123456789abcdef';
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

const run = promisify(execFile);

/** The CLI as a user runs it; resolves with exit code and output instead of throwing. */
async function w2s(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout, stderr: err.stderr };
  }
}

let hub: HubServer;
before(async () => {
  hub = await startHubServer({
    token: TOKEN,
    pageSize: 3,
    repos: [
      { id: 'Anthropic/hh-rlhf', files: [{ path: 'harmless-base/test.jsonl.gz', source: HH }, { path: 'README.md', source: Buffer.from('# hh-rlhf\n') }] },
      {
        id: 'test-org/sciq-release',
        files: [
          { path: 'train.json', source: SCIQ('train.json') },
          { path: 'valid.json', source: SCIQ('valid.json') },
          { path: 'test.json', source: SCIQ('test.json') },
          { path: 'readme.txt', source: SCIQ('readme.txt'), lfs: false },
        ],
      },
      // A small file kept in git (no LFS): served by the hub itself, its ETag the git blob id.
      { id: 'test-org/small', files: [{ path: 'data/test.jsonl', source: Buffer.from('{"text": "a", "label": 1}\n{"text": "b", "label": 0}\n'), lfs: false }] },
      { id: 'test-org/gated', gated: true, files: [{ path: 'valid.csv', source: join(SHARED, 'cosmos_qa/valid.csv') }] },
    ],
  });
});
after(() => hub.close());

/** Settings for a fresh cache on the loopback hub; `env` adds variables (HF_TOKEN, offline switches). */
function settings(over: Partial<HubSettings> = {}, env: NodeJS.ProcessEnv = {}): HubSettings {
  return hubSettings({ HF_ENDPOINT: hub.url, W2S_DATA_DIR: tempDir('w2s-hub-'), ...env }, { idleTimeoutMs: 10_000, ...over });
}

/** The requests made while fn ran. */
async function requestsDuring<T>(fn: () => Promise<T>): Promise<{ value: T; seen: HubServer['requests'] }> {
  const from = hub.requests.length;
  const value = await fn();
  return { value, seen: hub.requests.slice(from) };
}

/** A port nothing listens on (one just released). */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function refuses(p: Promise<unknown>, pattern: RegExp): Promise<UserError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    assert.ok(e instanceof UserError, `a UserError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
  return caught as UserError;
}

function cliEnv(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HF_ENDPOINT: hub.url, W2S_DATA_DIR: dataDir, ...extra };
  for (const k of ['HF_TOKEN', 'HF_HUB_OFFLINE', 'W2S_OFFLINE']) if (!(k in extra)) delete env[k];
  return env;
}

describe('w2s data get', () => {
  test('a registered name downloads its hub file, verified, and prints where it went, its size and sha256', async () => {
    const dataDir = tempDir('w2s-hub-cli-');
    const { value: r, seen } = await requestsDuring(() => w2s(['data', 'get', 'anthropic_hh'], cliEnv(dataDir)));
    assert.equal(r.code, 0, `exit 0; stderr: ${r.stderr}`);
    const file = join(dataDir, 'hub/Anthropic/hh-rlhf/main/harmless-base/test.jsonl.gz');
    const size = statSync(HH).size;
    assert.ok(readFileSync(file).equals(readFileSync(HH)), 'the cached file is byte-identical to the shared one');
    assert.match(r.stdout, new RegExp(`^  train  downloaded  harmless-base/test\\.jsonl\\.gz  ${size.toLocaleString('en-US')} bytes  sha256 ${sha256(HH)}$`, 'm'), `the file line: ${r.stdout}`);
    assert.ok(r.stdout.includes(`→ ${file}\n`), `the output names where the file went: ${r.stdout}`);
    assert.match(r.stdout, /^Anthropic\/hh-rlhf at main \(commit [0-9a-f]{40}\): 1 file in /, 'the header names the dataset, revision and commit');
    const manifest = JSON.parse(readFileSync(join(dataDir, 'hub/Anthropic/hh-rlhf/manifest.json'), 'utf8')) as Manifest;
    const entry = manifest.revisions['main']!.files['harmless-base/test.jsonl.gz']!;
    assert.deepEqual({ size: entry.size, sha256: entry.sha256, etag: entry.etag }, { size, sha256: sha256(HH), etag: sha256(HH) }, 'the manifest records size, sha256 and the X-Linked-Etag');
    assert.deepEqual(seen.map((q) => `${q.server} ${q.method} ${q.status}`), ['hub GET 302', 'cdn GET 200'], 'resolve redirects to the CDN, which serves the bytes');
    assert.equal(seen[1]!.headers.authorization, undefined, 'no token reaches the CDN');

    // Again: the file is complete and matches, so nothing is downloaded (one HEAD asks the hub for its checksum).
    const again = await requestsDuring(() => w2s(['data', 'get', 'anthropic_hh'], cliEnv(dataDir)));
    assert.equal(again.value.code, 0, again.value.stderr);
    assert.match(again.value.stdout, /^  train  cached      harmless-base\/test\.jsonl\.gz /m, `reported as cached: ${again.value.stdout}`);
    assert.deepEqual(again.seen.map((q) => `${q.server} ${q.method}`), ['hub HEAD'], 'no download the second time');
  });

  test('a hub id lists the revision (all pages) and downloads the files naming the splits asked for', async () => {
    const dataDir = tempDir('w2s-hub-cli-');
    const { value: r, seen } = await requestsDuring(() => w2s(['data', 'get', 'test-org/sciq-release', '--split', 'train,test'], cliEnv(dataDir)));
    assert.equal(r.code, 0, `exit 0; stderr: ${r.stderr}`);
    for (const name of ['train.json', 'test.json']) {
      const file = join(dataDir, 'hub/test-org/sciq-release/main', name);
      assert.equal(sha256(file), sha256(SCIQ(name)), `${name} has the shared file's sha256`);
      assert.ok(r.stdout.includes(`sha256 ${sha256(SCIQ(name))}`), `the output prints ${name}'s sha256`);
    }
    assert.equal(existsSync(join(dataDir, 'hub/test-org/sciq-release/main/valid.json')), false, 'valid.json is not a split asked for');
    const listings = seen.filter((q) => q.path.startsWith('/api/datasets/test-org/sciq-release/tree/main'));
    assert.ok(listings.length >= 2, `the listing was paged and every page was read (${listings.length} pages)`);
    assert.ok(listings.every((q) => q.query.get('recursive') === 'true'), 'the listing is recursive');
  });

  test('offline mode makes no request and names what is missing in one sentence', async () => {
    const dataDir = tempDir('w2s-hub-cli-');
    for (const [args, env] of [
      [['data', 'get', 'anthropic_hh', '--offline'], {}],
      [['data', 'get', 'anthropic_hh'], { HF_HUB_OFFLINE: '1' }],
      [['data', 'get', 'test-org/sciq-release'], { W2S_OFFLINE: '1' }],
    ] as const) {
      const { value: r, seen } = await requestsDuring(() => w2s([...args], cliEnv(dataDir, env)));
      assert.equal(r.code, 1, `${args.join(' ')} fails offline with an empty cache`);
      assert.equal(seen.length, 0, `${args.join(' ')} made no request`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.match(lines[0]!, /^w2s: Offline mode is on and (Anthropic\/hh-rlhf harmless-base\/test\.jsonl\.gz at revision main is not in the cache|nothing of test-org\/sciq-release at revision main is in the cache)/, lines[0]!);
    }
    // Once fetched, offline mode serves the cache, still without a request.
    assert.equal((await w2s(['data', 'get', 'anthropic_hh'], cliEnv(dataDir))).code, 0, 'fetched online');
    const { value: r, seen } = await requestsDuring(() => w2s(['data', 'get', 'anthropic_hh', '--offline'], cliEnv(dataDir)));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cached/, 'served from the cache');
    assert.equal(seen.length, 0, 'no request offline');
  });

  test('HF_TOKEN is sent to the hub only, required by the gated repo, and never printed', async () => {
    const dataDir = tempDir('w2s-hub-cli-');
    const without = await w2s(['data', 'get', 'test-org/gated'], cliEnv(dataDir));
    assert.equal(without.code, 1, 'refused without a token');
    assert.match(without.stderr.trim(), /^w2s: test-org\/gated is gated or private \(HTTP 401\); set HF_TOKEN to a token of an account that accepted the dataset's terms on http:\/\/127\.0\.0\.1:\d+\/datasets\/test-org\/gated\.$/, without.stderr);
    const wrong = await w2s(['data', 'get', 'test-org/gated'], cliEnv(dataDir, { HF_TOKEN: 'hf_wrongTokenXXXXXXXXXXXXXXXX' }));
    assert.equal(wrong.code, 1, 'refused with a wrong token');
    assert.match(wrong.stderr, /HF_TOKEN has no access to test-org\/gated \(HTTP 403\); accept the dataset's terms on /, wrong.stderr);
    assert.ok(!wrong.stderr.includes('hf_wrongToken'), 'the token is not printed');

    const { value: ok, seen } = await requestsDuring(() => w2s(['data', 'get', 'test-org/gated', '--verbose'], cliEnv(dataDir, { HF_TOKEN: TOKEN })));
    assert.equal(ok.code, 0, `downloaded with the token: ${ok.stderr}`);
    assert.equal(sha256(join(dataDir, 'hub/test-org/gated/main/valid.csv')), sha256(join(SHARED, 'cosmos_qa/valid.csv')), 'the gated file arrived intact');
    assert.ok(!ok.stdout.includes(TOKEN) && !ok.stderr.includes(TOKEN), 'the token is never printed');
    const resolve = seen.filter((q) => q.server === 'hub' && q.path.includes('/resolve/'));
    assert.ok(resolve.length > 0 && resolve.every((q) => q.headers.authorization === `Bearer ${TOKEN}`), 'the hub gets Authorization: Bearer <HF_TOKEN>');
    assert.ok(seen.filter((q) => q.server === 'cdn').every((q) => q.headers.authorization === undefined), 'the CDN (another origin) never gets the token');
  });
});

describe('the hub cache', () => {
  test('HF_ENDPOINT picks the hub (a trailing slash is fine); a bad one is one sentence', async () => {
    const s = hubSettings({ HF_ENDPOINT: `${hub.url}/`, W2S_DATA_DIR: tempDir('w2s-hub-') });
    assert.equal(s.endpoint, hub.url, 'the trailing slash is dropped');
    const { value: got, seen } = await requestsDuring(() => ensureHubFile(s, { id: 'test-org/small', revision: 'main', path: 'data/test.jsonl' }));
    assert.equal(got.status, 'downloaded', 'fetched');
    assert.equal(seen.length, 1, 'the request went to the HF_ENDPOINT server');
    assert.equal(hubSettings({}).endpoint, 'https://huggingface.co', 'the default is the public hub');
    assert.throws(() => hubSettings({ HF_ENDPOINT: 'ftp://mirror' }), /HF_ENDPOINT "ftp:\/\/mirror" is not an http\(s\) URL/, 'a non-http endpoint is refused');
  });

  test('a small file the hub serves itself is verified by its git blob id', async () => {
    const s = settings();
    const got = await ensureHubFile(s, { id: 'test-org/small', revision: 'main', path: 'data/test.jsonl' });
    const bytes = readFileSync(got.file);
    const oid = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
    assert.equal(got.etag, oid, 'the ETag recorded is the git blob id');
    hub.overrideEtag('data/test.jsonl', '0'.repeat(40));
    const s2 = settings();
    await refuses(ensureHubFile(s2, { id: 'test-org/small', revision: 'main', path: 'data/test.jsonl' }), /is corrupt \(git blob id [0-9a-f]{40}, the hub's ETag says 0{40}\), so nothing was kept/);
    assert.equal(existsSync(cachedFilePath(s2.cacheRoot, 'test-org/small', 'main', 'data/test.jsonl')), false, 'nothing under the final name');
    hub.overrideEtag('data/test.jsonl', oid);
  });

  test('an interrupted download keeps its part and resumes with a Range request, byte-identical', async () => {
    const s = settings({ attempts: 1 });
    const ref = { id: 'test-org/sciq-release', revision: 'main', path: 'train.json' };
    const final = cachedFilePath(s.cacheRoot, ref.id, ref.revision, ref.path);
    hub.cutNext('train.json', 3_000_000);
    await refuses(ensureHubFile(s, ref), /^The download of test-org\/sciq-release train\.json was cut off after \d+ bytes .*; the part is kept .*, so rerunning the same command resumes it\.$/);
    assert.equal(existsSync(final), false, 'nothing under the final name');
    const kept = statSync(`${final}.part`).size;
    assert.ok(kept > 0 && kept <= 3_000_000, `the part holds what arrived (${kept} bytes)`);

    const { value: got, seen } = await requestsDuring(() => ensureHubFile(s, ref));
    const cdn = seen.filter((q) => q.server === 'cdn');
    assert.equal(cdn.length, 1, 'one CDN request');
    assert.equal(cdn[0]!.range, `bytes=${kept}-`, 'it asks for the rest only');
    assert.equal(cdn[0]!.status, 206, 'and gets a partial response');
    assert.equal(got.status, 'downloaded', 'completed');
    assert.ok(readFileSync(final).equals(readFileSync(SCIQ('train.json'))), 'byte-identical to the shared file');
    assert.equal(existsSync(`${final}.part`), false, 'the part is gone');
  });

  test('a whole part left by a download killed before its rename is verified and kept; a part that is not the file starts over', async () => {
    const s = settings({ attempts: 1 });
    const ref = { id: 'test-org/sciq-release', revision: 'main', path: 'valid.json' };
    const final = cachedFilePath(s.cacheRoot, ref.id, ref.revision, ref.path);
    const bytes = readFileSync(SCIQ('valid.json'));
    // What an interrupted download leaves: the part, and beside it the ETag (here the sha256) it was fetched under.
    const leavePart = (file: string, part: Buffer): void => {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(`${file}.part`, part);
      writeFileSync(`${file}.part.json`, JSON.stringify({ etag: sha256(SCIQ('valid.json')), path: ref.path }));
    };
    leavePart(final, bytes);
    const { value: kept, seen } = await requestsDuring(() => ensureHubFile(s, ref));
    assert.deepEqual(seen.filter((q) => q.server === 'cdn').map((q) => `${q.range} ${q.status}`), [`bytes=${bytes.length}- 416`], 'one request, past the end');
    assert.equal(kept.status, 'downloaded', 'the part became the file');
    assert.equal(kept.sha256, sha256(SCIQ('valid.json')), 'verified against the hub\'s sha256');
    assert.ok(readFileSync(final).equals(bytes), 'byte-identical');
    assert.equal(existsSync(`${final}.part`), false, 'the part is gone');

    // A part longer than the file: 416, thrown away, and with one try allowed the fetch from zero still happens.
    const s2 = settings({ attempts: 1 });
    const final2 = cachedFilePath(s2.cacheRoot, ref.id, ref.revision, ref.path);
    leavePart(final2, Buffer.concat([bytes, Buffer.from('trailing junk')]));
    const { value: fresh, seen: seen2 } = await requestsDuring(() => ensureHubFile(s2, ref));
    assert.deepEqual(seen2.filter((q) => q.server === 'cdn').map((q) => `${q.range ?? 'all'} ${q.status}`), [`bytes=${bytes.length + 13}- 416`, 'all 200'], 'past the end, then the whole file');
    assert.ok(readFileSync(fresh.file).equals(bytes), 'the file, not the junk');
  });

  test('no abort listener is left on the caller\'s signal after a listing, a download cut and resumed, and a check', async () => {
    const stop = new AbortController();
    const s = settings({ signal: stop.signal });
    const ref = { id: 'test-org/sciq-release', revision: 'main', path: 'valid.json' };
    assert.equal((await listHubFiles(s, ref.id, ref.revision)).length, 4, 'the four files listed');
    hub.cutNext('valid.json', 100_000);
    const { seen } = await requestsDuring(() => ensureHubFile(s, ref));
    assert.equal(seen.filter((q) => q.server === 'cdn').length, 2, 'cut, then resumed after a pause');
    assert.equal((await ensureHubFile(s, ref)).status, 'cached', 'then checked against the hub and served from the cache');
    assert.equal(getEventListeners(stop.signal, 'abort').length, 0, 'every listener added was removed');
  });

  test('a listing whose body stalls after its headers is cut off by the idle timer: one sentence, no hang', async () => {
    // Headers and a first chunk, then nothing; the stream fails only when the request is aborted, as fetch's does.
    const stalled: typeof fetch = async (_url, init) => {
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode('[{"type": '));
          init?.signal?.addEventListener('abort', () => c.error(init.signal!.reason));
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const s = settings({ fetch: stalled, idleTimeoutMs: 1000 });
    const hung = new Promise<string>((r) => setTimeout(() => r('still waiting after 5 s'), 5000).unref());
    const outcome = await Promise.race([listHubFiles(s, 'test-org/sciq-release', 'main').then(() => 'listed', (e: unknown) => e), hung]);
    assert.ok(outcome instanceof UserError, `a UserError, got ${String(outcome)}`);
    assert.match(outcome.message, /^The hub at http:\/\/127\.0\.0\.1:\d+ stopped sending the listing of test-org\/sciq-release \(no data for 1 s\); check the network or HF_ENDPOINT, and rerun\.$/, outcome.message);
  });

  test('within one call a cut transfer is resumed at once; a server that ignores Range restarts cleanly', async () => {
    const s = settings();
    const ref = { id: 'test-org/sciq-release', revision: 'main', path: 'test.json' };
    hub.cutNext('test.json', 200_000);
    const { value: got, seen } = await requestsDuring(() => ensureHubFile(s, ref));
    const ranges = seen.filter((q) => q.server === 'cdn').map((q) => `${q.range ?? 'all'} ${q.status}`);
    assert.equal(ranges.length, 2, `cut, then resumed: ${ranges.join(', ')}`);
    assert.match(ranges[1]!, /^bytes=\d+- 206$/, 'the second request resumes with Range');
    assert.equal(got.sha256, sha256(SCIQ('test.json')), 'the file is intact');

    const s2 = settings({ attempts: 1 });
    hub.cutNext('test.json', 300_000);
    await refuses(ensureHubFile(s2, ref), /cut off/);
    hub.rangeSupport = false;
    try {
      const { value: again, seen: seen2 } = await requestsDuring(() => ensureHubFile(s2, ref));
      const cdn = seen2.filter((q) => q.server === 'cdn');
      assert.equal(cdn.length, 1, 'one request');
      assert.match(cdn[0]!.range ?? '', /^bytes=\d+-$/, 'it asked for a range');
      assert.equal(cdn[0]!.status, 200, 'the server sent the whole file instead');
      assert.ok(readFileSync(again.file).equals(readFileSync(SCIQ('test.json'))), 'the part was restarted, not appended to');
    } finally {
      hub.rangeSupport = true;
    }
  });

  test('a transfer that does not match the hub\'s X-Linked-Etag is refused, and nothing is kept', async () => {
    const s = settings();
    const ref = { id: 'test-org/sciq-release', revision: 'main', path: 'valid.json' };
    hub.overrideEtag('valid.json', 'f'.repeat(64));
    try {
      const err = await refuses(ensureHubFile(s, ref), /^The download of test-org\/sciq-release valid\.json from http:\/\/127\.0\.0\.1:\d+ is corrupt \(sha256 [0-9a-f]{64}, the hub's ETag says f{64}\), so nothing was kept; rerun to fetch it again, and if it fails again check HF_ENDPOINT\.$/);
      assert.ok(!err.message.includes('\n'), 'one line');
    } finally {
      hub.overrideEtag('valid.json', sha256(SCIQ('valid.json')));
    }
    const final = cachedFilePath(s.cacheRoot, ref.id, ref.revision, ref.path);
    assert.equal(existsSync(final), false, 'nothing under the final name');
    assert.equal(existsSync(`${final}.part`), false, 'no part left either');
    assert.equal(existsSync(manifestPath(s.cacheRoot, ref.id)), false, 'nothing recorded');
  });

  test('two fetches of one file at once download it once and agree', async () => {
    const s = settings();
    const ref = { id: 'Anthropic/hh-rlhf', revision: 'main', path: 'harmless-base/test.jsonl.gz' };
    const { value: [a, b], seen } = await requestsDuring(() => Promise.all([ensureHubFile(s, ref), ensureHubFile(s, ref)]));
    assert.equal(seen.filter((q) => q.server === 'cdn').length, 1, 'one download');
    assert.deepEqual([a!.sha256, b!.sha256], [sha256(HH), sha256(HH)], 'both see the verified file');
    assert.deepEqual([a!.status, b!.status].sort(), ['cached', 'downloaded'], 'one downloaded it, the other found it done');
  });

  test('a file edited in the cache is fetched again; a pinned commit is served without asking the hub', async () => {
    const s = settings();
    const ref = { id: 'Anthropic/hh-rlhf', revision: 'main', path: 'harmless-base/test.jsonl.gz' };
    const first = await ensureHubFile(s, ref);
    writeFileSync(first.file, 'tampered');
    const { value: again, seen } = await requestsDuring(() => ensureHubFile(s, ref));
    assert.equal(again.status, 'downloaded', 'the edited copy is replaced');
    assert.equal(sha256(again.file), sha256(HH), 'by the hub\'s file');
    assert.ok(seen.some((q) => q.server === 'cdn'), 'downloaded again');

    const commit = first.commit!;
    assert.match(commit, /^[0-9a-f]{40}$/, 'the hub named the commit');
    const pinned = { ...ref, revision: commit };
    await ensureHubFile(s, pinned);
    const { value: cached, seen: none } = await requestsDuring(() => ensureHubFile(s, pinned));
    assert.equal(cached.status, 'cached', 'served from the cache');
    assert.equal(none.length, 0, 'a commit never changes, so the hub is not asked');
  });

  test('when the hub cannot be reached, a verified cached copy serves and says so; without one it is one sentence', async () => {
    const s = settings();
    const ref = { id: 'Anthropic/hh-rlhf', revision: 'main', path: 'harmless-base/test.jsonl.gz' };
    await ensureHubFile(s, ref);
    const events: string[] = [];
    const port = await closedPort();
    const down = { ...s, endpoint: `http://127.0.0.1:${port}`, attempts: 1, onEvent: (e: { kind: string }) => void events.push(e.kind) };
    const got = await ensureHubFile(down, ref);
    assert.equal(got.status, 'cached', 'the cached copy serves');
    assert.deepEqual(events, ['stale'], 'and the caller is told the hub was not asked');
    await refuses(ensureHubFile({ ...down, cacheRoot: settings().cacheRoot }, ref), new RegExp(`^Could not reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); check the network or HF_ENDPOINT, or use --offline with files already in the cache; rerun when the hub is reachable\\.$`));
  });

  test('offline, the library opens no socket: cache hits are served, misses are one sentence', async () => {
    const s = settings({}, { HF_HUB_OFFLINE: 'true' });
    assert.equal(s.offline, true, 'HF_HUB_OFFLINE=true turns offline mode on');
    const ref = { id: 'Anthropic/hh-rlhf', revision: 'main', path: 'harmless-base/test.jsonl.gz' };
    const { seen } = await requestsDuring(() => refuses(ensureHubFile(s, ref), /^Offline mode is on and Anthropic\/hh-rlhf harmless-base\/test\.jsonl\.gz at revision main is not in the cache \(.*\); fetch it once online with `w2s data get Anthropic\/hh-rlhf --revision main`, or turn offline mode off/));
    assert.equal(seen.length, 0, 'no request');
    await ensureHubFile({ ...s, offline: false }, ref);
    const { value: hit, seen: none } = await requestsDuring(() => ensureHubFile(s, ref));
    assert.equal(hit.sha256, sha256(HH), 'served from the cache');
    assert.equal(none.length, 0, 'still no request');
    const { value: refs, seen: none2 } = await requestsDuring(() => splitFilesOf(s, 'Anthropic/hh-rlhf', 'main', ['test']));
    assert.deepEqual(refs.map((r) => r.path), ['harmless-base/test.jsonl.gz'], 'offline, a hub id\'s files come from the manifest');
    assert.equal(none2.length, 0, 'without a request');
  });

  test('missing repositories, revisions and files are one sentence each', async () => {
    const s = settings();
    await refuses(splitFilesOf(s, 'nobody/nothing', 'main', undefined), /^There is no dataset nobody\/nothing on http:\/\/127\.0\.0\.1:\d+ \(or it is private: set HF_TOKEN\); check the id\.$/);
    await refuses(splitFilesOf(s, 'test-org/small', 'v9', undefined), /^test-org\/small has no revision "v9" on /);
    const missing = await refuses(ensureHubFile(s, { id: 'test-org/small', revision: 'main', path: 'data/train.jsonl' }), /^test-org\/small has no file data\/train\.jsonl at revision main on /);
    assert.match(missing.message, /; check the path against the files listed on http:\/\/127\.0\.0\.1:\d+\/datasets\/test-org\/small\/tree\/main\.$/, 'it points at the listing page, not at a download');
    await refuses(splitFilesOf(s, 'test-org/sciq-release', 'main', ['dev', 'extra']), /^test-org\/sciq-release at revision main has no data file for split "extra"; its data files are: test\.json, train\.json, valid\.json/);
  });
});

describe('picking a split\'s files', () => {
  const files = [
    'README.md', '.gitattributes',
    'data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet', 'data/validation-00000-of-00001.parquet', 'data/test-00000-of-00001.parquet',
    'harmless-base/test.jsonl.gz', 'default/validation/0000.parquet', 'contest/notes.json',
  ].map((path) => ({ path }));

  test('a split is named by the file name first, else by its nearest folder; validation is also valid or dev', () => {
    assert.equal(splitOfPath('data/test-00000-of-00001.parquet', ['train', 'test']), 'test', 'hub shard name');
    assert.equal(splitOfPath('harmless-base/test.jsonl.gz', ['test']), 'test', 'file name');
    assert.equal(splitOfPath('default/validation/0000.parquet', ['validation']), 'validation', 'folder');
    assert.equal(splitOfPath('valid.json', ['dev']), 'dev', 'valid counts as dev');
    assert.equal(splitOfPath('contest/notes.json', ['test']), undefined, 'a word containing test is not test');
    assert.equal(splitOfPath('test/train.jsonl', ['train', 'test']), 'train', 'the file name wins over its folder');
  });

  test('shards are all picked, non-data files never; a split no file names is an error listing the data files', () => {
    assert.deepEqual(pickSplitFiles(files, ['train'], 'x').map((p) => p.file.path), ['data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet'], 'both shards');
    assert.deepEqual(pickSplitFiles(files, undefined, 'x').map((p) => `${p.split}:${p.file.path}`), [
      'test:data/test-00000-of-00001.parquet', 'train:data/train-00000-of-00002.parquet', 'train:data/train-00001-of-00002.parquet',
      'validation:data/validation-00000-of-00001.parquet', 'validation:default/validation/0000.parquet', 'test:harmless-base/test.jsonl.gz',
    ], 'by default every file naming train, validation or test');
    assert.deepEqual(pickSplitFiles([{ path: 'data.jsonl' }, { path: 'README.md' }], undefined, 'x').map((p) => p.file.path), ['data.jsonl'], 'with no split named, every data file');
    assert.deepEqual(pickSplitFiles([{ path: 'dataset/dev_3783.tsv' }, { path: 'dataset/test_9442.tsv' }, { path: 'README.md' }], ['dev'], 'x').map((p) => p.file.path), ['dataset/dev_3783.tsv'], 'a TSV file (MC-TACO\'s) is a data file');
    assert.throws(() => pickSplitFiles(files, ['unlabeled'], 'org/set at revision main'), /^UserError: org\/set at revision main has no data file for split "unlabeled"; its data files are: contest\/notes\.json, data\/test-00000-of-00001\.parquet/, 'the error lists the data files');
  });
});
