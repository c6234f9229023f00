import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { parseExperiment } from '../../src/config/load.js';
import { registerScript } from '../../src/models/adapters/scripted.js';
import type { GenerateRequest } from '../../src/models/types.js';
import { runExperiment } from '../../src/pipeline/run.js';
import { redactSecrets, secretRedactor } from '../../src/redact.js';
import { exportToFile } from '../../src/report/export.js';
import { openReport } from '../../src/report/queries.js';
import { findPromptsTarget, formatPrompts } from '../../src/report/show.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/index.js';
import { parseCsv } from '../helpers/csv.js';
import { crateRows, writeJsonl } from '../helpers/datasets.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const dir = tempDir('w2s-prompts-');
const KEY = 'sk-test-123456789012345678';
const CREDS_MODEL = 'openai:gpt@https://user:hunter2pass@llm.example.com/v1';

/** The real CLI, as a user runs it. */
async function w2s(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** What the scripted judge received and replied, by the prompt's text. */
const judgeSeen = new Map<string, { req: GenerateRequest; reply: string }>();
registerScript('pr-debater', {
  generate(req) {
    const last = req.messages.at(-1)!.content;
    const crate = Number(/crate (\d+)/.exec(last)?.[1]);
    // Crate 5's debater pastes an API key into its argument (it then reaches the next turn's and the judge's prompts).
    if (crate === 5) return `As configured with ${KEY}, the record stands.`;
    return /Your side: the proposed answer is correct/.test(last) ? `Crate ${crate} sits where the record says.` : `Crate ${crate} was moved.`;
  },
});
registerScript('pr-judge', {
  generate(req) {
    const prompt = req.messages.map((m) => m.content).join('\n');
    // Crates 0, 4, 8, ...: no verdict in the reply.
    const reply = Number(/crate (\d+)\?/.exec(prompt)?.[1]) % 4 === 0 ? 'Both debaters sound sure; I cannot tell.' : /A: The proposed answer is correct/.test(prompt) ? 'Answer: A' : 'Answer: B';
    judgeSeen.set(prompt, { req: structuredClone(req), reply });
    return reply;
  },
});

const db = join(dir, 'run.sqlite');
let unparsedExample: string;
let judgeCallId: number;

before(async () => {
  const data = writeJsonl(dir, 'crates.jsonl', crateRows(18, 7));
  const config = parseExperiment({
    name: 'prompts',
    seed: 2,
    dataset: { name: 'jsonl', path: data, sizes: { train_weak: 6, train_strong: 6, test: 6 } },
    debate: { protocol: 'debate', debaters: ['scripted:pr-debater'], turns: 2, samples: 1 },
    weak: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, ensemble: { kind: 'debate', size: 1 }, probe: { epochs: 2 } },
    strong: { features: { kind: 'hashed', dim: 64, ngrams: [1, 1] }, probe: { epochs: 2 } },
    judges: [{ name: 'j', model: 'scripted:pr-judge', method: 'parsed' }],
    metrics: { bootstrap: 100 },
  });
  const outcome = await runExperiment({ config, out: db, cacheFile: join(dir, 'cache.sqlite') });
  assert.equal(outcome.status, 'completed', outcome.reason);
  const s = openStore(db);
  try {
    unparsedExample = s.db.prepare("SELECT example_id FROM judgments WHERE method = 'unparsed' ORDER BY id LIMIT 1").pluck().get() as string;
    assert.ok(unparsedExample, 'some judgment has no verdict');
    // A judge reached through a URL with credentials in it (as an openai:…@https://user:key@host spec would be).
    judgeCallId = s.db.prepare("SELECT call_id FROM judgments WHERE example_id = 'item5' ORDER BY id LIMIT 1").pluck().get() as number;
    assert.ok(judgeCallId, 'crate 5 is judged');
    s.db.prepare('UPDATE calls SET model = ? WHERE id = ?').run(CREDS_MODEL, judgeCallId);
  } finally {
    s.close();
  }
});

/** A stored text as show --prompts prints it: every non-empty line indented by four spaces. */
const indented = (text: string): string => text.split('\n').map((l) => (l ? `    ${l}` : l)).join('\n');

test('show --prompts prints each judge call\'s exact prompt, its raw reply and "unparsed" for a reply with no verdict', () => {
  const q = openReport(db);
  try {
    const t = findPromptsTarget(q, unparsedExample);
    const judgments = t.entries.filter((e) => e.what === 'judgment');
    const turns = t.entries.filter((e) => e.what === 'turn');
    assert.equal(turns.length, 2);
    assert.equal(judgments.length, 2, 'both answer orders');
    const text = formatPrompts(t);
    for (const j of judgments) {
      assert.equal(j.what === 'judgment' && j.method, 'unparsed');
      const call = j.call!;
      assert.equal(call.recorded, true);
      const seen = judgeSeen.get(call.messages.map((m) => m.content).join('\n'))!;
      assert.ok(seen, 'the shown prompt is one the judge received');
      assert.deepEqual(call.messages, seen.req.messages);
      assert.equal(call.response, seen.reply);
      assert.ok(text.includes(`[user]\n${indented(seen.req.messages[0]!.content)}\n[reply, finish stop]\n${indented(seen.reply)}`), 'prompt and reply, verbatim');
    }
    assert.match(text, /--- Judge j · original order\nparse: unparsed \(no verdict in the reply, so no P\(correct\): the reply counts toward no mean\)\ncall \d+ · scripted:pr-judge · backend call/);
    assert.match(text, /--- Judge j · swapped order\nparse: unparsed/);
    assert.match(text, /--- Turn 1 · debater A \(argues (correct|incorrect)\)\ncall \d+ · scripted:pr-debater · backend call\nparams: \{"maxTokens":\d+,"temperature":[\d.]+,"seed":\d+\}\n\[system\]\n {4}You are a skilled debater/);
    // A debate id shows that transcript's calls only.
    const one = findPromptsTarget(q, t.transcripts[0]!.id);
    assert.equal(one.debateId, t.transcripts[0]!.id);
    assert.equal(one.entries.length, 4);
  } finally {
    q.close();
  }
});

test('w2s show --prompts from the CLI: text with parse statuses, and JSON', async () => {
  const r = await w2s('show', '--prompts', db, unparsedExample);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^run \S+ · example item\d+ · split \w+ · gold: /);
  assert.match(r.stdout, /parse: unparsed/);
  assert.match(r.stdout, /Reply with a single letter, A or B\.\n {4}Answer:\n\n\[reply, finish stop\]\n {4}Both debaters sound sure; I cannot tell\./);
  const parsed = await w2s('show', db, 'item5', '--prompts', '--json');
  assert.equal(parsed.code, 0, parsed.stderr);
  const j = JSON.parse(parsed.stdout) as { entries: { what: string; method?: string; call: { messages: unknown[]; response: string } }[] };
  assert.ok(j.entries.some((e) => e.what === 'judgment' && (e.method === 'parsed' || e.method === 'unparsed')));
  assert.ok(j.entries.every((e) => e.call.messages.length > 0 && typeof e.call.response === 'string'));
});

test('secrets are redacted wherever prompts are shown or exported, and stored as sent', async () => {
  const q = openReport(db);
  try {
    const text = formatPrompts(findPromptsTarget(q, 'item5'));
    assert.ok(!text.includes(KEY), 'the planted key is not shown');
    assert.ok(!text.includes('hunter2pass'), 'the URL credentials are not shown');
    assert.match(text, /As configured with sk-\[redacted\], the record stands\./);
    assert.match(text, /call \d+ · openai:gpt@https:\/\/\[redacted\]@llm\.example\.com\/v1 · /);
    // The database keeps the exact texts; only what leaves it is redacted.
    assert.ok((q.db.prepare('SELECT COUNT(*) FROM texts WHERE instr(text, ?) > 0').pluck().get(KEY) as number) > 0);
  } finally {
    q.close();
  }
  const cli = await w2s('show', '--prompts', db, 'item5');
  assert.equal(cli.code, 0, cli.stderr);
  assert.ok(!cli.stdout.includes(KEY) && !cli.stdout.includes('hunter2pass'));
  for (const format of ['jsonl', 'csv'] as const) {
    const out = join(dir, `calls-secrets.${format}`);
    await exportToFile(db, { what: 'calls', format, out });
    const body = readFileSync(out, 'utf8');
    assert.ok(!body.includes(KEY), `${format}: no key`);
    assert.ok(!body.includes('hunter2pass'), `${format}: no URL credentials`);
    assert.ok(body.includes('sk-[redacted]') && body.includes('https://[redacted]@llm.example.com/v1'));
  }
});

test('the redaction function: URL userinfo, sk- keys, Bearer tokens, environment secrets; ordinary text untouched', () => {
  assert.equal(redactSecrets('openai:gpt@https://user:key@host/v1', {}), 'openai:gpt@https://[redacted]@host/v1');
  assert.equal(redactSecrets('see http://token@10.0.0.1:8000/v1 and ftp://a:b@c', {}), 'see http://[redacted]@10.0.0.1:8000/v1 and ftp://[redacted]@c');
  assert.equal(redactSecrets(`key ${KEY}.`, {}), 'key sk-[redacted].');
  assert.equal(redactSecrets('sk-proj-AbCdEfGhIjKlMnOpQrSt_uv', {}), 'sk-[redacted]');
  assert.equal(redactSecrets('Authorization: Bearer abc.DEF-123_456', {}), 'Authorization: Bearer [redacted]');
  assert.equal(redactSecrets('hf_abcdefghijklmnopqrstuvwxyz and ghp_abcdefghijklmnopqrstuvwxyz0123', {}), 'hf_[redacted] and gh_[redacted]');
  assert.equal(redactSecrets('my token is zq9-very-secret', { MY_API_KEY: 'zq9-very-secret' }), 'my token is [redacted:MY_API_KEY]');
  const plain = 'The task-specific answer: sk- is not a key, nor is https://example.com/path@v2 or "Bearer" alone.';
  assert.equal(redactSecrets(plain, {}), plain);
  const many = secretRedactor({ A_TOKEN: 'tok-1234' });
  assert.equal(many('x tok-1234 y'), 'x [redacted:A_TOKEN] y');
});

test('export --what calls carries each call\'s params, messages and raw reply (JSONL and CSV); --no-texts leaves them out', async () => {
  const s = openStore(db, { readonly: true });
  const callCount = s.db.prepare('SELECT COUNT(*) FROM calls').pluck().get() as number;
  const judgeIds = s.db.prepare('SELECT call_id FROM judgments').pluck().all() as number[];
  s.close();
  const jsonl = join(dir, 'calls.jsonl');
  assert.equal(await exportToFile(db, { what: 'calls', format: 'jsonl', out: jsonl }), callCount);
  const rows = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: number; role: string; cache_hit: boolean; params: Record<string, unknown>; messages: { role: string; content: string }[]; response: string });
  const byId = new Map(rows.map((r) => [r.id, r]));
  let checked = 0;
  for (const id of judgeIds) {
    const r = byId.get(id)!;
    const seen = judgeSeen.get(r.messages.map((m) => m.content).join('\n'));
    if (r.messages.some((m) => m.content.includes('sk-[redacted]'))) continue; // redacted on the way out
    assert.ok(seen, 'the exported messages are the judge\'s prompt');
    assert.deepEqual(r.messages, seen.req.messages);
    assert.equal(r.response, seen.reply);
    assert.deepEqual(r.params, { maxTokens: seen.req.maxTokens, temperature: seen.req.temperature, seed: seen.req.seed });
    checked++;
  }
  assert.ok(checked >= 20);
  assert.equal(typeof rows[0]!.cache_hit, 'boolean');

  const csv = join(dir, 'calls.csv');
  await exportToFile(db, { what: 'calls', format: 'csv', out: csv });
  const table = parseCsv(readFileSync(csv, 'utf8')).rows;
  const header = table[0]!;
  assert.deepEqual(header.slice(-3), ['params_json', 'messages_json', 'response']);
  const judgeRow = table.find((r) => Number(r[0]) === judgeIds[0])!;
  assert.deepEqual(JSON.parse(judgeRow[header.indexOf('messages_json')]!), byId.get(judgeIds[0]!)!.messages);
  assert.equal(judgeRow[header.indexOf('response')], byId.get(judgeIds[0]!)!.response);

  const slim = join(dir, 'slim.jsonl');
  await exportToFile(db, { what: 'calls', format: 'jsonl', out: slim, texts: false });
  const first = JSON.parse(readFileSync(slim, 'utf8').split('\n')[0]!) as Record<string, unknown>;
  assert.ok(!('messages' in first) && !('response' in first) && !('params' in first));
  const cli = await w2s('export', db, '--what', 'calls', '--no-texts', '--format', 'csv');
  assert.equal(cli.code, 0, cli.stderr);
  assert.ok(!cli.stdout.split('\r\n')[0]!.includes('messages_json'));
});

test('a version-4 database, once migrated, shows and exports its calls as "not recorded" instead of failing', async () => {
  const f = join(dir, 'v4.sqlite');
  const raw = new Database(f);
  raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  for (const m of MIGRATIONS.filter((m) => m.version <= 4)) {
    raw.exec(m.sql);
    raw.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, 'x');
  }
  raw.pragma('application_id = 0x77327331');
  raw.prepare("INSERT INTO meta (key, value) VALUES ('w2s_version', '0.9.0')").run();
  raw.prepare("INSERT INTO runs (id, config_json, config_hash, w2s_version, status, created_at, updated_at) VALUES ('r', '{}', 'h', '0.9.0', 'completed', 'x', 'x')").run();
  raw.prepare("INSERT INTO examples (run_id, id, split, text, label, question, answer) VALUES ('r', 'old1', 'test', 't', 1, 'Which shelf?', 'shelf 1')").run();
  const call = raw.prepare("INSERT INTO calls (run_id, role, model, kind, request_hash, cache_hit, attempts, latency_ms, created_at) VALUES ('r', ?, ?, 'generate', ?, 0, 1, 3, 'x')");
  call.run('debater', 'scripted:d', 'k1');
  call.run('judge', CREDS_MODEL, 'k2');
  raw.prepare("INSERT INTO debates (id, run_id, example_id, protocol, sample, seed, sides_json, status, created_at) VALUES ('d1', 'r', 'old1', 'consultancy', 0, 1, '{\"A\":\"correct\"}', 'completed', 'x')").run();
  raw.prepare("INSERT INTO turns (debate_id, idx, speaker, side, text, word_count, prompt_hash, call_id, created_at) VALUES ('d1', 0, 'A', 'correct', 'It holds.', 2, 'p', 1, 'x')").run();
  raw.prepare("INSERT INTO judgments (run_id, example_id, judge, debate_id, order_swapped, p_correct, method, raw_text, call_id, created_at) VALUES ('r', 'old1', 'j', 'd1', 0, 0.5, 'unparsed', 'hmm', 2, 'x')").run();
  raw.close();
  openStore(f).close(); // a writing command (w2s run --out) migrates it

  const q = openReport(f);
  try {
    const text = formatPrompts(findPromptsTarget(q, 'old1'));
    assert.equal(text.match(/messages and reply: not recorded \(run made before w2s stored prompts\)/g)?.length, 2);
    assert.match(text, /--- Judge j · original order\nparse: unparsed/);
    assert.ok(!text.includes('hunter2pass'));
  } finally {
    q.close();
  }
  const cli = await w2s('show', '--prompts', f, 'd1');
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /not recorded \(run made before w2s stored prompts\)/);
  const out = join(dir, 'old-calls.jsonl');
  assert.equal(await exportToFile(f, { what: 'calls', format: 'jsonl', out }), 2);
  for (const r of readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)) {
    assert.equal(r.messages, null);
    assert.equal(r.response, null);
    assert.equal(r.params, null);
  }
});
