/** The demo server on Bun: `npm run demo:bun -- [flags]` (see run.ts). */

import type { BunApi } from '../bun/api.js';
import { SSHServer } from '../bun/index.js';
import { runDemo } from './run.js';

declare const Bun: BunApi;

await runDemo(Bun.argv.slice(2), { command: 'npm run demo:bun --', createServer: (options) => new SSHServer(options) });
