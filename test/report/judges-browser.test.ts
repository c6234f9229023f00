import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { writeReport } from '../../src/report/html.js';
import { startViewer } from '../../src/report/viewer.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { tempDir } from '../helpers/tmp.js';
import { buildJudgesDb, FRONTIER, HOSTILE_ENSEMBLE, HOSTILE_JUDGE, HOSTILE_RAW, HOSTILE_RUN, RUN, T0 } from './judges-fixture.js';

const dir = tempDir();
let db: string;
let browser: TestBrowser;
before(async () => {
  db = buildJudgesDb(dir);
  browser = await launchBrowser();
});
after(() => browser?.close());

const attrs = (l: Locator, name: string): Promise<string[]> => l.evaluateAll((els, n) => els.map((e) => e.getAttribute(n) ?? ''), name);
const pwned = (page: Page): Promise<unknown> => page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned);

/** Every element's box lies inside its chart's box: nothing is cut off. */
async function insideChart(chart: Locator, selector: string): Promise<void> {
  const outer = (await chart.boundingBox())!;
  const boxes = await chart.locator(selector).evaluateAll((els) => els.map((e) => {
    const r = e.getBoundingClientRect();
    return { x0: r.left, y0: r.top, x1: r.right, y1: r.bottom, text: e.textContent ?? '' };
  }));
  assert.ok(boxes.length > 0, selector);
  for (const b of boxes) {
    assert.ok(b.x0 >= outer.x - 0.5 && b.x1 <= outer.x + outer.width + 0.5 && b.y0 >= outer.y - 0.5 && b.y1 <= outer.y + outer.height + 0.5, `${selector} "${b.text}" is inside the chart`);
  }
}

test('the report shows the judges section in Chromium: tables, the stored frontier, every label on the canvas, the ensemble and member verdicts', async () => {
  const out = join(dir, 'report.html');
  writeReport(db, out, { runs: [RUN, HOSTILE_RUN], samples: 2 });
  const { page, errors } = await browser.page();
  await page.goto(`file://${out}`);
  const section = page.locator(`#judges-${RUN}`);
  assert.equal(await section.locator('h3').innerText(), 'Judges and judge ensembles');
  assert.deepEqual((await section.locator('table.judges-table tbody tr td:first-child').allInnerTexts()), [
    'prompted judge j-a (both orders, all transcripts, 3 samples each)', 'prompted judge j-b (original order only, all transcripts)', 'prompted judge j-c (both orders, all transcripts)',
    'judge ensemble ens-mean (mean of j-a, j-b, j-c)', 'judge ensemble ens-stack (stacked on j-a, j-b)',
  ]);
  assert.deepEqual(await section.locator('table.ensembles-table thead th').nth(1).innerText(), 'Δ vs best member, points [CI] (ensemble − member)');

  const chart = section.locator('svg.cost-chart');
  assert.equal(await chart.locator('.point').count(), 5);
  assert.deepEqual((await attrs(chart.locator('.point[data-frontier="1"]'), 'data-subject')).sort(), [...FRONTIER].sort());
  assert.deepEqual((await attrs(chart.locator('.point[data-frontier="0"]'), 'data-subject')).sort(), ['ens-stack', 'j-c']);
  assert.equal(await chart.locator('path.frontier-line').count(), 1);
  assert.ok(await chart.locator('path.frontier-line').isVisible());
  // The step line runs through the frontier points, cheapest first: j-b, j-a, ens-mean.
  const centres = await chart.locator('.point').evaluateAll((els) => Object.fromEntries(els.map((e) => {
    const r = e.getBoundingClientRect();
    return [e.getAttribute('data-subject'), [r.left + r.width / 2, r.top + r.height / 2]];
  })));
  assert.ok(centres['j-b'][0] < centres['j-a'][0] && centres['j-a'][0] < centres['ens-mean'][0], 'cost increases to the right');
  assert.ok(centres['j-b'][1] > centres['j-a'][1] && centres['j-a'][1] > centres['ens-mean'][1], 'accuracy increases upwards');
  assert.deepEqual((await chart.locator('text.point-label').allTextContents()).sort(), ['ens-mean', 'ens-stack', 'j-a', 'j-b', 'j-c']);
  await insideChart(chart, 'text.point-label');
  await insideChart(chart, '.legend-item');
  // No two point labels overlap.
  const labels = await chart.locator('text.point-label').evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => [r.left, r.top, r.right, r.bottom]));
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      const [a, b] = [labels[i]!, labels[j]!];
      assert.ok(a[2]! <= b[0]! || b[2]! <= a[0]! || a[3]! <= b[1]! || b[3]! <= a[1]!, `labels ${i} and ${j} do not overlap`);
    }
  }
  assert.match((await chart.locator('text.x-label').textContent())!, /cost per example \(USD\)/);
  const sizes = section.locator('svg.size-chart');
  assert.equal(await sizes.count(), 2);
  assert.ok(await sizes.first().locator('polygon.band').isVisible());
  assert.equal(await sizes.first().locator('circle.point').count(), 3);
  await insideChart(sizes.first(), 'text');

  // The sample transcript t0: each judge ensemble's P(correct) with its members beside it, the disagreeing member marked.
  const example = page.locator(`#run-${RUN} details.example[data-example="t0"]`);
  await example.locator('summary').click();
  const ensMean = example.locator('tr.ensemble-verdict[data-ensemble="ens-mean"]');
  assert.equal(await ensMean.locator('td.p').innerText(), T0.ensembles['ens-mean'].toFixed(3));
  assert.deepEqual(await attrs(ensMean.locator('li.member'), 'data-member'), ['j-a', 'j-b', 'j-c']);
  assert.deepEqual(await attrs(ensMean.locator('li.member.disagree'), 'data-member'), T0.disagree['ens-mean']);
  await browser.screenshot(page, 'judges-report');

  // The run whose judge names and replies are markup: shown verbatim, nothing runs, no element is made of them.
  const hostile = page.locator(`#judges-${HOSTILE_RUN}`);
  const text = await hostile.innerText();
  assert.ok(text.includes(`prompted judge ${HOSTILE_JUDGE}`), 'the hostile judge name reads as text');
  assert.ok(text.includes(`judge ensemble ${HOSTILE_ENSEMBLE} (mean of ${HOSTILE_JUDGE}, j-ok)`));
  assert.deepEqual(await attrs(hostile.locator('svg.cost-chart .point'), 'data-subject'), [HOSTILE_JUDGE, 'j-ok', HOSTILE_ENSEMBLE]);
  assert.deepEqual(await attrs(hostile.locator('svg.cost-chart .point[data-frontier="1"]'), 'data-subject'), [HOSTILE_JUDGE, HOSTILE_ENSEMBLE]);
  assert.match((await hostile.locator('svg.cost-chart text.x-label').textContent())!, /tokens per example/);
  assert.equal(await hostile.locator('img, script, svg svg').count(), 0);
  assert.equal(await hostile.locator('svg').count(), 2, 'the cost chart and one size chart, nothing else');
  const hostileExample = page.locator(`#run-${HOSTILE_RUN} details.example[data-example="t0"]`);
  await hostileExample.locator('summary').click();
  assert.ok((await hostileExample.locator('code.raw').allInnerTexts()).includes(HOSTILE_RAW));
  assert.equal(await page.locator(`#run-${HOSTILE_RUN} img, #run-${HOSTILE_RUN} script`).count(), 0);
  assert.equal(await pwned(page), undefined);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the viewer example page shows every judge verdict by presentation and sample, and each judge ensemble with its members', async () => {
  const viewer = await startViewer({ db });
  try {
    const { page, errors } = await browser.page();
    await page.goto(`${viewer.url}runs/${RUN}/examples/t0`);
    const judges = page.locator('tr.judge-verdict');
    assert.deepEqual(await attrs(judges, 'data-judge'), ['j-a', 'j-b', 'j-c']);
    assert.deepEqual(await judges.locator('td.p').allInnerTexts(), [T0.means['j-a'], T0.means['j-b'], T0.means['j-c']]);
    const ja = page.locator('tr.judge-verdict[data-judge="j-a"] li.presentation');
    assert.equal(await ja.count(), T0.judgments['j-a'].length);
    assert.match(await ja.nth(2).innerText(), /^transcript 0 · original · sample 2: 0\.000 \(parsed\) B$/);
    assert.match(await ja.nth(5).innerText(), /^transcript 0 · swapped · sample 2: 1\.000 \(parsed\) A$/);
    assert.match(await page.locator('tr.judge-verdict[data-judge="j-b"]').innerText(), /incorrect \(wrong\)/);

    const ensembles = page.locator('tr.ensemble-verdict');
    assert.deepEqual(await attrs(ensembles, 'data-ensemble'), ['ens-mean', 'ens-stack']);
    assert.deepEqual(await ensembles.locator('td.p').allInnerTexts(), [T0.ensembles['ens-mean'].toFixed(3), T0.ensembles['ens-stack'].toFixed(3)]);
    for (const name of ['ens-mean', 'ens-stack'] as const) {
      const row = page.locator(`tr.ensemble-verdict[data-ensemble="${name}"]`);
      assert.match(await row.locator('td').nth(2).innerText(), /^correct \(right\)$/);
      assert.deepEqual(await attrs(row.locator('li.member.disagree'), 'data-member'), T0.disagree[name]);
      assert.match(await row.locator('li.member.disagree').innerText(), /^j-b: 0\.200, incorrect.*✗ disagrees with the ensemble$/);
    }
    assert.match(await page.locator('tr.ensemble-verdict[data-ensemble="ens-stack"] li.member[data-member="j-a"]').innerText(), /^j-a: 0\.833, correct \(weight 1\.250\)$/);
    assert.deepEqual(await page.locator('tr.ensemble-verdict[data-ensemble="ens-mean"] li.member.agree').count(), 2);
    // The model table names the stored judge ensembles too.
    assert.match(await page.locator('table.predictions').innerText(), /judge ensemble ens-mean\s+0\.561/);
    // j-c's swapped reply is markup: shown as text.
    assert.ok((await page.locator('tr.judge-verdict[data-judge="j-c"] code.raw').allInnerTexts()).includes(HOSTILE_RAW));
    await browser.screenshot(page, 'judges-viewer-example');

    await page.goto(`${viewer.url}runs/${HOSTILE_RUN}/examples/t0`);
    assert.deepEqual(await attrs(page.locator('tr.judge-verdict'), 'data-judge'), [HOSTILE_JUDGE, 'j-ok'].sort());
    assert.ok((await page.locator('tr.judge-verdict td:first-child').allInnerTexts()).includes(HOSTILE_JUDGE));
    const row = page.locator('tr.ensemble-verdict');
    assert.equal(await row.getAttribute('data-ensemble'), HOSTILE_ENSEMBLE);
    assert.ok((await row.locator('td').first().innerText()).startsWith(HOSTILE_ENSEMBLE));
    assert.deepEqual(await attrs(row.locator('li.member.disagree'), 'data-member'), ['j-ok']);
    assert.ok((await page.locator('code.raw').allInnerTexts()).includes(HOSTILE_RAW));
    assert.equal(await page.locator('body img, body script, body svg').count(), 0);
    // The run page carries the same judges section as the report.
    await page.goto(`${viewer.url}runs/${RUN}`);
    assert.deepEqual((await attrs(page.locator('#judges-judged-0001 svg.cost-chart .point[data-frontier="1"]'), 'data-subject')).sort(), [...FRONTIER].sort());
    assert.equal(await page.locator('#judges-judged-0001 table.judges-table tbody tr').count(), 5);
    await page.goto(`${viewer.url}runs/${HOSTILE_RUN}`);
    assert.equal(await page.locator(`#judges-${HOSTILE_RUN} img, #judges-${HOSTILE_RUN} script, #judges-${HOSTILE_RUN} svg svg`).count(), 0);
    assert.ok((await page.locator('table.run-table').innerText()).includes(`judge ensemble ${HOSTILE_ENSEMBLE}`));
    assert.equal(await page.locator('table img, table script').count(), 0);
    assert.equal(await pwned(page), undefined);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await viewer.close();
  }
});
