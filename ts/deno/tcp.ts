/** Deno's TCP sockets (`Deno.listen`) behind the transport contract. */

import { ErrorCode, SSHError } from '../errors.js';
import type { ListenAdapter, Listener, SocketOptions, Transport, TransportHandlers } from '../transport.js';
import type { DenoApi, TcpConn, UnixListener } from './api.js';

declare const Deno: DenoApi;

/** Bytes queued for the socket before `write` reports backpressure, as on Node. */
const HIGH_WATER_MARK = 1024 * 1024;
/**
 * One read's buffer: it doubles from READ_MIN after each read that fills it, up to READ_MAX, and is back to
 * READ_MIN once a read is short of READ_MIN, for an idle connection waits in a read that holds it. A read
 * that fills less than a quarter of it is copied out and the buffer kept.
 */
const READ_MIN = 4 * 1024;
const READ_MAX = 64 * 1024;
/** Small writes queued meanwhile go out together, in one call up to this size. */
const WRITE_BATCH = 256 * 1024;
/** After a failed accept (out of file descriptors, say), the listener tries again this much later. */
const ACCEPT_RETRY_MS = 100;

class DenoTcpTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  private handlers: TransportHandlers | undefined;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private writing = false;
  /** `write` returned false: `drain` is owed once the queue has gone out. */
  private needDrain = false;
  private paused = false;
  /** Wakes the read loop waiting out a pause. */
  private wake: (() => void) | undefined;
  /** `end` was called, or the peer ended its side: flush, shut our side, read to the peer's end. */
  private ending = false;
  private readDone = false;
  private writeDone = false;
  private closed = false;

  constructor(private readonly conn: TcpConn) {
    const from = conn.remoteAddr;
    this.remoteAddress = from.transport === 'unix' ? '' : from.hostname;
    this.remotePort = from.transport === 'unix' ? 0 : from.port;
    conn.setNoDelay?.(true);
  }

  get bufferedAmount(): number {
    return this.queued;
  }

  /** Deno sets no keep-alive time: the system's applies (Linux: 2 hours). */
  configure(options: SocketOptions): void {
    this.conn.setNoDelay?.(options.noDelay);
    this.conn.setKeepAlive?.(options.keepAliveMs > 0);
  }

  write(data: Uint8Array): boolean {
    if (this.closed || this.ending) return true;
    this.queue.push(data);
    this.queued += data.length;
    if (!this.writing) void this.pumpWrites();
    if (this.queued < HIGH_WATER_MARK) return true;
    this.needDrain = true;
    return false;
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    // The peer's remaining bytes are read and dropped, paused or not, so that its end of stream is seen.
    this.wake?.();
    if (!this.writing) void this.shutdownWrite();
  }

  destroy(): void {
    this.finish();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
    void this.readLoop();
  }

  /** The handlers take the peer's half-close (`TransportHandlers.end`): our `end` shuts only our side. */
  private get halfClose(): boolean {
    return this.handlers?.end !== undefined;
  }

  private async readLoop(): Promise<void> {
    let buffer = new Uint8Array(READ_MIN);
    try {
      for (;;) {
        while (this.paused && (!this.ending || this.halfClose) && !this.closed) await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        if (this.closed) return;
        const n = await this.conn.read(buffer);
        if (this.closed) return;
        if (n === null) break;
        if (n === 0 || (this.ending && !this.halfClose)) continue;
        let chunk: Uint8Array;
        if (n < buffer.length / 4) {
          chunk = buffer.slice(0, n);
          if (n < READ_MIN && buffer.length > READ_MIN) buffer = new Uint8Array(READ_MIN);
        } else {
          chunk = buffer.subarray(0, n);
          buffer = new Uint8Array(n === buffer.length ? Math.min(2 * n, READ_MAX) : buffer.length);
        }
        this.handlers!.data(chunk);
      }
    } catch (e) {
      return this.finish(e as Error);
    }
    this.readDone = true;
    if (this.writeDone) this.finish();
    else if (this.halfClose) this.handlers!.end!();
    else if (!this.ending) this.end();
  }

  private async pumpWrites(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const chunk = this.nextBatch();
        for (let at = 0; at < chunk.length; ) at += await this.conn.write(chunk.subarray(at));
        this.queued -= chunk.length;
      }
    } catch (e) {
      this.writing = false;
      return this.finish(e as Error);
    }
    this.writing = false;
    if (this.closed) return;
    if (this.ending) return this.shutdownWrite();
    if (this.needDrain) {
      this.needDrain = false;
      this.handlers?.drain();
    }
  }

  /** The queue's head, merged with the small writes behind it. */
  private nextBatch(): Uint8Array {
    const head = this.queue.shift()!;
    if (head.length >= WRITE_BATCH || this.queue.length === 0) return head;
    let size = head.length;
    let count = 0;
    while (count < this.queue.length && size + this.queue[count]!.length <= WRITE_BATCH) size += this.queue[count++]!.length;
    if (count === 0) return head;
    const batch = new Uint8Array(size);
    batch.set(head);
    let at = head.length;
    for (const part of this.queue.splice(0, count)) {
      batch.set(part, at);
      at += part.length;
    }
    return batch;
  }

  private async shutdownWrite(): Promise<void> {
    try {
      await this.conn.closeWrite();
    } catch {
      // The peer is gone already: the read side reports how.
    }
    this.writeDone = true;
    if (this.readDone) this.finish();
  }

  /** Closes the socket (once) and reports it. */
  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // Closed by the runtime already (a reset).
    }
    this.wake?.();
    const handlers = this.handlers;
    // Reported after the caller's own work, as Node's sockets do.
    if (handlers) queueMicrotask(() => handlers.close(error));
  }
}

/** A TCP connection to `host`:`port` (forwarded tunnels), once it is established. */
export async function denoConnectTcp(host: string, port: number): Promise<Transport> {
  return new DenoTcpTransport(await Deno.connect({ hostname: host, port }));
}

/** A connection to the Unix socket at `path` (forwarded tunnels), once it is established. */
export async function denoConnectUnix(path: string): Promise<Transport> {
  return new DenoTcpTransport(await Deno.connect({ transport: 'unix', path }));
}

export const denoTcp: ListenAdapter = {
  async listen(options, accept): Promise<Listener> {
    // Deno.listen has no IPV6_V6ONLY: an IPv6 wildcard listener takes IPv4 clients too, as Linux does by default.
    if (options.ipv6Only) throw new SSHError(ErrorCode.InvalidArgument, 'Deno cannot listen on IPv6 only (UseIPv6=1): it has no IPV6_V6ONLY option');
    const listener = Deno.listen({ hostname: options.host, port: options.port, ...(options.backlog ? { tcpBacklog: options.backlog } : {}) });
    return { host: options.host, port: listener.addr.port, close: accepting(listener, accept) };
  },
};

/** Listens on a new Unix socket at `path` (remote forwards of sockets); Deno removes the file when it closes. */
export async function denoListenUnix(path: string, accept: (transport: Transport) => void): Promise<Listener> {
  return { host: path, port: 0, close: accepting(Deno.listen({ transport: 'unix', path }), accept) };
}

/** Accepts until the returned close is called. */
function accepting(listener: UnixListener, accept: (transport: Transport) => void): () => Promise<void> {
  let open = true;
  const loop = (async () => {
    while (open) {
      try {
        accept(new DenoTcpTransport(await listener.accept()));
      } catch {
        if (open) await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
      }
    }
  })();
  // Resolves once the pending accept has ended: only then has Deno closed the socket, and a client
  // connecting meanwhile could be taken by the kernel and reset rather than refused.
  return async () => {
    open = false;
    listener.close();
    await loop;
  };
}
