import type { Rng } from '../../src/rng.js';

/** An Rng that returns the given uniforms in order and fails when drawn more often than scripted. */
export function scripted(values: number[]): Rng & { left(): number } {
  const queue = values.slice();
  const random = (): number => {
    const v = queue.shift();
    if (v === undefined) throw new Error('the formatter drew more random numbers than scripted');
    return v;
  };
  return {
    random,
    int: (n) => Math.floor(random() * n),
    choice: (items) => items[Math.floor(random() * items.length)]!,
    shuffle: () => { throw new Error('not used'); },
    normal: () => { throw new Error('not used'); },
    left: () => queue.length,
  };
}
