/**
 * The debate settings of issue 13 that change how a transcript is made, wired to the store and the models:
 * open roles (the agent chooses its side before the first turn) and best-of-N arguments (a scorer picks each turn).
 */
import { JUDGE_DEFAULTS } from '../config/experiment.js';
import type { BestOf } from '../debate/best-of-n.js';
import { chooseSide } from '../debate/choose.js';
import { planDebate, type DebatePlan, type Protocol } from '../debate/protocols.js';
import type { Generator } from '../debate/run.js';
import { loadTemplate, promptsDirOf } from '../debate/templates.js';
import type { Side } from '../debate/transcript.js';
import { judge } from '../judge/prompted.js';
import type { DebateRow, ExampleRow, NewDebate } from '../store/index.js';
import type { StageContext } from './context.js';
import { judgeInputOf } from './judges.js';

/** The scorer's ledger role. */
export const SCORER_ROLE = 'scorer';

/**
 * Stores the debate (once) and returns its stored row and plan. Assigned roles: the sides are drawn. Open roles: the
 * first time, debater A (the consultant) is asked which side it argues; the sides, roles = 'open' and the choice call
 * are stored together, and a reply that states no side falls back to the drawn sides (the choice row says so). A
 * debate already stored keeps its sides and is not asked again.
 */
export function debateSetup(ctx: StageContext, chooser: Generator, task: string): (d: Omit<NewDebate, 'sides' | 'roles'>, example: ExampleRow, naivePick?: Side) => Promise<{ row: DebateRow; plan: DebatePlan }> {
  const cfg = ctx.config.debate;
  const protocol = cfg.protocol as Protocol;
  const open = cfg.roles === 'open';
  const template = open ? loadTemplate(promptsDirOf(cfg), 'debate/choose.md') : undefined;
  const planOf = (d: { exampleId: string; sample: number }, chosen?: Side, naivePick?: Side): DebatePlan =>
    planDebate({ protocol, turns: cfg.turns, seed: ctx.config.seed, exampleId: d.exampleId, sample: d.sample, naivePick, chosen });
  return async (d, example, naivePick) => {
    if (!open) {
      const plan = planOf(d, undefined, naivePick);
      return { row: ctx.store.debates.upsertDebate({ ...d, sides: plan.sides as Record<string, Side> }), plan };
    }
    const existing = ctx.store.debates.getDebate(d.id);
    if (existing && ctx.store.debates.getChoice(d.id)) return { row: existing, plan: planOf(d, existing.sides.A) };
    const choice = await chooseSide({
      protocol, template: template!, task, question: example.question ?? example.text, answer: example.answer ?? '', chooser, seed: d.seed,
      sample: d.sample, temperature: cfg.temperature, passage: example.passage,
    });
    const plan = planOf(d, choice.side ?? undefined);
    const row = ctx.store.transaction(() => {
      const stored = ctx.store.debates.upsertDebate({ ...d, sides: plan.sides as Record<string, Side>, roles: 'open' });
      ctx.store.debates.recordChoice({ debateId: stored.id, reply: choice.reply, stated: choice.side !== null, callId: choice.callId });
      return stored;
    });
    return { row, plan: planOf(d, row.sides.A) };
  };
}

/**
 * Best-of-N for one debate: each candidate is scored by the scorer model (debate.scorer, else the first judge's
 * model) reading the verdict prompt of the first judge (or judge/verdict.md) as a logprobs judge, in both
 * presentations; the score is its P(correct) for a debater arguing "correct", else 1 − P(correct). The candidates are
 * stored as they are scored; a resumed debate reuses them. Undefined without debate.bestOf.
 */
export async function bestOfFor(ctx: StageContext, task: string): Promise<((debateId: string, example: ExampleRow) => BestOf) | undefined> {
  const cfg = ctx.config.debate;
  if (!cfg.bestOf) return undefined;
  const first = ctx.config.judges[0];
  const ref = cfg.scorer ?? first?.model;
  if (!ref) throw new Error('debate.bestOf needs debate.scorer or a judge (the config check should have said so)');
  const scorer = await ctx.models.forRole(ref, SCORER_ROLE, ['logprobs']);
  const template = loadTemplate(promptsDirOf(cfg), first?.template ?? JUDGE_DEFAULTS.template);
  const n = cfg.bestOf;
  return (debateId, example) => ({
    n,
    async score(turns, candidate) {
      // The judges' own view of the example (passage-checked quotes, answer B), so the score is what a judge would read.
      const v = await judge({
        model: scorer, method: 'logprobs', template, task, ...judgeInputOf(ctx, example),
        turns: [...turns, candidate], protocol: cfg.protocol, maxTokens: first?.maxTokens ?? 8, signal: ctx.stop,
      });
      return { pCorrect: v.pCorrect, callId: v.replies[0]?.callId ?? null };
    },
    stored: (idx) =>
      ctx.store.debates.listCandidates(debateId, idx).map((c) => {
        const words = c.text.trim() === '' ? 0 : c.text.trim().split(/\s+/).length;
        // The sampled reply's finish reason is not kept with a candidate: a resumed one counts as cut off only at the limit.
        return { candidate: c.candidate, text: c.text, wordCount: words, truncated: words >= cfg.wordLimit, callId: c.callId, score: c.score, scoreCallId: c.scoreCallId };
      }),
    onCandidate: (idx, c) =>
      ctx.store.debates.insertCandidate({ debateId, idx, candidate: c.candidate, text: c.text, score: c.score, callId: c.callId, scoreCallId: c.scoreCallId }),
  });
}
