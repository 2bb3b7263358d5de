/** Node's TCP sockets behind the transport contract. */

import { connect, createServer, type ListenOptions, type Socket } from 'node:net';
import type { ListenAdapter, Listener, SocketOptions, Transport, TransportHandlers } from '../transport.js';

/** Bytes buffered in a socket before `write` reports backpressure; sized for a few 32 KiB packets in flight. */
const HIGH_WATER_MARK = 1024 * 1024;

/**
 * Each socket's transport, for listeners that every socket shares (Node calls them with the socket as
 * `this`): a closure per socket and event would cost each idle connection a few hundred bytes.
 */
const transports = new WeakMap<Socket, TcpTransport>();
const transportOf = (socket: Socket): TcpTransport => transports.get(socket)!;

function onData(this: Socket, chunk: Buffer): void {
  transportOf(this).handlers!.data(chunk);
}
function onDrain(this: Socket): void {
  transportOf(this).handlers!.drain();
}
function onError(this: Socket, e: Error): void {
  transportOf(this).closed(e);
}
function onClose(this: Socket): void {
  transportOf(this).closed();
}
function onEnd(this: Socket): void {
  const t = transportOf(this);
  if (t.handlers!.end) t.handlers!.end();
  else t.end();
}

class TcpTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  handlers: TransportHandlers | undefined;
  /** `close` has been reported (an error is followed by Node's own `close`). */
  private reportedClose = false;
  constructor(private readonly socket: Socket) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    socket.setNoDelay(true);
  }

  write(data: Uint8Array): boolean {
    return this.socket.write(data);
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** Node sets the time before the first keep-alive probe, not the interval or the count (the system's apply). */
  configure(options: SocketOptions): void {
    this.socket.setNoDelay(options.noDelay);
    this.socket.setKeepAlive(options.keepAliveMs > 0, options.keepAliveMs);
  }

  /** Ends our side once: Node makes an error (with its stack) for every later `end`. */
  end(): void {
    if (!this.socket.writableEnded) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  attach(h: TransportHandlers): void {
    this.handlers = h;
    transports.set(this.socket, this);
    this.socket.on('data', onData);
    this.socket.on('drain', onDrain);
    this.socket.on('error', onError);
    this.socket.on('close', onClose);
    this.socket.on('end', onEnd);
  }

  closed(error?: Error): void {
    if (this.reportedClose) return;
    this.reportedClose = true;
    this.handlers!.close(error);
  }
}

/** A TCP connection to `host`:`port` (forwarded tunnels), once it is established. */
export function nodeConnectTcp(host: string, port: number): Promise<Transport> {
  return connected(connect({ host, port, allowHalfOpen: true }));
}

/** A connection to the Unix socket at `path` (forwarded tunnels), once it is established. */
export function nodeConnectUnix(path: string): Promise<Transport> {
  return connected(connect({ path, allowHalfOpen: true }));
}

function connected(socket: Socket): Promise<Transport> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(new TcpTransport(socket));
    });
  });
}

export const nodeTcp: ListenAdapter = {
  listen: (options, accept) => listening(accept, { host: options.host, port: options.port, backlog: options.backlog, ipv6Only: options.ipv6Only }, options.host),
};

/** Listens on a new Unix socket at `path` (remote forwards of sockets); Node removes the file when it closes. */
export const nodeListenUnix = (path: string, accept: (transport: Transport) => void): Promise<Listener> => listening(accept, { path }, path);

function listening(accept: (transport: Transport) => void, where: ListenOptions, host: string): Promise<Listener> {
  const server = createServer({ highWaterMark: HIGH_WATER_MARK, allowHalfOpen: true, noDelay: true }, (socket) => accept(new TcpTransport(socket)));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      const address = server.address();
      resolve({
        host,
        port: typeof address === 'object' && address ? address.port : (where.port ?? 0),
        // Node's close callback waits for every connection to end; the contract only asks to stop accepting,
        // which happens at once.
        close: async () => void server.close(),
      });
    });
  });
}
