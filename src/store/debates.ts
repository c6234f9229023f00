import type { DB } from './db.js';

export type Protocol = 'debate' | 'consultancy' | 'market' | 'none';
export type Side = 'correct' | 'incorrect';
export type DebateStatus = 'pending' | 'completed' | 'failed';

export interface NewDebate {
  id: string;
  runId: string;
  exampleId: string;
  protocol: Protocol;
  sample: number;
  seed: number;
  /** Speaker name ("A", "B") to the side it argues; one key for consultancy and market. */
  sides: Record<string, Side>;
}

export interface DebateRow extends NewDebate {
  status: DebateStatus;
  error: string | null;
  createdAt: string;
}

export interface NewTurn {
  debateId: string;
  idx: number;
  speaker: string;
  side: Side;
  text: string;
  /** Defaults to the whitespace-separated word count of text. */
  wordCount?: number;
  truncated?: boolean;
  promptHash: string;
  callId?: number | null;
}

export interface TurnRow extends Required<Omit<NewTurn, 'callId'>> {
  callId: number | null;
  createdAt: string;
}

export interface Transcript extends DebateRow {
  turns: TurnRow[];
}

export interface DebateFilter {
  status?: DebateStatus;
  protocol?: Protocol;
  exampleId?: string;
  sample?: number;
}

export interface DebatesTable {
  /**
   * Inserts the debate unless one with this id, or the same (run, example, protocol, sample), exists; returns the
   * stored row either way, so a resumed run keeps the sides and seed it drew first.
   */
  upsertDebate(d: NewDebate): DebateRow;
  getDebate(id: string): DebateRow | undefined;
  listDebates(runId: string, filter?: DebateFilter): DebateRow[];
  /** Inserts a turn; a turn already stored at (debate, idx) is kept. Returns whether this call inserted it. */
  insertTurn(t: NewTurn): boolean;
  listTurns(debateId: string): TurnRow[];
  completeDebate(id: string): void;
  failDebate(id: string, error: string): void;
  /** Back to pending (error cleared) so a rerun retries it; its stored turns stay. */
  resetDebate(id: string): void;
  /** Completed debates of one example with their turns, by protocol then sample. */
  transcriptsForExample(runId: string, exampleId: string): Transcript[];
  /** Completed debates of a run with their turns (two queries, whatever the size). */
  listTranscripts(runId: string, filter?: Omit<DebateFilter, 'status'>): Transcript[];
}

interface RawDebate {
  id: string;
  run_id: string;
  example_id: string;
  protocol: Protocol;
  sample: number;
  seed: number;
  sides_json: string;
  status: DebateStatus;
  error: string | null;
  created_at: string;
}

interface RawTurn {
  debate_id: string;
  idx: number;
  speaker: string;
  side: Side;
  text: string;
  word_count: number;
  truncated: 0 | 1;
  prompt_hash: string;
  call_id: number | null;
  created_at: string;
}

function toDebate(r: RawDebate): DebateRow {
  return {
    id: r.id,
    runId: r.run_id,
    exampleId: r.example_id,
    protocol: r.protocol,
    sample: r.sample,
    seed: r.seed,
    sides: JSON.parse(r.sides_json) as Record<string, Side>,
    status: r.status,
    error: r.error,
    createdAt: r.created_at,
  };
}

function toTurn(r: RawTurn): TurnRow {
  return {
    debateId: r.debate_id,
    idx: r.idx,
    speaker: r.speaker,
    side: r.side,
    text: r.text,
    wordCount: r.word_count,
    truncated: r.truncated === 1,
    promptHash: r.prompt_hash,
    callId: r.call_id,
    createdAt: r.created_at,
  };
}

export function countWords(text: string): number {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}

export function debatesTable(db: DB): DebatesTable {
  const insert = db.prepare(
    `INSERT INTO debates (id, run_id, example_id, protocol, sample, seed, sides_json, status, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING`,
  );
  const byId = db.prepare('SELECT * FROM debates WHERE id = ?');
  const byKey = db.prepare('SELECT * FROM debates WHERE run_id = ? AND example_id = ? AND protocol = ? AND sample = ?');
  // NULL filter parameters match everything, so one statement serves every filter combination.
  const filtered = db.prepare(
    `SELECT * FROM debates WHERE run_id = @runId
       AND (@status IS NULL OR status = @status) AND (@protocol IS NULL OR protocol = @protocol)
       AND (@exampleId IS NULL OR example_id = @exampleId) AND (@sample IS NULL OR sample = @sample)
     ORDER BY rowid`,
  );
  const insertTurnStmt = db.prepare(
    `INSERT INTO turns (debate_id, idx, speaker, side, text, word_count, truncated, prompt_hash, call_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const turnsOf = db.prepare('SELECT * FROM turns WHERE debate_id = ? ORDER BY idx');
  const turnsOfRun = db.prepare(
    `SELECT t.* FROM turns t JOIN debates d ON d.id = t.debate_id
     WHERE d.run_id = @runId AND d.status = 'completed'
       AND (@protocol IS NULL OR d.protocol = @protocol)
       AND (@exampleId IS NULL OR d.example_id = @exampleId) AND (@sample IS NULL OR d.sample = @sample)
     ORDER BY t.debate_id, t.idx`,
  );
  const setStatus = db.prepare('UPDATE debates SET status = ?, error = ? WHERE id = ?');

  const list = (runId: string, f: DebateFilter = {}): DebateRow[] =>
    (
      filtered.all({
        runId,
        status: f.status ?? null,
        protocol: f.protocol ?? null,
        exampleId: f.exampleId ?? null,
        sample: f.sample ?? null,
      }) as RawDebate[]
    ).map(toDebate);

  const transcripts = (runId: string, f: Omit<DebateFilter, 'status'> = {}): Transcript[] => {
    const debates = list(runId, { ...f, status: 'completed' });
    const params = { runId, protocol: f.protocol ?? null, exampleId: f.exampleId ?? null, sample: f.sample ?? null };
    const byDebate = new Map<string, TurnRow[]>();
    for (const r of turnsOfRun.all(params) as RawTurn[]) {
      let turns = byDebate.get(r.debate_id);
      if (!turns) byDebate.set(r.debate_id, (turns = []));
      turns.push(toTurn(r));
    }
    return debates.map((d) => ({ ...d, turns: byDebate.get(d.id) ?? [] }));
  };

  return {
    upsertDebate(d) {
      insert.run(d.id, d.runId, d.exampleId, d.protocol, d.sample, d.seed, JSON.stringify(d.sides), new Date().toISOString());
      const r = (byId.get(d.id) ?? byKey.get(d.runId, d.exampleId, d.protocol, d.sample)) as RawDebate;
      return toDebate(r);
    },
    getDebate(id) {
      const r = byId.get(id) as RawDebate | undefined;
      return r && toDebate(r);
    },
    listDebates: list,
    insertTurn(t) {
      const info = insertTurnStmt.run(
        t.debateId,
        t.idx,
        t.speaker,
        t.side,
        t.text,
        t.wordCount ?? countWords(t.text),
        t.truncated ? 1 : 0,
        t.promptHash,
        t.callId ?? null,
        new Date().toISOString(),
      );
      return info.changes > 0;
    },
    listTurns: (debateId) => (turnsOf.all(debateId) as RawTurn[]).map(toTurn),
    completeDebate: (id) => void setStatus.run('completed', null, id),
    failDebate: (id, error) => void setStatus.run('failed', error, id),
    resetDebate: (id) => void setStatus.run('pending', null, id),
    transcriptsForExample: (runId, exampleId) =>
      transcripts(runId, { exampleId }).sort((a, b) => a.protocol.localeCompare(b.protocol) || a.sample - b.sample),
    listTranscripts: transcripts,
  };
}
