/**
 * The Node entry point: the server with the wasm module loaded from disk, `node:crypto` for the packet
 * ciphers and MACs (`CryptoProvider=host`), Node TCP sockets, and SSH over WebSocket on uWebSockets.js (loaded
 * by the first `startWebSocket`).
 */

import { readFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import type { ChannelStreamOptions } from '../channel-streams.js';
import { SSHClient as BaseClient } from '../client/client.js';
import { instantiateClientCore } from '../client/instance.js';
import { tcpTransport, type TcpSSHClientOptions } from '../client/tcp.js';
import { compiledOnce, instantiateCore } from '../core/instance.js';
import { nodeCryptoProvider } from '../core/node-crypto-provider.js';
import { SSHServer as BaseServer, type SSHServerOptions, type Runtime } from '../server.js';
import { nodeConnectTcp, nodeConnectUnix, nodeListenUnix, nodeTcp } from './tcp.js';
import { uwsWebSocket } from './websocket.js';

/** A module of the package, read from disk and compiled by the first call that needs it, once per process. */
const fromDisk = (path: string) => compiledOnce(() => readFileSync(new URL(`../../${path}`, import.meta.url)));
/** The server's module: every server core is an instance of it. */
const compiled = fromDisk('wasm/pkg/wasshd_wasm_bg.wasm');
/** The client's module, compiled by the first client connection. */
const compiledClient = fromDisk('wasm/pkg-client/wasshd_client_bg.wasm');
/** The key files' module, compiled by the first call that reads or makes a key file. */
const compiledKeys = fromDisk('wasm/pkg-keys/wasshd_keys_bg.wasm');
/** The legacy algorithms' module, compiled by the first setting that names one of them. */
const compiledLegacy = fromDisk('wasm/pkg-legacy/wasshd_legacy_bg.wasm');

/** The runtime of Node: the module read from disk, `node:crypto` for the packet ciphers, `node:net`, uWebSockets.js for WebSockets, Unix sockets. */
export const nodeRuntime: Runtime = { createCore: (seed) => instantiateCore(compiled(), seed, nodeCryptoProvider, compiledLegacy), keyFiles: compiledKeys, listen: nodeTcp, listenUnix: nodeListenUnix, webSocket: uwsWebSocket, connectTcp: nodeConnectTcp, connectUnix: nodeConnectUnix };

/** The SSH server on Node: `SSHServer` with this runtime. */
export class SSHServer extends BaseServer {
  constructor(options: SSHServerOptions = {}) {
    super(nodeRuntime, options);
  }
}

/** A channel as a Node `Duplex` over its web streams (`channelStreams`): `end()` sends EOF, `destroy()` closes the channel. */
export function channelDuplex(server: SSHServer, connectionId: number, channelId: number, options?: ChannelStreamOptions): Duplex {
  // The same streams at run time; TypeScript's DOM and node:stream/web declarations of them differ.
  return Duplex.fromWeb(server.channelStreams(connectionId, channelId, options) as unknown as Parameters<typeof Duplex.fromWeb>[0]);
}

/** `SSHClient.connect`'s options on Node: a transport, or a TCP connection to make. */
export type NodeSSHClientOptions = TcpSSHClientOptions;

/** The SSH client on Node: `connect` makes one. */
export class SSHClient extends BaseClient {
  /** Connects (over `transport`, or TCP to `host`:`port`), checks the host key, logs in. */
  static async connect(options: TcpSSHClientOptions): Promise<SSHClient> {
    const runtime = { createClientCore: (seed: Uint8Array, now: number) => instantiateClientCore(compiledClient(), seed, now, nodeCryptoProvider), keyFiles: compiledKeys };
    return BaseClient.loggedIn(options, tcpTransport(options, nodeConnectTcp), (transport) => new SSHClient(runtime, { ...options, transport }));
  }
}

export * from '../client/exports.js';
export type { TcpSSHClientOptions } from '../client/tcp.js';
export * from '../server.js';
export * from '../errors.js';
export * from '../sftp/index.js';
export { DirectoryFileSystem, type DirectoryFile } from '../sftp/directory.js';
export { SourcePenalties, StartupLimit, type Family, type PenaltyCause } from '../limits.js';
export type { Transport, TransportHandlers, SocketOptions, ListenAdapter, ListenOptions, Listener, StaticFile, WebSocketListenAdapter, WebSocketListenOptions } from '../transport.js';
