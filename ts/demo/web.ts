/**
 * The web demo on Node: `npm run demo:web -- [flags]`, the demo server (every flag of `npm start`) whose
 * WebSocket endpoint also serves the terminal page (ts/demo/web/) on its port, `--ws-port` (default 8080).
 */

import { SSHServer } from '../node/index.js';
import { runDemo } from './run.js';
import { webFiles } from './web/files.js';

await runDemo(process.argv.slice(2), { command: 'npm run demo:web --', createServer: (options) => new SSHServer(options), webFiles });
