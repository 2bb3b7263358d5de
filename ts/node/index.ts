/**
 * The Node entry point: the server with the wasm module loaded from disk, `node:crypto` for the packet
 * ciphers and MACs (`CryptoProvider=host`), Node TCP sockets, and SSH over WebSocket on uWebSockets.js (loaded
 * by the first `startWebSocket`).
 */

import { readFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { instantiateCore } from '../core/instance.js';
import { nodeCryptoProvider } from '../core/node-crypto-provider.js';
import type { ChannelStreamOptions } from '../channel-streams.js';
import { SSHServer as BaseServer, type SSHServerOptions, type Runtime } from '../server.js';
import { nodeConnectTcp, nodeConnectUnix, nodeTcp } from './tcp.js';
import { uwsWebSocket } from './websocket.js';

let module: WebAssembly.Module | undefined;

/** The module compiled once per process; every core is an instance of it. */
function compiled(): WebAssembly.Module {
  module ??= new WebAssembly.Module(readFileSync(new URL('../../wasm/pkg/wasshd_wasm_bg.wasm', import.meta.url)));
  return module;
}

export const nodeRuntime: Runtime = { createCore: (seed) => instantiateCore(compiled(), seed, nodeCryptoProvider), listen: nodeTcp, webSocket: uwsWebSocket, connectTcp: nodeConnectTcp, connectUnix: nodeConnectUnix };

export class SSHServer extends BaseServer {
  constructor(options: SSHServerOptions = {}) {
    super(nodeRuntime, options);
  }
}

/** A channel as a Node `Duplex` over its web streams (`channelStreams`): `end()` sends EOF, `destroy()` closes the channel. */
export function channelDuplex(server: BaseServer, connectionId: number, channelId: number, options?: ChannelStreamOptions): Duplex {
  // The same streams at run time; TypeScript's DOM and node:stream/web declarations of them differ.
  return Duplex.fromWeb(server.channelStreams(connectionId, channelId, options) as unknown as Parameters<typeof Duplex.fromWeb>[0]);
}

export * from '../server.js';
export * from '../errors.js';
export { SourcePenalties, StartupLimit } from '../limits.js';
export type { Transport, TransportHandlers, ListenAdapter, Listener, WebSocketListenAdapter, WebSocketListenOptions } from '../transport.js';
