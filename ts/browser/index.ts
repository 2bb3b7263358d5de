/**
 * The browser entry point: the server in a page, with the wasm module compiled there. A tab accepts no
 * connections, so the server serves the transports the page hands it (`server.accept`): WebSockets the page
 * opens to a relay that pairs each with an SSH client (`serveRelay`, and the `wasshd-ws-relay` program), or any
 * other byte stream behind the transport contract. Entropy comes from `crypto.getRandomValues`, time from
 * `performance.now`, as on every runtime.
 *
 *   const server = await SSHServer.create();
 *   server.generateHostKey();
 *   server.on('userAuthRequest', (e) => (e.password === password ? e.accept() : e.reject()));
 *   serveRelay(server, 'wss://relay.example/tab');
 */

import { SSHClient as BaseClient, type SSHClientOptions } from '../client/client.js';
import { instantiateClientCore } from '../client/instance.js';
import { instantiateCore } from '../core/instance.js';
import { ErrorCode, SSHError } from '../errors.js';
import { SSHServer as BaseServer, type Runtime, type SSHServerOptions } from '../server.js';
import type { Transport } from '../transport.js';
import { WebSocketTransport } from '../websocket-transport.js';

/**
 * Where the core's wasm module comes from: its URL (fetched and compiled as it streams in), a `fetch` response
 * for it, or the module compiled already.
 */
export type WasmSource = URL | string | Response | Promise<Response> | WebAssembly.Module;

/** The server's module in the package, where a page that serves the package as it is finds it. */
const SERVER_WASM = new URL('../../wasm/pkg/wasshd_wasm_bg.wasm', import.meta.url);
/** The client's module, likewise: a module of its own, so that a page that only connects fetches no server. */
const CLIENT_WASM = new URL('../../wasm/pkg-client/wasshd_client_bg.wasm', import.meta.url);
/** The key files' module (`addHostKey`, `generateHostKey`, a client's `privateKey`), likewise. */
const KEYS_WASM = new URL('../../wasm/pkg-keys/wasshd_keys_bg.wasm', import.meta.url);
/** The legacy algorithms' module (3DES, Blowfish, CAST-128, RC4, HMAC-MD5, HMAC-RIPEMD-160), likewise. */
const LEGACY_WASM = new URL('../../wasm/pkg-legacy/wasshd_legacy_bg.wasm', import.meta.url);

/**
 * Compiles the server's wasm module. Bundlers move files: pass the URL the bundler gives the package's
 * `wasshd/wasm` export (Vite: `import url from 'wasshd/wasm?url'`), or a module compiled elsewhere.
 */
export function compileCore(source: WasmSource = SERVER_WASM): Promise<WebAssembly.Module> {
  return compile(source);
}

/** Compiles the client's wasm module: as `compileCore`, from the package's `wasshd/wasm-client` export. */
export function compileClientCore(source: WasmSource = CLIENT_WASM): Promise<WebAssembly.Module> {
  return compile(source);
}

/** Compiles the key files' wasm module: as `compileCore`, from the package's `wasshd/wasm-keys` export. */
export function compileKeyFiles(source: WasmSource = KEYS_WASM): Promise<WebAssembly.Module> {
  return compile(source);
}

/** Compiles the legacy algorithms' wasm module: as `compileCore`, from the package's `wasshd/wasm-legacy` export. */
export function compileLegacy(source: WasmSource = LEGACY_WASM): Promise<WebAssembly.Module> {
  return compile(source);
}

async function compile(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  const response = await (typeof source === 'string' || source instanceof URL ? fetch(source) : source);
  if (!response.ok) throw new SSHError(ErrorCode.InvalidArgument, `could not load the wasm module from ${response.url}: HTTP ${response.status}`);
  // Streaming compilation needs the right media type; a static server that lacks it still serves the bytes.
  if (response.headers.get('content-type')?.split(';')[0]?.trim() === 'application/wasm') return WebAssembly.compileStreaming(response);
  return WebAssembly.compile(await response.arrayBuffer());
}

/**
 * A runtime whose cores are instances of `module`, which listens on nothing; `keysModule` (`compileKeyFiles`)
 * reads and makes key files: a page fetches nothing synchronously, so it is compiled beforehand.
 */
export function browserRuntime(module: WebAssembly.Module, keysModule?: WebAssembly.Module, legacyModule?: WebAssembly.Module): Runtime {
  return {
    createCore: (seed) => instantiateCore(module, seed, undefined, legacyModule && (() => legacyModule)),
    ...(keysModule ? { keyFiles: () => keysModule } : {}),
    listen: {
      listen: () =>
        Promise.reject(
          new SSHError(
            ErrorCode.InvalidArgument,
            'a browser tab accepts no TCP connections: hand the server its connections with server.accept(transport), e.g. serveRelay(server, url) for WebSockets a wasshd-ws-relay pairs with SSH clients',
          ),
        ),
    },
  };
}

/** The browser server's options: the typed options and where its wasm module comes from. */
export interface BrowserServerOptions extends SSHServerOptions {
  /** The core's wasm module. Default: the package's own, fetched from beside this file. */
  wasm?: WasmSource;
  /**
   * The key files' wasm module (`compileKeyFiles`), fetched alongside the core's since `addHostKey` and
   * `generateHostKey` cannot wait for it. Default: the package's own; `null` for none (those calls then fail).
   */
  keysWasm?: WasmSource | null;
  /**
   * The legacy algorithms' wasm module (`compileLegacy`; `true`: the package's own), for a server whose settings
   * name `3des-cbc`, `blowfish-cbc`, `cast128-cbc`, `arcfour*`, `hmac-md5*` or `hmac-ripemd160*`. Default: none, and
   * such settings are refused.
   */
  legacyWasm?: WasmSource | true;
}

/** The SSH server in a page or a Worker: its connections come from `accept` (a relay's WebSockets, a `MessagePort`). */
export class SSHServer extends BaseServer {
  /** Compiles the wasm modules (`options.wasm`, `options.keysWasm`), then makes a server on them. */
  static async create(options: BrowserServerOptions = {}): Promise<SSHServer> {
    const { wasm, keysWasm, legacyWasm, ...serverOptions } = options;
    const [module, keysModule, legacyModule] = await Promise.all([
      compileCore(wasm),
      keysWasm === null ? undefined : compileKeyFiles(keysWasm),
      legacyWasm === undefined ? undefined : compileLegacy(legacyWasm === true ? undefined : legacyWasm),
    ]);
    return new SSHServer(module, serverOptions, keysModule, legacyModule);
  }

  /** A server on modules compiled already (`compileCore`, `compileKeyFiles`, `compileLegacy`); `SSHServer.create` compiles them. */
  constructor(module: WebAssembly.Module, options: SSHServerOptions = {}, keysModule?: WebAssembly.Module, legacyModule?: WebAssembly.Module) {
    super(browserRuntime(module, keysModule, legacyModule), options);
  }
}

/** `SSHClient.connect`'s options in a page: a transport, or a WebSocket endpoint to open. */
export interface BrowserSSHClientOptions extends Omit<SSHClientOptions, 'transport'> {
  /** A byte stream to the server; without one, a WebSocket to `url` is opened. */
  transport?: Transport;
  /** A WebSocket endpoint carrying SSH (`wss://host/ssh`), when no transport is given. */
  url?: string | URL;
  /** The client's wasm module (`compileClientCore`). Default: the package's own, compiled once per page. */
  wasm?: WasmSource;
  /** The key files' wasm module (`compileKeyFiles`), fetched only with a `privateKey`. Default: the package's own. */
  keysWasm?: WasmSource;
}

let defaultClientModule: Promise<WebAssembly.Module> | undefined;
let defaultKeysModule: Promise<WebAssembly.Module> | undefined;

/** Opens a WebSocket to `url`: the transport once it is open. */
function openWebSocket(url: string | URL): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const failed = () => reject(new SSHError(ErrorCode.ConnectionLost, `could not open a WebSocket to ${String(url)}`));
    socket.addEventListener('error', failed);
    socket.addEventListener('open', () => {
      socket.removeEventListener('error', failed);
      resolve(new WebSocketTransport(socket, { remoteAddress: String(url) }));
    });
  });
}

/** The SSH client in a page: `connect` makes one, over a WebSocket or a transport. */
export class SSHClient extends BaseClient {
  /** Compiles the wasm module if need be, connects (over `transport`, or a WebSocket to `url`), checks the host key, logs in. */
  static async connect(options: BrowserSSHClientOptions): Promise<SSHClient> {
    const module = await (options.wasm === undefined ? (defaultClientModule ??= compileClientCore()) : compileClientCore(options.wasm));
    if (!options.transport && options.url === undefined) throw new SSHError(ErrorCode.InvalidArgument, 'give a transport or a url to connect to');
    const open = async () => options.transport ?? openWebSocket(options.url!);
    const keysModule = options.privateKey === undefined ? undefined : await (options.keysWasm === undefined ? (defaultKeysModule ??= compileKeyFiles()) : compileKeyFiles(options.keysWasm));
    const runtime = { createClientCore: (seed: Uint8Array, now: number) => instantiateClientCore(module, seed, now), ...(keysModule ? { keyFiles: () => keysModule } : {}) };
    return BaseClient.loggedIn(options, open, (transport) => new SSHClient(runtime, { ...options, transport }));
  }
}

export * from '../client/exports.js';
export { MessagePortTransport, type MessagePortTransportOptions } from './message-port.js';
export { serveRelay } from './relay.js';
export type { RelayOptions, ServedRelay } from './relay.js';
export { WebSocketTransport } from '../websocket-transport.js';
export type { WebSocketTransportOptions } from '../websocket-transport.js';
export * from '../server.js';
export * from '../errors.js';
export * from '../sftp/index.js';
export { SourcePenalties, StartupLimit, type Family, type PenaltyCause } from '../limits.js';
export type { Transport, TransportAcceptor, TransportHandlers, SocketOptions } from '../transport.js';
