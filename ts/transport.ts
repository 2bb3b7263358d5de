/**
 * The contract between the runtime-independent server and a runtime's sockets. A runtime adapter
 * (Node, Deno and Bun TCP and WebSocket servers, workerd's and browsers' WebSockets) implements only this.
 */

/** One accepted byte stream. */
export interface Transport {
  /** The peer's address (for a WebSocket, the client's as the runtime or a trusted proxy reports it). */
  readonly remoteAddress: string;
  /** The peer's port. */
  readonly remotePort: number;
  /** Queues bytes; returns false when the runtime's buffer is full (wait for `drain`). */
  write(data: Uint8Array): boolean;
  /** Bytes written and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Flushes what is queued, then closes. */
  end(): void;
  /** Closes at once. */
  destroy(): void;
  /**
   * Stops delivering data until `resume` where the runtime can (TCP: the peer's sends wait in its socket).
   * A transport that cannot (a WebSocket) may go on delivering: the server queues what arrives, within bounds.
   */
  pause(): void;
  /** Delivers data again after `pause`. */
  resume(): void;
  /** Installs the callbacks; called once, before any data is delivered. */
  attach(handlers: TransportHandlers): void;
  /**
   * Applies the socket settings as far as the runtime has the knobs (TCP on Node, Deno and Bun); a
   * transport without a socket of its own (a WebSocket, a pipe) leaves it out. Called once, as accepted.
   */
  configure?(options: SocketOptions): void;
}

/** `TcpNoDelay` and `KeepAliveTime`, as the server applies them to each accepted connection. */
export interface SocketOptions {
  /** Nagle's algorithm off. */
  noDelay: boolean;
  /** Idle milliseconds before TCP keep-alive probes start; 0 turns keep-alive off. */
  keepAliveMs: number;
}

/** What serves a transport accepted elsewhere: `SSHServer.accept`. */
export interface TransportAcceptor {
  /** Serves SSH over the transport until either side ends it. */
  accept(transport: Transport): Promise<void>;
}

/** What a transport calls as things happen to its stream. */
export interface TransportHandlers {
  /** Bytes from the peer, in pieces of any size (a whole WebSocket message, say). */
  data(bytes: Uint8Array): void;
  /** The write buffer emptied after `write` returned false. */
  drain(): void;
  /** The stream closed (by either side, or an error). */
  close(error?: Error): void;
  /**
   * The peer will send nothing more (its half-close). Without this handler the transport ends its own side
   * at once and drops what the peer might still send (an SSH client that half-closes has nothing more to
   * say); with it, the transport keeps its side open, and `end()` then shuts only the writing side while what
   * the peer still sends is delivered (a forwarded connection's far end answers after an EOF).
   */
  end?(): void;
}

/** Where and how a TCP server listens. */
export interface ListenOptions {
  /** The address to listen on (`0.0.0.0`, `::`, or one interface's). */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Connections the kernel queues before they are accepted. */
  backlog?: number;
  /** On an IPv6 `host`: take IPv6 clients only (true), or IPv4 ones too, mapped (false); default the system's. */
  ipv6Only?: boolean;
}

/** A listening socket. */
export interface Listener {
  /** The address it listens on. */
  readonly host: string;
  /** The port it listens on (the one picked, for port 0). */
  readonly port: number;
  /** Stops accepting; connections already accepted go on. */
  close(): Promise<void>;
}

/** A runtime's way to accept connections. */
export interface ListenAdapter {
  /** Listens, calling `accept` with each connection's transport. */
  listen(options: ListenOptions, accept: (transport: Transport) => void): Promise<Listener>;
}

/** A file a WebSocket endpoint serves on its port beside the SSH path: a page that speaks SSH back to it. */
export interface StaticFile {
  /** Its media type, e.g. `text/html; charset=utf-8`; `application/wasm` lets a page compile it as it streams in. */
  type: string;
  /** The file's bytes. */
  body: Uint8Array;
}

/** Where and how a WebSocket endpoint carrying SSH listens. */
export interface WebSocketListenOptions extends ListenOptions {
  /** The endpoint's path, e.g. `/ssh`; other paths are answered from `files`, else 404. */
  path: string;
  /** Files answered on GET and HEAD of their paths (`/index.html`); the same origin as the endpoint. */
  files?: ReadonlyMap<string, StaticFile>;
  /**
   * `Origin` headers allowed to connect (browsers send one; other clients usually none). Absent: any
   * origin, and none. A request from an origin not listed is refused (403) before it is upgraded.
   */
  allowedOrigins?: readonly string[];
  /** Largest message accepted; a larger one closes the connection (1009). */
  maxMessageBytes: number;
}

/**
 * A runtime's WebSocket server for SSH: each connection's binary messages are the raw SSH byte stream in
 * each direction, with no other framing. Text messages are a protocol error (the connection is closed).
 */
export interface WebSocketListenAdapter {
  /** Listens, calling `accept` with each upgraded connection's transport. */
  listen(options: WebSocketListenOptions, accept: (transport: Transport) => void): Promise<Listener>;
}
