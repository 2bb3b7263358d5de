/** The demo server on Node: `npm start -- [flags]` (see run.ts); with `--workers N`, also each worker process. */

import cluster from 'node:cluster';
import { SSHServer } from '../node/index.js';
import { type DemoRuntime, runDemo } from './run.js';
import { clusterWorkers, serveAsWorker } from './workers.js';

const runtime: DemoRuntime = { command: 'npm start --', createServer: (options) => new SSHServer(options), workers: clusterWorkers };

if (cluster.isWorker) serveAsWorker(runtime);
else await runDemo(process.argv.slice(2), runtime);
