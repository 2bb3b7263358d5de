/**
 * Deno's HTTP server (`Deno.serve`) upgrading requests to WebSockets (`Deno.upgradeWebSocket`) that carry
 * SSH, behind the transport contract. Deno's WebSocket is the browser's API: no pause (messages arrive
 * whatever the host asks, and wait in its inbox within bounds), no drain event (the buffered amount is polled
 * while over the mark), and no limit on a message's size before it arrives (checked as it is delivered).
 */

import type { Listener, Transport, TransportHandlers, WebSocketListenAdapter } from '../transport.js';
import { CloseCode, upgradeRefusal } from '../websocket-gate.js';
import type { DenoApi, HttpServer } from './api.js';

declare const Deno: DenoApi;

/** Bytes buffered in a WebSocket before `write` reports backpressure. */
const HIGH_WATER_MARK = 1024 * 1024;
/** `drain` once the buffered amount is down to this, leaving the network something to send meanwhile. */
const LOW_WATER_MARK = HIGH_WATER_MARK / 2;
/** How often the buffered amount is looked at while over the mark. */
const DRAIN_POLL_MS = 4;

class DenoWebSocketTransport implements Transport {
  private handlers: TransportHandlers | undefined;
  /** Messages from before `attach` and the microtask after it; undefined once delivered. */
  private early: Uint8Array[] | undefined = [];
  private closed = false;
  private closeError: Error | undefined;
  private polling = false;

  constructor(
    private readonly socket: WebSocket,
    readonly remoteAddress: string,
    readonly remotePort: number,
    private readonly maxMessageBytes: number,
    /** Called once the connection has ended. */
    private readonly ended: () => void,
  ) {
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('message', (e) => this.message(e.data));
    socket.addEventListener('error', (e) => (this.closeError ??= new Error((e as ErrorEvent).message || 'WebSocket error')));
    socket.addEventListener('close', () => this.finish());
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  write(data: Uint8Array): boolean {
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) return true;
    // What the host writes is its own copy out of wasm memory, never a shared buffer.
    this.socket.send(data as Uint8Array<ArrayBuffer>);
    if (this.socket.bufferedAmount < HIGH_WATER_MARK) return true;
    this.pollForDrain();
    return false;
  }

  /** The close frame follows the messages already sent. */
  end(): void {
    if (!this.closed) this.socket.close(CloseCode.Normal);
  }

  destroy(): void {
    if (this.closed) return;
    this.socket.close(CloseCode.Normal);
    this.finish();
  }

  pause(): void {}

  resume(): void {}

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
    // After the host's own setup for the connection, which follows this call.
    queueMicrotask(() => {
      for (const bytes of this.early!) handlers.data(bytes);
      this.early = undefined;
      if (this.closed) handlers.close(this.closeError);
    });
  }

  private message(data: unknown): void {
    if (this.closed) return;
    if (typeof data === 'string') return this.refuse(CloseCode.UnsupportedData, 'binary messages only');
    const bytes = new Uint8Array(data as ArrayBuffer);
    if (bytes.length > this.maxMessageBytes) return this.refuse(CloseCode.MessageTooBig, 'message too big');
    if (this.early) this.early.push(bytes);
    else this.handlers!.data(bytes);
  }

  private refuse(code: number, reason: string): void {
    this.socket.close(code, reason);
    this.closeError = new Error(`WebSocket closed: ${reason}`);
    this.finish();
  }

  private pollForDrain(): void {
    if (this.polling) return;
    this.polling = true;
    const check = () => {
      if (this.closed) return;
      if (this.socket.bufferedAmount > LOW_WATER_MARK) return void setTimeout(check, DRAIN_POLL_MS);
      this.polling = false;
      this.handlers?.drain();
    };
    setTimeout(check, DRAIN_POLL_MS);
  }

  /** Reports the end once, after the early messages if they are still being delivered. */
  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.ended();
    const handlers = this.handlers;
    if (handlers && !this.early) queueMicrotask(() => handlers.close(this.closeError));
  }
}

export const denoWebSocket: WebSocketListenAdapter = {
  listen(options, accept): Promise<Listener> {
    return new Promise((resolve, reject) => {
      let server: HttpServer | undefined;
      // Deno's shutdown closes the upgraded WebSockets too (1001): once closed, the listener refuses new
      // upgrades (503) and shuts the server down only when the last open connection has ended.
      const open = new Set<DenoWebSocketTransport>();
      let closing = false;
      const shutdownWhenIdle = () => {
        if (closing && open.size === 0) void server?.shutdown();
      };
      const close = async () => {
        closing = true;
        shutdownWhenIdle();
      };
      try {
        server = Deno.serve(
          {
            hostname: options.host,
            port: options.port,
            ...(options.backlog ? { tcpBacklog: options.backlog } : {}),
            onListen: (addr) => resolve({ host: options.host, port: addr.port, close }),
          },
          (request, info) => {
            if (closing) return new Response('not accepting connections\n', { status: 503 });
            const refusal = upgradeRefusal(request, options);
            if (refusal) return refusal;
            // Read before upgrading: the request is gone afterwards.
            const { hostname, port } = info.remoteAddr;
            let upgrade: { socket: WebSocket; response: Response };
            try {
              upgrade = Deno.upgradeWebSocket(request);
            } catch {
              return new Response('bad WebSocket upgrade\n', { status: 400 });
            }
            const transport = new DenoWebSocketTransport(upgrade.socket, hostname, port, options.maxMessageBytes, () => {
              open.delete(transport);
              shutdownWhenIdle();
            });
            upgrade.socket.addEventListener(
              'open',
              () => {
                open.add(transport);
                accept(transport);
              },
              { once: true },
            );
            return upgrade.response;
          },
        );
      } catch (e) {
        reject(e as Error);
      }
    });
  },
};
