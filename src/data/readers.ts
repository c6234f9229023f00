import { open, readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../errors.js';

/**
 * Readers for the release formats the datasets ship in: a JSON array, JSON lines, CSV with a header row, any of them
 * gzipped, and parquet (what the Hugging Face hub serves). Each record carries where it starts, so a bad row can be
 * reported as file + line (parquet has no lines: there it is file + row).
 */

export type RecordFormat = 'json' | 'jsonl' | 'csv' | 'parquet';

export interface RawRecord {
  /** The parsed value: any JSON value for json/jsonl, a header-keyed object of strings for csv. */
  value: unknown;
  file: string;
  /** 1-based line where the record starts; for parquet, which has no lines, the 0-based row number (= index). */
  line: number;
  /** 0-based record index (JSON array element, non-blank JSONL line, CSV data row). */
  index: number;
  /** Set on a parquet file's records (found by its magic bytes, whatever its name): `line` is a row number. */
  parquet?: true;
}

/**
 * A malformed or unreadable data file. `line` is absent when the problem is the whole file (e.g. bad gzip); with
 * `parquet` it is a row number, and the message says "row".
 */
export class DataFileError extends UserError {
  readonly file: string;
  readonly line: number | undefined;
  constructor(file: string, line: number | undefined, problem: string, options?: { cause?: unknown; parquet?: boolean }) {
    super(`${file}${line === undefined ? '' : ` ${options?.parquet ? 'row' : 'line'} ${line}`}: ${problem}`, options);
    this.file = file;
    this.line = line;
  }
}

/** A problem with one record, located by line, or by row for parquet. */
export function recordError(record: RawRecord, problem: string): DataFileError {
  return new DataFileError(record.file, record.line, problem, { parquet: record.parquet });
}

/** Parquet files are named .parquet (the hub's are); a file so named must be parquet. */
function isParquetName(file: string): boolean {
  return /\.parquet$/i.test(file);
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

/** Bytes → text: gunzips when the magic bytes say gzip (whatever the name), then decodes strict UTF-8, drops a BOM. */
function decodeBytes(bytes: Uint8Array, file: string): string {
  let raw = bytes;
  if (isGzip(bytes)) {
    try {
      raw = gunzipSync(bytes);
    } catch (e) {
      throw new DataFileError(file, undefined, `is not a complete gzip stream (${(e as Error).message}); is the file truncated?`, { cause: e });
    }
  } else if (/\.gz$/i.test(file)) {
    throw new DataFileError(file, undefined, 'is named .gz but is not gzip-compressed; rename it or compress it');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch (e) {
    throw new DataFileError(file, undefined, 'is not UTF-8 text', { cause: e });
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * The format from the name (with any .gz stripped); a `.json` file whose first character is `{` is JSON lines (what
 * Hugging Face's to_json writes); an unknown extension is sniffed from the first character.
 */
function detectFormat(file: string, text: string): Exclude<RecordFormat, 'parquet'> {
  const name = file.replace(/\.gz$/i, '').toLowerCase();
  const first = text.match(/\S/)?.[0];
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  if (name.endsWith('.json')) return first === '{' ? 'jsonl' : 'json';
  if (first === '[') return 'json';
  if (first === '{') return 'jsonl';
  throw new DataFileError(file, undefined, 'has an unknown format; name it .json (array), .jsonl (JSON lines) or .csv (with a header row), optionally .gz, or give a .parquet file');
}

export interface ReadOptions {
  /** Overrides detection by name and content. */
  format?: RecordFormat;
}

/**
 * Reads a whole file (gzipped or not) and returns its records lazily, in file order. A parquet file (found by its
 * magic bytes, whatever its name) is read row group by row group; its rows are decoded before this returns.
 */
export async function readRecords(file: string, options: ReadOptions = {}): Promise<Iterable<RawRecord>> {
  if (options.format === 'parquet' || (options.format === undefined && (await hasParquetMagic(file)))) return readParquet(file);
  if (options.format === undefined && isParquetName(file)) {
    throw new DataFileError(file, undefined, 'is named .parquet but is not a parquet file (it does not start with "PAR1"); is it truncated or misnamed?');
  }
  const text = await readTextFile(file);
  return parseRecords(text, file, options.format ?? detectFormat(file, text));
}

/** A whole file as text (gunzipped when gzip, strict UTF-8, no BOM); a missing or unreadable file is one sentence. */
export async function readTextFile(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw unreadable(file, e);
  }
  return decodeBytes(bytes, file);
}

function unreadable(file: string, e: unknown): DataFileError {
  const code = (e as NodeJS.ErrnoException).code;
  return new DataFileError(file, undefined, code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (e as Error).message})`, { cause: e });
}

function parseRecords(text: string, file: string, format: Exclude<RecordFormat, 'parquet'>): Iterable<RawRecord> {
  switch (format) {
    case 'json':
      return parseJsonArray(text, file);
    case 'jsonl':
      return parseJsonl(text, file);
    case 'csv':
      return parseCsv(text, file);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parquet

const PARQUET_MAGIC = 'PAR1';

/** True when the file starts with parquet's magic bytes. */
async function hasParquetMagic(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    throw unreadable(file, e);
  }
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return bytesRead === 4 && head.toString('latin1') === PARQUET_MAGIC;
  } finally {
    await handle.close();
  }
}

/**
 * A parquet file's rows as records, read with hyparquet one row group at a time (the file is never in memory whole;
 * its decoded rows are). Snappy and uncompressed pages are read, which is what the hub's files use. Values become
 * what JSON would give: int64 (BigInt) as a number when it is a safe integer (else its decimal string), dates as ISO
 * strings; booleans stay booleans. `line` is the 0-based row number, the same as `index`, and errors say "row".
 */
async function readParquet(file: string): Promise<RawRecord[]> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  const fail = (e: unknown, at?: number): DataFileError =>
    new DataFileError(file, at, `cannot be read as parquet (${(e as Error).message}); is the file truncated, or compressed with a codec other than snappy?`, { cause: e, parquet: true });
  let buffer;
  let metadata;
  try {
    buffer = await asyncBufferFromFile(file);
    metadata = await parquetMetadataAsync(buffer);
  } catch (e) {
    throw fail(e);
  }
  const records: RawRecord[] = [];
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd });
    } catch (e) {
      throw fail(e, rowStart);
    }
    for (const row of rows) {
      const index = records.length;
      records.push({ value: plainValue(row), file, line: index, index, parquet: true });
    }
    rowStart = rowEnd;
  }
  return records;
}

/** A decoded parquet value as JSON would hold it (see readParquet). */
function plainValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(plainValue);
  if (ArrayBuffer.isView(value)) {
    // A typed array of numbers (a list column) becomes a plain array; raw bytes stay bytes.
    return value instanceof Uint8Array ? value : Array.from(value as unknown as ArrayLike<number | bigint>, plainValue);
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainValue(v);
    return out;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON array

const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Walks a top-level JSON array element by element: a light scan finds each element's extent (strings, escapes,
 * nesting) and the line it starts on, then JSON.parse checks the element. A 10 MB file never becomes one huge parse
 * error, and a caller that stops early skips parsing the rest.
 */
export function* parseJsonArray(text: string, file: string): Generator<RawRecord> {
  let pos = 0;
  let line = 1;
  const n = text.length;
  const skipWs = (): void => {
    while (pos < n && isWs(text.charCodeAt(pos))) {
      if (text.charCodeAt(pos) === 0x0a) line++;
      pos++;
    }
  };
  skipWs();
  if (text[pos] !== '[') throw new DataFileError(file, line, 'expected a JSON array starting with "["');
  pos++;
  let index = 0;
  for (;;) {
    skipWs();
    if (pos >= n) throw new DataFileError(file, line, 'the JSON array ends without "]"; is the file truncated?');
    if (text[pos] === ']') {
      if (index > 0) throw new DataFileError(file, line, 'a trailing comma before "]" is not valid JSON');
      break;
    }
    const start = pos;
    const startLine = line;
    let depth = 0;
    let inString = false;
    let ended = false;
    for (; pos < n; pos++) {
      const c = text.charCodeAt(pos);
      if (c === 0x0a) line++;
      if (inString) {
        if (c === 0x5c) pos++; // backslash: skip the escaped char (an escaped newline is invalid JSON anyway)
        else if (c === 0x22) inString = false;
        continue;
      }
      if (c === 0x22) inString = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (depth === 0) { ended = true; break; } // the array's own "]"
        depth--;
      } else if (c === 0x2c && depth === 0) { ended = true; break; }
    }
    if (!ended) {
      throw new DataFileError(file, startLine, `element ${index} is cut off by the end of the file; is the file truncated?`);
    }
    const slice = text.slice(start, pos);
    let value: unknown;
    try {
      value = JSON.parse(slice);
    } catch (e) {
      throw new DataFileError(file, errorLine(slice, startLine, e), `element ${index} is not valid JSON (${(e as Error).message})`, { cause: e });
    }
    yield { value, file, line: startLine, index };
    index++;
    if (text[pos] === ',') {
      pos++;
      continue;
    }
    if (text[pos] !== ']') throw new DataFileError(file, line, `expected "," or "]" after element ${index - 1}`);
    break;
  }
  pos++; // past "]"
  skipWs();
  if (pos < n) throw new DataFileError(file, line, 'unexpected text after the end of the JSON array');
}

/** The line of a JSON.parse error when V8 reports a position, else the element's first line. */
function errorLine(slice: string, startLine: number, e: unknown): number {
  const m = /position (\d+)/.exec((e as Error).message);
  if (!m) return startLine;
  const at = Math.min(Number(m[1]), slice.length);
  let line = startLine;
  for (let i = 0; i < at; i++) if (slice.charCodeAt(i) === 0x0a) line++;
  return line;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON lines

/** One JSON value per line; blank lines are skipped; CRLF is accepted. */
export function* parseJsonl(text: string, file: string): Generator<RawRecord> {
  let pos = 0;
  let line = 0;
  let index = 0;
  while (pos < text.length) {
    line++;
    let end = text.indexOf('\n', pos);
    const last = end === -1;
    if (last) end = text.length;
    const content = text.slice(pos, end);
    pos = end + 1;
    if (content.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (e) {
      const hint = last ? '; the last line has no newline: is the file truncated?' : '';
      throw new DataFileError(file, line, `not valid JSON (${(e as Error).message})${hint}`, { cause: e });
    }
    yield { value, file, line, index };
    index++;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CSV (RFC 4180)

/**
 * CSV with a header row, per RFC 4180: fields separated by commas, records by CRLF or LF; a field that holds commas,
 * quotes or line breaks is quoted and its quotes doubled. Strict: a quote inside an unquoted field, text after a
 * closing quote, an unclosed quote or a row with the wrong number of fields is an error naming the line. Fully empty
 * lines between records are skipped. Each record becomes an object keyed by the header.
 */
export function* parseCsv(text: string, file: string): Generator<RawRecord> {
  let header: string[] | undefined;
  let index = 0;
  for (const { fields, line } of csvRows(text, file)) {
    if (!header) {
      const seen = new Set<string>();
      for (const h of fields) {
        if (seen.has(h)) throw new DataFileError(file, line, `the header names column "${h}" twice`);
        seen.add(h);
      }
      header = fields;
      continue;
    }
    if (fields.length !== header.length) {
      throw new DataFileError(file, line, `row ${index} has ${fields.length} fields but the header has ${header.length}`);
    }
    const value: Record<string, string> = {};
    header.forEach((h, i) => (value[h] = fields[i]!));
    yield { value, file, line, index };
    index++;
  }
}

function* csvRows(text: string, file: string): Generator<{ fields: string[]; line: number }> {
  const n = text.length;
  let pos = 0;
  let line = 1;
  while (pos < n) {
    // A fully empty line is not a record.
    if (text[pos] === '\n') { pos++; line++; continue; }
    if (text[pos] === '\r' && text[pos + 1] === '\n') { pos += 2; line++; continue; }
    const startLine = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[pos] === '"') {
        const quoteLine = line;
        pos++;
        for (;;) {
          const q = text.indexOf('"', pos);
          if (q === -1) {
            throw new DataFileError(file, quoteLine, 'a quoted field is never closed; is the file truncated?');
          }
          field += text.slice(pos, q);
          pos = q + 1;
          if (text[pos] === '"') { field += '"'; pos++; continue; } // doubled quote
          break;
        }
        for (const ch of field) if (ch === '\n') line++;
        const c = text[pos];
        if (pos < n && c !== ',' && c !== '\n' && !(c === '\r' && text[pos + 1] === '\n')) {
          throw new DataFileError(file, line, 'unexpected text after a closing quote; double quotes inside a quoted field ("")');
        }
      } else {
        let end = pos;
        while (end < n) {
          const c = text[end];
          if (c === ',' || c === '\n' || (c === '\r' && text[end + 1] === '\n')) break;
          if (c === '"') throw new DataFileError(file, line, 'a quote inside an unquoted field; quote the whole field and double its quotes');
          end++;
        }
        field = text.slice(pos, end);
        pos = end;
      }
      fields.push(field);
      if (text[pos] === ',') { pos++; continue; }
      // End of record: newline or end of file.
      if (text[pos] === '\r') pos++;
      if (text[pos] === '\n') { pos++; line++; }
      break;
    }
    yield { fields, line: startLine };
  }
}
