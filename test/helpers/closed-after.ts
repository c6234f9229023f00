import { after } from 'node:test';

/** `start`, with every server it starts closed once the test file is done. */
export function closedAfterFile<O, S extends { close(): Promise<void> }>(start: (opts?: O) => Promise<S>): (opts?: O) => Promise<S> {
  const servers: S[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });
  return async (opts) => {
    const s = await start(opts);
    servers.push(s);
    return s;
  };
}
