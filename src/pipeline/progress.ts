import type { GatewayStats } from '../models/gateway.js';

/** Stages report progress as events; the CLI draws a live line on a TTY and plain heartbeat lines otherwise. */
export interface ProgressEvent {
  stage: string;
  /** 'start' and 'end' bracket a stage; 'tick' reports done/total inside it; 'skip' says it was already finished. */
  kind: 'start' | 'tick' | 'end' | 'skip' | 'info';
  done?: number;
  total?: number;
  message?: string;
  /**
   * One piece of the stage running now (a model of a training stage, e.g. "weak_member[2]"): its ticks count the
   * piece's own steps, and a display shows them under the running stage, not as a stage of their own.
   */
  part?: string;
  /**
   * The run's live call counters (calls, hits, retries, tokens, cost, backing off), sent once on an 'info' event
   * without a message when the run's gateway exists, for displays that poll them.
   */
  stats?: () => GatewayStats;
}

export type ProgressListener = (e: ProgressEvent) => void;

export const silent: ProgressListener = () => {};
