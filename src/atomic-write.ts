import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { UserError } from './errors.js';

/** Writes `text` to `file` via a temp file and rename: a reader (or a crash) never sees half a file. */
export function atomicWrite(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UserError(`Cannot write ${file}: ${(e as Error).message}; check that its folder exists and is writable.`, { cause: e });
  }
}
