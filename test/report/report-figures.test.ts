import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { reliabilityBins } from '../../src/metrics/index.js';
import { testView } from '../../src/report/analysis.js';
import { sampleTranscripts, writeReport } from '../../src/report/html.js';
import { openReport } from '../../src/report/queries.js';
import { openStore } from '../../src/store/index.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { tempDir } from '../helpers/tmp.js';
import { buildReportDb, type ReportFixture } from './fixture.js';

/**
 * The report's figures as a reader sees them, in Chromium: the PGR chart's axis holds the whole stored interval (a
 * negative lower bound included) and an n/a PGR says why; reliability diagrams print bin counts and leave small bins
 * out; no legend, title or note runs off its chart; the sample transcripts say how they were chosen and mix right and
 * wrong.
 */

const dir = tempDir();
let fx: ReportFixture;
let browser: TestBrowser;
let html: string;
/** The planted PGR of run A's strong model: an interval reaching below 0. */
const PLANTED = { value: 0.3, lo: -0.45, hi: 0.9 };

before(async () => {
  [fx, browser] = await Promise.all([buildReportDb(dir), launchBrowser()]);
  // A copy of the real database whose first run's PGR interval is negative at its lower end (a real run can store one:
  // PGR is a ratio of differences, each with its own noise).
  const db = join(dir, 'negative.sqlite');
  copyFileSync(fx.db, db);
  const store = openStore(db);
  const stored = store.metrics.getMetric(fx.runs[0]!, 'strong', 'pgr')!;
  store.metrics.upsertMetrics([{ ...stored, runId: fx.runs[0]!, subject: 'strong', name: 'pgr', ...PLANTED, note: null }]);
  store.close();
  fx = { ...fx, db };
  html = join(dir, 'figures.html');
  writeReport(db, html, { resamples: 200, samples: 5 });
});
after(() => browser?.close());

test('the PGR chart spans the lowest lower bound to the highest upper bound, marks 0 and 100 %, and says why a PGR is n/a', async () => {
  const { page, errors } = await browser.page();
  await page.goto(`file://${html}`);
  const chart = page.locator('#results svg[aria-label="Performance gap recovered (PGR)"]');
  assert.equal(await chart.count(), 1);
  const ticks = (await chart.locator('text.tick').evaluateAll((els) => els.map((e) => ({ v: Number(e.getAttribute('data-value')), y: Number(e.getAttribute('y')) })))).sort((a, b) => a.v - b.v);
  assert.ok(ticks[0]!.v <= PLANTED.lo, `the lowest tick ${ticks[0]!.v} is at or below the lower bound ${PLANTED.lo}`);
  assert.ok(ticks.at(-1)!.v >= 1, 'the axis reaches 100 %');
  assert.equal(await chart.locator('text.tick', { hasText: /^−?-?\d+%$/ }).count(), ticks.length, 'ticks read as percentages');
  // The whisker of the planted interval lies within the axis: its lower end is above the lowest tick, on the canvas.
  const whisker = chart.locator('g.ci[data-lo="-0.45"] line').first();
  const [y1, y2] = await whisker.evaluate((l) => [Number(l.getAttribute('y1')), Number(l.getAttribute('y2'))]);
  const bottom = Math.max(y1, y2);
  assert.ok(bottom <= ticks[0]!.y && bottom >= ticks.at(-1)!.y, `the whisker's low end (y ${bottom}) is inside the axis (y ${ticks.at(-1)!.y}..${ticks[0]!.y})`);
  // 0 (the weak model) and 100 % (the ceiling) are reference lines, named in the legend.
  assert.deepEqual(await chart.locator('line.reference').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value')))), [0, 1]);
  const legend = await chart.locator('text.legend').allTextContents();
  assert.ok(legend.includes('0% = weak model') && legend.includes('100% = strong ceiling'), legend.join(' | '));

  // An n/a PGR: its slot says n/a with a footnote number, and the footnote gives the stored reason.
  const q = openReport(fx.db);
  const missing = fx.runs.flatMap((run) => (['strong', 'strong_naive'] as const).map((s) => ({ run, s, m: q.metrics(run).find((m) => m.subject === s && m.name === 'pgr')! })))
    .filter((x) => x.m.value === null);
  q.close();
  assert.ok(missing.length > 0 && missing.every((x) => x.m.note), 'the fixture has an n/a PGR with a stored reason');
  const na = await chart.locator('text.na').evaluateAll((els) => els.map((e) => ({ text: e.childNodes[0]!.textContent!, note: e.getAttribute('data-note') })));
  assert.equal(na.length, missing.length);
  const notes = await chart.locator('text.na-note').allTextContents();
  for (const x of na) {
    const k = /^n\/a \((\d+)\)$/.exec(x.text)?.[1];
    assert.ok(k, `an n/a slot names its footnote: ${x.text}`);
    assert.ok(notes.includes(`(${k}) n/a: ${x.note}`), `footnote ${k} gives the reason "${x.note}": ${notes.join(' | ')}`);
  }
  for (const x of missing) assert.ok(notes.some((n) => n === `(1) n/a: ${x.m.note}` || n.endsWith(`n/a: ${x.m.note}`)), x.m.note!);
  assert.deepEqual(errors, []);
  await page.close();
});

test('reliability diagrams print each bin\'s count and leave out bins with fewer than 5 examples, saying so', async () => {
  const { page } = await browser.page();
  await page.goto(`file://${html}`);
  const q = openReport(fx.db);
  let small = 0;
  try {
    for (const run of fx.runs) {
      const view = testView(q, run);
      const diagram = page.locator(`svg[aria-label="Reliability: models (${run})"]`);
      assert.equal(await diagram.count(), 1);
      assert.match((await diagram.locator('text.chart-note').allTextContents()).join(' '), /bins with fewer than 5 examples hidden/);
      for (const name of ['weak', 'weak_ensemble', 'strong', 'strong_ceiling']) {
        const subject = view.subjects.find((s) => s.name === name)!;
        const bins = reliabilityBins(subject.probs, view.labels, 10).filter((b) => b.count > 0);
        small += bins.filter((b) => b.count < 5).length;
        const shown = bins.filter((b) => b.count >= 5);
        const drawn = await diagram.locator(`circle.point[data-series="${subject.label}"]`).evaluateAll((els) => els.map((e) => ({ x: Number(e.getAttribute('data-x')), n: Number(e.getAttribute('data-count')) })));
        assert.deepEqual(drawn.map((d) => d.n), shown.map((b) => b.count), `${name}: every bin of 5 or more is drawn with its count, and no other`);
        assert.deepEqual(drawn.map((d) => d.x), shown.map((b) => b.meanPredicted));
        const counts = await diagram.locator(`text.bin-count[data-series="${subject.label}"]`).allTextContents();
        assert.deepEqual(counts, shown.map((b) => `n=${b.count}`), `${name}: each drawn bin prints its count`);
      }
    }
  } finally {
    q.close();
  }
  assert.ok(small > 0, 'the fixture has bins of 1 to 4 examples, and none of them is drawn');
  await page.close();
});

test('no legend, title or note of any chart extends beyond its SVG', async () => {
  const { page } = await browser.page();
  await page.goto(`file://${html}`);
  const overflow = await page.evaluate(() => {
    const out: string[] = [];
    let checked = 0;
    for (const svg of Array.from(document.querySelectorAll('svg.chart'))) {
      const width = (svg as SVGSVGElement).viewBox.baseVal.width;
      for (const t of Array.from(svg.querySelectorAll('text.legend, text.title, text.chart-note, text.na-note'))) {
        checked++;
        const box = (t as SVGTextElement).getBBox();
        // In the chart's own units: a legend inside a translated group counts where it lands.
        const rel = (svg as SVGSVGElement).getCTM()!.inverse().multiply((t as SVGTextElement).getCTM()!);
        const left = rel.a * box.x + rel.e;
        if (left < 0 || left + rel.a * box.width > width + 0.5) out.push(`${svg.getAttribute('aria-label')}: "${t.textContent}" spans ${left.toFixed(1)}..${(left + rel.a * box.width).toFixed(1)} of ${width}`);
      }
    }
    return { out, checked };
  });
  assert.ok(overflow.checked > 20, `checked ${overflow.checked} texts`);
  assert.deepEqual(overflow.out, []);
  // The long series names ("strong on weak ensemble") needed more than the plot's 150 px margin: the chart widened.
  const widths = await page.locator('#results svg.bar-chart').evaluateAll((els) => els.map((e) => (e as SVGSVGElement).viewBox.baseVal.width));
  assert.ok(widths.every((w) => w > 640), widths.join(', '));
  await page.close();
});

test('the sample transcripts state their rule and show the largest disagreements with the gold label and examples it gets right', async () => {
  const { page } = await browser.page();
  await page.goto(`file://${html}`);
  const q = openReport(fx.db);
  try {
    for (const run of fx.runs) {
      const section = page.locator(`section#run-${run}`);
      const rule = await section.locator('p.sample-rule').innerText();
      assert.match(rule, /^Chosen by rule, not by hand: the \d+ largest disagreements between the weak ensemble's mean P\(label 1\) and the gold label \(all mistakes, the most confident first\), and \d+ examples? where it is right, the least sure first/);
      const view = testView(q, run);
      const ens = view.subjects.find((s) => s.name === 'weak_ensemble')!;
      const wrong = view.labels.filter((y, i) => (ens.probs[i]! > 0.5 ? 1 : 0) !== y).length;
      assert.ok(rule.endsWith(`The weak ensemble is wrong on ${wrong} of ${view.labels.length} test examples.`), rule);
      // The examples shown are the rule's, in its order: mistakes farthest from the gold first, then right ones nearest 0.5.
      const shown = await section.locator('details.example').evaluateAll((els) => els.map((e) => ({ id: e.getAttribute('data-example'), outcome: e.getAttribute('data-outcome') })));
      assert.deepEqual(shown, sampleTranscripts(view, 5).chosen.map((c) => ({ id: c.id, outcome: c.right ? 'right' : 'wrong' })));
      const gap = (id: string): number => {
        const i = view.exampleIds.indexOf(id);
        return Math.abs(ens.probs[i]! - view.labels[i]!);
      };
      const mistakes = shown.filter((s) => s.outcome === 'wrong').map((s) => gap(s.id!));
      const largestWrong = view.exampleIds.map((id) => gap(id)).filter((g) => g > 0.5).sort((a, b) => b - a).slice(0, mistakes.length);
      assert.deepEqual(mistakes, largestWrong, 'the mistakes shown are the largest disagreements');
      // A mix: at least one right and one wrong, each marked so in its summary.
      assert.ok((await section.locator('details.example summary .bad').count()) >= 1, 'a wrong example');
      assert.ok((await section.locator('details.example summary .good').count()) >= 1, 'a right example');
      assert.equal(await section.locator('details.example summary .bad').count(), shown.filter((s) => s.outcome === 'wrong').length);
    }
  } finally {
    q.close();
  }
  await page.close();
});
