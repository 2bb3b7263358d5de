/** The Node entry point: the server with the wasm module loaded from disk and Node TCP sockets. */

import { readFileSync } from 'node:fs';
import { Core, initSync } from '../../wasm/pkg/wasshd_wasm.js';
import { SSHServer as BaseServer, type SSHServerOptions, type Runtime } from '../server.js';
import { nodeTcp } from './tcp.js';

type Glue = typeof import('../../wasm/pkg/wasshd_wasm.js');

const GLUE_URL = new URL('../../wasm/pkg/wasshd_wasm.js', import.meta.url);
let module: WebAssembly.Module | undefined;
let instances = 0;

function compiled(): WebAssembly.Module {
  module ??= new WebAssembly.Module(readFileSync(new URL('../../wasm/pkg/wasshd_wasm_bg.wasm', import.meta.url)));
  return module;
}

function createCore(seed: Uint8Array): Core {
  if (instances === 0) {
    initSync({ module: compiled() });
    instances = 1;
  }
  return new Core(seed);
}

/**
 * The generated glue keeps its instance in module state, so a fresh instance needs a fresh copy of the
 * glue: importing it under another URL gives one. The compiled module is shared.
 */
async function freshCore(seed: Uint8Array): Promise<Core> {
  const glue = (await import(`${GLUE_URL.href}?instance=${++instances}`)) as Glue;
  glue.initSync({ module: compiled() });
  return new glue.Core(seed);
}

export const nodeRuntime: Runtime = { createCore, freshCore, listen: nodeTcp };

export class SSHServer extends BaseServer {
  constructor(options: SSHServerOptions = {}) {
    super(nodeRuntime, options);
  }
}

export * from '../server.js';
export * from '../errors.js';
export { SourcePenalties, StartupLimit } from '../limits.js';
export type { Transport, TransportHandlers, ListenAdapter, Listener } from '../transport.js';
