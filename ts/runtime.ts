/**
 * The contract each runtime entry point fills (ts/node, ts/deno, ts/bun, ts/workerd, ts/component): how to
 * make a core, the runtime's listeners, and the host's clock and randomness.
 */

import type { Core } from '../wasm/pkg/wasshd_wasm.js';
import type { KeyFilesModule } from './core/key-files.js';
import type { ListenAdapter, Listener, StaticFile, Transport, WebSocketListenAdapter } from './transport.js';

/**
 * The host's time and timers: milliseconds from any origin, never going back. Every wait of the host (the
 * core's deadline, the close grace, the auth-failure delay) goes through one, so that a runtime without the
 * usual globals can supply its own and a test can run the server on a fake clock.
 */
export interface Clock {
  /** Milliseconds since any fixed origin; never decreasing. */
  now(): number;
  /** Calls `callback` once, `ms` milliseconds from now; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a `setTimeout` not yet run. */
  clearTimeout(handle: unknown): void;
}

/** `performance.now` and the global timers, which every runtime the host targets has. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The clock in whole milliseconds, as the core and the penalties take it. */
export function wholeMs(clock: Clock): number {
  return Math.floor(clock.now());
}

/** Where a listener was bound: the port is the real one when 0 was asked. */
export interface BoundAddress {
  /** The address listened on. */
  host: string;
  /** The port listened on. */
  port: number;
}

/** `startWebSocket`'s options. */
export interface WebSocketEndpoint {
  /** Default: `localHost`. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Default `/ssh`. */
  path?: string;
  /** `Origin` headers allowed to connect; default any (and none). */
  allowedOrigins?: string[];
  /** Largest message accepted, in bytes; default 1 MiB. */
  maxMessageBytes?: number;
  /**
   * Files served on GET and HEAD of their paths on the same port (`/` for a page): a page and the endpoint it
   * connects to from one origin. Other paths are answered 404.
   */
  files?: ReadonlyMap<string, StaticFile>;
}

/** A message larger than any SSH packet and a socket read's worth of them. */
export const DEFAULT_MAX_WEBSOCKET_MESSAGE = 1024 * 1024;

/** What a runtime entry point provides. */
export interface Runtime {
  /**
   * @internal A core in a wasm instance of its own, sharing nothing with earlier ones (`instantiateCore`): the
   * first, synchronously, so that a server can be configured as soon as it is constructed, and a fresh one after a trap.
   */
  createCore(seed: Uint8Array): Core;
  /**
   * @internal The keys wasm module (wasm/pkg-keys), which reads and makes key files (`addHostKey`, `generateHostKey`):
   * asked for by the first such call, and compiled then where the runtime can. Without it, those calls fail.
   */
  keyFiles?: KeyFilesModule;
  /** The runtime's TCP server (`startListening`); a runtime without one rejects with the reason. */
  listen: ListenAdapter;
  /** The runtime's WebSocket server, where it has one (`startWebSocket`). */
  webSocket?: WebSocketListenAdapter;
  /** A TCP connection to `host`:`port`, where the runtime can open one: forwarded tunnels (`sshTunnelRequested`). */
  connectTcp?: (host: string, port: number) => Promise<Transport>;
  /** A connection to the Unix socket at `path`, where the runtime can open one: forwarded tunnels to sockets. */
  connectUnix?: (path: string) => Promise<Transport>;
  /**
   * Listens on a new Unix socket at `path`, where the runtime can: remote forwards of sockets (`ssh -R /path:…`).
   * Closing the listener removes the socket file; an existing file at `path` makes it fail.
   */
  listenUnix?: (path: string, accept: (transport: Transport) => void) => Promise<Listener>;
  /** Default `systemClock`. */
  clock?: Clock;
  /** Uniform in [0, 1), for MaxStartups' random early drop. Default: the platform's CSPRNG. */
  random?: () => number;
}

/** `n` bytes from `crypto.getRandomValues`, the platform's CSPRNG, which every runtime the host targets has. */
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** The same CSPRNG as a number in [0, 1): `Runtime.random`'s default. */
export function cryptoRandom(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32;
}
