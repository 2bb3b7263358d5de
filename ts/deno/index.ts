/**
 * The Deno entry point: the server with the wasm module read by Deno (`Deno.readFile`), Deno's `node:crypto`
 * for the packet ciphers and MACs (`CryptoProvider=host`), TCP sockets from `Deno.listen` and WebSockets from
 * `Deno.serve`. Needs `--allow-read` (the module) and `--allow-net`.
 */

import { instantiateCore } from '../core/instance.js';
import { nodeCryptoProvider } from '../core/node-crypto-provider.js';
import { SSHServer as BaseServer, type SSHServerOptions, type Runtime } from '../server.js';
import type { DenoApi } from './api.js';
import { denoConnectTcp, denoConnectUnix, denoListenUnix, denoTcp } from './tcp.js';
import { denoWebSocket } from './websocket.js';

declare const Deno: DenoApi;

/** Compiled once, when this module loads; every core is an instance of it. */
const module = await WebAssembly.compile(await Deno.readFile(new URL('../../wasm/pkg/wasshd_wasm_bg.wasm', import.meta.url)));

export const denoRuntime: Runtime = { createCore: (seed) => instantiateCore(module, seed, nodeCryptoProvider), listen: denoTcp, listenUnix: denoListenUnix, webSocket: denoWebSocket, connectTcp: denoConnectTcp, connectUnix: denoConnectUnix };

export class SSHServer extends BaseServer {
  constructor(options: SSHServerOptions = {}) {
    super(denoRuntime, options);
  }
}

export * from '../server.js';
export * from '../errors.js';
export { SourcePenalties, StartupLimit } from '../limits.js';
export type { Transport, TransportHandlers, SocketOptions, ListenAdapter, Listener, StaticFile, WebSocketListenAdapter } from '../transport.js';
