import Database from 'better-sqlite3';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../errors.js';
import { W2S_VERSION } from '../version.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export type DB = Database.Database;

/**
 * PRAGMA application_id of every w2s file: 0x77327331, "w2s1" in ASCII. Stamped when a file is created or migrated, so
 * w2s can tell its own files from another program's SQLite database before it writes anything to one. Files from w2s
 * before the stamp (application_id 0 with w2s's schema_migrations and meta tables) are still accepted, and stamped.
 */
export const W2S_APPLICATION_ID = 0x77327331;

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
  // Another program's database is refused before anything (the WAL switch, a migration) touches it.
  // (A WAL-mode file's content may all be in its -wal file while the main file is still empty.)
  if (file !== ':memory:' && existsSync(file) && (statSync(file).size > 0 || existsSync(`${file}-wal`))) probeOwnership(file, !readonly);
  const db = connect(file, readonly);
  if (readonly && file !== ':memory:') sweepOnClose(db, file);
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

/**
 * Checks who owns a file through a connection of its own that only reads and leaves no trace. Read-only when a WAL or
 * rollback journal is there (a read-write connection would checkpoint a foreign WAL into the file on close, or roll a
 * hot journal back); otherwise read-write, whose close removes the -wal and -shm files it had to create to read a
 * WAL-mode file (a read-only connection would leave them behind).
 */
function probeOwnership(file: string, forWriting: boolean): void {
  const probe = connect(file, existsSync(`${file}-wal`) || existsSync(`${file}-journal`));
  try {
    checkOwnership(probe, file, forWriting);
  } finally {
    probe.close();
  }
}

/**
 * A read-only connection leaves nothing next to the file. Reading a WAL-mode file takes its -wal and -shm files; with
 * no writer there, the reader creates them, and being read-only it cannot checkpoint, so SQLite leaves them behind on
 * close. So when there was no -wal at open, closing hands the cleanup to a read-write connection that only reads:
 * SQLite's last connection to close checkpoints (nothing, or what a run that came and went meanwhile committed) and
 * removes both files, and while another connection still has the file open (a live run) it leaves them to that one, so
 * a live writer's -shm is never touched. (`immutable=1` would create nothing, but reads torn pages if a run starts
 * meanwhile.) A -wal there at open (a live run, or one that crashed) is left as found; while a run writes the file the
 * reader shares its -wal and -shm and sees every committed row.
 */
function sweepOnClose(db: DB, file: string): void {
  if (existsSync(`${file}-wal`)) return;
  const close = db.close.bind(db);
  Object.defineProperty(db, 'close', {
    configurable: true,
    writable: true,
    value: (): DB => {
      close();
      sweep(file);
      return db;
    },
  });
}

function sweep(file: string): void {
  // A hot rollback journal would be rolled back by a read-write connection: a write this reader must not make.
  if (!(existsSync(`${file}-wal`) || existsSync(`${file}-shm`)) || existsSync(`${file}-journal`)) return;
  let rw: DB | undefined;
  try {
    rw = new Database(file, { fileMustExist: true, timeout: 1_000 });
    rw.prepare('SELECT 1 FROM sqlite_master LIMIT 1').get();
  } catch {
    // A file or folder this user may not write, or a lock held past the timeout: the files stay, as they always did.
  } finally {
    try {
      rw?.close();
    } catch {
      /* nothing more to clean */
    }
  }
}

function connect(file: string, readonly: boolean): DB {
  try {
    return new Database(file, { readonly, fileMustExist: readonly });
  } catch (e) {
    throw new UserError(`Cannot open database ${file}: ${(e as Error).message}.`, { cause: e });
  }
}

/**
 * Refuses a database that is neither empty nor a w2s file: one stamped with W2S_APPLICATION_ID, or an older w2s file
 * (unstamped, with schema_migrations and meta.w2s_version). Reads only.
 */
function checkOwnership(db: DB, file: string, forWriting: boolean): void {
  let appId: number;
  let tables: string[];
  try {
    appId = Number(db.pragma('application_id', { simple: true }));
    tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  } catch (e) {
    if ((e as { code?: string }).code === 'SQLITE_NOTADB') {
      throw new UserError(`File ${file} is not a SQLite database; pass the path of a file written by w2s.`, { cause: e });
    }
    throw e;
  }
  if (appId === W2S_APPLICATION_ID) return;
  if (appId === 0 && (tables.length === 0 || (tables.includes('schema_migrations') && metaValue(db, 'w2s_version') !== undefined))) return;
  const shown = tables.length > 8 ? [...tables.slice(0, 8), `and ${tables.length - 8} more`] : tables;
  const what = tables.length ? `it holds tables of another program: ${shown.join(', ')}` : `its application id is ${appId}, not w2s's`;
  throw new UserError(`Database ${file} is not a w2s file (${what}); ${forWriting ? 'choose a new file, or one written by w2s' : 'pass the path of a file written by w2s'}.`);
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
  if (readonly && version === 0) throw new UserError(`Database ${file} is empty (it holds no w2s tables); pass the path of a file written by w2s.`);
  if (readonly) throw new UserError(`Database ${file} has schema version ${version}, older than ${SCHEMA_VERSION}; run \`w2s db migrate ${file}\` (or w2s run with it as --out) to bring it up to date.`);
  const apply = db.transaction(() => {
    // Read again under the write lock: another process opening the same new file may have migrated it meanwhile.
    const from = currentVersion(db);
    if (from >= SCHEMA_VERSION) return;
    // Stamped in the same transaction as the schema: a file holding w2s tables is always a marked w2s file.
    db.pragma(`application_id = ${W2S_APPLICATION_ID}`);
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
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
