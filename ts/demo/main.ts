/** The demo server on Node: `npm start -- [flags]` (see run.ts). */

import { SSHServer } from '../node/index.js';
import { runDemo } from './run.js';

await runDemo(process.argv.slice(2), { command: 'npm start --', createServer: (options) => new SSHServer(options) });
