/** Stages report progress as events; the CLI draws a bar on a TTY and plain lines otherwise. */
export interface ProgressEvent {
  stage: string;
  /** 'start' and 'end' bracket a stage; 'tick' reports done/total inside it; 'skip' says it was already finished. */
  kind: 'start' | 'tick' | 'end' | 'skip' | 'info';
  done?: number;
  total?: number;
  message?: string;
}

export type ProgressListener = (e: ProgressEvent) => void;

export const silent: ProgressListener = () => {};
