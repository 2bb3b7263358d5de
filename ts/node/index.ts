/** The Node entry point: the server with the wasm module loaded from disk and Node TCP sockets. */

import { readFileSync } from 'node:fs';
import { Core, initSync } from '../../wasm/pkg/wasshd_wasm.js';
import { SSHServer as BaseServer, type SSHServerOptions, type Runtime } from '../server.js';
import { nodeTcp } from './tcp.js';

let loaded = false;

function createCore(seed: Uint8Array): Core {
  if (!loaded) {
    const bytes = readFileSync(new URL('../../wasm/pkg/wasshd_wasm_bg.wasm', import.meta.url));
    initSync({ module: new WebAssembly.Module(bytes) });
    loaded = true;
  }
  return new Core(seed);
}

export const nodeRuntime: Runtime = { createCore, listen: nodeTcp };

export class SSHServer extends BaseServer {
  constructor(options: SSHServerOptions = {}) {
    super(nodeRuntime, options);
  }
}

export * from '../server.js';
export * from '../errors.js';
export type { Transport, TransportHandlers, ListenAdapter, Listener } from '../transport.js';
