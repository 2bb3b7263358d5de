/** The demo server on Node with the core as a WIT component: `npm run demo:component -- [flags]` (see run.ts). */

import { componentRuntime } from '../component/node.js';
import { SSHServer } from '../server.js';
import { runDemo } from './run.js';

await runDemo(process.argv.slice(2), { command: 'npm run demo:component --', createServer: (options) => new SSHServer(componentRuntime, options) });
