/**
 * SSH over the server end of a workerd `WebSocketPair`: the transport, and the piece of a Worker's `fetch`
 * handler that upgrades requests for the SSH path. Binary messages carry the SSH byte stream in each
 * direction; a text message, or one larger than the endpoint allows, closes the connection.
 *
 * Every WebSocket belongs to the request that accepted it: workerd throws when another request's code sends
 * on it or closes it ("Cannot perform I/O on behalf of a different request"). One SSHServer serves every
 * connection of an isolate, so such calls happen (a trap's cleanup closes every connection from whichever
 * request hit it; an application may write to one session while serving another). The transport carries them
 * to its own request: a promise created there and resolved elsewhere runs its continuation back there.
 */

import type { Transport, TransportAcceptor, TransportHandlers } from '../transport.js';
import { CloseCode, DEFAULT_MAX_MESSAGE_BYTES, MAX_EARLY_BYTES } from '../websocket-gate.js';

/** The part of workerd's WebSocket the transport uses (workerd's own type is not in the DOM library). */
export interface WorkerWebSocket {
  /** Takes the server side of a `WebSocketPair` into this Worker. */
  accept(): void;
  /** Sends one message. */
  send(message: ArrayBuffer | ArrayBufferView | string): void;
  /** Closes with a status code and reason. */
  close(code?: number, reason?: string): void;
  /** How binary messages arrive: the standard default (from compatibility date 2026-03-17) is `blob`. */
  binaryType: 'arraybuffer' | 'blob';
  /** Bytes passed to `send` that workerd has not written to the network yet. */
  readonly bufferedAmount: number;
  /** Each message. */
  addEventListener(type: 'message', listener: (event: { data: ArrayBuffer | string }) => void): void;
  /** The close, by either side. */
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  /** An error; a close follows. */
  addEventListener(type: 'error', listener: (event: { error?: unknown; message?: string }) => void): void;
}

/**
 * workerd's WebSocket has no `drain` event, only `bufferedAmount`: past the high-water mark `write` reports
 * backpressure and the transport polls until the queue is down to the low-water mark.
 */
const HIGH_WATER_MARK = 1024 * 1024;
const LOW_WATER_MARK = 256 * 1024;
const DRAIN_POLL_MS = 2;

export class WorkerWebSocketTransport implements Transport {
  private handlers: TransportHandlers | undefined;
  /** What arrived before `attach` (the server attaches once admission has decided). */
  private early: Uint8Array[] = [];
  private earlyBytes = 0;
  private closing = false;
  private closed = false;
  private closeError: Error | undefined;
  private draining = false;
  private lastBuffered = 0;
  /** Calls made from another request, in order, waiting to run in this one. */
  private readonly errands: (() => void)[] = [];
  private runErrands!: () => void;

  constructor(
    private readonly ws: WorkerWebSocket,
    readonly remoteAddress: string,
    readonly remotePort: number,
    private readonly maxMessageBytes: number,
  ) {
    // Bytes at once, not a Blob to read asynchronously (which would let messages overtake each other's reads).
    ws.binaryType = 'arraybuffer';
    ws.accept();
    this.armErrands();
    ws.addEventListener('message', (event) => {
      if (this.closing) return;
      if (typeof event.data === 'string') return this.fail(CloseCode.UnsupportedData, 'binary messages only');
      if (event.data.byteLength > this.maxMessageBytes) return this.fail(CloseCode.MessageTooBig, `message over ${this.maxMessageBytes} bytes`);
      const bytes = new Uint8Array(event.data);
      if (this.handlers) return this.handlers.data(bytes);
      this.early.push(bytes);
      this.earlyBytes += bytes.length;
      if (this.earlyBytes > MAX_EARLY_BYTES) this.fail(CloseCode.PolicyViolation, 'too much sent before the connection was admitted');
    });
    ws.addEventListener('close', () => this.finish());
    ws.addEventListener('error', (event) => this.finish(new Error(event.message ?? 'WebSocket error')));
  }

  write(data: Uint8Array): boolean {
    if (this.closing) return false;
    this.perform(() => this.ws.send(data));
    if (this.bufferedAmount < HIGH_WATER_MARK) return true;
    this.pollDrain();
    return false;
  }

  get bufferedAmount(): number {
    try {
      this.lastBuffered = this.ws.bufferedAmount;
    } catch {
      // Read from another request: the last value seen here.
    }
    return this.lastBuffered;
  }

  end(): void {
    this.closeWith(CloseCode.Normal, '');
  }

  destroy(): void {
    this.closeWith(CloseCode.InternalError, 'closed by the server');
    // The peer may never answer the close frame: the server is done with the connection now, and hears of the
    // close after this call returns, as from a socket.
    void Promise.resolve().then(() => this.finish());
  }

  /** The peer cannot be stopped; the server queues what it sends while not reading, within its bounds. */
  pause(): void {}

  resume(): void {}

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
    for (const bytes of this.early.splice(0)) handlers.data(bytes);
    if (this.closed) handlers.close(this.closeError);
  }

  private closeWith(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    // workerd sends the close frame after the messages queued before it.
    this.perform(() => this.ws.close(code, reason));
  }

  /** Closes for a protocol error of the peer's and tells the server why. */
  private fail(code: number, reason: string): void {
    this.closeWith(code, reason);
    this.finish(new Error(`WebSocket closed: ${reason}`));
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.closeError = error;
    this.early.length = 0;
    this.handlers?.close(error);
  }

  /**
   * Runs a call on the WebSocket now if this request may, else in this request, after the calls already
   * waiting (so that bytes keep their order).
   */
  private perform(call: () => void): void {
    // Its request may be over: nothing could run there.
    if (this.closed) return;
    if (this.errands.length === 0) {
      try {
        return call();
      } catch {
        // Another request's I/O context (or a socket workerd already closed: then it fails again below).
      }
    }
    this.errands.push(call);
    if (this.errands.length === 1) this.runErrands();
  }

  /** Runs in this request: the promise is created here, so its continuation comes back here. */
  private armErrands(): void {
    void new Promise<void>((resolve) => (this.runErrands = resolve)).then(() => {
      this.armErrands();
      for (const call of this.errands.splice(0)) {
        try {
          call();
        } catch {
          // The socket has closed; its close event tells the server.
        }
      }
    });
  }

  /** Polls `bufferedAmount` in this request until it is low, then reports `drain`. */
  private pollDrain(): void {
    if (this.draining) return;
    this.draining = true;
    this.perform(() => {
      const poll = () => {
        if (this.closed) return;
        if (this.ws.bufferedAmount > LOW_WATER_MARK) return void setTimeout(poll, DRAIN_POLL_MS);
        this.draining = false;
        this.handlers?.drain();
      };
      setTimeout(poll, DRAIN_POLL_MS);
    });
  }
}

/** Where a request came from, as the SSH server sees it (penalties and MaxStartups count by address). */
export interface ClientAddress {
  /** The client's IP address. */
  address: string;
  /** The client's port, 0 if unknown. */
  port: number;
}

/** `acceptWebSocket`'s options. */
export interface WebSocketEndpointOptions {
  /** The endpoint's path; other paths are answered 404. Default `/ssh`. */
  path?: string;
  /**
   * `Origin` headers allowed to connect. A browser always sends one, so this keeps other sites' pages from
   * opening SSH connections with their visitors' browsers; a request without one (not from a browser) is
   * let through, as any such client could claim any origin. Absent: any origin.
   */
  allowedOrigins?: readonly string[];
  /** Largest message accepted; a larger one closes the connection (1009). Default 1 MiB. */
  maxMessageBytes?: number;
  /**
   * The client's address. Default: the address workerd saw (`request.cf.clientIp`, which local workerd
   * sets), else `CF-Connecting-IP`, which Cloudflare's edge sets (replacing any the client sent). Behind
   * another proxy, pass what it vouches for.
   */
  clientAddress?: (request: Request) => ClientAddress;
}

/** The pair workerd creates for a server-side WebSocket; the DOM library does not declare it. */
const { WebSocketPair } = globalThis as unknown as { WebSocketPair: new () => { 0: WorkerWebSocket; 1: WorkerWebSocket } };

/**
 * The default `clientAddress`: `request.cf.clientIp` (`ADDRESS:PORT`, IPv6 addresses in brackets or bare),
 * else `CF-Connecting-IP`, else none.
 */
export function defaultClientAddress(request: Request): ClientAddress {
  const seen = (request as { cf?: { clientIp?: unknown } }).cf?.clientIp;
  if (typeof seen === 'string') {
    const m = /^\[?(.*?)\]?:(\d+)$/.exec(seen);
    return m ? { address: m[1]!, port: Number(m[2]) } : { address: seen, port: 0 };
  }
  return { address: request.headers.get('CF-Connecting-IP') ?? '', port: 0 };
}

/**
 * Serves SSH over WebSocket from a Worker's `fetch` handler: upgrades a request for the endpoint's path and
 * hands the connection to `server` (an `SSHServer`). Other paths get 404, requests that are not WebSocket
 * upgrades 426, and an origin not allowed 403, before anything is upgraded.
 */
export function acceptWebSocket(request: Request, server: TransportAcceptor, options: WebSocketEndpointOptions = {}): Response {
  if (new URL(request.url).pathname !== (options.path ?? '/ssh')) return new Response('not found\n', { status: 404 });
  if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') {
    return new Response('SSH over WebSocket: upgrade required\n', { status: 426, headers: { Upgrade: 'websocket' } });
  }
  const origin = request.headers.get('Origin');
  if (origin !== null && options.allowedOrigins && !options.allowedOrigins.includes(origin)) {
    return new Response('origin not allowed\n', { status: 403 });
  }
  const pair = new WebSocketPair();
  const client = (options.clientAddress ?? defaultClientAddress)(request);
  const transport = new WorkerWebSocketTransport(pair[1], client.address, client.port, options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  void server.accept(transport);
  return new Response(null, { status: 101, webSocket: pair[0] } as ResponseInit);
}
