/**
 * SSH over a standard (WHATWG) WebSocket behind the transport contract: the server end `Deno.upgradeWebSocket`
 * gives, and the client end a browser tab opens to a relay. That API has no pause (messages arrive whatever the
 * host asks, and wait in its inbox within bounds), no drain event (the buffered amount is polled while over the
 * mark), and no limit on a message's size before it arrives (checked as it is delivered). Binary messages carry
 * the SSH byte stream; a text message, or one larger than allowed, closes the connection.
 */

import type { Transport, TransportHandlers } from './transport.js';
import { CloseCode, DEFAULT_MAX_MESSAGE_BYTES, MAX_EARLY_BYTES } from './websocket-gate.js';

/** Bytes buffered in a WebSocket before `write` reports backpressure. */
const HIGH_WATER_MARK = 1024 * 1024;
/** `drain` once the buffered amount is down to this, leaving the network something to send meanwhile. */
const LOW_WATER_MARK = HIGH_WATER_MARK / 2;
/** How often the buffered amount is looked at while over the mark. */
const DRAIN_POLL_MS = 4;

/** `WebSocketTransport`'s options. */
export interface WebSocketTransportOptions {
  /** The peer's address as the server should count it (penalties, MaxStartups). */
  remoteAddress: string;
  /** Default 0 (unknown). */
  remotePort?: number;
  /** Largest message accepted; a larger one closes the connection (1009). Default 1 MiB. */
  maxMessageBytes?: number;
  /** Called once the connection has ended, whichever side ended it. */
  ended?: () => void;
}

export class WebSocketTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  private readonly maxMessageBytes: number;
  private readonly ended: (() => void) | undefined;
  private handlers: TransportHandlers | undefined;
  /** Messages from before `attach` and the microtask after it; undefined once delivered. */
  private early: Uint8Array[] | undefined = [];
  private earlyBytes = 0;
  private closed = false;
  private closeError: Error | undefined;
  private polling = false;

  /** `socket` must be open: what is written to a socket still connecting would be lost. */
  constructor(
    private readonly socket: WebSocket,
    options: WebSocketTransportOptions,
  ) {
    this.remoteAddress = options.remoteAddress;
    this.remotePort = options.remotePort ?? 0;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.ended = options.ended;
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
    if (!this.early) return this.handlers!.data(bytes);
    this.early.push(bytes);
    this.earlyBytes += bytes.length;
    if (this.earlyBytes > MAX_EARLY_BYTES) this.refuse(CloseCode.PolicyViolation, 'too much sent before the connection was admitted');
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
    this.ended?.();
    const handlers = this.handlers;
    if (handlers && !this.early) queueMicrotask(() => handlers.close(this.closeError));
  }
}
