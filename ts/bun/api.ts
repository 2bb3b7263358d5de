/**
 * The part of Bun's API the Bun adapter uses, typed here because Bun's own declarations (bun-types) are not
 * installed and clash with @types/node. Each file that uses Bun declares `declare const Bun: BunApi`, so
 * the runtime-neutral host cannot reach it by accident.
 */

/** A TCP socket of `Bun.listen`; `data` is what the server's handlers keep with it. */
export interface BunSocket<Data> {
  data: Data;
  /** Undefined on a Unix socket. */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Writes what the kernel takes at once and returns how much that was (-1 once closed); Bun keeps no buffer. */
  write(data: Uint8Array): number;
  /** Sends FIN and closes: what the peer still sends is not delivered. */
  end(): void;
  /** Sends FIN only (shutdown(2) of the write side): what the peer still sends is delivered. */
  shutdown(): void;
  /** Closes at once. */
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
  /** SO_KEEPALIVE, with the idle time in milliseconds before the first probe. */
  setKeepAlive(enable?: boolean, initialDelay?: number): boolean;
}

export interface BunSocketHandlers<Data> {
  open(socket: BunSocket<Data>): void;
  data(socket: BunSocket<Data>, data: Uint8Array): void;
  /** The socket can take more after a short write. */
  drain(socket: BunSocket<Data>): void;
  /** The peer sent FIN. */
  end(socket: BunSocket<Data>): void;
  close(socket: BunSocket<Data>, error?: Error): void;
  error(socket: BunSocket<Data>, error: Error): void;
}

export interface BunTcpListener {
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

export interface ServerWebSocket<Data> {
  readonly data: Data;
  readonly readyState: number;
  /** Bytes sent (> 0), -1 when queued behind backpressure, 0 when dropped (closed, or over the backpressure limit). */
  send(data: Uint8Array): number;
  getBufferedAmount(): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  /** Stops reading from the socket: the peer sees TCP backpressure. */
  pause(): void;
  resume(): void;
}

export interface BunServer<Data> {
  readonly port: number;
  upgrade(request: Request, options: { data: Data }): boolean;
  requestIP(request: Request): { address: string; port: number } | null;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

export interface BunApi {
  readonly argv: string[];
  file(path: string | URL): { arrayBuffer(): Promise<ArrayBuffer> };
  /** `allowHalfOpen`: a peer's FIN leaves our side open (by default Bun then closes the socket). */
  listen<Data>(options: { hostname: string; port: number; allowHalfOpen?: boolean; ipv6Only?: boolean; socket: BunSocketHandlers<Data> }): BunTcpListener;
  /** On a new Unix socket (a file at `path` makes it fail); `stop` removes the file. */
  listen<Data>(options: { unix: string; allowHalfOpen?: boolean; socket: BunSocketHandlers<Data> }): BunTcpListener;
  /** Resolves once connected; rejects if the connection fails. */
  connect<Data>(options: { hostname: string; port: number; allowHalfOpen?: boolean; socket: BunSocketHandlers<Data> }): Promise<BunSocket<Data>>;
  connect<Data>(options: { unix: string; allowHalfOpen?: boolean; socket: BunSocketHandlers<Data> }): Promise<BunSocket<Data>>;
  serve<Data>(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunServer<Data>): Response | undefined | Promise<Response | undefined>;
    websocket: {
      /** A larger message closes the connection (1009) before it is delivered. */
      maxPayloadLength: number;
      /** Bytes buffered past which a send is dropped, or the connection closed with `closeOnBackpressureLimit`. */
      backpressureLimit: number;
      closeOnBackpressureLimit: boolean;
      perMessageDeflate: boolean;
      open(ws: ServerWebSocket<Data>): void;
      message(ws: ServerWebSocket<Data>, message: string | Uint8Array): void;
      drain(ws: ServerWebSocket<Data>): void;
      close(ws: ServerWebSocket<Data>, code: number, reason: string): void;
    };
  }): BunServer<Data>;
}
