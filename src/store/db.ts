import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../errors.js';
import { W2S_VERSION } from '../version.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export type DB = Database.Database;

export interface OpenOptions {
  /** Open without writing anything (viewer, reports). The file must exist. */
  readonly?: boolean;
  /** Milliseconds to wait on a lock held by another connection. */
  busyTimeoutMs?: number;
}

/**
 * Opens (and, unless read-only, creates and migrates) a w2s SQLite file: WAL, busy timeout, foreign keys.
 * A file whose schema is newer than this w2s knows is refused.
 */
export function openDb(file: string, options: OpenOptions = {}): DB {
  const readonly = options.readonly ?? false;
  if (file !== ':memory:') {
    if (readonly && !existsSync(file)) throw new UserError(`Database ${file} does not exist; pass the path of a file written by w2s.`);
    if (!readonly) mkdirSync(dirname(file), { recursive: true });
  }
  let db: DB;
  try {
    db = new Database(file, { readonly, fileMustExist: readonly });
  } catch (e) {
    throw new UserError(`Cannot open database ${file}: ${(e as Error).message}.`, { cause: e });
  }
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    db.pragma('foreign_keys = ON');
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    checkAndMigrate(db, file, readonly);
  } catch (e) {
    db.close();
    // SQLite reads the header lazily: a non-SQLite file first fails on the journal_mode pragma.
    if ((e as { code?: string }).code === 'SQLITE_NOTADB') {
      throw new UserError(`File ${file} is not a SQLite database; pass the path of a file written by w2s.`, { cause: e });
    }
    throw e;
  }
  return db;
}

function currentVersion(db: DB): number {
  let hasTable: unknown;
  try {
    hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  } catch (e) {
    throw new UserError(`File is not a SQLite database: ${(e as Error).message}.`, { cause: e });
  }
  if (!hasTable) return 0;
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

function checkAndMigrate(db: DB, file: string, readonly: boolean): void {
  const version = currentVersion(db);
  if (version > SCHEMA_VERSION) {
    const writtenBy = version > 0 ? metaValue(db, 'w2s_version') : undefined;
    throw new UserError(
      `Database ${file} has schema version ${version}${writtenBy ? ` (written by w2s ${writtenBy})` : ''}, ` +
        `newer than this w2s ${W2S_VERSION} understands (${SCHEMA_VERSION}); upgrade w2s to open it.`,
    );
  }
  if (version === SCHEMA_VERSION) return;
  if (readonly) throw new UserError(`Database ${file} has schema version ${version}, older than ${SCHEMA_VERSION}; open it once without --readonly (any w2s command that writes) to migrate it.`);
  const apply = db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of MIGRATIONS) {
      if (m.version <= version) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
    }
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run('w2s_version', W2S_VERSION);
  });
  apply.immediate();
}

function metaValue(db: DB, key: string): string | undefined {
  try {
    const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  } catch {
    return undefined;
  }
}

export function schemaVersion(db: DB): number {
  return currentVersion(db);
}
