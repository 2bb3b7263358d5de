/**
 * The Node entry point: the server with the wasm module loaded from disk, `node:crypto` for the packet
 * ciphers and MACs (`CryptoProvider=host`), Node TCP sockets, and SSH over WebSocket on uWebSockets.js (loaded
 * by the first `startWebSocket`).
 */

import { readFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import type { ChannelStreamOptions } from '../channel-streams.js';
import { SSHClient as BaseClient, type SSHClientOptions } from '../client/client.js';
import { instantiateClientCore, instantiateCore } from '../core/instance.js';
import { nodeCryptoProvider } from '../core/node-crypto-provider.js';
import { ErrorCode, SSHError } from '../errors.js';
import { SSHServer as BaseServer, type SSHServerOptions, type Runtime } from '../server.js';
import type { Transport } from '../transport.js';
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

/** `SSHClient.connect`'s options on Node: a transport, or a TCP connection to make. */
export interface NodeSSHClientOptions extends Omit<SSHClientOptions, 'transport'> {
  transport?: Transport;
  /** Where to connect over TCP when no transport is given; default localhost, port 22. */
  host?: string;
  port?: number;
}

export class SSHClient extends BaseClient {
  /** Connects (over `transport`, or TCP to `host`:`port`), checks the host key, logs in. */
  static async connect(options: NodeSSHClientOptions): Promise<SSHClient> {
    const { host = 'localhost', port = 22 } = options;
    const transport =
      options.transport ??
      (await nodeConnectTcp(host, port).catch((e: Error) => {
        throw new SSHError(ErrorCode.ConnectionLost, `could not connect to ${host} port ${port}: ${e.message}`);
      }));
    const runtime = { createClientCore: (seed: Uint8Array, now: number) => instantiateClientCore(compiled(), seed, now, nodeCryptoProvider) };
    return BaseClient.loggedIn(transport, () => new SSHClient(runtime, { ...options, transport }));
  }
}

export * from '../client/exports.js';
export * from '../server.js';
export * from '../errors.js';
export { SourcePenalties, StartupLimit } from '../limits.js';
export type { Transport, TransportHandlers, SocketOptions, ListenAdapter, Listener, WebSocketListenAdapter, WebSocketListenOptions } from '../transport.js';
