import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/store/migrations.js';

/**
 * A database as an older w2s left it: the migrations up to `version` applied, w2s 0.9.0 in meta, and one completed run
 * `runId` with no config. Returns the raw connection, still open, for the test to add its rows; the caller closes it.
 */
export function databaseAtSchema(file: string, version: number, runId = 'r'): Database.Database {
  const raw = new Database(file);
  raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  for (const m of MIGRATIONS.filter((m) => m.version <= version)) {
    raw.exec(m.sql);
    raw.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, 'x');
  }
  raw.prepare("INSERT INTO meta (key, value) VALUES ('w2s_version', '0.9.0')").run();
  raw.prepare("INSERT INTO runs (id, config_json, config_hash, w2s_version, status, created_at, updated_at) VALUES (?, '{}', 'h', '0.9.0', 'completed', 'x', 'x')").run(runId);
  return raw;
}
