/**
 * The Node demo (ts/demo/main.ts, one process) answering memory probes for the idle-memory measure: started by
 * the suite with `node --expose-gc`, it reports its heap and the wasm memory of its server on SIGUSR2.
 */

import { SSHServer } from '../../ts/node/index.js';
import { runDemo } from '../../ts/demo/run.js';
import { answerMemoryProbes } from './memory-probe.js';

const servers: SSHServer[] = [];
answerMemoryProbes(() => servers.reduce((sum, s) => sum + s.wasmMemoryBytes, 0));
await runDemo(process.argv.slice(2), {
  command: 'node --expose-gc --import tsx bench/suite/wasshd-probe.ts',
  createServer: (options) => {
    const server = new SSHServer(options);
    servers.push(server);
    return server;
  },
});
