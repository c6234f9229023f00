/**
 * An error caused by the user's input (config, file, model spec, environment).
 * Its message is one sentence that names what to fix; the CLI prints it without a stack.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/**
 * The run was asked to stop (Ctrl-C): no new work starts, and calls still in flight after the grace period are cut
 * off. The run is marked interrupted and resumes on the next `w2s run`.
 */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
  constructor(message = 'stopped by Ctrl-C') {
    super(message);
  }
}
