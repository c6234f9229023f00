import { open, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';

/** An hf:, huggingface: or http(s) reference that node-llama-cpp downloads, rather than a local file. */
export function isRemoteModelRef(ref: string): boolean {
  return /^(hf:|huggingface:|https?:\/\/)/i.test(ref);
}

/**
 * A local model file, as an absolute path (~/ expanded), checked without loading it: it exists and starts with the
 * GGUF magic. Kept free of node-llama-cpp so a preflight can call it cheaply.
 */
export async function checkLocalGguf(ref: string): Promise<string> {
  const path = resolve(ref.startsWith('~/') ? join(homedir(), ref.slice(2)) : ref);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) {
    throw new UserError(`The model file ${path} does not exist; check the path in llamacpp:<path.gguf>.`);
  }
  const fh = await open(path, 'r').catch((e: unknown) => {
    throw new UserError(`The model file ${path} cannot be read (${(e as Error).message}); check its permissions.`, { cause: e });
  });
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead < 4 || buffer.toString('latin1') !== 'GGUF') {
      throw new UserError(`The file ${path} is not a GGUF model (it does not start with "GGUF"); point llamacpp: at a .gguf file.`);
    }
  } finally {
    await fh.close();
  }
  return path;
}
