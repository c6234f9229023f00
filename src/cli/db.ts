import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import Database from 'better-sqlite3';
import { dbInfo, openStore, SCHEMA_VERSION, schemaVersion } from '../store/index.js';

export function register(program: Command): void {
  const db = program.command('db').description('inspect w2s database files');
  db.command('info')
    .description('schema and w2s version, table sizes and runs of a database')
    .argument('<file>', 'a database written by w2s')
    .option('--json', 'print JSON')
    .action((file: string, opts: { json?: boolean }) => {
      const info = dbInfo(file);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      const out: string[] = [
        `file:           ${info.file} (${(info.sizeBytes / 1024).toFixed(1)} KiB, journal ${info.journalMode})`,
        `schema version: ${info.schemaVersion} (this w2s writes ${info.supportedSchemaVersion}), last written by w2s ${info.w2sVersion ?? 'unknown'}`,
        'tables:',
        ...Object.entries(info.tables).map(([t, n]) => `  ${t.padEnd(12)} ${n}`),
        `runs: ${info.runs.length}`,
        ...info.runs.map((r) => `  ${r.id}  ${r.status}  ${r.dataset ?? ''}  examples=${r.examples} calls=${r.calls} cost=$${r.costUsd.toFixed(4)}  ${r.createdAt}${r.hint ? `  (${r.hint})` : ''}`),
      ];
      process.stdout.write(`${out.join('\n')}\n`);
    });
  db.command('migrate')
    .description('bring a database written by an older w2s up to this schema, so read commands open it (w2s run does this itself)')
    .argument('<file>', 'a database written by w2s')
    .action((file: string) => {
      if (!existsSync(file)) throw new UserError(`${file} does not exist; pass the path of a database written by w2s.`);
      // Read the version without the read-only checks that refuse an old schema.
      const raw = new Database(file, { readonly: true, fileMustExist: true });
      let before: number;
      try {
        before = schemaVersion(raw);
      } finally {
        raw.close();
      }
      if (before === 0) throw new UserError(`${file} holds no w2s tables; pass the path of a database written by w2s.`);
      openStore(file).close();
      process.stdout.write(before === SCHEMA_VERSION ? `${file} is already at schema ${SCHEMA_VERSION}.\n` : `${file}: schema ${before} → ${SCHEMA_VERSION}.\n`);
    });
}
