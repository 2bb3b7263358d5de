/**
 * SSH over a `MessagePort`, with no network: a client and a server in one browser (a page and its Worker,
 * two frames), each end of a `MessageChannel` wrapped in one of these. The server takes its end with
 * `server.accept(transport)`, the client connects with `SSHClient.connect({ transport })`.
 *
 * Each write is one message carrying a copy of the bytes (its buffer transferred, not cloned again); the
 * end of the stream is a `null` message. A port has no buffer limit nor close event: writes never report
 * backpressure (the SSH channel windows bound what is in flight), and a peer that vanishes without ending
 * (its Worker terminated) is not noticed here but by the SSH layer's keepalives and timeouts.
 */

import type { Transport, TransportHandlers } from '../transport.js';
import { MAX_EARLY_BYTES } from '../websocket-gate.js';

/** `MessagePortTransport`'s options. */
export interface MessagePortTransportOptions {
  /** The peer as the server should name it (logs, penalties). Default `messageport`. */
  remoteAddress?: string;
}

export class MessagePortTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort = 0;
  readonly bufferedAmount = 0;
  private handlers: TransportHandlers | undefined;
  /** What arrived before `attach`. */
  private readonly early: Uint8Array[] = [];
  private earlyBytes = 0;
  private closed: { error?: Error } | undefined;

  constructor(
    private readonly port: MessagePort,
    options: MessagePortTransportOptions = {},
  ) {
    this.remoteAddress = options.remoteAddress ?? 'messageport';
    // Setting onmessage also starts the port's queue.
    port.onmessage = (e: MessageEvent) => this.received(e.data);
  }

  write(data: Uint8Array): boolean {
    if (this.closed) return true;
    const copy = data.slice();
    this.port.postMessage(copy, [copy.buffer]);
    return true;
  }

  /** Messages go in order: the end follows what was written. */
  end(): void {
    if (this.closed) return;
    this.port.postMessage(null);
    this.finish();
  }

  destroy(): void {
    this.end();
  }

  /** A port delivers what the peer posted whatever is asked: the server queues it within its bounds. */
  pause(): void {}
  resume(): void {}

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
    for (const bytes of this.early.splice(0)) handlers.data(bytes);
    if (this.closed) this.report();
  }

  private received(data: unknown): void {
    if (this.closed) return;
    if (data === null) return this.finish();
    if (!(data instanceof Uint8Array)) return this.fail('the peer sent something other than bytes over the MessagePort');
    if (this.handlers) return this.handlers.data(data);
    this.early.push(data);
    this.earlyBytes += data.length;
    if (this.earlyBytes > MAX_EARLY_BYTES) this.fail('too much data before the server took the connection');
  }

  /** Ends the stream both ways for a peer that broke the contract. */
  private fail(why: string): void {
    this.early.length = 0;
    this.port.postMessage(null);
    this.finish(new Error(why));
  }

  private finish(error?: Error): void {
    this.closed = error ? { error } : {};
    this.port.onmessage = null;
    this.port.close();
    if (this.handlers) this.report();
  }

  /** After the call that ended the stream, as a socket reports its close. */
  private report(): void {
    const error = this.closed?.error;
    queueMicrotask(() => this.handlers?.close(error));
  }
}
