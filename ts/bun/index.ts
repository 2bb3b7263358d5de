/**
 * The Bun entry point: the server with the wasm module read by Bun (`Bun.file`), Bun's `node:crypto` for the
 * packet ciphers and MACs but chacha20-poly1305's (`CryptoProvider=host`; Bun has no raw ChaCha20), TCP sockets
 * from `Bun.listen` and WebSockets from `Bun.serve`.
 */

import { readFileSync } from 'node:fs';
import { SSHClient as BaseClient } from '../client/client.js';
import { instantiateClientCore } from '../client/instance.js';
import { tcpTransport, type TcpSSHClientOptions } from '../client/tcp.js';
import { compiledOnce, instantiateCore } from '../core/instance.js';
import { nodeCryptoProvider } from '../core/node-crypto-provider.js';
import { SSHServer as BaseServer, type SSHServerOptions, type Runtime } from '../server.js';
import type { BunApi } from './api.js';
import { bunConnectTcp, bunConnectUnix, bunListenUnix, bunTcp } from './tcp.js';
import { bunWebSocket } from './websocket.js';

declare const Bun: BunApi;

/** Compiled once, when this module loads; every core is an instance of it. */
const module = await WebAssembly.compile(await Bun.file(new URL('../../wasm/pkg/wasshd_wasm_bg.wasm', import.meta.url)).arrayBuffer());

/** The key files' module, read and compiled by the first call that reads or makes a key file (synchronously: `addHostKey` is). */
const compiledKeys = compiledOnce(() => readFileSync(new URL('../../wasm/pkg-keys/wasshd_keys_bg.wasm', import.meta.url)));
/** The legacy algorithms' module, compiled by the first setting that names one of them. */
const compiledLegacy = compiledOnce(() => readFileSync(new URL('../../wasm/pkg-legacy/wasshd_legacy_bg.wasm', import.meta.url)));

/** The runtime of Bun: the module read with `Bun.file`, `node:crypto` for the packet ciphers, `Bun.listen`, `Bun.serve` for WebSockets, Unix sockets. */
export const bunRuntime: Runtime = { createCore: (seed) => instantiateCore(module, seed, nodeCryptoProvider, compiledLegacy), keyFiles: compiledKeys, listen: bunTcp, listenUnix: bunListenUnix, webSocket: bunWebSocket, connectTcp: bunConnectTcp, connectUnix: bunConnectUnix };

/** The SSH server on Bun: `SSHServer` with this runtime. */
export class SSHServer extends BaseServer {
  constructor(options: SSHServerOptions = {}) {
    super(bunRuntime, options);
  }
}

let clientModule: Promise<WebAssembly.Module> | undefined;

/** The SSH client on Bun: `connect` makes one. */
export class SSHClient extends BaseClient {
  /** Connects (over `transport`, or TCP to `host`:`port`), checks the host key, logs in. The first connect compiles the client's module. */
  static async connect(options: TcpSSHClientOptions): Promise<SSHClient> {
    clientModule ??= Bun.file(new URL('../../wasm/pkg-client/wasshd_client_bg.wasm', import.meta.url)).arrayBuffer().then((bytes) => WebAssembly.compile(bytes));
    const module = await clientModule;
    const runtime = { createClientCore: (seed: Uint8Array, now: number) => instantiateClientCore(module, seed, now, nodeCryptoProvider), keyFiles: compiledKeys };
    return BaseClient.loggedIn(options, tcpTransport(options, bunConnectTcp), (transport) => new SSHClient(runtime, { ...options, transport }));
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
