/**
 * The part of Deno's API the Deno adapter uses, typed here because Deno's own declarations (`deno types`)
 * cannot be loaded beside @types/node in one TypeScript project. Each file that uses Deno declares
 * `declare const Deno: DenoApi`, so the runtime-neutral host cannot reach it by accident.
 */

export interface NetAddr {
  transport: 'tcp' | 'udp';
  hostname: string;
  port: number;
}

/** A Unix socket's address; an accepted connection's has no path. */
export interface UnixAddr {
  transport: 'unix';
  path: string | null;
}

/** A TCP connection, or a Unix socket's (which has neither `setNoDelay` nor `setKeepAlive`). */
export interface TcpConn {
  readonly remoteAddr: NetAddr | UnixAddr;
  /** Resolves with the bytes read, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Resolves with the bytes written, which may be fewer than given. */
  write(p: Uint8Array): Promise<number>;
  /** shutdown(2) of the write side. */
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
  /** SO_KEEPALIVE; the idle time before the first probe is the system's. */
  setKeepAlive?(keepAlive?: boolean): void;
}

export interface UnixListener {
  accept(): Promise<TcpConn>;
  /** Stops accepting and removes the socket file. */
  close(): void;
}

export interface TcpListener extends UnixListener {
  readonly addr: NetAddr;
}

export interface ServeHandlerInfo {
  remoteAddr: NetAddr;
}

export interface HttpServer {
  readonly addr: NetAddr;
  /** Stops accepting; resolves once the requests in progress are done. */
  shutdown(): Promise<void>;
}

export interface DenoApi {
  readonly args: string[];
  readFile(path: string | URL): Promise<Uint8Array<ArrayBuffer>>;
  readFileSync(path: string | URL): Uint8Array<ArrayBuffer>;
  listen(options: { hostname: string; port: number; tcpBacklog?: number; transport?: 'tcp' }): TcpListener;
  /** Fails if a file is at `path` already. */
  listen(options: { transport: 'unix'; path: string }): UnixListener;
  connect(options: { hostname: string; port: number; transport?: 'tcp' }): Promise<TcpConn>;
  connect(options: { transport: 'unix'; path: string }): Promise<TcpConn>;
  serve(
    options: { hostname: string; port: number; tcpBacklog?: number; onListen?: (addr: NetAddr) => void; onError?: (error: unknown) => Response },
    handler: (request: Request, info: ServeHandlerInfo) => Response | Promise<Response>,
  ): HttpServer;
  /** A WHATWG WebSocket for the request and the 101 response that completes the upgrade. */
  upgradeWebSocket(request: Request, options?: { idleTimeout?: number }): { socket: WebSocket; response: Response };
}
