/**
 * SSH over WebSocket on Node: uWebSockets.js behind the contract's WebSocketListenAdapter. The only module that
 * imports uWebSockets.js, and only once `startWebSocket` is called, so TCP-only users need not install it.
 */

import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket_context_t, WebSocket } from 'uWebSockets.js';
import { ErrorCode, SSHError } from '../errors.js';
import { CloseCode, fileHeaders, MAX_EARLY_BYTES, servedFile } from '../websocket-gate.js';
import type { Listener, Transport, TransportHandlers, WebSocketListenAdapter, WebSocketListenOptions } from '../transport.js';

type Uws = typeof import('uWebSockets.js');

/** Bytes buffered for one client before `write` reports backpressure, as the TCP adapter's socket buffer. */
export const HIGH_WATER_MARK = 1024 * 1024;
/** `drain` is reported once the buffer is down to this, so that the host refills it before it runs dry. */
const LOW_WATER_MARK = HIGH_WATER_MARK / 2;
/**
 * uWebSockets.js drops a message sent beyond this (and the stream with it: the connection is then closed). The
 * host stops at the high-water mark and adds at most one call's output after it, so this is never reached.
 */
const MAX_BACKPRESSURE = 16 * 1024 * 1024;

/** What a connection carries from its upgrade request. */
interface Peer {
  address: string;
  transport?: UwsTransport;
}

let native: Promise<Uws> | undefined;

/**
 * uWebSockets.js, refused unless its native server loaded: the package this project installs falls back to an
 * emulation on the `ws` library when it has no binary for the running Node, with other limits and behaviour.
 */
function loadNative(): Promise<Uws> {
  native ??= (async () => {
    let uws: Uws;
    try {
      const loaded: { default?: Uws } = await import('uWebSockets.js');
      // The package this project installs is CommonJS; a build with an ES module wrapper may name its exports.
      uws = loaded.default ?? (loaded as Uws);
    } catch (e) {
      throw new SSHError(
        ErrorCode.InvalidArgument,
        `the WebSocket endpoint needs the uWebSockets.js package, which could not be loaded (${(e as Error).message}); install it: npm install uWebSockets.js@npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0`,
      );
    }
    if (!Function.prototype.toString.call(uws.App).includes('[native code]')) {
      throw new SSHError(
        ErrorCode.InvalidArgument,
        `uWebSockets.js is running its JavaScript emulation on ws instead of its native server (no build for Node ${process.versions.node}, module version ${process.versions.modules}, on ${process.platform}-${process.arch}, or UWS_USE_FALLBACK is set); wasshd does not use the emulation: install a uWebSockets.js build for this Node version (see the README)`,
      );
    }
    return uws;
  })();
  // A failed load may be fixed by installing the package; the next call tries again.
  native.catch(() => (native = undefined));
  return native;
}

/** Text form of an address as Node's sockets give it (RFC 5952 for IPv6, `::ffff:a.b.c.d` for mapped IPv4). */
export function addressText(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) return '';
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return `::ffff:${bytes.subarray(12).join('.')}`;
  // The longest run of two or more zero words becomes `::` (the first such run on a tie).
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  return best < 0 ? hex(words) : `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLength))}`;
}

class UwsTransport implements Transport {
  readonly remoteAddress: string;
  /** uWebSockets.js does not tell the peer's port. */
  readonly remotePort = 0;
  private handlers: TransportHandlers | undefined;
  /** Messages that arrived before `attach` (while the server decides whether to take the connection). */
  private readonly early: Uint8Array[] = [];
  private earlyBytes = 0;
  private needDrain = false;
  /** Set once uWebSockets.js has closed the WebSocket, after which it must not be touched. */
  private closed: { error?: Error } | undefined;

  constructor(private readonly ws: WebSocket<Peer>) {
    this.remoteAddress = ws.getUserData().address;
  }

  write(data: Uint8Array): boolean {
    if (this.closed) return false;
    if (this.ws.send(data, true) === 2) {
      this.ws.end(CloseCode.InternalError, 'send buffer overflow');
      return false;
    }
    if (this.ws.getBufferedAmount() < HIGH_WATER_MARK) return true;
    this.needDrain = true;
    return false;
  }

  get bufferedAmount(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }

  end(): void {
    // The close frame goes after what is buffered.
    if (!this.closed) this.ws.end(CloseCode.Normal);
  }

  destroy(): void {
    if (!this.closed) this.ws.close();
  }

  /**
   * uWebSockets.js cannot stop reading one WebSocket: what the client sends goes on arriving, and the server
   * queues it within its bounds (ts/transport.ts).
   */
  pause(): void {}
  resume(): void {}

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
    for (const bytes of this.early.splice(0)) handlers.data(bytes);
    if (this.closed) this.reportClose();
  }

  // ---- from uWebSockets.js ----

  received(bytes: Uint8Array): void {
    if (this.handlers) return this.handlers.data(bytes);
    this.early.push(bytes);
    this.earlyBytes += bytes.length;
    // What a pipelining client sends before the server answers is far less.
    if (this.earlyBytes > MAX_EARLY_BYTES) this.ws.end(CloseCode.PolicyViolation, 'too much data before the server answered');
  }

  drained(): void {
    if (!this.needDrain || this.closed || this.ws.getBufferedAmount() > LOW_WATER_MARK) return;
    this.needDrain = false;
    this.handlers?.drain();
  }

  gone(error?: Error): void {
    this.closed = error ? { error } : {};
    if (this.handlers) this.reportClose();
  }

  /** uWebSockets.js calls its close handler from inside `end` and `close`: the server hears of it afterwards, as from a socket. */
  private reportClose(): void {
    const error = this.closed?.error;
    queueMicrotask(() => this.handlers?.close(error));
  }
}

/** The response to any plain HTTP request: a file of `files` on its path, 426 on the endpoint's path, 404 elsewhere. */
function answerHttp(options: WebSocketListenOptions) {
  return (res: HttpResponse, req: HttpRequest) => {
    const method = req.getMethod();
    const file = servedFile(options, method, req.getUrl());
    if (file) {
      res.writeStatus('200 OK');
      for (const [name, value] of Object.entries(fileHeaders(file))) res.writeHeader(name, value);
      // This build of uWebSockets.js aborts the process when given the length here.
      if (method.toUpperCase() === 'HEAD') res.endWithoutBody();
      else res.end(file.body);
    } else if (req.getUrl() === options.path) {
      res.writeStatus('426 Upgrade Required').writeHeader('Upgrade', 'websocket').end('this endpoint speaks SSH over WebSocket only\n');
    } else {
      res.writeStatus('404 Not Found').end('not found\n');
    }
  };
}

/**
 * Upgrades requests for the path whose `Origin`, if they send one, is allowed. A request without one does not
 * come from a browser page (whose requests always carry one), so the list does not apply: such a client can
 * claim any origin anyway, and the SSH layer authenticates it like any other.
 */
function upgrade(options: WebSocketListenOptions) {
  return (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
    if (req.getUrl() !== options.path) return void res.writeStatus('404 Not Found').end('not found\n');
    const origin = req.getHeader('origin');
    if (origin !== '' && options.allowedOrigins && !options.allowedOrigins.includes(origin)) {
      return void res.writeStatus('403 Forbidden').end('origin not allowed\n');
    }
    const peer: Peer = { address: addressText(new Uint8Array(res.getRemoteAddress())) };
    res.upgrade(peer, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  };
}

function listenOn(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) =>
    app.listen(host, port, (socket) => (socket ? resolve(socket) : reject(new Error(`cannot listen for WebSocket on ${host}:${port}: in use, or not an address of this machine`)))),
  );
}

export const uwsWebSocket: WebSocketListenAdapter = {
  async listen(options, accept): Promise<Listener> {
    const uws = await loadNative();
    const app = uws.App();
    app.ws<Peer>('/*', {
      // uWebSockets.js refuses a larger message by the length in its frame header, before buffering it, but by
      // dropping the connection without a close frame. Twice the limit lets a message just over it be refused
      // with 1009 (below), while no message past that is buffered.
      maxPayloadLength: 2 * options.maxMessageBytes,
      // Liveness is the SSH layer's (ClientAliveInterval-style keepalives, the idle timeout), as over TCP.
      idleTimeout: 0,
      maxBackpressure: MAX_BACKPRESSURE,
      compression: uws.DISABLED,
      upgrade: upgrade(options),
      open: (ws) => {
        const transport = new UwsTransport(ws);
        ws.getUserData().transport = transport;
        accept(transport);
      },
      message: (ws, message, isBinary) => {
        if (!isBinary) return ws.end(CloseCode.UnsupportedData, 'binary messages only');
        if (message.byteLength > options.maxMessageBytes) return ws.end(CloseCode.MessageTooBig, 'message too big');
        // The ArrayBuffer is only valid during this call.
        ws.getUserData().transport?.received(new Uint8Array(message.slice(0)));
      },
      drain: (ws) => ws.getUserData().transport?.drained(),
      close: (ws, code, message) => {
        const abnormal = code !== CloseCode.Normal && code !== 1005;
        const reason = new TextDecoder().decode(message);
        ws.getUserData().transport?.gone(abnormal ? new Error(`WebSocket closed: ${code}${reason ? ` ${reason}` : ''}`) : undefined);
      },
    });
    app.any('/*', answerHttp(options));
    const socket = await listenOn(app, options.host, options.port);
    return {
      host: options.host,
      port: uws.us_socket_local_port(socket),
      close: async () => uws.us_listen_socket_close(socket),
    };
  },
};
