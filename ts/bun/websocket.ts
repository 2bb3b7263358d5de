/**
 * Bun's HTTP server (`Bun.serve`) upgrading requests to WebSockets that carry SSH, behind the transport
 * contract. Bun enforces the message size before a message is delivered (1009), pauses reading on request
 * and reports when a backed-up socket drains.
 */

import type { Listener, Transport, TransportHandlers, WebSocketListenAdapter } from '../transport.js';
import { CloseCode, upgradeRefusal } from '../websocket-gate.js';
import type { BunApi, ServerWebSocket } from './api.js';

declare const Bun: BunApi;

/** Bytes buffered in a WebSocket before `write` reports backpressure. */
const HIGH_WATER_MARK = 1024 * 1024;
/** `drain` once the buffered amount is down to this, leaving the network something to send meanwhile. */
const LOW_WATER_MARK = HIGH_WATER_MARK / 2;
/**
 * Bun drops a message sent past this much backpressure, which would corrupt the SSH stream: the connection
 * is closed instead. The host stops writing at the high-water mark, far below it.
 */
const BACKPRESSURE_LIMIT = 16 * HIGH_WATER_MARK;

/** What Bun keeps with each WebSocket: the peer's address (known at upgrade) and then its transport. */
interface Peer {
  address: string;
  port: number;
  transport?: BunWebSocketTransport;
}

class BunWebSocketTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  private handlers: TransportHandlers | undefined;
  /** Messages from before `attach` and the microtask after it; undefined once delivered. */
  private early: Uint8Array[] | undefined = [];
  private needDrain = false;
  private paused = false;
  private closed = false;
  private closeError: Error | undefined;

  constructor(private readonly ws: ServerWebSocket<Peer>) {
    this.remoteAddress = ws.data.address;
    this.remotePort = ws.data.port;
    // Nothing is read until the host attaches (after its connectionRequest handlers).
    ws.pause();
  }

  get bufferedAmount(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }

  write(data: Uint8Array): boolean {
    if (this.closed) return true;
    if (this.ws.send(data) === 0) {
      // Dropped: the stream would go on with a hole in it.
      this.destroy();
      return true;
    }
    if (this.ws.getBufferedAmount() < HIGH_WATER_MARK) return true;
    this.needDrain = true;
    return false;
  }

  /** The close frame follows the messages already queued. */
  end(): void {
    if (!this.closed) this.ws.close(CloseCode.Normal);
  }

  destroy(): void {
    if (this.closed) return;
    this.ws.terminate();
    this.finish();
  }

  pause(): void {
    this.paused = true;
    if (!this.early && !this.closed) this.ws.pause();
  }

  resume(): void {
    this.paused = false;
    if (!this.early && !this.closed) this.ws.resume();
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
    // After the host's own setup for the connection, which follows this call.
    queueMicrotask(() => {
      for (const bytes of this.early!) handlers.data(bytes);
      this.early = undefined;
      if (this.closed) return handlers.close(this.closeError);
      if (!this.paused) this.ws.resume();
    });
  }

  // ---- Bun's events, through the server's websocket handlers ----

  message(message: string | Uint8Array): void {
    if (this.closed) return;
    if (typeof message === 'string') {
      this.ws.close(CloseCode.UnsupportedData, 'binary messages only');
      this.closeError = new Error('WebSocket closed: binary messages only');
      return this.finish();
    }
    if (this.early) this.early.push(message);
    else this.handlers!.data(message);
  }

  writable(): void {
    if (!this.needDrain || this.closed || this.ws.getBufferedAmount() > LOW_WATER_MARK) return;
    this.needDrain = false;
    this.handlers?.drain();
  }

  /** Reports the end once, after the early messages if they are still being delivered. */
  finish(): void {
    if (this.closed) return;
    this.closed = true;
    const handlers = this.handlers;
    if (handlers && !this.early) queueMicrotask(() => handlers.close(this.closeError));
  }
}

export const bunWebSocket: WebSocketListenAdapter = {
  async listen(options, accept): Promise<Listener> {
    const server = Bun.serve<Peer>({
      hostname: options.host,
      port: options.port,
      fetch(request, server) {
        const refusal = upgradeRefusal(request, options);
        if (refusal) return refusal;
        const peer = server.requestIP(request);
        if (server.upgrade(request, { data: { address: peer?.address ?? '', port: peer?.port ?? 0 } })) return undefined;
        return new Response('bad WebSocket upgrade\n', { status: 400 });
      },
      websocket: {
        maxPayloadLength: options.maxMessageBytes,
        backpressureLimit: BACKPRESSURE_LIMIT,
        closeOnBackpressureLimit: true,
        // SSH bytes are encrypted: deflate would spend CPU and memory on them for nothing.
        perMessageDeflate: false,
        open(ws) {
          ws.data.transport = new BunWebSocketTransport(ws);
          accept(ws.data.transport);
        },
        message: (ws, message) => ws.data.transport!.message(message),
        drain: (ws) => ws.data.transport!.writable(),
        close: (ws) => ws.data.transport?.finish(),
      },
    });
    return {
      host: options.host,
      port: server.port,
      // Stops accepting; the connections go on.
      close: async () => void server.stop(false),
    };
  },
};
