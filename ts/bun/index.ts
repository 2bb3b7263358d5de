/**
 * The Bun entry point: the server with the wasm module read by Bun (`Bun.file`), Bun's `node:crypto` for the
 * packet ciphers and MACs but chacha20-poly1305's (`CryptoProvider=host`; Bun has no raw ChaCha20), TCP sockets
 * from `Bun.listen` and WebSockets from `Bun.serve`.
 */

import { instantiateCore } from '../core/instance.js';
import { nodeCryptoProvider } from '../core/node-crypto-provider.js';
import { SSHServer as BaseServer, type SSHServerOptions, type Runtime } from '../server.js';
import type { BunApi } from './api.js';
import { bunConnectTcp, bunConnectUnix, bunListenUnix, bunTcp } from './tcp.js';
import { bunWebSocket } from './websocket.js';

declare const Bun: BunApi;

/** Compiled once, when this module loads; every core is an instance of it. */
const module = await WebAssembly.compile(await Bun.file(new URL('../../wasm/pkg/wasshd_wasm_bg.wasm', import.meta.url)).arrayBuffer());

export const bunRuntime: Runtime = { createCore: (seed) => instantiateCore(module, seed, nodeCryptoProvider), listen: bunTcp, listenUnix: bunListenUnix, webSocket: bunWebSocket, connectTcp: bunConnectTcp, connectUnix: bunConnectUnix };

export class SSHServer extends BaseServer {
  constructor(options: SSHServerOptions = {}) {
    super(bunRuntime, options);
  }
}

export * from '../server.js';
export * from '../errors.js';
export { SourcePenalties, StartupLimit } from '../limits.js';
export type { Transport, TransportHandlers, SocketOptions, ListenAdapter, Listener, StaticFile, WebSocketListenAdapter } from '../transport.js';
