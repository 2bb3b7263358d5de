/**
 * The Deno entry point: the server with the wasm module read by Deno (`Deno.readFile`), Deno's `node:crypto`
 * for the packet ciphers and MACs (`CryptoProvider=host`), TCP sockets from `Deno.listen` and WebSockets from
 * `Deno.serve`. Needs `--allow-read` (the module) and `--allow-net`.
 */

import { SSHClient as BaseClient } from '../client/client.js';
import { instantiateClientCore } from '../client/instance.js';
import { tcpTransport, type TcpSSHClientOptions } from '../client/tcp.js';
import { compiledOnce, instantiateCore } from '../core/instance.js';
import { nodeCryptoProvider } from '../core/node-crypto-provider.js';
import { SSHServer as BaseServer, type SSHServerOptions, type Runtime } from '../server.js';
import type { DenoApi } from './api.js';
import { denoConnectTcp, denoConnectUnix, denoListenUnix, denoTcp } from './tcp.js';
import { denoWebSocket } from './websocket.js';

declare const Deno: DenoApi;

/** Compiled once, when this module loads; every core is an instance of it. */
const module = await WebAssembly.compile(await Deno.readFile(new URL('../../wasm/pkg/wasshd_wasm_bg.wasm', import.meta.url)));

/** The key files' module, read and compiled by the first call that reads or makes a key file (synchronously: `addHostKey` is). */
const compiledKeys = compiledOnce(() => Deno.readFileSync(new URL('../../wasm/pkg-keys/wasshd_keys_bg.wasm', import.meta.url)));
/** The legacy algorithms' module, read and compiled by the first setting that names one of them (synchronously: `config` is). */
const compiledLegacy = compiledOnce(() => Deno.readFileSync(new URL('../../wasm/pkg-legacy/wasshd_legacy_bg.wasm', import.meta.url)));

/** The runtime of Deno: the module read with `Deno.readFile`, `node:crypto` for the packet ciphers, `Deno.listen`, `Deno.serve` for WebSockets, Unix sockets. */
export const denoRuntime: Runtime = { createCore: (seed) => instantiateCore(module, seed, nodeCryptoProvider, compiledLegacy), keyFiles: compiledKeys, listen: denoTcp, listenUnix: denoListenUnix, webSocket: denoWebSocket, connectTcp: denoConnectTcp, connectUnix: denoConnectUnix };

/** The SSH server on Deno: `SSHServer` with this runtime. */
export class SSHServer extends BaseServer {
  constructor(options: SSHServerOptions = {}) {
    super(denoRuntime, options);
  }
}

let clientModule: Promise<WebAssembly.Module> | undefined;

/** The SSH client on Deno: `connect` makes one. */
export class SSHClient extends BaseClient {
  /** Connects (over `transport`, or TCP to `host`:`port`), checks the host key, logs in. The first connect compiles the client's module. */
  static async connect(options: TcpSSHClientOptions): Promise<SSHClient> {
    clientModule ??= Deno.readFile(new URL('../../wasm/pkg-client/wasshd_client_bg.wasm', import.meta.url)).then((bytes) => WebAssembly.compile(bytes));
    const module = await clientModule;
    const runtime = { createClientCore: (seed: Uint8Array, now: number) => instantiateClientCore(module, seed, now, nodeCryptoProvider), keyFiles: compiledKeys };
    return BaseClient.loggedIn(options, tcpTransport(options, denoConnectTcp), (transport) => new SSHClient(runtime, { ...options, transport }));
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
