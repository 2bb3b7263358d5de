/**
 * For the idle-memory measure, in a server the suite started with `node --expose-gc`: on SIGUSR2, collect
 * garbage and print `memory {"rss":…,"heapUsed":…,"external":…,"wasm":…,"newSpace":…}` on stdout (bytes). A
 * signal keeps this out of the servers' protocol and out of the library's API.
 */

import { getHeapSpaceStatistics } from 'node:v8';

/** Answers SIGUSR2; `wasmBytes` is the linear memory of the server's wasm instances (0 for ssh2). */
export function answerMemoryProbes(wasmBytes: () => number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('memory probes need node --expose-gc');
  process.on('SIGUSR2', () => {
    // A second pass frees what finalizers of the first released.
    gc();
    gc();
    const { rss, heapUsed, external } = process.memoryUsage();
    // V8's young generation, empty now: it grows with the allocation rate (a burst of logins takes it from 8 to
    // 32 MiB) and shrinks only after seconds of quiet, and RSS counts it.
    const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
    console.log(`memory ${JSON.stringify({ rss, heapUsed, external, wasm: wasmBytes(), newSpace })}`);
  });
}
