import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { compareMembers, testView } from '../../src/report/analysis.js';
import { writeReport } from '../../src/report/html.js';
import { openReport } from '../../src/report/queries.js';
import { openResults } from '../../src/report/results-set.js';
import { findShowTarget, formatShow } from '../../src/report/show.js';
import { subjectName } from '../../src/report/subjects.js';
import { buildTable } from '../../src/report/table.js';
import { formatTable } from '../../src/report/table-format.js';
import { formatComparison, formatRunSummary, formatRuns } from '../../src/report/terminal.js';
import { tempDir } from '../helpers/tmp.js';
import { buildReportDb, type ReportFixture } from './fixture.js';

/**
 * One vocabulary (issue 12.3): every view names a model with the same short name and says what it is with the same long
 * label, both made by subjects.ts, and none prints a stored role or subject ("weak_member", "member0").
 */

const dir = tempDir();
let fx: ReportFixture;
let run: string;
before(async () => {
  fx = await buildReportDb(dir);
  run = fx.runs[1]!;
});

/** The cells of an aligned text table's line (columns are two or more spaces apart). */
const cells = (line: string): string[] => line.trim().split(/\s{2,}/);

/** The body rows of the text table whose header line starts with `first` (up to the next blank line). */
function textRows(text: string, first: RegExp): string[][] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => first.test(l));
  assert.ok(at >= 0, `a table headed ${first} in:\n${text}`);
  const end = lines.findIndex((l, i) => i > at && l.trim() === '');
  return lines.slice(at + 2, end < 0 ? undefined : end).map(cells);
}

const unescape = (s: string): string => s.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

/** The rows of the first HTML table of class `cls` after `from` in the page, as text cells. */
function htmlRows(html: string, cls: string, from = 0): string[][] {
  const start = html.indexOf(`<table class="${cls}">`, from);
  assert.ok(start >= 0, `a table of class ${cls}`);
  const table = html.slice(start, html.indexOf('</table>', start));
  return [...table.matchAll(/<tr>(.*?)<\/tr>/g)].slice(1).map((m) => [...m[1]!.matchAll(/<td>(.*?)<\/td>/g)].map((c) => unescape(c[1]!)));
}

/** Where run `id`'s section starts in the report. */
const html0 = (file: string, id: string): number => readFileSync(file, 'utf8').indexOf(`<section class="run" id="run-${id}">`);

/** Raw identifiers no view may print: stored roles and subject keys. */
const RAW = /weak_member|\bmember\d|strong_by_judge|strong_naive|strong_ceiling|strong_single|strong_finetune|weak_ensemble|majority_class|judge_ensemble|judge:|\bw2s %|naive PGR/;

test('every view prints the same short name and long label for the same model, and no view prints a raw role', (t) => {
  const q = openReport(fx.db);
  const set = openResults([fx.db]);
  try {
    const info = q.resolveRun(run);
    const name = (s: string) => subjectName(s, info.config);
    /** view -> stored subject -> what the view printed for it: the short name, and the long label where it shows one. */
    const printed = new Map<string, Map<string, { short: string; long?: string }>>();
    const record = (view: string, subjects: readonly string[], rows: { short: string; long?: string }[]): void => {
      assert.equal(rows.length, subjects.length, `${view}: ${rows.map((r) => r.short).join(' / ')}`);
      printed.set(view, new Map(subjects.map((s, i) => [s, rows[i]!])));
    };
    const texts: [string, string][] = [];

    // w2s run: the model table, short name first and what it is last.
    const RUN_TABLE = ['majority_class', 'weak', 'weak_ensemble', 'weak_ensemble_vote', 'strong_naive', 'strong', 'strong_ceiling', 'judge:j1', 'strong_by_judge:j1'];
    const summary = formatRunSummary(q, run);
    texts.push(['run', summary]);
    record('run table', RUN_TABLE, textRows(summary, /^model\s+accuracy/).map((r) => ({ short: r[0]!, long: r.at(-1)! })));

    // w2s runs: the headline columns and the judge-trained strong models under them.
    const runs = formatRuns(set.runs());
    texts.push(['runs', runs]);
    const header = cells(runs.split('\n')[0]!);
    const judgeRows = textRows(runs, /^run\s+model\s+accuracy/).filter((r) => r[0] === run);
    record('runs', ['weak_ensemble', 'strong', 'strong_by_judge:j1'], [
      { short: header.find((h) => h === `${name('weak_ensemble').short} %`)!.replace(/ %$/, '') },
      { short: header.find((h) => h === `${name('strong').short} %`)!.replace(/ %$/, '') },
      { short: judgeRows[0]![1]! },
    ]);

    // w2s compare --members: every model, short name first and what it is last; the pairs by short name.
    const COMPARED = ['weak', 'member0', 'member1', 'member2', 'weak_ensemble', 'weak_ensemble_vote', 'strong_naive', 'strong', 'strong_ceiling', 'judge:j1', 'strong_by_judge:j1'];
    const comparison = compareMembers(testView(q, run), { resamples: 200, stored: q.metrics(run) });
    const compare = formatComparison(comparison);
    texts.push(['compare', compare]);
    record('compare', COMPARED, textRows(compare, /^model\s+accuracy/).map((r) => ({ short: r[0]!, long: r.at(-1)! })));
    const PAIRED = COMPARED.filter((s) => s !== 'weak_ensemble' && s !== 'weak_ensemble_vote');
    const pairs = textRows(compare, /^A\s+B\s+Δ = B − A/);
    assert.ok(pairs.every((p) => p[0] === name('weak_ensemble').short));
    record('compare pairs', PAIRED, pairs.map((p) => ({ short: p[1]! })));

    // w2s show: each model's probability by its short name.
    const shown = formatShow(findShowTarget(q, 'item80', run));
    texts.push(['show', shown]);
    const SHOWN = ['weak', 'member0', 'member1', 'member2', 'strong_naive', 'strong', 'strong_ceiling', 'strong_by_judge:j1'];
    const afterHeading = shown.split('\n').slice(shown.split('\n').indexOf('Model probabilities, P(label 1):') + 1);
    const probs = afterHeading.slice(0, afterHeading.indexOf('')).map((l) => cells(l)[0]!);
    const byName = new Map(SHOWN.map((s) => [name(s).short, s]));
    assert.equal(probs.length, SHOWN.length, probs.join(' / '));
    // show lists the models in stored order; find each subject's line by what it printed, then compare as for the rest.
    record('show', SHOWN, SHOWN.map((s) => ({ short: probs.find((p) => byName.get(p) === s) ?? `(none for ${s})` })));

    // w2s report: the run table, the comparison, its pairs, the reliability legend; the Markdown run table.
    const out = join(dir, 'vocabulary.html');
    const { markdown } = writeReport(fx.db, out, { resamples: 200 });
    const section = html0(out, run);
    const html = readFileSync(out, 'utf8');
    assert.ok(section > 0);
    // The whole page, the sample transcripts (transcript-html.ts) included: they name models as the tables do.
    texts.push(['report', html]);
    record('report run table', RUN_TABLE, htmlRows(html, 'run-table', section).map((r) => ({ short: r[0]!, long: r.at(-1)! })));
    record('report compare', COMPARED, htmlRows(html, 'compare', section).map((r) => ({ short: r[0]!, long: r.at(-1)! })));
    record('report pairs', PAIRED, htmlRows(html, 'pairs', section).map((r) => ({ short: r[1]! })));
    const legend = [...html.slice(html.indexOf(`aria-label="Reliability: models (${run})"`)).matchAll(/<text class="legend"[^>]*>([^<]*)<\/text>/g)].slice(0, 4).map((m) => unescape(m[1]!));
    record('report reliability legend', ['weak', 'weak_ensemble', 'strong', 'strong_ceiling'], legend.map((short) => ({ short })));
    const md = readFileSync(markdown, 'utf8');
    texts.push(['report markdown', md]);
    const mdTable = md.slice(md.indexOf(`## Run ${run}`));
    const mdRows = mdTable.split('\n').filter((l) => l.startsWith('| ')).slice(1).map((l) => l.slice(2, -2).split(' | '));
    record('report markdown', RUN_TABLE, mdRows.slice(0, RUN_TABLE.length).map((r) => ({ short: r[0]!, long: r.at(-1)! })));

    // w2s table: one row per method, labelled by what it is (no axis leaves anything out here).
    const TABLED = ['weak', 'strong_naive', 'strong', 'strong_by_judge:j1', 'strong_ceiling'];
    const table = formatTable(buildTable(set.runs().filter((r) => r.run.id === run)), 'md');
    texts.push(['table', table]);
    const tableRows = table.split('\n').filter((l) => l.startsWith('| ')).slice(1).map((l) => l.slice(2).split(' | ')[0]!);
    record('table', TABLED, tableRows.map((long) => ({ short: name(TABLED[tableRows.indexOf(long)]!).short, long })));

    // The vocabulary, as every view printed it: one short name and one long label per model, subjects.ts's.
    const vocabulary: string[] = [];
    for (const subject of new Set([...printed.values()].flatMap((m) => [...m.keys()]))) {
      const expected = name(subject);
      const shorts = new Map<string, string[]>();
      const longs = new Map<string, string[]>();
      for (const [view, m] of printed) {
        const p = m.get(subject);
        if (!p) continue;
        shorts.set(p.short, [...(shorts.get(p.short) ?? []), view]);
        if (p.long !== undefined) longs.set(p.long, [...(longs.get(p.long) ?? []), view]);
      }
      assert.deepEqual([...shorts.keys()], [expected.short], `${subject}: short names by view ${JSON.stringify([...shorts])}`);
      assert.deepEqual([...longs.keys()], [expected.long], `${subject}: long labels by view ${JSON.stringify([...longs])}`);
      vocabulary.push(`${subject} → "${expected.short}" → "${expected.long}" (${[...shorts.values()].flat().length} views)`);
    }
    assert.ok(vocabulary.length >= 12, vocabulary.join('\n'));
    for (const line of vocabulary) t.diagnostic(line);
    assert.ok(printed.get('run table')!.has('strong_by_judge:j1') && printed.get('compare')!.has('strong_by_judge:j1') && printed.get('table')!.has('strong_by_judge:j1'), 'judge-trained strong models are in every table');

    for (const [view, text] of texts) {
      // Debate ids carry the run id and "debate/<k>"; the rest must never show a raw role or subject.
      const raw = RAW.exec(text);
      assert.equal(raw, null, `${view} prints "${raw?.[0]}" near: ${raw ? text.slice(Math.max(0, raw.index - 80), raw.index + 80) : ''}`);
    }
  } finally {
    q.close();
    set.close();
  }
});

test('a model named by its stored role and member gets the name its stored subject gets', () => {
  const q = openReport(fx.db);
  try {
    const info = q.resolveRun(run);
    const ctx = { ...info.config, judgeEnsembles: q.judgeEnsembles(run) };
    const pairs: [{ role: string; member: number }, string][] = [
      [{ role: 'weak', member: 0 }, 'weak'], [{ role: 'weak_member', member: 2 }, 'member2'], [{ role: 'strong', member: 0 }, 'strong'],
      [{ role: 'strong_naive', member: 0 }, 'strong_naive'], [{ role: 'strong_ceiling', member: 0 }, 'strong_ceiling'], [{ role: 'strong_by_judge', member: 0 }, 'strong_by_judge:j1'],
      [{ role: 'weak_member@seed1', member: 0 }, 'member0@seed1'],
    ];
    for (const [role, subject] of pairs) assert.deepEqual(subjectName(role, ctx), subjectName(subject, ctx), `${role.role} ${role.member}`);
    // Every model the run stored predictions for has a name in words.
    const roles = q.db.prepare('SELECT DISTINCT role, member FROM models WHERE run_id = ?').all(run) as { role: string; member: number }[];
    assert.ok(roles.length >= 7);
    for (const r of roles) {
      const n = subjectName(r, ctx);
      assert.doesNotMatch(`${n.short} ${n.long}`, RAW, `${r.role} ${r.member}: ${n.short} / ${n.long}`);
    }
  } finally {
    q.close();
  }
});
