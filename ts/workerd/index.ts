/**
 * The Cloudflare workerd entry point: the server with the wasm modules (the server's, the key files' and the legacy algorithms') imported
 * as modules (workerd forbids compiling wasm from bytes at run time) and SSH over the WebSockets a Worker's `fetch` handler accepts
 * (`acceptWebSocket`). A Worker has no listening socket of its own.
 *
 * One SSHServer serves every connection of an isolate: create it on the first request (workerd forbids
 * randomness and timers at the top level of a module) and keep it in module state.
 */

import keysWasm from '../../wasm/pkg-keys/wasshd_keys_bg.wasm';
import legacyWasm from '../../wasm/pkg-legacy/wasshd_legacy_bg.wasm';
import wasm from '../../wasm/pkg/wasshd_wasm_bg.wasm';
import { instantiateCore } from '../core/instance.js';
import { ErrorCode, SSHError } from '../errors.js';
import { SSHServer as BaseServer, type Runtime, type SSHServerOptions } from '../server.js';

/** The runtime of Cloudflare workerd: the module imported by the Worker, the core's own cryptography; no TCP (WebSockets through `acceptWebSocket`). */
export const workerdRuntime: Runtime = {
  // The module is imported once; a fresh instance after a trap is another instance of it.
  // The legacy algorithms' module is imported with the bundle too, and instantiated by the first setting that names one.
  createCore: (seed) => instantiateCore(wasm, seed, undefined, () => legacyWasm),
  // Imported with the bundle, as workerd requires; instantiated by the first call that reads a key file.
  keyFiles: () => keysWasm,
  listen: {
    listen: () =>
      Promise.reject(new SSHError(ErrorCode.InvalidArgument, 'a Worker accepts no TCP connections: pass its requests to acceptWebSocket() in the fetch handler')),
  },
};

/** The SSH server on workerd: `SSHServer` with this runtime. */
export class SSHServer extends BaseServer {
  constructor(options: SSHServerOptions = {}) {
    super(workerdRuntime, options);
  }
}

export { acceptWebSocket, defaultClientAddress, WorkerWebSocketTransport } from './websocket.js';
export type { ClientAddress, WebSocketEndpointOptions, WorkerWebSocket } from './websocket.js';
export * from '../server.js';
export * from '../errors.js';
export * from '../sftp/index.js';
export { SourcePenalties, StartupLimit, type Family, type PenaltyCause } from '../limits.js';
export type { Transport, TransportAcceptor, TransportHandlers, SocketOptions } from '../transport.js';
