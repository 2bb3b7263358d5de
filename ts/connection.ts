/**
 * What the host keeps for each connection and channel: the state the core does not hold (its transport,
 * timers, authentication bookkeeping, the application's queued sends) and the inbox and backpressure state
 * that decide when the core is fed (`core/binding.ts` moves the data).
 */

import type { SSHError } from './errors.js';
import type { NegotiatedAlgorithms, SSHChannel, SSHConnection } from './events.js';
import type { Framer } from './channel-framing.js';
import { NOT_HELD, type Timed } from './deadlines.js';
import type { Clock } from './runtime.js';
import type { Transport } from './transport.js';

interface PendingSend {
  data: Uint8Array;
  stream: number;
  resolve(): void;
  reject(e: Error): void;
}

/**
 * Where a channel's side goes instead of the handlers' `channelDataIn`: its data (resolving once taken, which
 * reopens the window), its EOF, its close. A tunnel the server serves itself (forwarding.ts) is `internal`:
 * the handlers see none of its events. The streams an application takes (channel-streams.ts) are not: its
 * `channelEOF` and `channelClosed` still fire.
 */
export interface ChannelSink {
  readonly internal: boolean;
  data(bytes: Uint8Array): Promise<void> | void;
  eof(): void;
  closed(): void;
}

export class ChannelState implements SSHChannel {
  readonly queue: PendingSend[] = [];
  /** Made by the first `idle` that waits. */
  private idleWaiters: (() => void)[] | undefined;
  closed = false;
  bytesReceived = 0;
  bytesSent = 0;
  /** How its data is cut before `channelDataIn` (`changeRecordLength`, `setChannelEOL`); as it comes without. */
  framer: Framer | undefined;
  /** Set for a channel the server serves itself. */
  sink: ChannelSink | undefined;
  constructor(
    readonly connectionId: number,
    readonly channelId: number,
    readonly service: string,
  ) {}

  get readyToSend(): boolean {
    return !this.closed && this.queue.length === 0;
  }

  /** Resolves once everything queued has been handed to the core. */
  idle(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idleWaiters ??= []).push(resolve));
  }

  notifyIdle(): void {
    const waiters = this.idleWaiters;
    if (this.queue.length > 0 || !waiters) return;
    this.idleWaiters = undefined;
    for (const w of waiters) w();
  }

  /** The channel is gone: sends still queued are refused with `error`, made only if one is (an error's stack costs). */
  fail(error: () => Error): void {
    this.closed = true;
    const queued = this.queue.splice(0);
    if (queued.length > 0) {
      const e = error();
      for (const p of queued) p.reject(e);
    }
    this.notifyIdle();
  }
}

/** A channel the server opened, until the client answers. */
export interface OpeningChannel {
  kind: string;
  announce: boolean;
  opened(ch: ChannelState): void;
  refused(error: SSHError): void;
}

export class ConnectionState implements SSHConnection, Timed {
  /** The connection's handlers in order (dispatcher.ts). */
  chain: Promise<void> = Promise.resolve();
  /** Each channel's handlers in order, by channel id, while any are queued; none while none are (dispatcher.ts). */
  channelChains: Map<number, Promise<void>> | undefined;
  /** The core's next deadline for it, whole ms (-1 for none), and its place among the binding's deadlines. */
  deadline = -1;
  heapIndex = NOT_HELD;
  /** Runs once the protocol has ended, in case the peer never closes the socket. */
  closeTimer: unknown;
  /** Drops the refusal waiting out the auth-failure delay, if one is: the connection has ended. */
  cancelDelayedReply: (() => void) | undefined;
  /** A `none` request has reached the host: later ones are delayed when refused. */
  noneSeen = false;
  writable = true;
  /** Bytes written to the transport since it reported a full buffer (reset by `drain`). */
  writtenWhileFull = 0;
  /**
   * The core takes input now: it waits for no decision, and the client reads what it is sent or has not
   * been sent much since it stopped (see `core/binding.ts` `updateReading`).
   */
  reading = true;
  /**
   * Input received while not reading, or beyond one piece: a transport that cannot stop its peer (a
   * WebSocket) still delivers, and the core is fed only what it may take. Fed through `core/binding.ts`
   * `receive`, which cuts it to length 0 once empty.
   */
  readonly inbox: Uint8Array[] = [];
  inboxBytes = 0;
  /** The inbox is being fed to the core (guards against feeding it again from inside a core call). */
  feeding = false;
  /** The protocol has ended (core reported Disconnected). */
  ended = false;
  /** The transport has closed. */
  closed = false;
  /** Its wasm instance trapped: nothing more may be asked of it for this connection. */
  dead = false;
  /** Ended by the host's own call (disconnect, shutdown), which no penalty follows. */
  endedByHost = false;
  authAttempts = 0;
  bytesReceived = 0;
  bytesSent = 0;
  algorithms: NegotiatedAlgorithms | undefined;
  /** When the client last sent or was sent anything, on the server's clock. */
  lastActivity: number;
  /** Counted among the connections still logging in. */
  loggingIn = true;
  clientVersion: string | undefined;
  user: string | undefined;
  strictKex = false;
  readonly channels = new Map<number, ChannelState>();
  /** Channels the server opened that the client has not answered: their kind, and the opener's promise (made by the first). */
  opening: Map<number, OpeningChannel> | undefined;
  /** `gone` as asked before the connection was forgotten, and its resolution; `isGone` once forgotten. */
  private goneWaiter: { promise: Promise<void>; resolve: () => void } | undefined;
  private isGone = false;
  constructor(
    readonly connectionId: number,
    readonly transport: Transport,
    private readonly clock: Clock,
  ) {
    this.lastActivity = clock.now();
  }
  /** Resolves when the transport has closed and the connection is forgotten (made when asked: only a shutdown waits). */
  get gone(): Promise<void> {
    if (this.isGone) return Promise.resolve();
    if (!this.goneWaiter) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.goneWaiter = { promise, resolve };
    }
    return this.goneWaiter.promise;
  }
  markGone(): void {
    this.isGone = true;
    this.goneWaiter?.resolve();
  }
  get idleMs(): number {
    return Math.max(0, this.clock.now() - this.lastActivity);
  }
  get remoteHost(): string {
    return this.transport.remoteAddress;
  }
  get remotePort(): number {
    return this.transport.remotePort;
  }
  get bufferedAmount(): number {
    return this.transport.bufferedAmount;
  }
}
