import pLimit from 'p-limit';
import { modelSpec } from '../config/load.js';
import { framingOf, type Protocol } from '../debate/protocols.js';
import { runDebate, type DebateTemplates } from '../debate/run.js';
import { loadTemplate, promptsDirOf } from '../debate/templates.js';
import type { Side, Turn } from '../debate/transcript.js';
import { deriveSeed } from '../rng.js';
import type { ExampleRow, TurnRow } from '../store/index.js';
import { checkStop, endsTheRun, PartialFailureError, settleStage, type StageContext } from './context.js';
import { bestOfFor, debateSetup } from './debate-options.js';
import { outOfSamplePredictions } from './predictions.js';

export function debateId(runId: string, exampleId: string, protocol: string, sample: number): string {
  return `${runId}/${exampleId}/${protocol}/${sample}`;
}

export function toTurn(t: TurnRow): Turn {
  return {
    index: t.idx, speaker: t.speaker as Turn['speaker'], side: t.side, text: t.text, wordCount: t.wordCount,
    truncated: t.truncated, promptHash: t.promptHash, callId: t.callId, quotes: t.quotes,
  };
}

export function loadDebateTemplates(dir: string): DebateTemplates {
  return { system: loadTemplate(dir, 'debate/system.md'), turn: loadTemplate(dir, 'debate/turn.md'), consultancy: loadTemplate(dir, 'debate/consultancy.md') };
}

/**
 * K transcripts for every example, each with its own sampling seed. Each turn is stored as soon as it is generated,
 * so a crash or Ctrl-C loses at most the turns in flight. A debate that fails for good is marked failed and the
 * others carry on.
 */
export async function runDebates(ctx: StageContext): Promise<void> {
  const cfg = ctx.config.debate;
  const protocol = cfg.protocol as Protocol;
  if (protocol === 'none') return;
  const templates = loadDebateTemplates(promptsDirOf(cfg));
  const debaterRefs = cfg.debaters!;
  const a = await ctx.models.forRole(debaterRefs[0]!, 'debater');
  const b = debaterRefs[1] ? await ctx.models.forRole(debaterRefs[1], 'debater') : a;
  const task = framingOf(ctx.config.dataset.name, ctx.config.dataset.format === 'two-choice');
  const examples = ctx.store.examples.listExamples(ctx.runId);
  const naive = protocol === 'market' ? naivePicks(ctx) : undefined;
  const setupDebate = debateSetup(ctx, a, task);
  const bestOf = await bestOfFor(ctx, task);

  if (ctx.retryFailed) for (const d of ctx.store.debates.listDebates(ctx.runId, { status: 'failed' })) ctx.store.debates.resetDebate(d.id);

  const jobs: { example: ExampleRow; sample: number }[] = [];
  for (const example of examples) for (let sample = 0; sample < cfg.samples; sample++) jobs.push({ example, sample });
  const total = jobs.length;
  let done = 0;
  let failed = 0;
  let firstError = '';
  const limit = pLimit(Math.max(1, ctx.config.gateway.concurrency * 2));
  ctx.progress({ stage: 'debates', kind: 'start', total, message: `${protocol}, ${cfg.turns} turns, ${cfg.samples} per example, debaters ${debaterRefs.map(modelSpec).join(' vs ')}` });

  // With a debater that batches, every debate runs at once and each turn goes out for all of them in one batch.
  const batched = debaterRefs.some((ref) => ctx.batching?.isBatched(ref) === true);
  await settleStage(
    ctx,
    'debates',
    jobs.map(({ example, sample }) => ({ batched, run: async () => {
      const id = debateId(ctx.runId, example.id, protocol, sample);
      const existing = ctx.store.debates.getDebate(id);
      if (existing?.status === 'completed' || existing?.status === 'failed') {
        if (existing.status === 'failed') {
          failed++;
          firstError ||= existing.error ?? 'unknown error';
        }
        ctx.progress({ stage: 'debates', kind: 'tick', done: ++done, total });
        return;
      }
      checkStop(ctx);
      const seed = deriveSeed(ctx.config.seed, 'debate', example.id, sample);
      try {
        // With open roles, debater A's choice of side is one call; a failed one fails the debate (nothing is stored).
        const { row, plan } = await setupDebate({ id, runId: ctx.runId, exampleId: example.id, protocol, sample, seed }, example, naive?.get(example.id));
        await runDebate({
          plan, task, question: example.question ?? example.text, answer: example.answer ?? '', alternative: example.alternative ?? undefined, sample, seed: row.seed,
          debaters: { A: a, B: b }, templates, maxTokens: cfg.maxTokens, wordLimit: cfg.wordLimit, temperature: cfg.temperature,
          done: ctx.store.debates.listTurns(id).map(toTurn),
          onTurn: (t, kept) => {
            const turn = { debateId: id, idx: t.index, speaker: t.speaker, side: t.side, text: t.text, wordCount: t.wordCount, truncated: t.truncated, promptHash: t.promptHash, callId: t.callId, quotes: t.quotes };
            if (kept === undefined) ctx.store.debates.insertTurn(turn);
            else ctx.store.debates.keepCandidate(id, t.index, kept, turn);
          },
          bestOf: bestOf?.(id, example),
          passage: example.passage ? { text: example.passage, judgesRead: cfg.passage === 'all' } : null,
          openRoles: cfg.roles === 'open',
        });
        ctx.store.debates.completeDebate(id);
      } catch (e) {
        if (endsTheRun(e)) throw e;
        failed++;
        const message = (e as Error).message;
        firstError ||= message;
        ctx.store.debates.failDebate(id, message);
      }
      ctx.progress({ stage: 'debates', kind: 'tick', done: ++done, total });
    } })),
    limit,
  );
  if (failed) throw new PartialFailureError('debates', failed, total, firstError);
}

/**
 * market: the naive weak model's pick per example, always out of sample (cross-fitted on train_weak, where the
 * baseline itself trained), so the advocated side carries no more of the gold label on train_weak than on test.
 */
function naivePicks(ctx: StageContext): Map<string, Side> {
  const picks = new Map<string, Side>();
  for (const [id, p1] of outOfSamplePredictions(ctx)) picks.set(id, p1 > 0.5 ? 'correct' : 'incorrect');
  return picks;
}
