/** The demo server on Deno: `npm run demo:deno -- [flags]` (see run.ts). */

import type { DenoApi } from '../deno/api.js';
import { SSHServer } from '../deno/index.js';
import { runDemo } from './run.js';

declare const Deno: DenoApi;

await runDemo(Deno.args, { command: 'npm run demo:deno --', createServer: (options) => new SSHServer(options) });
