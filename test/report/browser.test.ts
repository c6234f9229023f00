import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeReport } from '../../src/report/html.js';
import { startViewer, type Viewer } from '../../src/report/viewer.js';
import { openStore } from '../../src/store/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { tempDir } from '../helpers/tmp.js';
import { buildReportDb, type ReportFixture } from './fixture.js';

const dir = tempDir();
let fx: ReportFixture;
let browser: TestBrowser;
before(async () => {
  [fx, browser] = await Promise.all([buildReportDb(dir), launchBrowser()]);
});
after(() => browser?.close());

/** A raw request, so the path reaches the server exactly as written (fetch and browsers normalise dot segments). */
function raw(viewer: Viewer, path: string, method = 'GET', host = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: viewer.port, path, method, headers: { host: `${host}:${viewer.port}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the report renders its charts in Chromium with no console errors, and a click opens a transcript', async () => {
  const out = join(dir, 'report.html');
  writeReport(fx.db, out, { resamples: 200, samples: 3 });
  const { page, errors } = await browser.page();
  await page.goto(`file://${out}`);
  // Headline chart: 4 bars (weak, ensemble, w2s, ceiling) for each of the 2 runs, each with an interval.
  const headline = page.locator('#results svg.bar-chart').first();
  assert.equal(await headline.locator('rect.bar').count(), 8);
  assert.equal(await headline.locator('g.ci').count(), 8);
  const box = await headline.locator('rect.bar').first().boundingBox();
  assert.ok(box && box.height > 1 && box.width > 1, 'bars have a visible size');
  // PGR: w2s and naive per run, a bar where a PGR is stored and "n/a" where the gap was noise and none is.
  const pgrChart = page.locator('#results svg.bar-chart').nth(1);
  const store = openStore(fx.db, { readonly: true });
  const stored = fx.runs.flatMap((r) => ['strong', 'strong_naive'].map((s) => store.metrics.getMetric(r, s, 'pgr')!.value));
  store.close();
  assert.equal(await pgrChart.locator('rect.bar').count(), stored.filter((v) => v !== null).length);
  assert.equal(await pgrChart.locator('text.na').count(), stored.filter((v) => v === null).length);
  // Accuracy against ensemble size: 3 points per run.
  assert.equal(await page.locator('#ensemble-size circle.point').count(), 6);
  // The sweep over debate turns: one point per turn count and series.
  assert.equal(await page.locator('#sweeps circle.point[data-series="weak ensemble"]').count(), 2);
  // Reliability diagrams, per run: one for the models and one for judge j1.
  assert.equal(await page.locator('svg[aria-label^="Reliability: judge j1"]').count(), 2);
  assert.ok((await page.locator('svg[aria-label^="Reliability"] circle.point').count()) > 4);

  const first = page.locator('details.example').first();
  assert.equal(await first.locator('.turn').first().isVisible(), false);
  await first.locator('summary').click();
  assert.equal(await first.locator('.turn').first().isVisible(), true);
  assert.match(await first.locator('.turn').first().innerText(), /Turn 1 · A/);
  await browser.screenshot(page, 'report');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the viewer browses runs, filters examples and opens a transcript, showing debater markup as text', async () => {
  const viewer = await startViewer({ db: fx.db });
  try {
    assert.match(viewer.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { page, errors } = await browser.page();
    await page.goto(viewer.url);
    assert.equal(await page.locator('a.run-link').count(), 2);
    await page.locator('a.run-link', { hasText: fx.runs[1]! }).click();
    await page.waitForURL(/\/runs\//);
    assert.equal(await page.locator('svg.bar-chart rect.bar').count(), 4, 'the run page charts its accuracies');
    assert.equal(await page.locator('.count').innerText(), '30', 'the list starts on the test split');
    await page.selectOption('select[name=split]', 'all');
    await page.click('button[type=submit]');
    await page.waitForURL(/split=all/);
    assert.equal(await page.locator('.count').innerText(), '90');

    await page.selectOption('select[name=split]', 'test');
    await page.click('button[type=submit]');
    await page.waitForURL(/split=test/);
    assert.equal(await page.locator('.count').innerText(), '30');
    assert.equal(await page.locator('tr.example-row').count(), 30);

    await page.selectOption('select[name=wrong]', 'ensemble');
    await page.click('button[type=submit]');
    await page.waitForURL(/wrong=ensemble/);
    const wrong = Number(await page.locator('.count').innerText());
    assert.equal(wrong, 2, 'the ensemble is wrong on 2 of 30 test examples (93.3%)');
    assert.equal(await page.locator('tr.example-row td.wrong[data-key="ensemble"]').count(), wrong);

    await page.selectOption('select[name=wrong]', '');
    await page.selectOption('select[name=disagree]', 'members');
    await page.click('button[type=submit]');
    await page.waitForURL(/disagree=members/);
    const votes = await page.locator('tr.example-row').evaluateAll((rows) => rows.map((r) => {
      const ps = [...r.querySelectorAll('td[data-key^="member:"]')].map((td) => Number.parseFloat(td.textContent ?? ''));
      return `${ps.filter((p) => p > 0.5).length}/${ps.length}`;
    }));
    assert.ok(votes.length > 0);
    assert.ok(votes.every((v) => v === '1/3' || v === '2/3'), `members disagree on every listed example: ${votes.join(' ')}`);

    await page.locator('a.example-link').first().click();
    await page.waitForURL(/\/examples\//);
    assert.equal(await page.locator('.transcript').count(), 3);
    assert.ok((await page.locator('.verdict').count()) >= 3, "each transcript has the judge's verdict beside it");
    assert.match(await page.locator('.gold').innerText(), /label [01]/);

    // An example whose transcript holds the debater's markup: it reads as text and never runs.
    const reader = openStore(fx.db, { readonly: true });
    const xssDebate = reader.db
      .prepare("SELECT d.example_id AS id FROM turns t JOIN debates d ON d.id = t.debate_id WHERE d.run_id = ? AND t.text LIKE '%<script>%' LIMIT 1")
      .get(fx.runs[1]) as { id: string };
    reader.close();
    await page.goto(`${viewer.url}runs/${encodeURIComponent(fx.runs[1]!)}/examples/${encodeURIComponent(xssDebate.id)}`);
    assert.ok((await page.locator('.turn pre').allInnerTexts()).some((t) => t.includes(fx.xss)), 'the markup is shown verbatim');
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.equal(await page.locator('.turn pre script, .turn pre img').count(), 0);
    await browser.screenshot(page, 'viewer-transcript');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await viewer.close();
  }
});

test('the viewer answers 404 outside its routes, refuses writes and foreign Host names, and opens the file read-only', async () => {
  const viewer = await startViewer({ db: fx.db });
  try {
    for (const path of [
      '/../../etc/passwd', '/..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/passwd', '/runs/..%2F..%2F..%2Fetc%2Fpasswd', '/runs/%2e%2e/%2e%2e/etc/passwd',
      '/runs/x/examples/..%5c..%5cwindows', '/static/../../package.json', '/package.json', '/src/cli/main.ts', '/%zz', `/runs/${encodeURIComponent(fx.runs[0]!)}/examples/nope`,
      '/runs/ghost', '/api/runs/x',
    ]) {
      const r = await raw(viewer, path);
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.body, /root:|"name": "w2s"/);
    }
    assert.equal((await raw(viewer, '/', 'POST')).status, 405);
    assert.equal((await raw(viewer, '/', 'GET', 'evil.example')).status, 403);
    const api = await raw(viewer, '/api/runs');
    assert.equal(api.status, 200);
    assert.deepEqual(JSON.parse(api.body).map((r: { id: string }) => r.id).sort(), [...fx.runs].sort());
    assert.doesNotMatch(api.body, /apiKey|API_KEY/);

    // A run that is still writing: a writer adds a run while the viewer is open, and the viewer shows it.
    const writer = openStore(fx.db);
    try {
      writer.runs.createRun({ id: 'live-run', config: { name: 'live' }, configHash: 'h', dataset: 'sciq' });
      // Owned by this live process (a run without a live owner shows as stopped).
      assert.ok(writer.leases.acquire('live-run').acquired);
      const page = await raw(viewer, '/');
      assert.match(page.body, /live-run<\/a><\/td><td>running<\/td>/);
      assert.equal((await raw(viewer, '/runs/live-run')).status, 200, 'a run with no examples yet still renders');
      // Its owner gone (the lease released without the status being finalised, as a kill leaves it): shown as stopped.
      writer.leases.release(writer.leases.get('live-run')!.token);
      assert.match((await raw(viewer, '/')).body, /live-run<\/a><\/td><td title="[^"]*run the same command again to resume">stopped \(process gone\)<\/td>/);
      assert.match((await raw(viewer, '/runs/live-run')).body, /stopped \(process gone\) \([^)]*run the same command again to resume\)/);
    } finally {
      writer.close();
    }
  } finally {
    await viewer.close();
  }
});
