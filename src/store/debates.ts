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
  /** 'open': the sides are the ones debater A (the consultant) chose (see recordChoice); default 'assigned'. */
  roles?: Roles;
}

export type Roles = 'assigned' | 'open';

/** One best-of-N candidate argument of a turn (table turn_candidates). */
export interface TurnCandidate {
  debateId: string;
  idx: number;
  candidate: number;
  text: string;
  /** The scorer's probability for the debater's own side; null when its replies stated no verdict. */
  score: number | null;
  kept: boolean;
  callId: number | null;
  scoreCallId: number | null;
}

/**
 * An open-roles debate's choice call: the reply, whether it stated a side (else the sides are the seeded draw) and
 * its ledger row. Stored as debates.choice_json; stated false: the debate fell back to the seeded draw.
 */
export interface ChoiceRecord {
  debateId: string;
  reply: string;
  stated: boolean;
  callId: number | null;
}

/** Where an imported transcript came from (w2s import, debate.import): stored as debates.source_json. */
export interface DebateSource {
  /** The file as the config names it (absolute), its sha256, its format and the 1-based line of the row. */
  file: string;
  sha256: string;
  format: string;
  line: number;
  /** The source's own fields that w2s does not read (ids, annotators, timestamps, ...). */
  meta: Record<string, unknown>;
}

export interface DebateRow extends NewDebate {
  roles: Roles;
  status: DebateStatus;
  error: string | null;
  createdAt: string;
  /** Imported transcripts only: their provenance (absent for transcripts w2s generated). */
  source?: DebateSource;
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
  /** Quotes the turn made from the passage and how many checked out (debate/quotes.ts); absent: no passage to check. */
  quotes?: { made: number; verified: number } | null;
}

export interface TurnRow extends Required<Omit<NewTurn, 'callId' | 'quotes'>> {
  callId: number | null;
  quotes: { made: number; verified: number } | null;
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
  /** Stores a scored best-of-N candidate; one already stored at (debate, idx, candidate) is kept. */
  insertCandidate(c: Omit<TurnCandidate, 'kept'>): void;
  /** A turn's stored candidates by index (every turn's, without idx), the choice row left out. */
  listCandidates(debateId: string, idx?: number): TurnCandidate[];
  /** Marks the candidate that became the turn and stores the turn, in one transaction. */
  keepCandidate(debateId: string, idx: number, candidate: number, turn: NewTurn): void;
  /** Stores an open-roles debate's choice call (once: a stored choice is kept). */
  recordChoice(c: ChoiceRecord): void;
  getChoice(debateId: string): ChoiceRecord | undefined;
  /** Every stored choice of a run's debates, by debate id. */
  choicesOfRun(runId: string): Map<string, ChoiceRecord>;
  /** Records an imported transcript's provenance on its debate row. */
  setSource(id: string, source: DebateSource): void;
}

interface RawDebate {
  id: string;
  run_id: string;
  example_id: string;
  protocol: Protocol;
  sample: number;
  seed: number;
  sides_json: string;
  roles: Roles;
  status: DebateStatus;
  error: string | null;
  created_at: string;
  source_json: string | null;
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
  quotes: number | null;
  quotes_verified: number | null;
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
    roles: r.roles,
    status: r.status,
    error: r.error,
    createdAt: r.created_at,
    ...(r.source_json !== null && { source: JSON.parse(r.source_json) as DebateSource }),
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
    quotes: r.quotes === null ? null : { made: r.quotes, verified: r.quotes_verified ?? 0 },
  };
}

interface RawCandidate {
  debate_id: string;
  idx: number;
  candidate: number;
  text: string;
  score: number | null;
  kept: 0 | 1;
  call_id: number | null;
  score_call_id: number | null;
}

function toCandidate(r: RawCandidate): TurnCandidate {
  return {
    debateId: r.debate_id, idx: r.idx, candidate: r.candidate, text: r.text, score: r.score, kept: r.kept === 1, callId: r.call_id, scoreCallId: r.score_call_id,
  };
}

const toChoice = (debateId: string, json: string): ChoiceRecord => ({ debateId, ...(JSON.parse(json) as Omit<ChoiceRecord, 'debateId'>) });

export function countWords(text: string): number {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}

export function debatesTable(db: DB): DebatesTable {
  const insert = db.prepare(
    `INSERT INTO debates (id, run_id, example_id, protocol, sample, seed, sides_json, roles, status, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING`,
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
    `INSERT INTO turns (debate_id, idx, speaker, side, text, word_count, truncated, prompt_hash, call_id, created_at, quotes, quotes_verified)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
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
  const setSourceStmt = db.prepare('UPDATE debates SET source_json = ? WHERE id = ?');
  const insertCandidateStmt = db.prepare(
    `INSERT INTO turn_candidates (debate_id, idx, candidate, text, score, kept, call_id, score_call_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const candidatesOf = db.prepare(
    `SELECT * FROM turn_candidates WHERE debate_id = @debateId AND (@idx IS NULL OR idx = @idx) ORDER BY idx, candidate`,
  );
  const markKept = db.prepare('UPDATE turn_candidates SET kept = (candidate = ?) WHERE debate_id = ? AND idx = ?');
  const setChoice = db.prepare('UPDATE debates SET choice_json = ? WHERE id = ?');
  const choiceOf = db.prepare('SELECT choice_json FROM debates WHERE id = ? AND choice_json IS NOT NULL').pluck();
  const choicesOf = db.prepare('SELECT id, choice_json FROM debates WHERE run_id = ? AND choice_json IS NOT NULL');
  const insertTurnRow = (t: NewTurn): boolean =>
    insertTurnStmt.run(
      t.debateId, t.idx, t.speaker, t.side, t.text, t.wordCount ?? countWords(t.text), t.truncated ? 1 : 0, t.promptHash, t.callId ?? null,
      new Date().toISOString(), t.quotes?.made ?? null, t.quotes?.verified ?? null,
    ).changes > 0;
  const keep = db.transaction((debateId: string, idx: number, candidate: number, turn: NewTurn) => {
    markKept.run(candidate, debateId, idx);
    insertTurnRow(turn);
  });

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
      insert.run(d.id, d.runId, d.exampleId, d.protocol, d.sample, d.seed, JSON.stringify(d.sides), d.roles ?? 'assigned', new Date().toISOString());
      const r = (byId.get(d.id) ?? byKey.get(d.runId, d.exampleId, d.protocol, d.sample)) as RawDebate;
      return toDebate(r);
    },
    getDebate(id) {
      const r = byId.get(id) as RawDebate | undefined;
      return r && toDebate(r);
    },
    listDebates: list,
    insertTurn: insertTurnRow,
    listTurns: (debateId) => (turnsOf.all(debateId) as RawTurn[]).map(toTurn),
    completeDebate: (id) => void setStatus.run('completed', null, id),
    failDebate: (id, error) => void setStatus.run('failed', error, id),
    resetDebate: (id) => void setStatus.run('pending', null, id),
    transcriptsForExample: (runId, exampleId) =>
      transcripts(runId, { exampleId }).sort((a, b) => a.protocol.localeCompare(b.protocol) || a.sample - b.sample),
    listTranscripts: transcripts,
    insertCandidate: (c) =>
      void insertCandidateStmt.run(c.debateId, c.idx, c.candidate, c.text, c.score, 0, c.callId, c.scoreCallId, new Date().toISOString()),
    listCandidates: (debateId, idx) => (candidatesOf.all({ debateId, idx: idx ?? null }) as RawCandidate[]).map(toCandidate),
    keepCandidate: (debateId, idx, candidate, turn) => keep(debateId, idx, candidate, turn),
    recordChoice: ({ debateId, ...choice }) => void setChoice.run(JSON.stringify(choice), debateId),
    getChoice(debateId) {
      const json = choiceOf.get(debateId) as string | undefined;
      return json === undefined ? undefined : toChoice(debateId, json);
    },
    choicesOfRun: (runId) => new Map((choicesOf.all(runId) as { id: string; choice_json: string }[]).map((r) => [r.id, toChoice(r.id, r.choice_json)])),
    setSource: (id, source) => void setSourceStmt.run(JSON.stringify(source), id),
  };
}
