/**
 * What storing every prompt and reply costs in database bytes per ledger row, on a real pipeline run: scripted
 * debaters that write ~60-word arguments (2 turns × 2 samples) and a parsed judge, the repository's prompt templates.
 *   1. first run into a fresh database (every text new);
 *   2. a second run in the same database whose calls are all cache hits on the same requests (a strong-loss variant:
 *      same debates and judgments): with stored texts these rows cost only their link rows;
 *   3. the first config into another fresh database from the same cache (all hits, but the texts are new to it).
 * Sizes are the main file after close (WAL checkpointed); per-table bytes from SQLite's dbstat.
 *
 *   node --import tsx bench/call-texts.ts [n=300]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExperiment } from '../src/config/load.js';
import { registerScript } from '../src/models/adapters/scripted.js';
import { runExperiment } from '../src/pipeline/run.js';
import { openStore } from '../src/store/index.js';
import { REPO, writeRows } from './experiment.js';

const n = Number(process.argv[2] ?? 300);
const dir = mkdtempSync(join(tmpdir(), 'w2s-bench-texts-'));

const FILLER = 'The inventory ledger lists each crate by lot and shelf, and the spring recount moved several lots between aisles';
registerScript('texts-debater', {
  generate: (req) => {
    const last = req.messages.at(-1)!.content;
    const crate = /crate (\d+)/.exec(last)?.[1] ?? '0';
    const correct = /Your side: the proposed answer is correct/.test(last);
    const turn = req.messages.filter((m) => m.role !== 'system').length + (req.seed ?? 0) % 5;
    return `${correct ? 'The shelf matches the record' : 'The record names another shelf'} for crate ${crate} (point ${turn}). ${FILLER}; the ${correct ? 'answer holds because the label was checked twice' : 'answer fails because the recount superseded it'}, and my opponent has not shown otherwise.`;
  },
});
registerScript('texts-judge', { generate: (req) => (/answer holds/.test(req.messages.at(-1)!.content) ? 'Verdict: A' : 'Verdict: B') });

function config(loss: string) {
  const third = Math.floor(n / 3);
  return parseExperiment({
    name: `texts${n}`,
    seed: 1,
    dataset: { name: 'jsonl', path: join(dir, 'rows.jsonl'), sizes: { train_weak: third, train_strong: third, test: n - 2 * third } },
    debate: { protocol: 'debate', debaters: ['scripted:texts-debater'], turns: 2, samples: 2, temperature: 0.7, promptsDir: join(REPO, 'prompts') },
    weak: { features: { kind: 'hashed', dim: 1024, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 2 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 1024, ngrams: [1, 1] }, probe: { epochs: 2 }, loss },
    judges: [{ name: 'j', model: 'scripted:texts-judge', method: 'parsed' }],
    metrics: { bootstrap: 100 },
  });
}

interface Measure {
  bytes: number;
  calls: number;
  tables: Record<string, number>;
  /** Rows and characters in the texts table, and link rows (absent before schema 5). */
  texts?: { rows: number; chars: number; links: number };
}

function measure(file: string): Measure {
  const s = openStore(file, { readonly: true });
  try {
    const calls = (s.db.prepare('SELECT COUNT(*) AS n FROM calls').get() as { n: number }).n;
    const rows = s.db.prepare("SELECT name, SUM(pgsize) AS b FROM dbstat WHERE name IN ('calls', 'calls_run', 'calls_hash', 'texts', 'sqlite_autoindex_texts_1', 'call_messages') GROUP BY name").all() as { name: string; b: number }[];
    const tables = Object.fromEntries(rows.map((r) => [r.name, r.b]));
    const hasTexts = s.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'texts'").get() !== undefined;
    const texts = hasTexts
      ? (s.db.prepare('SELECT (SELECT COUNT(*) FROM texts) AS rows, (SELECT COALESCE(SUM(length(text)), 0) FROM texts) AS chars, (SELECT COUNT(*) FROM call_messages) AS links').get() as Measure['texts'])
      : undefined;
    return { bytes: statSync(file).size, calls, tables, ...(texts && { texts }) };
  } finally {
    s.close();
  }
}

const run = async (out: string, loss: string) => {
  const outcome = await runExperiment({ config: config(loss), out, cacheFile: join(dir, 'cache.sqlite') });
  if (outcome.status !== 'completed') throw new Error(`run ${outcome.status}: ${outcome.reason}`);
};

try {
  writeRows(dir, n);
  const a = join(dir, 'a.sqlite');
  await run(a, 'xent');
  const first = measure(a);
  await run(a, 'logconf');
  const second = measure(a);
  const b = join(dir, 'b.sqlite');
  await run(b, 'xent');
  const fresh = measure(b);
  const per = (bytes: number, calls: number) => Math.round(bytes / calls);
  const textBytes = (m: Measure) => (m.tables.texts ?? 0) + (m.tables.sqlite_autoindex_texts_1 ?? 0) + (m.tables.call_messages ?? 0);
  console.log(
    JSON.stringify({
      bench: 'call-texts',
      examples: n,
      firstRun: { calls: first.calls, bytes: first.bytes, bytesPerCall: per(first.bytes, first.calls), textTablesBytes: textBytes(first), texts: first.texts, tables: first.tables },
      cacheHitRunSameDb: { calls: second.calls - first.calls, addedBytes: second.bytes - first.bytes, bytesPerCall: per(second.bytes - first.bytes, second.calls - first.calls), addedTextTablesBytes: textBytes(second) - textBytes(first) },
      freshDbFromCache: { calls: fresh.calls, bytes: fresh.bytes, bytesPerCall: per(fresh.bytes, fresh.calls) },
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
