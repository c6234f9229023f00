import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Files shipped with the package (prompts/, trainers/hf/, schema/), found from this module: from src/ under tsx, or
 * from dist/src/ once built (an installed package included), whatever the working directory.
 */
export function packageFile(...parts: string[]): string {
  const here = fileURLToPath(import.meta.url);
  let dir = dirname(here);
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, ...parts);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`package file ${parts.join('/')} not found above ${here}`);
}

/** The prompt templates shipped with w2s: what debate.promptsDir means when a config leaves it out. */
export function defaultPromptsDir(): string {
  return packageFile('prompts');
}
