/**
 * The Cloudflare workerd entry point: the server with the wasm module imported as a module (workerd forbids
 * compiling wasm from bytes at run time) and SSH over the WebSockets a Worker's `fetch` handler accepts
 * (`acceptWebSocket`). A Worker has no listening socket of its own.
 *
 * One SSHServer serves every connection of an isolate: create it on the first request (workerd forbids
 * randomness and timers at the top level of a module) and keep it in module state.
 */

import wasm from '../../wasm/pkg/wasshd_wasm_bg.wasm';
import { instantiateCore } from '../core/instance.js';
import { ErrorCode, SSHError } from '../errors.js';
import { SSHServer as BaseServer, type Runtime, type SSHServerOptions } from '../server.js';

export const workerdRuntime: Runtime = {
  // The module is imported once; a fresh instance after a trap is another instance of it.
  createCore: (seed) => instantiateCore(wasm, seed),
  listen: {
    listen: () =>
      Promise.reject(new SSHError(ErrorCode.InvalidArgument, 'a Worker accepts no TCP connections: pass its requests to acceptWebSocket() in the fetch handler')),
  },
};

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
export { SourcePenalties, StartupLimit } from '../limits.js';
export type { Transport, TransportAcceptor, TransportHandlers, SocketOptions } from '../transport.js';
