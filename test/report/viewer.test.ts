import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import type { ChatMessage } from '../../src/models/types.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { redactSecrets } from '../../src/redact.js';
import { reportQueries } from '../../src/report/queries.js';
import { startViewer, type Viewer } from '../../src/report/viewer.js';
import { runPage } from '../../src/report/viewer-pages.js';
import { watchResults } from '../../src/report/viewer-set.js';
import { createRng } from '../../src/rng.js';
import { openStore } from '../../src/store/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { crateRows, truthByQuestion, writeJsonl } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';
import { buildJudgesDb, HOSTILE_ENSEMBLE, HOSTILE_JUDGE, HOSTILE_RUN } from './judges-fixture.js';

/**
 * The viewer over a results folder of real databases, made by the real pipeline with scripted debaters and judges:
 * every list a page shows is checked against values read from the database's tables here, by hand, and every prompt
 * against what the scripted judge received.
 */

// Every assert.ok here carries a message: without one, node's assert reads the test's source to make one, which
// under tsx can hang the file instead of failing the test.
const root = tempDir('w2s-viewer-');
const results = join(root, 'results');
const KEY = 'sk-viewertest-1234567890abcdefXYZ';
const XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
const HOSTILE_QUERY = '<script>window.__pwned=3</script>"><img src=x onerror="window.__pwned=4">';

/** What the scripted judges received, by the prompt's text (messages joined by newlines). */
const judgeSeen = new Map<string, ChatMessage[]>();

const rows = crateRows(60, 11);
const truth = truthByQuestion(rows);
const crateOf = (prompt: string): number => Number(/crate (\d+)\?/.exec(prompt)![1]);

registerScript('vw-debater', {
  generate(req) {
    const prompt = req.messages.map((m) => m.content).join('\n');
    const question = /<question>\n(.*)\n<\/question>/.exec(prompt)![1]!;
    const crate = crateOf(prompt);
    const arguesCorrect = /Your side: the proposed answer is correct/.test(prompt);
    const t = truth.get(question) === 1;
    if (crate % 11 === 3) return `Look here: ${XSS}`;
    if (crate === 5 || crate === 25) return `Configured with ${KEY}, the record stands.`;
    if (crate % 9 === 7) return 'I am 100% sure of my side.';
    // Honest most of the time (seeded by the request), so the members disagree on some examples.
    if (arguesCorrect === t && createRng(req.seed ?? 0).random() < 0.8) return t ? 'verified placement confirmed' : 'misplaced crate refuted';
    return 'I think my side holds.';
  },
});
registerScript('vw-judge-a', {
  generate(req) {
    const prompt = req.messages.map((m) => m.content).join('\n');
    judgeSeen.set(prompt, structuredClone(req.messages));
    const p = prompt.includes('confirmed') ? 0.8 : prompt.includes('refuted') ? 0.2 : 0.5;
    const pA = /A: The proposed answer is incorrect\./.test(prompt) ? 1 - p : p;
    return { text: pA >= 0.5 ? 'A' : 'B', topLogprobs: [[{ token: 'A', logprob: Math.log(pA) }, { token: 'B', logprob: Math.log(1 - pA) }]] };
  },
});
registerScript('vw-judge-b', {
  generate(req) {
    const prompt = req.messages.map((m) => m.content).join('\n');
    judgeSeen.set(prompt, structuredClone(req.messages));
    const swapped = /A: The proposed answer is incorrect\./.test(prompt);
    // Every fourth crate misread, so the two judges disagree now and then; no cue: no verdict (unparsed), often enough
    // that jb is let in below the default minCoverage.
    let correct = prompt.includes('confirmed') ? true : prompt.includes('refuted') ? false : null;
    if (correct === null) return 'Both sound sure; I cannot tell.';
    if (crateOf(prompt) % 4 === 1) correct = !correct;
    return `Answer: ${correct !== swapped ? 'A' : 'B'}`;
  },
});

/** Runs the pipeline into `out` (debate.turns = turns); returns the run id. */
async function buildRun(out: string, turns: number): Promise<string> {
  const data = join(root, 'crates.jsonl');
  if (!existsSync(data)) writeJsonl(root, 'crates.jsonl', rows);
  const config = parseExperiment({
    name: `viewer-t${turns}`,
    seed: 5,
    dataset: { name: 'jsonl', path: data, sizes: { train_weak: 20, train_strong: 20, test: 20 } },
    debate: { protocol: 'debate', debaters: ['scripted:vw-debater'], turns, samples: 3, temperature: 1 },
    weak: { features: { kind: 'hashed', dim: 256, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 3 }, probe: { epochs: 20, lr: 0.05 } },
    strong: { features: { kind: 'hashed', dim: 256, ngrams: [1, 2] } },
    judges: [{ name: 'ja', model: 'scripted:vw-judge-a', method: 'logprobs' }, { name: 'jb', model: 'scripted:vw-judge-b', method: 'parsed', minCoverage: 0.1 }],
    judgeEnsembles: [{ name: 'pair', members: ['ja', 'jb'], aggregate: 'mean' }],
    metrics: { bootstrap: 100 },
  });
  // One cache for all: the later runs' first turns and some judgments are answered from it (cache hits to show).
  const outcome = await runExperiment({ config, out, cacheFile: join(root, 'cache.sqlite') });
  if (outcome.status !== 'completed') throw new Error(`fixture run did not complete: ${outcome.reason}`);
  return outcome.runId;
}

const dbA = join(results, 'a.sqlite');
const dbB = join(results, 'sub', 'b.sqlite');
const laterC = join(root, 'later', 'c.sqlite');
let runA: string;
let runB: string;
let runC: string;
let browser: TestBrowser;

before(async () => {
  mkdirSync(join(results, 'sub'), { recursive: true });
  [browser] = await Promise.all([
    launchBrowser(),
    (async () => {
      runA = await buildRun(dbA, 1);
      runB = await buildRun(dbB, 2);
      runC = await buildRun(laterC, 3);
    })(),
  ]);
});
after(() => browser?.close());

/** A screenshot in test-artifacts/, and in $W2S_SHOTS too when set. */
async function shoot(page: Page, name: string): Promise<void> {
  const file = await browser.screenshot(page, name);
  if (process.env.W2S_SHOTS) {
    mkdirSync(process.env.W2S_SHOTS, { recursive: true });
    copyFileSync(file, join(process.env.W2S_SHOTS, `${name}.png`));
  }
}

const pwned = (page: Page): Promise<unknown> => page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned);
const attrs = (page: Page, selector: string, name: string): Promise<string[]> => page.locator(selector).evaluateAll((els, n) => els.map((e) => e.getAttribute(n) ?? ''), name);

// ---------------------------------------------------------------------------------------------------------------
// Expected values, read from the tables directly (no viewer code)

interface RawExample {
  ord: number;
  id: string;
  split: string;
  label: 0 | 1;
  question: string | null;
  answer: string | null;
  text: string;
  /** P(correct) by column key: ensemble, member:k, judge:<j>, judge_ensemble:<e>, weak, strong. */
  p: Map<string, number>;
  texts: string[];
  protocols: Set<string>;
}

function readRaw(file: string, runId: string): RawExample[] {
  const db = new Database(file, { readonly: true });
  try {
    const examples = db.prepare('SELECT rowid AS ord, id, split, label, question, answer, text FROM examples WHERE run_id = ? ORDER BY rowid').all(runId) as Omit<RawExample, 'p' | 'texts' | 'protocols'>[];
    const byId = new Map<string, RawExample>(examples.map((e) => [e.id, { ...e, p: new Map(), texts: [], protocols: new Set() }]));
    const config = JSON.parse((db.prepare('SELECT config_json FROM runs WHERE id = ?').pluck().get(runId) as string)) as { judgeEnsembles?: { name: string }[] };
    const members = new Map<string, number[]>();
    for (const r of db.prepare('SELECT m.role, m.member, p.example_id AS ex, p.p1 FROM predictions p JOIN models m ON m.id = p.model_id WHERE m.run_id = ?').all(runId) as { role: string; member: number; ex: string; p1: number }[]) {
      const e = byId.get(r.ex)!;
      if (r.role === 'weak_member') {
        e.p.set(`member:${r.member}`, r.p1);
        members.set(r.ex, [...(members.get(r.ex) ?? []), r.p1]);
      } else if (r.role === 'weak' || r.role === 'strong') e.p.set(r.role, r.p1);
      else if (r.role === 'judge_ensemble') e.p.set(`judge_ensemble:${config.judgeEnsembles![r.member]!.name}`, r.p1);
    }
    for (const [ex, ps] of members) byId.get(ex)!.p.set('ensemble', ps.reduce((s, v) => s + v, 0) / ps.length);
    // A judge's value on an example: the mean of its replies that stated a verdict (NULL p_correct: none stated).
    const judged = new Map<string, number[]>();
    for (const j of db.prepare('SELECT judge, example_id AS ex, p_correct AS p FROM judgments WHERE run_id = ? AND p_correct IS NOT NULL').all(runId) as { judge: string; ex: string; p: number }[]) {
      const key = `${j.ex}\u0000${j.judge}`;
      judged.set(key, [...(judged.get(key) ?? []), j.p]);
    }
    for (const [key, ps] of judged) {
      const [ex, judge] = key.split('\u0000') as [string, string];
      byId.get(ex)!.p.set(`judge:${judge}`, ps.reduce((s, v) => s + v, 0) / ps.length);
    }
    for (const t of db.prepare('SELECT d.example_id AS ex, t.text FROM turns t JOIN debates d ON d.id = t.debate_id WHERE d.run_id = ?').all(runId) as { ex: string; text: string }[]) byId.get(t.ex)!.texts.push(t.text);
    for (const d of db.prepare('SELECT example_id AS ex, protocol FROM debates WHERE run_id = ?').all(runId) as { ex: string; protocol: string }[]) byId.get(d.ex)!.protocols.add(d.protocol);
    return [...byId.values()];
  } finally {
    db.close();
  }
}

interface Query {
  split?: string;
  wrong?: string;
  disagree?: 'members' | 'judges';
  protocol?: string;
  q?: string;
  sort?: string;
  dir?: 'asc' | 'desc';
}

const isWrong = (p: number | undefined, label: 0 | 1): boolean => p !== undefined && (p > 0.5 ? 1 : 0) !== label;
const disagree = (ps: number[]): boolean => ps.length > 1 && ps.some((p) => p > 0.5) && ps.some((p) => p <= 0.5);

function expected(raw: RawExample[], q: Query): string[] {
  const split = q.split ?? 'test';
  const needle = q.q?.toLowerCase();
  const picked = raw.filter((e) => {
    if (split !== 'all' && e.split !== split) return false;
    if (q.wrong && !isWrong(e.p.get(q.wrong), e.label)) return false;
    const of = (prefix: string): number[] => [...e.p.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
    if (q.disagree === 'members' && !disagree(of('member:'))) return false;
    if (q.disagree === 'judges' && !disagree(of('judge:'))) return false;
    if (q.protocol && !e.protocols.has(q.protocol)) return false;
    if (needle !== undefined && ![e.question, e.answer, e.text, ...e.texts].some((t) => t?.toLowerCase().includes(needle))) return false;
    return true;
  });
  if (!q.sort) return picked.map((e) => e.id);
  const fixed: Record<string, (e: RawExample) => string | number | null> = {
    id: (e) => e.id, question: (e) => e.question ?? e.text, answer: (e) => e.answer, gold: (e) => e.label, split: (e) => e.split,
  };
  const value = fixed[q.sort] ?? ((e: RawExample) => e.p.get(q.sort!) ?? null);
  const sign = q.dir === 'desc' ? -1 : 1;
  return [...picked]
    .sort((a, b) => {
      const [va, vb] = [value(a), value(b)];
      if (va === null || vb === null) return va === vb ? a.ord - b.ord : va === null ? 1 : -1;
      return va < vb ? -sign : va > vb ? sign : a.ord - b.ord;
    })
    .map((e) => e.id);
}

const listUrl = (viewer: Viewer, runPath: string, q: Query): string => {
  const p = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined));
  const qs = p.toString();
  return `${viewer.url}${runPath.replace(/^\//, '')}${qs ? `?${qs}` : ''}`;
};

// ---------------------------------------------------------------------------------------------------------------

test('the viewer watches a folder: two databases at start, a third added while it runs shows on the next visit of the front page', async () => {
  const viewer = await startViewer({ paths: [results] });
  try {
    const { page, errors } = await browser.page();
    await page.goto(viewer.url);
    assert.deepEqual((await page.locator('a.run-link').allInnerTexts()).sort(), [runA, runB].sort());
    assert.match(await page.locator('p.meta').innerText(), /results\/ \(2 databases\)/);
    // A third database appears (a sweep's next cell): no restart.
    copyFileSync(laterC, join(results, 'c.sqlite'));
    await page.reload();
    assert.deepEqual((await page.locator('a.run-link').allInnerTexts()).sort(), [runA, runB, runC].sort());
    assert.match(await page.locator('p.meta').innerText(), /\(3 databases\)/);
    // The cache file in the folder is not a database of runs: not listed, not skipped.
    assert.equal(await page.locator('details.skipped').count(), 0);
    for (const [id, file] of [[runA, 'a.sqlite'], [runB, 'sub/b.sqlite'], [runC, 'c.sqlite']] as const) {
      const row = page.locator('tr.run-row', { has: page.locator(`a.run-link:text-is("${id}")`) });
      assert.ok((await row.locator('td.file').innerText()).endsWith(file), file);
    }
    await shoot(page, 'viewer-front');
    await page.locator(`a.run-link:text-is("${runC}")`).click();
    await page.waitForURL(/\/files\/\d+\/runs\//);
    assert.equal(await page.locator('h1').innerText(), `Run ${runC}`);
    assert.equal(await page.locator('.count').innerText(), '20', 'the list starts on the test split');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await viewer.close();
  }
});

test('a run page reads its metrics once, and the list\'s filtered rows twice whatever the page: the totals, then its rows', () => {
  const seen: string[] = [];
  const db = new Database(dbA, { readonly: true, verbose: (sql) => seen.push(String(sql)) });
  const set = watchResults([dbA]);
  try {
    const q = reportQueries(db);
    const run = q.run(runA)!;
    const stored = db.prepare('SELECT id FROM examples WHERE run_id = ? ORDER BY rowid').pluck().all(runA) as string[];
    const passes = (params: string): { n: number; metricReads: number; ids: string[]; count: string } => {
      seen.length = 0;
      const html = runPage({ set, pageSize: 5 }, { run, file: dbA, q }, new URLSearchParams(params));
      const ids = [...html.matchAll(/<tr class="example-row" data-example="([^"]+)"/g)].map((m) => m[1]!);
      return { n: seen.filter((sql) => sql.includes('picked AS')).length, metricReads: seen.filter((sql) => /FROM metrics WHERE run_id = /.test(sql)).length, ids, count: /<span class="count">(\d+)<\/span>/.exec(html)?.[1] ?? '' };
    };
    const first = passes('split=all');
    assert.equal(first.n, 2, 'page 1: the totals and the rows');
    assert.equal(first.metricReads, 1, 'the run\'s metrics are read once (the calibration section reuses them)');
    assert.deepEqual(first.ids, stored.slice(0, 5), 'page 1 lists the first 5 examples in stored order');
    const third = passes('split=all&page=3');
    assert.equal(third.n, 2, 'page 3: the same two passes, not four');
    assert.deepEqual(third.ids, stored.slice(10, 15), 'page 3 lists examples 11 to 15');
    assert.equal(third.count, String(stored.length), 'the count is every example of the run');
  } finally {
    set.close();
    db.close();
  }
});

test('a judge stored as not scored (below its minCoverage) gets no list column, as calibration and compare leave it out', () => {
  // A copy of run A with jb's accuracy stored as the pipeline stores a judge below its minCoverage.
  const copy = join(tempDir('w2s-viewer-unscored-'), 'a.sqlite');
  copyFileSync(dbA, copy);
  const rw = new Database(copy);
  rw.prepare("UPDATE metrics SET value = NULL, lo = NULL, hi = NULL, method = 'not scored', note = 'not scored: below its minCoverage' WHERE run_id = ? AND subject = 'judge:jb' AND name = 'accuracy'").run(runA);
  rw.close();
  const set = watchResults([copy]);
  try {
    const [loc] = set.locate(runA);
    const html = runPage({ set, pageSize: 5 }, loc!, new URLSearchParams('split=all'));
    const headers = [...html.matchAll(/<th[^>]* data-sort="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(headers.includes('judge:ja'), `judge ja keeps its column: ${headers.join(', ')}`);
    assert.ok(!headers.includes('judge:jb'), `judge jb has none: ${headers.join(', ')}`);
    assert.ok(html.includes('<p class="note unscored">Not scored, so not listed: judge jb (n/a: not scored: below its minCoverage).</p>'), 'the list says why jb is missing');
    assert.equal([...html.matchAll(/<td class="p[^"]*" data-key="judge:jb"/g)].length, 0, 'no cell, mark or count for jb');
  } finally {
    set.close();
  }
});

test('filters, sorting, search and pages list exactly the examples a direct read of the tables gives', async () => {
  const raw = readRaw(dbA, runA);
  const viewer = await startViewer({ db: dbA });
  try {
    const { page, errors } = await browser.page();
    const path = `runs/${encodeURIComponent(runA)}`;
    const queries: Query[] = [
      {},
      { split: 'all' },
      { split: 'train_strong' },
      { split: 'all', sort: 'member:0', dir: 'desc' },
      { sort: 'ensemble' },
      { split: 'all', sort: 'judge:jb', dir: 'desc' },
      { split: 'all', sort: 'id' },
      { split: 'all', sort: 'gold', dir: 'desc' },
      { wrong: 'ensemble' },
      { split: 'all', wrong: 'weak', sort: 'strong', dir: 'asc' },
      { split: 'all', wrong: 'judge:jb' },
      { wrong: 'judge_ensemble:pair' },
      { split: 'all', disagree: 'members' },
      { split: 'all', disagree: 'judges', sort: 'member:2' },
      { split: 'all', protocol: 'debate' },
      { split: 'all', q: 'REFUTED' },
      { split: 'all', q: 'crate 1' },
      // % and _ are literal: only the transcripts that hold them, not every text.
      { split: 'all', q: '%' },
      { split: 'all', q: '_' },
      { split: 'all', q: '100% sure' },
      { split: 'all', q: 'shelf 3', wrong: 'member:1', sort: 'member:1', dir: 'desc' },
    ];
    for (const q of queries) {
      await page.goto(listUrl(viewer, path, q));
      const want = expected(raw, q);
      const got = await attrs(page, 'tr.example-row', 'data-example');
      assert.deepEqual(got, want, JSON.stringify(q));
      assert.equal(Number(await page.locator('.count').innerText()), want.length, JSON.stringify(q));
    }
    // The literal searches found something, and not everything.
    for (const q of ['%', '_']) {
      const n = expected(raw, { split: 'all', q }).length;
      assert.ok(n > 0 && n < raw.length, `${q}: ${n}`);
    }
    // Each cell is the stored P(correct) with ✗ exactly where its decision is wrong; the footer counts them.
    await page.goto(listUrl(viewer, path, { split: 'all' }));
    const keys = await attrs(page, 'tr.example-row:first-child td.p', 'data-key');
    assert.deepEqual(keys, ['ensemble', 'member:0', 'member:1', 'member:2', 'judge:ja', 'judge:jb', 'judge_ensemble:pair', 'weak', 'strong']);
    const cells = await page.locator('tr.example-row').evaluateAll((trs) => trs.map((tr) => ({
      id: tr.getAttribute('data-example')!,
      cells: [...tr.querySelectorAll('td.p')].map((td) => ({ key: td.getAttribute('data-key')!, text: td.textContent!, wrong: td.getAttribute('data-wrong') === '1' })),
    })));
    const byId = new Map(raw.map((e) => [e.id, e]));
    for (const row of cells) {
      const e = byId.get(row.id)!;
      for (const c of row.cells) {
        const p = e.p.get(c.key);
        if (p === undefined) {
          assert.equal(c.text, '—', `${row.id} ${c.key}`);
          continue;
        }
        assert.equal(c.text.replace('✗', ''), p.toFixed(3), `${row.id} ${c.key}`);
        // A mean of logprob verdicts can sit at 0.5 give or take the last bit: no decision to check there.
        if (Math.abs(p - 0.5) > 1e-9) assert.equal(c.wrong, isWrong(p, e.label), `${row.id} ${c.key}`);
      }
    }
    const foot = await page.locator('tfoot td.p[data-key="member:0"]').innerText();
    assert.equal(foot, `${raw.filter((e) => isWrong(e.p.get('member:0'), e.label)).length} / ${raw.filter((e) => e.p.has('member:0')).length}`);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await viewer.close();
  }
  // Pages: 7 a page, in the list's order.
  const small = await startViewer({ db: dbA, pageSize: 7 });
  try {
    const { page, errors } = await browser.page();
    const q: Query = { split: 'all', sort: 'member:0', dir: 'desc' };
    const want = expected(raw, q);
    await page.goto(listUrl(small, `runs/${encodeURIComponent(runA)}`, q));
    assert.deepEqual(await attrs(page, 'tr.example-row', 'data-example'), want.slice(0, 7));
    await page.locator('a.next-page').first().click();
    await page.waitForURL(/page=2/);
    assert.deepEqual(await attrs(page, 'tr.example-row', 'data-example'), want.slice(7, 14));
    await page.locator('a.last-page').first().click();
    await page.waitForURL(new RegExp(`page=${Math.ceil(want.length / 7)}`));
    assert.deepEqual(await attrs(page, 'tr.example-row', 'data-example'), want.slice(7 * (Math.ceil(want.length / 7) - 1)));
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await small.close();
  }
});

test('clicking a header sorts by that column, and an example\'s previous and next follow the list\'s filter and sort', async () => {
  const raw = readRaw(dbA, runA);
  const viewer = await startViewer({ db: dbA });
  try {
    const { page, errors } = await browser.page();
    await page.goto(listUrl(viewer, `runs/${encodeURIComponent(runA)}`, { split: 'all', wrong: 'weak' }));
    // First click: ascending; second: descending.
    await page.locator('th[data-sort="member:0"] a').click();
    await page.waitForURL(/sort=member%3A0&dir=asc/);
    assert.deepEqual(await attrs(page, 'tr.example-row', 'data-example'), expected(raw, { split: 'all', wrong: 'weak', sort: 'member:0', dir: 'asc' }));
    await page.locator('th[data-sort="member:0"] a').click();
    await page.waitForURL(/sort=member%3A0&dir=desc/);
    const q: Query = { split: 'all', wrong: 'weak', sort: 'member:0', dir: 'desc' };
    const want = expected(raw, q);
    assert.ok(want.length >= 5, `a list to walk: ${want.length}`);
    assert.deepEqual(await attrs(page, 'tr.example-row', 'data-example'), want);

    await page.locator('a.example-link').first().click();
    await page.waitForURL(/\/examples\//);
    assert.equal(await page.locator('a.prev-example').count(), 0, 'the first has no previous');
    const walked: string[] = [];
    for (;;) {
      walked.push((await page.locator('h1').innerText()).replace(/^Example /, ''));
      assert.equal(await page.locator('nav.pager .position').first().innerText().then((t) => /^example (\d+) of (\d+)/.exec(t)!.slice(1).join('/')), `${walked.length}/${want.length}`);
      if ((await page.locator('a.next-example').count()) === 0) break;
      await page.locator('a.next-example').first().click();
      await page.waitForURL((u) => u.pathname.endsWith(`/examples/${encodeURIComponent(want[walked.length]!)}`));
    }
    assert.deepEqual(walked, want, 'next walks the filtered, sorted list to its end');
    await page.locator('a.prev-example').first().click();
    await page.waitForURL((u) => u.pathname.endsWith(`/examples/${encodeURIComponent(want.at(-2)!)}`));
    assert.match(page.url(), /wrong=weak/);
    // Back to the list, with the same filter and sort.
    await page.locator('a.back-to-list').first().click();
    await page.waitForURL(/\/runs\/[^/]+\?/);
    assert.deepEqual(await attrs(page, 'tr.example-row', 'data-example'), want);
    // An example outside the list has no previous or next.
    const outside = raw.find((e) => !want.includes(e.id))!;
    await page.goto(`${viewer.url}runs/${encodeURIComponent(runA)}/examples/${encodeURIComponent(outside.id)}?split=all&wrong=weak`);
    assert.match(await page.locator('nav.pager .position').first().innerText(), /not in the list/);
    assert.equal(await page.locator('a.next-example, a.prev-example').count(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await viewer.close();
  }
});

interface StoredCall {
  input_tokens: number;
  output_tokens: number;
  latency_ms: number;
  cache_hit: number;
  params_json: string | null;
  response: string | null;
  messages: { role: string; content: string }[];
}

function storedCall(db: Database.Database, id: number): StoredCall {
  const c = db.prepare('SELECT c.input_tokens, c.output_tokens, c.latency_ms, c.cache_hit, c.params_json, t.text AS response FROM calls c LEFT JOIN texts t ON t.hash = c.response_hash WHERE c.id = ?').get(id) as Omit<StoredCall, 'messages'>;
  const messages = db.prepare('SELECT m.role, t.text AS content FROM call_messages m JOIN texts t ON t.hash = m.text_hash WHERE m.call_id = ? ORDER BY m.position').all(id) as StoredCall['messages'];
  return { ...c, messages };
}

test('the example page shows each turn\'s and judgment\'s exact prompt, parameters, raw reply, tokens, latency and cache hit (secrets redacted)', async () => {
  const db = new Database(dbB, { readonly: true });
  const viewer = await startViewer({ db: dbB });
  try {
    // An example of the 2-turn run whose first turns came from the cache (the 1-turn run asked the same) and whose
    // debater pasted an API key.
    const keyed = db.prepare("SELECT DISTINCT d.example_id FROM turns t JOIN debates d ON d.id = t.debate_id WHERE d.run_id = ? AND t.text LIKE '%sk-viewertest%'").pluck().all(runB) as string[];
    assert.ok(keyed.length > 0, 'a debater pasted the key');
    const plain = db.prepare("SELECT e.id FROM examples e WHERE e.run_id = ? AND e.split = 'test' AND NOT EXISTS (SELECT 1 FROM turns t JOIN debates d ON d.id = t.debate_id WHERE d.example_id = e.id AND d.run_id = e.run_id AND (t.text LIKE '%sk-%' OR t.text LIKE '%<script>%')) ORDER BY e.rowid LIMIT 1").pluck().get(runB) as string;
    const { page, errors } = await browser.page();
    let hits = 0;
    for (const exampleId of [plain, keyed[0]!]) {
      await page.goto(`${viewer.url}runs/${encodeURIComponent(runB)}/examples/${encodeURIComponent(exampleId)}`);
      const turns = db.prepare('SELECT t.call_id FROM turns t JOIN debates d ON d.id = t.debate_id WHERE d.run_id = ? AND d.example_id = ?').pluck().all(runB, exampleId) as number[];
      const judgments = db.prepare('SELECT call_id, judge, order_swapped, method FROM judgments WHERE run_id = ? AND example_id = ?').all(runB, exampleId) as { call_id: number; judge: string; order_swapped: number; method: string }[];
      // Each debate has a stable URL: its example's page with #debate-<id>, an element the page holds once.
      const debates = db.prepare('SELECT id FROM debates WHERE run_id = ? AND example_id = ?').pluck().all(runB, exampleId) as string[];
      assert.deepEqual((await attrs(page, 'div.transcript', 'id')).sort(), debates.map((d) => `debate-${d}`).sort(), 'one anchor per debate');
      assert.deepEqual((await attrs(page, 'div.transcript h4 a', 'href')).sort(), debates.map((d) => `#debate-${encodeURIComponent(d)}`).sort(), 'each links to itself');
      assert.deepEqual((await attrs(page, 'details.turn-call', 'data-call')).map(Number).sort((a, b) => a - b), [...turns].sort((a, b) => a - b));
      assert.deepEqual((await attrs(page, 'details.judgment-call', 'data-call')).map(Number).sort((a, b) => a - b), judgments.map((j) => j.call_id).sort((a, b) => a - b));
      for (const id of [...turns, ...judgments.map((j) => j.call_id)]) {
        const want = storedCall(db, id);
        const details = page.locator(`details.call[data-call="${id}"]`);
        const summary = await details.locator('summary').innerText();
        assert.ok(summary.includes(`${want.input_tokens} in / ${want.output_tokens} out tokens`), summary);
        assert.ok(summary.includes(`${want.latency_ms.toFixed(1)} ms`), summary);
        assert.ok(summary.includes(want.cache_hit ? 'cache hit' : 'backend call'), summary);
        hits += want.cache_hit;
        await details.locator('summary').click();
        const shown = await details.evaluate((d) => ({
          roles: [...d.querySelectorAll('.msg .msg-role')].map((e) => e.textContent),
          texts: [...d.querySelectorAll('.msg-text')].map((e) => e.textContent),
          params: d.querySelector('.params-text')?.textContent ?? null,
          reply: d.querySelector('.reply-text')?.textContent ?? null,
        }));
        assert.deepEqual(shown.roles, want.messages.map((m) => m.role));
        assert.deepEqual(shown.texts, want.messages.map((m) => redactSecrets(m.content)), `call ${id}: the messages as stored, redacted`);
        assert.deepEqual(JSON.parse(shown.params!), JSON.parse(want.params_json!));
        assert.equal(shown.reply, redactSecrets(want.response!));
        const j = judgments.find((x) => x.call_id === id);
        if (j) {
          // Exactly what the scripted judge received.
          const seen = judgeSeen.get(want.messages.map((m) => m.content).join('\n'));
          assert.ok(seen, `judge call ${id} is a prompt the judge received`);
          assert.deepEqual(shown.texts, seen.map((m) => redactSecrets(m.content)));
          assert.ok(summary.includes(`parse: ${j.method}`) && summary.includes(j.order_swapped ? 'swapped order' : 'original order'), summary);
          assert.match(await details.locator('.parse-status').innerText(), new RegExp(`^Parse status: ${j.method}`));
        }
      }
      if (exampleId === keyed[0]) {
        const html = await page.content();
        assert.ok(!html.includes(KEY), 'the key is never shown');
        assert.ok(html.includes('sk-[redacted]'), 'the key is shown redacted');
      } else {
        // As a reader first sees it, with the first turn's and the first judgment's call opened.
        await page.reload();
        await page.locator('details.turn-call summary').first().click();
        await page.locator('details.judgment-call summary').first().click();
        await shoot(page, 'viewer-debate');
      }
    }
    assert.ok(hits > 0, 'some calls were cache hits');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    db.close();
    await viewer.close();
  }

  // A call made before w2s stored prompts: its ledger facts, and "not recorded" for its texts.
  const legacy = join(root, 'legacy', 'legacy.sqlite');
  mkdirSync(join(root, 'legacy'), { recursive: true });
  copyFileSync(dbA, legacy);
  const w = new Database(legacy);
  const { example_id: exampleId, call_id: callId } = w.prepare("SELECT example_id, call_id FROM judgments WHERE run_id = ? AND judge = 'jb' ORDER BY id LIMIT 1").get(runA) as { example_id: string; call_id: number };
  w.prepare('DELETE FROM call_messages WHERE call_id = ?').run(callId);
  w.prepare('UPDATE calls SET params_json = NULL, response_hash = NULL WHERE id = ?').run(callId);
  w.close();
  const old = await startViewer({ paths: [join(root, 'legacy')] });
  try {
    const { page, errors } = await browser.page();
    await page.goto(`${old.url}runs/${encodeURIComponent(runA)}/examples/${encodeURIComponent(exampleId)}`);
    const details = page.locator(`details.call[data-call="${callId}"]`);
    assert.match(await details.locator('summary').innerText(), /\d+ in \/ \d+ out tokens · [\d.]+ ms · (cache hit|backend call)/);
    await details.locator('summary').click();
    assert.match(await details.locator('.not-recorded').innerText(), /not recorded \(run made before w2s stored prompts\)/);
    assert.equal(await details.locator('.msg-text').count(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await old.close();
  }
});

test('a running run\'s pages refresh themselves every 5 s with a live badge; a finished run\'s do not', async () => {
  const dir = join(root, 'live');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'live.sqlite');
  copyFileSync(dbA, file);
  const viewer = await startViewer({ paths: [dir] });
  const writer = openStore(file);
  try {
    writer.runs.createRun({ id: 'live-run', config: { name: 'live', debate: { protocol: 'debate' } }, configHash: 'h', dataset: 'jsonl' });
    writer.examples.insertExamples('live-run', [{ id: 'x0', split: 'test', text: 'Q', question: 'Which shelf holds crate 0?', answer: 'shelf 1', label: 1 }]);
    assert.ok(writer.leases.acquire('live-run').acquired, 'this process owns the live run');
    const { page, errors } = await browser.page();
    const refresh = async (): Promise<string | null> => ((await page.locator('meta[http-equiv="refresh"]').count()) ? page.locator('meta[http-equiv="refresh"]').getAttribute('content') : null);
    for (const path of ['', 'runs/live-run', 'runs/live-run/examples/x0']) {
      await page.goto(viewer.url + path);
      assert.equal(await refresh(), '5', `/${path} refreshes`);
      assert.equal(await page.locator('.live-badge').first().innerText(), 'live — refreshing every 5 s');
    }
    // Paused by the reader: no refresh, and a way back.
    await page.locator('a.live-toggle').click();
    await page.waitForURL(/live=0/);
    assert.equal(await refresh(), null);
    assert.equal(await page.locator('.live-badge').innerText(), 'live — refresh paused');
    // A finished run: no refresh, no badge.
    for (const path of [`runs/${encodeURIComponent(runA)}`, `runs/${encodeURIComponent(runA)}/examples/${encodeURIComponent(readRaw(dbA, runA)[0]!.id)}`]) {
      await page.goto(viewer.url + path);
      assert.equal(await refresh(), null, path);
      assert.equal(await page.locator('.live-badge').count(), 0);
    }
    // Its owner gone (a kill leaves the status as it was): stopped, not live.
    writer.leases.release(writer.leases.get('live-run')!.token);
    await page.goto(`${viewer.url}runs/live-run`);
    assert.equal(await refresh(), null);
    assert.match(await page.locator('p.meta').first().innerText(), /stopped \(process gone\)/);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    writer.close();
    await viewer.close();
  }
});

test('debater markup, hostile judge names and a hostile search are shown as text and never run', async () => {
  const viewer = await startViewer({ db: dbA });
  try {
    const { page, errors } = await browser.page();
    const raw = readRaw(dbA, runA);
    // A judged example (judges read test and train_strong) whose transcript holds the markup.
    const xss = raw.find((e) => e.split !== 'train_weak' && e.texts.some((t) => t.includes('<script>')))!;
    await page.goto(`${viewer.url}runs/${encodeURIComponent(runA)}/examples/${encodeURIComponent(xss.id)}`);
    assert.ok((await page.locator('.turn > pre').allInnerTexts()).some((t) => t.includes(XSS)), 'the markup reads as text');
    // Inside the prompts too: the judge's prompt quotes the debater (escaped by the judge's template, shown as it was sent).
    await page.locator('details.judgment-call summary').first().click();
    assert.ok((await page.locator('details.judgment-call .msg-text').first().innerText()).includes('Look here: &lt;script&gt;window.__pwned = 1&lt;/script&gt;'), 'the judge\'s prompt as sent');
    assert.equal(await page.locator('body script, body img').count(), 0);
    assert.equal(await pwned(page), undefined);

    await page.goto(listUrl(viewer, `runs/${encodeURIComponent(runA)}`, { split: 'all', q: HOSTILE_QUERY }));
    assert.equal(await page.locator('input[name=q]').inputValue(), HOSTILE_QUERY);
    assert.equal(await page.locator('.count').innerText(), '0');
    assert.ok((await page.locator('#examples p.note').innerText()).includes(HOSTILE_QUERY), 'the note says what was searched, as text');
    assert.equal(await page.locator('body script, body img').count(), 0);
    assert.equal(await pwned(page), undefined);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await viewer.close();
  }

  const dir = join(root, 'judges');
  mkdirSync(dir, { recursive: true });
  buildJudgesDb(dir);
  const judges = await startViewer({ paths: [dir] });
  try {
    const { page, errors } = await browser.page();
    await page.goto(`${judges.url}runs/${HOSTILE_RUN}?split=all`);
    // The attribute values as CSS strings (JSON's escapes are CSS's).
    const header = page.locator(`th[data-sort=${JSON.stringify(`judge:${HOSTILE_JUDGE}`)}]`);
    assert.equal(await header.innerText(), `judge ${HOSTILE_JUDGE}`);
    assert.equal(await page.locator(`th[data-sort=${JSON.stringify(`judge_ensemble:${HOSTILE_ENSEMBLE}`)}]`).innerText(), `judge ensemble ${HOSTILE_ENSEMBLE}`);
    await header.locator('a').click();
    await page.waitForURL(/sort=judge%3A/);
    assert.equal(new URL(page.url()).searchParams.get('sort'), `judge:${HOSTILE_JUDGE}`);
    assert.equal(await page.locator('th.sorted').innerText(), `judge ${HOSTILE_JUDGE} ▲`);
    await page.selectOption('select[name=wrong]', `judge:${HOSTILE_JUDGE}`);
    await page.click('button[type=submit]');
    await page.waitForURL(/wrong=judge/);
    assert.equal(new URL(page.url()).searchParams.get('wrong'), `judge:${HOSTILE_JUDGE}`);
    // t0's gold is correct and the hostile judge says 0.9: right, so it is not listed.
    assert.deepEqual(await attrs(page, 'tr.example-row', 'data-example'), []);
    await page.goto(`${judges.url}runs/${HOSTILE_RUN}/examples/t0?split=all&sort=${encodeURIComponent(`judge:${HOSTILE_JUDGE}`)}`);
    assert.ok((await page.locator('tr.judge-verdict td:first-child').allInnerTexts()).includes(HOSTILE_JUDGE), 'the judge name reads as text');
    assert.equal(await page.locator('body script, body img, table svg').count(), 0);
    assert.equal(await pwned(page), undefined);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await judges.close();
  }
});

test('a run\'s page: the results table, PGR, the leak audit as stored, calibration per model with small bins hidden, and the judges', async () => {
  const viewer = await startViewer({ db: dbB });
  const db = new Database(dbB, { readonly: true });
  try {
    const { page, errors } = await browser.page();
    await page.goto(`${viewer.url}runs/${encodeURIComponent(runB)}`);
    assert.ok((await page.locator('table.run-table').innerText()).includes('judge ensemble pair'), 'the run table lists the judge ensemble');
    assert.match(await page.locator('.card.pgr').innerText(), /PGR %/);
    const leak = db.prepare("SELECT subject, value, n FROM metrics WHERE run_id = ? AND subject LIKE 'leak_audit:%' AND name = 'p_side_gold'").all(runB) as { subject: string; value: number; n: number }[];
    assert.equal(leak.length, 3);
    const leakRows = await page.locator('table.leak-audit tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    assert.deepEqual(leakRows.map((r) => r[0]).sort(), leak.map((m) => m.subject.slice('leak_audit:'.length)).sort());
    for (const m of leak) {
      const row = leakRows.find((r) => r[0] === m.subject.slice('leak_audit:'.length))!;
      assert.ok(row[1]!.startsWith((100 * m.value).toFixed(1)), `${row[1]} is ${m.value}`);
      assert.equal(row[2], String(m.n));
    }
    // Calibration: one diagram per model, judge and judge ensemble on the test split; the bin counts add up to the
    // test examples; no point drawn for a bin under 5 examples.
    const figures = page.locator('#calibration figure.cal');
    const subjects = await attrs(page, '#calibration figure.cal', 'data-subject');
    for (const s of ['weak', 'member0', 'member1', 'member2', 'weak_ensemble', 'strong', 'strong_ceiling', 'judge:ja', 'judge:jb', 'judge_ensemble:pair']) assert.ok(subjects.includes(s), s);
    const nTest = db.prepare("SELECT COUNT(*) FROM examples WHERE run_id = ? AND split = 'test'").pluck().get(runB) as number;
    let hidden = 0;
    for (let i = 0; i < subjects.length; i++) {
      const f = figures.nth(i);
      const counts = (await f.locator('table.bins tr:nth-child(2) td').allInnerTexts()).map(Number);
      assert.equal(counts.length, 10);
      assert.equal(counts.reduce((s, c) => s + c, 0), nTest, subjects[i]);
      // A point per bin of 5 or more; the rest are listed, not drawn.
      assert.equal(await f.locator('svg circle.point').count(), counts.filter((c) => c >= 5).length, subjects[i]);
      const observed = await f.locator('table.bins tr:nth-child(3) td').allInnerTexts();
      assert.deepEqual(observed.map((o, b) => (counts[b]! >= 5 ? 'shown' : o)), counts.map((c) => (c >= 5 ? 'shown' : c > 0 ? 'hidden' : '—')), subjects[i]);
      hidden += counts.filter((c) => c > 0 && c < 5).length;
    }
    assert.ok(hidden > 0, 'some bins are too small to draw');
    assert.equal(await page.locator(`#judges-${runB} table.judges-table tbody tr`).count(), 3);
    await shoot(page, 'viewer-run');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    db.close();
    await viewer.close();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// The command

function cli(args: string[], env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; out: { stdout: string; stderr: string }; exit: Promise<number | null>; line: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  let gotLine: (l: string) => void;
  const line = new Promise<string>((resolve) => (gotLine = resolve));
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out.stdout += c;
    if (out.stdout.includes('\n')) gotLine(out.stdout.split('\n')[0]!);
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out.stderr += c));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out, exit, line };
}

const listenOn = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
const closeServer = (s: Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

test('w2s view: a port in use is one sentence and exit 1; the default port is 7377; --open runs the platform opener, and its failure is a warning', async () => {
  const taken = await listenOn(0);
  const port = (taken.address() as { port: number }).port;
  try {
    const r = cli(['view', results, '--port', String(port)]);
    assert.equal(await r.exit, 1);
    assert.equal(r.out.stdout, '');
    assert.equal(r.out.stderr, `w2s: Port ${port} on 127.0.0.1 is already in use (perhaps by another w2s view); pass another port with --port <n>, or --port 0 for any free one.\n`);
  } finally {
    await closeServer(taken);
  }

  // Without --port: 7377, or, where something on this machine holds it, the same sentence naming 7377.
  const probe = await listenOn(7377).catch(() => null);
  if (probe) await closeServer(probe);
  const d = cli(['view', results]);
  const first = await Promise.race([d.line, d.exit.then(() => null)]);
  if (probe) {
    assert.match(first ?? d.out.stderr, /^w2s viewer: http:\/\/127\.0\.0\.1:7377\/ {2}\(watching .*results\/ \(3 databases\); read-only; Ctrl-C to stop\)$/);
    d.child.kill('SIGTERM');
    assert.equal(await d.exit, 0);
  } else {
    assert.equal(await d.exit, 1);
    assert.match(d.out.stderr, /^w2s: Port 7377 on 127\.0\.0\.1 is already in use .*--port <n>.*\n$/);
  }

  if (process.platform !== 'linux') return;
  const bin = join(root, 'bin');
  mkdirSync(bin, { recursive: true });
  const opened = join(root, 'opened.txt');
  writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`);
  chmodSync(join(bin, 'xdg-open'), 0o755);
  const o = cli(['view', results, '--port', '0', '--open'], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
  try {
    const url = /^w2s viewer: (\S+)/.exec(await o.line)![1]!;
    for (let i = 0; i < 100 && !existsSync(opened); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(readFileSync(opened, 'utf8'), url, 'xdg-open got the viewer\'s URL');
    assert.equal(o.out.stderr, '');
  } finally {
    o.child.kill('SIGTERM');
    await o.exit;
  }
  writeFileSync(join(bin, 'xdg-open'), '#!/bin/sh\nexit 3\n');
  const f = cli(['view', results, '--port', '0', '--open'], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
  try {
    const url = /^w2s viewer: (\S+)/.exec(await f.line)![1]!;
    for (let i = 0; i < 100 && !f.out.stderr.includes('\n'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(f.out.stderr, `w2s: warning: could not open a browser (xdg-open exited with code 3); open ${url} yourself.\n`);
    assert.equal((await fetch(url)).status, 200, 'the viewer keeps serving');
  } finally {
    f.child.kill('SIGTERM');
    assert.equal(await f.exit, 0);
  }
});
