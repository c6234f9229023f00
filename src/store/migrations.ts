/**
 * The schema, as numbered migrations. Each is applied once, in order, in a transaction, and recorded in
 * schema_migrations. Never edit a released migration: add a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  name TEXT,
  config_json TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  w2s_version TEXT NOT NULL,
  dataset TEXT,
  status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT,
  error TEXT
);

CREATE TABLE examples (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  split TEXT NOT NULL CHECK (split IN ('train_weak', 'train_strong', 'test')),
  text TEXT NOT NULL,
  label INTEGER NOT NULL CHECK (label IN (0, 1)),
  question TEXT,
  answer TEXT,
  meta_json TEXT,
  PRIMARY KEY (run_id, id)
);

-- The ledger: one row per logical model call (a cache hit is a call too, with cache_hit = 1).
CREATE TABLE calls (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT REFERENCES runs(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  model TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('generate', 'embed')),
  request_hash TEXT NOT NULL,
  cache_hit INTEGER NOT NULL CHECK (cache_hit IN (0, 1)),
  attempts INTEGER NOT NULL,
  latency_ms REAL NOT NULL,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd REAL NOT NULL DEFAULT 0,
  finish_reason TEXT,
  error TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX calls_run ON calls(run_id, role);
CREATE INDEX calls_hash ON calls(request_hash);

-- Response cache, keyed by a canonical hash of (adapter, endpoint, model, request, sample index). Errors never stored.
CREATE TABLE cache (
  key TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('generate', 'embed')),
  model TEXT NOT NULL,
  response_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  hits INTEGER NOT NULL DEFAULT 0,
  -- The run whose backend call produced the entry, so a run restarted after a crash can put a paid call that never
  -- reached its ledger back into it.
  paid_by_run TEXT
);

CREATE TABLE debates (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  example_id TEXT NOT NULL,
  protocol TEXT NOT NULL CHECK (protocol IN ('debate', 'consultancy', 'market', 'none')),
  sample INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  -- JSON: {"A": "correct" | "incorrect", "B": ...}; one key for consultancy and market.
  sides_json TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
  error TEXT,
  created_at TEXT NOT NULL,
  FOREIGN KEY (run_id, example_id) REFERENCES examples(run_id, id) ON DELETE CASCADE,
  UNIQUE (run_id, example_id, protocol, sample)
);

CREATE TABLE turns (
  debate_id TEXT NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  speaker TEXT NOT NULL,
  side TEXT NOT NULL CHECK (side IN ('correct', 'incorrect')),
  text TEXT NOT NULL,
  word_count INTEGER NOT NULL,
  truncated INTEGER NOT NULL DEFAULT 0 CHECK (truncated IN (0, 1)),
  prompt_hash TEXT NOT NULL,
  call_id INTEGER REFERENCES calls(id),
  created_at TEXT NOT NULL,
  PRIMARY KEY (debate_id, idx)
);

-- Prompted weak judges: one row per (judge, example, transcript, answer order).
CREATE TABLE judgments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  example_id TEXT NOT NULL,
  judge TEXT NOT NULL,
  debate_id TEXT REFERENCES debates(id) ON DELETE CASCADE,
  order_swapped INTEGER NOT NULL CHECK (order_swapped IN (0, 1)),
  p_correct REAL NOT NULL,
  method TEXT NOT NULL CHECK (method IN ('logprobs', 'parsed', 'unparsed')),
  raw_text TEXT,
  call_id INTEGER REFERENCES calls(id),
  created_at TEXT NOT NULL,
  FOREIGN KEY (run_id, example_id) REFERENCES examples(run_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX judgments_unique ON judgments(run_id, example_id, judge, IFNULL(debate_id, ''), order_swapped);

-- Trained models: weak baseline, weak ensemble members, strong (w2s), strong ceiling.
CREATE TABLE models (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  member INTEGER NOT NULL DEFAULT 0,
  backend TEXT NOT NULL,
  seed INTEGER NOT NULL,
  config_json TEXT NOT NULL,
  state_json TEXT,
  artifact_path TEXT,
  artifact_sha256 TEXT,
  stats_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (run_id, role, member)
);

CREATE TABLE predictions (
  model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  run_id TEXT NOT NULL,
  example_id TEXT NOT NULL,
  -- debate transcript the model saw, if any
  debate_id TEXT,
  p1 REAL NOT NULL,
  PRIMARY KEY (model_id, example_id),
  FOREIGN KEY (run_id, example_id) REFERENCES examples(run_id, id) ON DELETE CASCADE
);

CREATE TABLE metrics (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  subject TEXT NOT NULL,
  name TEXT NOT NULL,
  value REAL,
  lo REAL,
  hi REAL,
  n INTEGER,
  note TEXT,
  PRIMARY KEY (run_id, subject, name)
);

-- Finished pipeline stages, so a rerun skips them.
CREATE TABLE stages (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  PRIMARY KEY (run_id, name)
);
`,
  },
  {
    version: 2,
    name: 'groups and metric provenance',
    sql: `
-- The group an example belongs to (a passage, a question's pair of rows): no group spans two splits, and intervals
-- resample whole groups.
ALTER TABLE examples ADD COLUMN group_id TEXT;

-- How each stored number was computed, so every view can say what its interval covers.
ALTER TABLE metrics ADD COLUMN method TEXT;
ALTER TABLE metrics ADD COLUMN level REAL;
ALTER TABLE metrics ADD COLUMN resamples INTEGER;
ALTER TABLE metrics ADD COLUMN undefined_resamples INTEGER;
ALTER TABLE metrics ADD COLUMN seed INTEGER;
-- Which variance the interval covers, in words, e.g. "test examples (bootstrap)" or "training seeds".
ALTER TABLE metrics ADD COLUMN covers TEXT;
`,
  },
  {
    version: 3,
    name: 'run ownership, persisted budgets, cross-process single-flight',
    sql: `
-- The process that owns a run: one at a time. A row whose pid is gone (same host) or whose heartbeat is stale belongs
-- to a dead process and may be taken over; a run with status "running" and no live lease was stopped by a kill.
CREATE TABLE run_leases (
  run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  token TEXT NOT NULL,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  acquired_at TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL
);

-- The run's spending limits, kept across resumes (null: no limit); the spend itself is the calls ledger.
ALTER TABLE runs ADD COLUMN max_calls INTEGER;
ALTER TABLE runs ADD COLUMN max_cost_usd REAL;

-- Requests on their way to a backend, so another process sharing this cache waits for the answer instead of paying
-- for it again. A claim past expires_at (ms since the epoch) is abandoned and may be taken.
CREATE TABLE cache_claims (
  key TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'judge samples and judgment tokens',
    sql: `
-- Self-consistency judges sample several replies per presentation: each is a judgment of its own (sample 0, 1, ...).
ALTER TABLE judgments ADD COLUMN sample INTEGER NOT NULL DEFAULT 0;
DROP INDEX judgments_unique;
CREATE UNIQUE INDEX judgments_unique ON judgments(run_id, example_id, judge, IFNULL(debate_id, ''), order_swapped, sample);
-- The tokens the judgment's call took, whether it was paid now or answered from the cache (a cache hit's ledger row
-- is free), so a judge's cost per example does not depend on what the cache already held.
ALTER TABLE judgments ADD COLUMN input_tokens INTEGER;
ALTER TABLE judgments ADD COLUMN output_tokens INTEGER;
`,
  },
  {
    version: 5,
    name: 'call texts: what each model received and returned',
    sql: `
-- Every text a model received or returned, stored once under its sha256 (hex): a system prompt read by a thousand
-- calls, or a transcript served again from the cache, is one row. Never updated; rows are only added.
CREATE TABLE texts (
  hash TEXT PRIMARY KEY,
  text TEXT NOT NULL
);

-- What a call sent, in order: chat messages (role system, user or assistant) for generate calls, the input texts
-- (role input, position = the text's index) for embed calls.
CREATE TABLE call_messages (
  call_id INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  role TEXT NOT NULL,
  text_hash TEXT NOT NULL REFERENCES texts(hash),
  PRIMARY KEY (call_id, position)
) WITHOUT ROWID;

-- The raw reply's text (generate calls that answered; null for embed calls, failed calls and calls made before
-- version 5), and the request parameters that shaped the answer as JSON (maxTokens, temperature, seed, topLogprobs,
-- stop, sample; {} for embed calls). params_json is null exactly for the calls made before w2s stored their texts.
ALTER TABLE calls ADD COLUMN response_hash TEXT REFERENCES texts(hash);
ALTER TABLE calls ADD COLUMN params_json TEXT;
`,
  },
  {
    version: 6,
    name: 'a reply without a verdict has no probability',
    sql: `
-- A judge's reply that states no verdict (method 'unparsed') has no P(correct): NULL, never 0.5, so every average over
-- judgments (SQL AVG skips NULL) counts only the replies that said something. SQLite cannot drop a NOT NULL, so the
-- table is rebuilt with the same columns, ids and index.
CREATE TABLE judgments_v6 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  example_id TEXT NOT NULL,
  judge TEXT NOT NULL,
  debate_id TEXT REFERENCES debates(id) ON DELETE CASCADE,
  order_swapped INTEGER NOT NULL CHECK (order_swapped IN (0, 1)),
  p_correct REAL CHECK ((method = 'unparsed') = (p_correct IS NULL)),
  method TEXT NOT NULL CHECK (method IN ('logprobs', 'parsed', 'unparsed')),
  raw_text TEXT,
  call_id INTEGER REFERENCES calls(id),
  created_at TEXT NOT NULL,
  sample INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER,
  output_tokens INTEGER,
  FOREIGN KEY (run_id, example_id) REFERENCES examples(run_id, id) ON DELETE CASCADE
);
INSERT INTO judgments_v6 (id, run_id, example_id, judge, debate_id, order_swapped, p_correct, method, raw_text, call_id, created_at, sample,
  input_tokens, output_tokens)
  SELECT id, run_id, example_id, judge, debate_id, order_swapped, CASE WHEN method = 'unparsed' THEN NULL ELSE p_correct END, method, raw_text,
    call_id, created_at, sample, input_tokens, output_tokens FROM judgments;
-- The id sequence carries over, so an id once used (and since deleted) is never given out again.
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'judgments')
  WHERE name = 'judgments_v6' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'judgments');
INSERT INTO sqlite_sequence (name, seq) SELECT 'judgments_v6', seq FROM sqlite_sequence
  WHERE name = 'judgments' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'judgments_v6');
DROP TABLE judgments;
ALTER TABLE judgments_v6 RENAME TO judgments;
CREATE UNIQUE INDEX judgments_unique ON judgments(run_id, example_id, judge, IFNULL(debate_id, ''), order_swapped, sample);
`,
  },
  {
    version: 7,
    name: 'provider batches: submitted batch ids and the requests they carry',
    sql: `
-- A batch sent to a provider's Batch API (OpenAI: a JSONL file of requests answered within 24 h at a lower price).
-- Stored before the file is uploaded and updated as it goes, so a run killed while a batch is in flight finds it again
-- and polls it instead of submitting (and paying for) its requests a second time.
CREATE TABLE batches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT REFERENCES runs(id) ON DELETE CASCADE,
  -- The client id (canonical model spec) and the provider endpoint every request of the batch goes to.
  model TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  -- The uploaded JSONL file and the provider's batch id: null until uploaded and created.
  input_file_id TEXT,
  batch_id TEXT UNIQUE,
  -- 'submitting' (stored, not yet created), the provider's status as last polled (validating, in_progress,
  -- finalizing, completed, failed, expired, cancelling, cancelled), 'done' (its results were read and stored) or
  -- 'abandoned' (never created: its requests were submitted again).
  status TEXT NOT NULL,
  requests INTEGER NOT NULL,
  -- request_counts as last polled: {"total", "completed", "failed"}.
  counts_json TEXT,
  output_file_id TEXT,
  error_file_id TEXT,
  error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX batches_run ON batches(run_id, status);

-- The requests of a batch: one row per cache key. A chat request is one key at position 0; an embeddings request
-- carries one key per input text, at its position. request_hash is what the gateway's ledger row for the request
-- is keyed by (the cache key of a chat request; the hash of its texts' keys for an embeddings request).
CREATE TABLE batch_requests (
  batch INTEGER NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
  custom_id TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  position INTEGER NOT NULL,
  cache_key TEXT NOT NULL,
  PRIMARY KEY (batch, custom_id, position)
) WITHOUT ROWID;
CREATE INDEX batch_requests_hash ON batch_requests(request_hash);
`,
  },
  {
    version: 8,
    name: 'the endpoint each call went to',
    sql: `
-- Where a call that reached a backend went: the base URL (openai), host (ollama) or model file (llamacpp) of its last
-- attempt, i.e. the server that answered it, or for a failed call the last one tried. A model with several servers
-- (a model ref's endpoints) spreads its calls over them, so this says which one each call used. Null for calls
-- answered without a backend (cache hits) and for calls made before version 8.
ALTER TABLE calls ADD COLUMN endpoint TEXT;
`,
  },
  {
    version: 9,
    name: 'passages, quotes, two-choice answers, open roles, imported transcripts, best-of-N candidates',
    sql: `
-- debate.passage: the passage the debaters read, kept apart from the question and text that judges and weak models
-- read (null when the run gives no one a passage to quote). Two-choice tasks: the second answer (answer B); label 1
-- still means the example's answer (answer A) is the right one.
ALTER TABLE examples ADD COLUMN passage TEXT;
ALTER TABLE examples ADD COLUMN alternative TEXT;

-- Quotes a turn made from the passage, and how many matched it (normalised: case, punctuation, whitespace). Null when
-- the example has no passage to check against.
ALTER TABLE turns ADD COLUMN quotes INTEGER CHECK (quotes IS NULL OR quotes >= 0);
ALTER TABLE turns ADD COLUMN quotes_verified INTEGER CHECK (quotes_verified IS NULL OR (quotes_verified >= 0 AND quotes_verified <= quotes));

-- debate.roles: 'open' when each debater chose the side it argues (sides_json holds its choice), else 'assigned'.
ALTER TABLE debates ADD COLUMN roles TEXT NOT NULL DEFAULT 'assigned' CHECK (roles IN ('assigned', 'open'));
-- Open roles: the choice call before turn 0 (JSON: its reply, whether it stated a side, its ledger row).
ALTER TABLE debates ADD COLUMN choice_json TEXT;
-- Transcripts written elsewhere (w2s import): JSON provenance (file, its sha256, line, the source's metadata); null
-- for transcripts w2s generated.
ALTER TABLE debates ADD COLUMN source_json TEXT;

-- Best-of-N debaters: every candidate argument of a turn, its score (the scoring judge's probability for the
-- debater's own side; null if unscored) and which one became the turn.
CREATE TABLE turn_candidates (
  debate_id TEXT NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL CHECK (idx >= 0),
  candidate INTEGER NOT NULL CHECK (candidate >= 0),
  text TEXT NOT NULL,
  score REAL CHECK (score IS NULL OR (score >= 0 AND score <= 1)),
  kept INTEGER NOT NULL DEFAULT 0 CHECK (kept IN (0, 1)),
  call_id INTEGER REFERENCES calls(id),
  score_call_id INTEGER REFERENCES calls(id),
  created_at TEXT NOT NULL,
  PRIMARY KEY (debate_id, idx, candidate)
);
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
