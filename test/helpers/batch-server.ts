/**
 * A real HTTP server on 127.0.0.1 speaking the OpenAI Files and Batches wire formats on top of the OpenAI server's
 * chat completions and embeddings (openai-server.ts): POST /v1/files (multipart, purpose "batch"), GET
 * /v1/files/{id}/content, POST /v1/batches, GET /v1/batches/{id}, GET /v1/batches (list). A batch's answers are
 * the ones the direct endpoints give for the same bodies (deterministic functions of the request), written as output
 * lines {id, custom_id, response: {status_code, request_id, body}, error}; failed lines go to the error file.
 *
 * A batch moves one status per poll: validating → in_progress → finalizing → its end (completed, or what its plan
 * says), unless its plan holds it in_progress until release().
 */
import { startWireServer, type SeenRequest, type WireResponse, type WireServer } from './openai-server.js';
import { openAIHandler, type OpenAIServerOptions } from './openai-server.js';

/** What becomes of one batch, decided when it is created. */
export interface BatchPlan {
  /** Stay in_progress until release() (default false). */
  hold?: boolean;
  /** How the batch ends (default completed). failed: its validation failed, no file at all. */
  end?: 'completed' | 'expired' | 'failed' | 'cancelled';
  /** expired or cancelled: how many lines were answered before it ended (default 0); the rest are error lines. */
  answeredBeforeEnd?: number;
  /** A line (by its index in the file) that fails: its error line's status code and error; undefined answers it. */
  lineError?: (index: number, line: BatchLine) => { status: number; code: string; message: string } | undefined;
}

export interface BatchLine {
  custom_id: string;
  method: string;
  url: string;
  body: any;
}

export interface ServerBatch {
  id: string;
  endpoint: string;
  inputFileId: string;
  lines: BatchLine[];
  status: string;
  plan: BatchPlan;
  held: boolean;
  outputFileId: string | null;
  errorFileId: string | null;
  counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  createdAt: number;
}

export interface BatchServer extends WireServer {
  files: Map<string, { filename: string; purpose: string; content: string }>;
  batches: Map<string, ServerBatch>;
  /** Lets held batches move on (all, or one). */
  release(id?: string): void;
  /** Requests with this method whose path starts with prefix. */
  count(method: string, prefix: string): number;
}

export interface BatchServerOptions extends OpenAIServerOptions {
  /** The plan of each new batch (its index counts batches created, from 0). Default: completes. */
  plan?: (index: number, lines: BatchLine[]) => BatchPlan;
}

/** The parts of a multipart/form-data body: name → {filename, content}. */
function multipart(body: string, contentType: string | undefined): Map<string, { filename?: string; content: string }> {
  const out = new Map<string, { filename?: string; content: string }>();
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
  if (!boundary) return out;
  const sep = `--${boundary[1] ?? boundary[2]}`;
  for (const part of body.split(sep).slice(1)) {
    if (part.startsWith('--')) break;
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) continue;
    const headers = part.slice(0, split);
    const name = /name="([^"]*)"/i.exec(headers)?.[1];
    const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
    if (name === undefined) continue;
    out.set(name, { filename, content: part.slice(split + 4).replace(/\r\n$/, '') });
  }
  return out;
}

export async function startBatchServer(opts: BatchServerOptions = {}): Promise<BatchServer> {
  const direct = openAIHandler(opts);
  const files = new Map<string, { filename: string; purpose: string; content: string }>();
  const batches = new Map<string, ServerBatch>();
  let fileN = 0;
  let batchN = 0;
  let lineN = 0;
  const error = (status: number, message: string): WireResponse => ({ status, body: { error: { message, type: 'invalid_request_error', param: null, code: null } } });

  const batchObject = (b: ServerBatch) => ({
    id: b.id,
    object: 'batch',
    endpoint: b.endpoint,
    errors: b.status === 'failed' ? { object: 'list', data: [{ code: 'invalid_request', message: 'planned validation failure', param: null, line: null }] } : null,
    input_file_id: b.inputFileId,
    completion_window: '24h',
    status: b.status,
    output_file_id: b.outputFileId,
    error_file_id: b.errorFileId,
    created_at: b.createdAt,
    in_progress_at: null,
    expires_at: b.createdAt + 86_400,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: b.counts,
    metadata: b.metadata,
  });

  const addFile = (filename: string, purpose: string, content: string): string => {
    const id = `file-${++fileN}`;
    files.set(id, { filename, purpose, content });
    return id;
  };

  /** Ends a batch: answers its lines (those its plan lets through) and writes the output and error files. */
  const finish = async (b: ServerBatch, end: NonNullable<BatchPlan['end']>): Promise<void> => {
    b.status = end;
    if (end === 'failed') return;
    const answered = end === 'completed' ? b.lines.length : (b.plan.answeredBeforeEnd ?? 0);
    const out: string[] = [];
    const err: string[] = [];
    for (const [i, line] of b.lines.entries()) {
      const n = ++lineN;
      if (i >= answered) {
        const code = end === 'expired' ? 'batch_expired' : 'batch_cancelled';
        const message = end === 'expired' ? 'This request could not be executed before the completion window expired.' : 'This request was cancelled.';
        err.push(JSON.stringify({ id: `batch_req_${n}`, custom_id: line.custom_id, response: null, error: { code, message } }));
        continue;
      }
      const planned = b.plan.lineError?.(i, line);
      if (planned) {
        const body = { error: { message: planned.message, type: 'invalid_request_error', param: null, code: planned.code } };
        err.push(JSON.stringify({ id: `batch_req_${n}`, custom_id: line.custom_id, response: { status_code: planned.status, request_id: `req_${n}`, body }, error: null }));
        continue;
      }
      const seen: SeenRequest = { method: 'POST', path: line.url, body: line.body, headers: {}, n };
      const res = await direct(seen);
      const row = JSON.stringify({ id: `batch_req_${n}`, custom_id: line.custom_id, response: { status_code: res.status, request_id: `req_${n}`, body: res.body }, error: null });
      (res.status === 200 ? out : err).push(row);
    }
    b.counts = { total: b.lines.length, completed: out.length, failed: err.length };
    // OpenAI leaves a file out when it would be empty.
    if (out.length) b.outputFileId = addFile(`${b.id}_output.jsonl`, 'batch_output', out.join('\n') + '\n');
    if (err.length) b.errorFileId = addFile(`${b.id}_error.jsonl`, 'batch_output', err.join('\n') + '\n');
  };

  /** One poll's step of a batch's life. */
  const advance = async (b: ServerBatch): Promise<void> => {
    const end = b.plan.end ?? 'completed';
    if (b.status === 'validating') b.status = end === 'failed' ? 'failed' : 'in_progress';
    else if (b.status === 'in_progress') {
      if (b.held) return;
      if (end === 'cancelled') b.status = 'cancelling';
      else b.status = 'finalizing';
    } else if (b.status === 'finalizing' || b.status === 'cancelling') await finish(b, end);
  };

  const server = await startWireServer(
    async (req) => {
      if (req.method === 'POST' && req.path === '/v1/files') {
        const parts = multipart(typeof req.body === 'string' ? req.body : '', req.headers['content-type']);
        const file = parts.get('file');
        const purpose = parts.get('purpose')?.content;
        if (!file || purpose !== 'batch') return error(400, 'a file and purpose "batch" are required');
        const id = addFile(file.filename ?? 'upload.jsonl', purpose, file.content);
        return { status: 200, body: { id, object: 'file', bytes: Buffer.byteLength(file.content), created_at: 1_700_000_000, filename: file.filename, purpose, status: 'processed' } };
      }
      const content = /^\/v1\/files\/([^/]+)\/content$/.exec(req.path);
      if (req.method === 'GET' && content) {
        const f = files.get(content[1]!);
        if (!f) return error(404, `No such File object: ${content[1]}`);
        return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: f.content };
      }
      if (req.method === 'POST' && req.path === '/v1/batches') {
        const body = req.body ?? {};
        const f = files.get(String(body.input_file_id));
        if (!f) return error(400, `No such File object: ${body.input_file_id}`);
        if (body.completion_window !== '24h') return error(400, 'completion_window must be 24h');
        const lines = f.content.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as BatchLine);
        if (lines.some((l) => l.url !== body.endpoint)) return error(400, 'every line must go to the batch endpoint');
        if (new Set(lines.map((l) => l.custom_id)).size !== lines.length) return error(400, 'custom_id values must be unique');
        const index = batchN++;
        const plan = opts.plan?.(index, lines) ?? {};
        const b: ServerBatch = {
          id: `batch_${index + 1}`,
          endpoint: body.endpoint,
          inputFileId: body.input_file_id,
          lines,
          status: 'validating',
          plan,
          held: plan.hold === true,
          outputFileId: null,
          errorFileId: null,
          counts: { total: 0, completed: 0, failed: 0 },
          metadata: body.metadata ?? null,
          createdAt: 1_700_000_000 + index,
        };
        batches.set(b.id, b);
        return { status: 200, body: batchObject(b) };
      }
      const one = /^\/v1\/batches\/([^/]+)$/.exec(req.path);
      if (req.method === 'GET' && one) {
        const b = batches.get(one[1]!);
        if (!b) return error(404, `No batch found with id '${one[1]}'.`);
        await advance(b);
        if (b.status === 'in_progress') b.counts = { total: b.lines.length, completed: 0, failed: 0 };
        return { status: 200, body: batchObject(b) };
      }
      if (req.method === 'GET' && req.path === '/v1/batches') {
        const data = [...batches.values()].reverse().map(batchObject);
        return { status: 200, body: { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false } };
      }
      return direct(req);
    },
    { onRequest: opts.onRequest, latencyMs: opts.latencyMs, basePath: '/v1' },
  );
  return Object.assign(server, {
    files,
    batches,
    release(id?: string) {
      for (const b of batches.values()) if (id === undefined || b.id === id) b.held = false;
    },
    count(method: string, prefix: string) {
      return server.requests.filter((r) => r.method === method && r.path.startsWith(prefix)).length;
    },
  });
}
