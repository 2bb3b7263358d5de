/**
 * For the idle-memory measure, in a server the suite started with `node --expose-gc`: on SIGUSR2, collect
 * garbage and print `memory {"rss":…,"heapUsed":…,"external":…,"wasm":…}` on stdout (bytes). A signal keeps
 * this out of the servers' protocol and out of the library's API.
 */

/** Answers SIGUSR2; `wasmBytes` is the linear memory of the server's wasm instances (0 for ssh2). */
export function answerMemoryProbes(wasmBytes: () => number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('memory probes need node --expose-gc');
  process.on('SIGUSR2', () => {
    // A second pass frees what finalizers of the first released.
    gc();
    gc();
    const { rss, heapUsed, external } = process.memoryUsage();
    console.log(`memory ${JSON.stringify({ rss, heapUsed, external, wasm: wasmBytes() })}`);
  });
}
