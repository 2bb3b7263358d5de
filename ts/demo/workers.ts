/**
 * `--workers N` for the Node demo: node:cluster worker processes, each with its own server and wasm instance,
 * sharing one listening socket that the primary holds and hands connections from in turn (cluster's
 * round-robin). The primary reads the command line and makes the host key; the workers print nothing on
 * stdout, so the output lines are those of one process. Limits such as MaxConnections hold per worker.
 */

import cluster from 'node:cluster';
import { type Address, type DemoRuntime, type DemoWorkers, runDemoWorker, type WorkerSettings } from './run.js';

/** A worker asks for its settings once it listens for them: a message sent before would be lost. */
type FromWorker = { ready: true } | { listening: Address } | { failed: string };

export const clusterWorkers: DemoWorkers = {
  start(count: number, settings: WorkerSettings): Promise<Address> {
    return new Promise((resolve, reject) => {
      let listening = 0;
      let stopping = false;
      for (let i = 0; i < count; i++) {
        const worker = cluster.fork();
        worker.on('message', (message: FromWorker) => {
          if ('ready' in message) return void worker.send(settings);
          if ('failed' in message) return reject(new Error(message.failed));
          // They listen on the primary's one socket, so every worker reports the same address.
          if (++listening === count) resolve(message.listening);
        });
      }
      cluster.on('exit', (worker, code, signal) => {
        if (!stopping) {
          // One worker gone unasked: stop the rest rather than serve on with fewer than asked for.
          const why = `worker ${worker.id} exited (${signal ?? `code ${code}`})`;
          reject(new Error(why));
          console.error(`wasshd demo: ${why}, stopping`);
          process.exitCode = 1;
          stopping = true;
          for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
        }
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit();
      });
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.on(signal, () => {
          stopping = true;
          for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
        });
      }
    });
  },
};

/** In a worker process: waits for the primary's settings, serves them and reports where it listens. */
export function serveAsWorker(runtime: DemoRuntime): void {
  process.once('message', (settings: WorkerSettings) => {
    runDemoWorker(settings, runtime).then(
      (address) => process.send!({ listening: address } satisfies FromWorker),
      (e: Error) => process.send!({ failed: e.message } satisfies FromWorker, () => process.exit(1)),
    );
  });
  process.send!({ ready: true } satisfies FromWorker);
}
