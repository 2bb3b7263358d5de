/** Bun's TCP sockets (`Bun.listen`) behind the transport contract. */

import type { ListenAdapter, Listener, SocketOptions, Transport, TransportHandlers } from '../transport.js';
import type { BunApi, BunSocket, BunSocketHandlers } from './api.js';

declare const Bun: BunApi;

/** Bytes queued for the socket before `write` reports backpressure, as on Node. */
const HIGH_WATER_MARK = 1024 * 1024;

class BunTcpTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  private handlers: TransportHandlers | undefined;
  /** Bytes from before `attach` and the microtask after it; undefined once delivered. */
  private early: Uint8Array[] | undefined = [];
  /** What the socket did not take yet: Bun writes what the kernel takes and keeps nothing. */
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  /** `write` returned false: `drain` is owed once the queue has gone out. */
  private needDrain = false;
  private paused = false;
  private ending = false;
  private closed = false;
  private closeError: Error | undefined;

  constructor(private readonly socket: BunSocket<BunTcpTransport>) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    socket.setNoDelay(true);
    // Nothing is read until the host attaches (after its connectionRequest handlers).
    socket.pause();
  }

  get bufferedAmount(): number {
    return this.queued;
  }

  configure(options: SocketOptions): void {
    this.socket.setNoDelay(options.noDelay);
    this.socket.setKeepAlive(options.keepAliveMs > 0, options.keepAliveMs);
  }

  write(data: Uint8Array): boolean {
    if (this.closed || this.ending) return true;
    if (this.queue.length === 0) {
      const n = this.socket.write(data);
      if (n >= data.length) return true;
      data = data.subarray(Math.max(n, 0));
    }
    this.queue.push(data);
    this.queued += data.length;
    if (this.queued < HIGH_WATER_MARK) return true;
    this.needDrain = true;
    return false;
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    // The peer's remaining bytes are read and dropped, paused or not, so that its close is seen.
    if (!this.halfClose) this.socket.resume();
    if (this.queue.length === 0) this.endSocket();
  }

  private endSocket(): void {
    if (this.halfClose) this.socket.shutdown();
    else this.socket.end();
  }

  destroy(): void {
    if (this.closed) return;
    this.socket.terminate();
    this.finish();
  }

  pause(): void {
    this.paused = true;
    if (!this.early && (!this.ending || this.halfClose)) this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    if (!this.early) this.socket.resume();
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
    // After the host's own setup for the connection, which follows this call.
    queueMicrotask(() => {
      for (const bytes of this.early!) handlers.data(bytes);
      this.early = undefined;
      if (this.closed) return handlers.close(this.closeError);
      if (!this.paused) this.socket.resume();
    });
  }

  /** The handlers take the peer's half-close (`TransportHandlers.end`): our `end` shuts only our side. */
  private get halfClose(): boolean {
    return this.handlers?.end !== undefined;
  }

  // ---- Bun's events, through the listener's handlers ----

  /** The peer sent FIN: the handlers hear of it, or our side ends too. */
  peerEnded(): void {
    if (this.handlers?.end && !this.closed) this.handlers.end();
    else this.end();
  }

  received(bytes: Uint8Array): void {
    if (this.closed || (this.ending && !this.halfClose)) return;
    if (this.early) this.early.push(bytes);
    else this.handlers!.data(bytes);
  }

  writable(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const n = Math.max(this.socket.write(head), 0);
      this.queued -= n;
      if (n < head.length) {
        this.queue[0] = head.subarray(n);
        return;
      }
      this.queue.shift();
    }
    if (this.ending) return this.endSocket();
    if (this.needDrain && !this.closed) {
      this.needDrain = false;
      this.handlers?.drain();
    }
  }

  /** Reports the end once, after the early bytes if they are still being delivered. */
  finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    const handlers = this.handlers;
    if (handlers && !this.early) queueMicrotask(() => handlers.close(error));
  }
}

/** A socket's callbacks, which go to its transport once `open` has made one (and `opened` has it). */
function socketHandlers(opened: (transport: BunTcpTransport) => void): BunSocketHandlers<BunTcpTransport> {
  return {
    open: (socket) => {
      socket.data = new BunTcpTransport(socket);
      opened(socket.data);
    },
    data: (socket, bytes) => socket.data.received(bytes),
    drain: (socket) => socket.data.writable(),
    end: (socket) => socket.data.peerEnded(),
    close: (socket, error) => socket.data.finish(error),
    // A connection that failed to open has no transport: `connect` rejects instead.
    error: (socket, error) => (socket.data as BunTcpTransport | undefined)?.finish(error),
  };
}

/** A TCP connection to `host`:`port` (forwarded tunnels), once it is established. */
export async function bunConnectTcp(host: string, port: number): Promise<Transport> {
  return (await Bun.connect<BunTcpTransport>({ hostname: host, port, allowHalfOpen: true, socket: socketHandlers(() => {}) })).data;
}

/** A connection to the Unix socket at `path` (forwarded tunnels), once it is established. */
export async function bunConnectUnix(path: string): Promise<Transport> {
  return (await Bun.connect<BunTcpTransport>({ unix: path, allowHalfOpen: true, socket: socketHandlers(() => {}) })).data;
}

export const bunTcp: ListenAdapter = {
  // Bun.listen takes no backlog: ConnectionBacklog does not reach the kernel here.
  async listen(options, accept): Promise<Listener> {
    // Half-open allowed: whether a peer's FIN ends our side too is the handlers' choice (`TransportHandlers.end`).
    const listener = Bun.listen<BunTcpTransport>({
      hostname: options.host,
      port: options.port,
      allowHalfOpen: true,
      ...(options.ipv6Only !== undefined ? { ipv6Only: options.ipv6Only } : {}),
      socket: socketHandlers(accept),
    });
    return {
      host: options.host,
      port: listener.port,
      // Stops accepting; the connections go on.
      close: async () => listener.stop(false),
    };
  },
};

/** Listens on a new Unix socket at `path` (remote forwards of sockets); Bun removes the file when it stops. */
export async function bunListenUnix(path: string, accept: (transport: Transport) => void): Promise<Listener> {
  const listener = Bun.listen<BunTcpTransport>({ unix: path, allowHalfOpen: true, socket: socketHandlers(accept) });
  return { host: path, port: 0, close: async () => listener.stop(false) };
}
