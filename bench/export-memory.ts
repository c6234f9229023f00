/**
 * Peak memory of `w2s export --what calls` as the ledger grows: builds databases with 10k, 50k and 100k calls rows,
 * exports each in a fresh child process, and reads the child's peak RSS from process.resourceUsage().maxRSS.
 * A streaming export keeps the peak flat; one that gathered rows in memory would grow with the row count.
 *
 *   node --import tsx bench/export-memory.ts [--rows 10000,50000,100000] [--format jsonl|csv]
 *
 * Prints one JSON line: figures per size, the machine and the date.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportToFile, type ExportFormat } from '../src/report/export.js';
import { openStore } from '../src/store/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

/** Child mode: export, then report this process's peak RSS. */
async function child(db: string, out: string, format: ExportFormat): Promise<void> {
  const started = process.hrtime.bigint();
  const lines = await exportToFile(db, { what: 'calls', format, out });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(JSON.stringify({ lines, seconds, maxRssKiB: process.resourceUsage().maxRSS }));
}

/** A ledger of n rows in one transaction, with realistic widths (hashes, model names, some errors). */
function buildDb(file: string, n: number): void {
  const store = openStore(file);
  try {
    store.runs.createRun({ id: 'bench', config: { name: 'bench' }, configHash: 'bench', dataset: 'sciq' });
    const insert = store.db.prepare(
      `INSERT INTO calls (run_id, role, model, kind, request_hash, cache_hit, attempts, latency_ms, input_tokens, output_tokens, cost_usd, finish_reason, error, created_at)
       VALUES ('bench', ?, ?, 'generate', ?, ?, ?, ?, ?, ?, ?, 'stop', ?, ?)`,
    );
    const now = new Date().toISOString();
    store.transaction(() => {
      for (let i = 0; i < n; i++) {
        const hash = (i * 2654435761).toString(16).padStart(16, '0').repeat(4);
        insert.run(i % 3 ? 'debater' : 'judge:j1', 'openai:gpt-4o-mini@https://api.example.invalid/v1', hash, i % 5 === 0 ? 1 : 0, 1 + (i % 3), 120 + (i % 900), 800 + (i % 400), 150, 0.00021, i % 97 === 0 ? 'HTTP 429: rate limited, "retry later"' : null, now);
      }
    });
  } finally {
    store.close();
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3]!, process.argv[4]!, process.argv[5] as ExportFormat);
  const sizes = arg('--rows', '10000,50000,100000').split(',').map(Number);
  const format = arg('--format', 'jsonl') as ExportFormat;
  const dir = mkdtempSync(join(tmpdir(), 'w2s-bench-export-'));
  const self = fileURLToPath(import.meta.url);
  try {
    const figures = [];
    for (const rows of sizes) {
      const db = join(dir, `calls-${rows}.sqlite`);
      const out = join(dir, `calls-${rows}.${format}`);
      buildDb(db, rows);
      const r = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', self, '--child', db, out, format], { encoding: 'utf8' })) as { lines: number; seconds: number; maxRssKiB: number };
      if (r.lines !== rows + (format === 'csv' ? 1 : 0)) throw new Error(`exported ${r.lines} lines for ${rows} rows`);
      figures.push({ rows, peakRssMiB: Math.round((r.maxRssKiB / 1024) * 10) / 10, exportSeconds: Math.round(r.seconds * 100) / 100, outputMiB: Math.round((statSync(out).size / 2 ** 20) * 10) / 10 });
    }
    const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}` };
    process.stdout.write(`${JSON.stringify({ bench: 'export-memory', what: 'calls', format, figures, machine, date: new Date().toISOString() })}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
