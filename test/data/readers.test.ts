import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DataFileError, parseCsv, parseJsonArray, parseJsonl, readRecords, type RawRecord } from '../../src/data/readers.js';
import { isUserError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const FIX = join(import.meta.dirname, '../../datasets/fixtures');

async function readAll(file: string): Promise<RawRecord[]> {
  return [...(await readRecords(file))];
}

/** Asserts that fn throws a DataFileError for `file` at `line` whose message matches `pattern`. */
async function assertDataError(fn: () => unknown, file: string, line: number | undefined, pattern: RegExp): Promise<void> {
  await assert.rejects(async () => fn(), (e: unknown) => {
    assert.ok(e instanceof DataFileError, `expected DataFileError, got ${String(e)}`);
    assert.ok(isUserError(e));
    assert.equal(e.file, file);
    assert.equal(e.line, line);
    assert.match(e.message, pattern);
    assert.ok(e.message.startsWith(file), 'the message names the file');
    if (line !== undefined) assert.ok(e.message.includes(`line ${line}`), 'the message names the line');
    return true;
  });
}

const dir = tempDir('w2s-readers-');

describe('JSON array', () => {
  test('yields each element with its index and the line it starts on', () => {
    const text = '[\n  {"a": 1},\n  {"a": "x,]}[{",\n   "b": [1, 2]},\n  3\n]\n';
    const rows = [...parseJsonArray(text, 'f.json')];
    assert.deepEqual(rows, [
      { value: { a: 1 }, file: 'f.json', line: 2, index: 0 },
      { value: { a: 'x,]}[{', b: [1, 2] }, file: 'f.json', line: 3, index: 1 },
      { value: 3, file: 'f.json', line: 5, index: 2 },
    ]);
  });

  test('handles escaped quotes and an empty array', () => {
    assert.deepEqual([...parseJsonArray('[{"q": "say \\"hi\\", \\\\"}]', 'f')].map((r) => r.value), [{ q: 'say "hi", \\' }]);
    assert.deepEqual([...parseJsonArray(' [ ] ', 'f')], []);
  });

  test('reads the SciQ-style fixture file', async () => {
    const rows = await readAll(join(FIX, 'sciq/test.json'));
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((r) => r.line), [2, 10, 18]);
    assert.equal((rows[1]!.value as { correct_answer: string }).correct_answer, 'electron');
  });

  test('a truncated file is an error at the line where the cut-off element starts', async () => {
    const file = join(FIX, 'malformed/sciq_truncated.json');
    await assertDataError(() => readAll(file), file, 10, /element 1 is cut off.*truncated/);
  });

  test('a malformed element is an error at its line', async () => {
    const file = join(FIX, 'malformed/sciq_bad_element.json');
    // The element starts on line 10; V8 reports the position of the stray string, on line 13.
    await assertDataError(() => readAll(file), file, 13, /element 1 is not valid JSON/);
  });

  test('structural errors name the line', () => {
    assert.throws(() => [...parseJsonArray('{"a": 1}', 'f')], /f line 1: expected a JSON array/);
    assert.throws(() => [...parseJsonArray('[1,\n2,\n]', 'f')], /f line 3: a trailing comma/);
    assert.throws(() => [...parseJsonArray('[1]\n\nx', 'f')], /f line 3: unexpected text after/);
    assert.throws(() => [...parseJsonArray('[1,\n', 'f')], /f line 2: the JSON array ends without/);
  });

  test('a caller that stops early never sees errors later in the file', () => {
    const it = parseJsonArray('[1, 2, {oops', 'f');
    const first = it.next();
    assert.deepEqual(first.value, { value: 1, file: 'f', line: 1, index: 0 });
  });
});

describe('JSON lines', () => {
  test('skips blank lines, accepts CRLF, and numbers lines from 1', () => {
    const rows = [...parseJsonl('{"a":1}\r\n\n  \n{"a":2}', 'f.jsonl')];
    assert.deepEqual(rows, [
      { value: { a: 1 }, file: 'f.jsonl', line: 1, index: 0 },
      { value: { a: 2 }, file: 'f.jsonl', line: 4, index: 1 },
    ]);
  });

  test('reads a gzipped file (.jsonl.gz)', async () => {
    const rows = await readAll(join(FIX, 'anthropic_hh/harmless-base_test.jsonl.gz'));
    assert.equal(rows.length, 4);
    assert.match((rows[0]!.value as { chosen: string }).chosen, /^\n\nHuman: How do I bake bread\?/);
    assert.deepEqual(rows.map((r) => r.line), [1, 2, 3, 4]);
  });

  test('detects gzip by its magic bytes whatever the name', async () => {
    const file = join(dir, 'rows.jsonl');
    await writeFile(file, gzipSync('{"x": 1}\n{"x": 2}\n'));
    assert.deepEqual((await readAll(file)).map((r) => r.value), [{ x: 1 }, { x: 2 }]);
  });

  test('a .json file holding JSON lines is read as JSON lines', async () => {
    const file = join(dir, 'hf-export.json');
    await writeFile(file, '{"x": 1}\n{"x": 2}\n');
    assert.deepEqual((await readAll(file)).map((r) => r.value), [{ x: 1 }, { x: 2 }]);
  });

  test('a bad line is an error at that line', async () => {
    const file = join(FIX, 'malformed/boolq_bad_line.jsonl');
    await assertDataError(() => readAll(file), file, 3, /not valid JSON/);
  });

  test('a truncated last line says the file may be truncated', async () => {
    const file = join(FIX, 'malformed/boolq_truncated.jsonl');
    await assertDataError(() => readAll(file), file, 4, /not valid JSON.*truncated/);
  });

  test('a truncated gzip stream is a file-level error', async () => {
    const file = join(FIX, 'malformed/hh_truncated.jsonl.gz');
    await assertDataError(() => readAll(file), file, undefined, /not a complete gzip stream.*truncated/);
  });

  test('a .gz name on an uncompressed file is an error', async () => {
    const file = join(FIX, 'malformed/not_gzip.jsonl.gz');
    await assertDataError(() => readAll(file), file, undefined, /named \.gz but is not gzip-compressed/);
  });
});

describe('CSV', () => {
  test('quoted fields with commas, doubled quotes and line breaks; CRLF; no final newline', async () => {
    const rows = await readAll(join(FIX, 'cosmos_qa/valid.csv'));
    assert.equal(rows.length, 4);
    assert.deepEqual(rows.map((r) => r.line), [2, 4, 5, 6]);
    const first = rows[0]!.value as Record<string, string>;
    assert.equal(first.context, 'My friend said "hi", then left.\nI was confused , so I called her .');
    assert.equal(first.label, '0');
    assert.equal((rows[2]!.value as Record<string, string>).answer2, 'It wanted to play , maybe .');
    assert.equal((rows[3]!.value as Record<string, string>).label, '0');
  });

  test('empty fields, a quoted empty field and skipped empty lines', () => {
    const rows = [...parseCsv('a,b,c\n\n1,,""\n,"x",\n', 'f.csv')];
    assert.deepEqual(rows.map((r) => r.value), [
      { a: '1', b: '', c: '' },
      { a: '', b: 'x', c: '' },
    ]);
    assert.deepEqual(rows.map((r) => r.line), [3, 4]);
  });

  test('an unclosed quote is an error at the line where the field opens', async () => {
    const file = join(FIX, 'malformed/cosmos_unclosed_quote.csv');
    await assertDataError(() => readAll(file), file, 3, /quoted field is never closed.*truncated/);
  });

  test('a row with the wrong number of fields is an error at its line', async () => {
    const file = join(FIX, 'malformed/cosmos_wrong_fields.csv');
    await assertDataError(() => readAll(file), file, 3, /row 1 has 7 fields but the header has 8/);
  });

  test('a quote inside an unquoted field is an error', async () => {
    const file = join(FIX, 'malformed/cosmos_stray_quote.csv');
    await assertDataError(() => readAll(file), file, 3, /quote inside an unquoted field/);
  });

  test('text after a closing quote and a repeated header are errors', () => {
    assert.throws(() => [...parseCsv('a,b\n"x"y,1\n', 'f')], /f line 2: unexpected text after a closing quote/);
    assert.throws(() => [...parseCsv('a,a\n1,2\n', 'f')], /f line 1: the header names column "a" twice/);
  });

  test('the line count continues correctly after multi-line fields', () => {
    const rows = [...parseCsv('h1,h2\n"a\nb\nc",1\r\nx,"y\r\nz"\nlast,2', 'f')];
    assert.deepEqual(rows.map((r) => r.line), [2, 5, 7]);
    assert.deepEqual(rows[1]!.value, { h1: 'x', h2: 'y\r\nz' });
  });
});

describe('files', () => {
  test('a missing file is an error naming it', async () => {
    const file = join(dir, 'nope.jsonl');
    await assertDataError(() => readAll(file), file, undefined, /does not exist/);
  });

  test('an unknown extension is sniffed, or rejected when it cannot be told', async () => {
    const arr = join(dir, 'data.txt');
    await writeFile(arr, '[{"x": 1}]');
    assert.deepEqual((await readAll(arr)).map((r) => r.value), [{ x: 1 }]);
    const other = join(dir, 'data.dat');
    await writeFile(other, 'x,y\n1,2\n');
    await assertDataError(() => readAll(other), other, undefined, /unknown format/);
    assert.deepEqual((await readRecords(other, { format: 'csv' }))[Symbol.iterator]().next().value?.value, { x: '1', y: '2' });
  });
});
