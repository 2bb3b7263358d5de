/**
 * Port forwarding served by the server itself, decided by `sshTunnelRequested` (RFC 4254 §7). Local
 * (`ssh -L`, `ssh -W`, `direct-tcpip` channels): the server connects to the address the client named, through
 * the runtime's TCP connector; a tunnel nobody accepts is left to `channelOpenRequest`, where a host may still
 * take the channel and serve it in code. Remote (`ssh -R`, `tcpip-forward`): the server listens through the
 * runtime's listener and opens a `forwarded-tcpip` channel to the client for each connection it accepts. Either
 * way the channel and the socket carry each other's bytes, each side's backpressure holding up the other (the
 * SSH window closes while the socket does not take more; the socket is not read while the window is full).
 */

import type { ChannelSink, ConnectionState } from './connection.js';
import type { Dispatcher } from './dispatcher.js';
import type { SSHTunnelRequestedEvent } from './events.js';
import type { Clock, Runtime } from './runtime.js';
import type { ListenAdapter, Listener, Transport } from './transport.js';
import { concat } from './bytes.js';

/** RFC 4254 §5.1 reason codes a tunnel's open can fail with. */
const OPEN_ADMINISTRATIVELY_PROHIBITED = 1;
const OPEN_CONNECT_FAILED = 2;

/** How long the server waits for the target to accept the connection before refusing the channel. */
const CONNECT_TIMEOUT_MS = 10_000;

/** How long a target the client sent EOF to may take, once the channel has closed, to take what it was sent. */
const FLUSH_GRACE_MS = 10_000;

/** Where a `direct-tcpip` open asks to be connected, and where the client says the connection came from. */
export interface DirectTcpip {
  address: string;
  port: number;
  originatorAddress: string;
  originatorPort: number;
}

/** The open's type-specific data (RFC 4254 §7.2), or undefined if it is not two (string, uint32) pairs. */
export function parseDirectTcpip(data: Uint8Array): DirectTcpip | undefined {
  const r = wireReader(data);
  const [address, port, originatorAddress, originatorPort] = [r.text(), r.port(), r.text(), r.port()];
  if (address === undefined || port === undefined || originatorAddress === undefined || originatorPort === undefined || !r.done()) return undefined;
  return { address, port, originatorAddress, originatorPort };
}

/**
 * A `direct-streamlocal@openssh.com` open's data (OpenSSH's PROTOCOL §2.4: the socket path, a reserved string
 * and a reserved uint32), as a target with the path for its address and no port or originator.
 */
function parseDirectStreamlocal(data: Uint8Array): DirectTcpip | undefined {
  const r = wireReader(data);
  const [path, reserved, reservedPort] = [r.text(), r.text(), r.port()];
  return path === undefined || reserved === undefined || reservedPort === undefined || !r.done() ? undefined : { address: path, port: 0, originatorAddress: '', originatorPort: 0 };
}

/** A `tcpip-forward` request's address and port (RFC 4254 §7.1), or undefined if malformed. */
export function parseForward(data: Uint8Array): { address: string; port: number } | undefined {
  const r = wireReader(data);
  const [address, port] = [r.text(), r.port()];
  return address === undefined || port === undefined || !r.done() ? undefined : { address, port };
}

/**
 * A `streamlocal-forward@openssh.com` request's socket path (OpenSSH's PROTOCOL §2.4) as the address, with
 * port 0, or undefined if malformed.
 */
function parseStreamlocalForward(data: Uint8Array): { address: string; port: number } | undefined {
  const r = wireReader(data);
  const path = r.text();
  return path === undefined || !r.done() ? undefined : { address: path, port: 0 };
}

/** Reads SSH strings (UTF-8) and ports (uint32 up to 65535) off `data`; undefined once anything is amiss. */
function wireReader(data: Uint8Array) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let at = 0;
  const u32 = (): number | undefined => {
    if (at + 4 > data.length) return undefined;
    at += 4;
    return view.getUint32(at - 4);
  };
  return {
    port(): number | undefined {
      const n = u32();
      return n !== undefined && n <= 65535 ? n : undefined;
    },
    text(): string | undefined {
      const len = u32();
      if (len === undefined || at + len > data.length) return undefined;
      at += len;
      try {
        return utf8.decode(data.subarray(at - len, at));
      } catch {
        return undefined;
      }
    },
    done: (): boolean => at === data.length,
  };
}

/** What a tunnel needs of the server: the channel's side of the bytes. */
export interface TunnelChannel {
  send(data: Uint8Array): Promise<void>;
  sendEOF(): Promise<void>;
  close(): Promise<void>;
}

/** The outcome of a tunnel request: nobody accepted it (`channelOpenRequest` decides), refused, or connected. */
export type TunnelOpening =
  | { kind: 'declined' }
  | { kind: 'refused'; reason: number; description: string }
  | { kind: 'connected'; target: Transport; address: string; port: number; socketPath?: string };

/** What the server lends the tunnels: its sending calls for a channel, and its way to open one to a client. */
export interface TunnelServer {
  channel(connectionId: number, channelId: number): TunnelChannel;
  /** Opens a channel to the client; resolves with its id once the client took it. */
  openChannel(connectionId: number, kind: string, data: Uint8Array): Promise<number>;
}

/** A global request's answer: whether it was granted, and what follows REQUEST_SUCCESS. */
export interface GlobalReply {
  accept: boolean;
  data?: Uint8Array;
}

/** A remote forward: the listener, and the address and port the client asked for (the port as bound), or its socket path. */
interface RemoteForward {
  listener: Listener;
  address: string;
  port: number;
  socketPath?: string;
}

/** The runtime's listeners: TCP, and Unix sockets where it has them. */
export interface TunnelListeners {
  tcp: ListenAdapter;
  unix?: Runtime['listenUnix'];
}

export class Tunnels {
  /** Each connection's remote forwards, by the address and port the client names them with. */
  private readonly remote = new Map<ConnectionState, Map<string, RemoteForward>>();

  constructor(
    private readonly events: Dispatcher,
    private readonly clock: Clock,
    private readonly server: TunnelServer,
    /** The runtime's connectors, where it has them: TCP, and Unix sockets. */
    private readonly connect: { tcp?: (host: string, port: number) => Promise<Transport>; unix?: (path: string) => Promise<Transport> },
    private readonly listen: TunnelListeners,
  ) {}

  /**
   * Asks the handlers about a `direct-tcpip` open, or a `direct-streamlocal@openssh.com` one (a Unix socket,
   * OpenSSH's `ssh -L PORT:/path`), and, if one accepts, connects to its target.
   */
  async request(conn: ConnectionState, channelId: number, kind: string, data: Uint8Array): Promise<TunnelOpening> {
    const unix = kind === 'direct-streamlocal@openssh.com';
    const target = unix ? parseDirectStreamlocal(data) : parseDirectTcpip(data);
    if (!target) return { kind: 'refused', reason: OPEN_ADMINISTRATIVELY_PROHIBITED, description: `malformed ${kind} request` };
    let refusal: TunnelOpening = { kind: 'declined' };
    const e = tunnelRequest(conn, 'local', target.address, target.port, (reason, description) => (refusal = { kind: 'refused', reason, description }));
    Object.assign(e, { channelId, originatorAddress: target.originatorAddress, originatorPort: target.originatorPort }, unix ? { socketPath: target.address } : {});
    await this.events.decide('sshTunnelRequested', e, () => (e.accept = false));
    if (!e.accept) return refusal;
    const connecting = unix ? this.connect.unix?.(e.address) : this.connect.tcp?.(e.address, e.port);
    const where = unix ? e.address : `${e.address} port ${e.port}`;
    if (!connecting) return { kind: 'refused', reason: OPEN_CONNECT_FAILED, description: `this runtime opens no ${unix ? 'Unix socket' : 'TCP'} connections` };
    try {
      const connected = await this.withTimeout(connecting);
      return { kind: 'connected', target: connected, address: e.address, port: e.port, ...(unix ? { socketPath: e.address } : {}) };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return { kind: 'refused', reason: OPEN_CONNECT_FAILED, description: `connect to ${where} failed: ${why}` };
    }
  }

  private withTimeout(connecting: Promise<Transport>): Promise<Transport> {
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        reject(new Error('timed out'));
        // A connection that comes after all is not wanted.
        void connecting.then((late) => late.destroy(), () => {});
      }, CONNECT_TIMEOUT_MS);
      connecting.then(
        (t) => {
          this.clock.clearTimeout(timer);
          resolve(t);
        },
        (err: unknown) => {
          this.clock.clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** Joins an opened channel and its connected socket; the returned sink takes the channel's side. */
  join(conn: ConnectionState, channelId: number, opened: { target: Transport; address: string; port: number; socketPath?: string }, direction: 'local' | 'remote' = 'local'): ChannelSink {
    const { connectionId } = conn;
    const where = { direction, address: opened.address, port: opened.port, ...(opened.socketPath === undefined ? {} : { socketPath: opened.socketPath }) };
    const tunnel: Tunnel = new Tunnel(opened.target, this.server.channel(connectionId, channelId), this.clock, () =>
      this.events.enqueueChannel(conn, channelId, () =>
        this.events.dispatch('sshTunnelClosed', { connectionId, channelId, ...where, bytesIn: tunnel.bytesIn, bytesOut: tunnel.bytesOut }),
      ),
    );
    return tunnel;
  }

  /**
   * `tcpip-forward` and `cancel-tcpip-forward` (RFC 4254 §7.1), and their Unix-socket forms
   * `streamlocal-forward@openssh.com` and `cancel-streamlocal-forward@openssh.com` (OpenSSH's PROTOCOL §2.4,
   * `ssh -R /path:HOST:PORT`); undefined for any other global request.
   */
  async globalRequest(conn: ConnectionState, name: string, data: Uint8Array): Promise<GlobalReply | undefined> {
    const unix = name === 'streamlocal-forward@openssh.com' || name === 'cancel-streamlocal-forward@openssh.com';
    if (!unix && name !== 'tcpip-forward' && name !== 'cancel-tcpip-forward') return undefined;
    const asked = unix ? parseStreamlocalForward(data) : parseForward(data);
    if (!asked) return { accept: false };
    const forwards = this.remote.get(conn) ?? new Map<string, RemoteForward>();
    const id = key(unix, asked.address, asked.port);
    if (name.startsWith('cancel-')) {
      const forward = forwards.get(id);
      if (!forward) return { accept: false };
      forwards.delete(id);
      await forward.listener.close();
      return { accept: true };
    }
    const e = tunnelRequest(conn, 'remote', asked.address, asked.port, () => {});
    if (unix) e.socketPath = asked.address;
    await this.events.decide('sshTunnelRequested', e, () => (e.accept = false));
    if (!e.accept || conn.ended) return { accept: false };
    const where = unix ? asked.address : `${asked.address}:${asked.port}`;
    const listenUnix = this.listen.unix;
    if (unix && !listenUnix) {
      // REQUEST_FAILURE carries no text: the host hears why.
      this.events.error(conn.connectionId, 0, `remote forward on ${where}: this runtime listens on no Unix sockets`);
      return { accept: false };
    }
    let listener: Listener;
    try {
      const accept = (t: Transport) => void this.forwarded(conn, forward, t);
      listener = listenUnix && unix ? await listenUnix(asked.address, accept) : await this.listen.tcp.listen({ host: bindAddress(asked.address), port: asked.port }, accept);
    } catch (err) {
      this.events.error(conn.connectionId, 0, `remote forward on ${where}: ${err instanceof Error ? err.message : String(err)}`);
      return { accept: false };
    }
    const forward: RemoteForward = { listener, address: asked.address, port: unix ? 0 : listener.port, ...(unix ? { socketPath: asked.address } : {}) };
    if (conn.ended) {
      await listener.close();
      return { accept: false };
    }
    forwards.set(key(unix, asked.address, forward.port), forward);
    this.remote.set(conn, forwards);
    return !unix && asked.port === 0 ? { accept: true, data: u32(listener.port) } : { accept: true };
  }

  /**
   * A connection to a remote forward: a `forwarded-tcpip` channel to the client carries it, or for a socket a
   * `forwarded-streamlocal@openssh.com` one (its path and a reserved string), once the client takes it.
   */
  private async forwarded(conn: ConnectionState, forward: RemoteForward, socket: Transport): Promise<void> {
    const [kind, data] =
      forward.socketPath === undefined
        ? ['forwarded-tcpip', concat([sshString(forward.address), u32(forward.port), sshString(socket.remoteAddress), u32(socket.remotePort)])]
        : ['forwarded-streamlocal@openssh.com', concat([sshString(forward.socketPath), sshString('')])];
    let channelId: number;
    try {
      channelId = await this.server.openChannel(conn.connectionId, kind, data);
    } catch {
      // The client refused it, or the connection ended.
      return socket.destroy();
    }
    const ch = conn.channels.get(channelId);
    if (!ch) return socket.destroy();
    ch.sink = this.join(conn, channelId, { target: socket, address: forward.address, port: forward.port, ...(forward.socketPath === undefined ? {} : { socketPath: forward.socketPath }) }, 'remote');
  }

  /** The connection ended: its remote forwards stop listening. */
  ended(conn: ConnectionState): void {
    const forwards = this.remote.get(conn);
    this.remote.delete(conn);
    for (const forward of forwards?.values() ?? []) void forward.listener.close().catch(() => {});
  }
}

/** The event for a tunnel request, refusing by default; `refused` hears a handler's `reject`. */
function tunnelRequest(conn: ConnectionState, direction: 'local' | 'remote', address: string, port: number, refused: (reason: number, description: string) => void): SSHTunnelRequestedEvent {
  return {
    connectionId: conn.connectionId,
    direction,
    address,
    port,
    accept: false,
    reject(reason = OPEN_ADMINISTRATIVELY_PROHIBITED, description = 'tunnel refused') {
      this.accept = false;
      refused(reason, description);
    },
  };
}

const key = (unix: boolean, address: string, port: number): string => `${unix ? 'unix' : 'tcp'}\n${address}\n${port}`;

/**
 * Where to listen for an address a client names (RFC 4254 §7.1): "" and "0.0.0.0" mean every IPv4 address,
 * "::" every address, "localhost" loopback; anything else as given. Whether a client may ask for it is the
 * handler's to decide.
 */
function bindAddress(address: string): string {
  if (address === '' || address === '*') return '0.0.0.0';
  if (address === 'localhost') return '127.0.0.1';
  return address;
}

const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};
const sshString = (text: string): Uint8Array => {
  const bytes = new TextEncoder().encode(text);
  return concat([u32(bytes.length), bytes]);
};

/** One forwarded connection: the channel's bytes to the target and the target's back. */
class Tunnel implements ChannelSink {
  readonly internal = true;
  /** Bytes from the client, written to the target. */
  bytesIn = 0;
  /** Bytes from the target, sent to the client. */
  bytesOut = 0;
  private readonly drainWaiters: (() => void)[] = [];
  private targetClosed = false;
  private channelClosed = false;
  /** The client's EOF was passed on: the target flushes what it holds, then shuts its writing side. */
  private ending = false;
  /** Destroys a target still flushing when the grace after the channel's close runs out. */
  private flushTimer: unknown;

  constructor(
    private readonly target: Transport,
    channel: TunnelChannel,
    private readonly clock: Clock,
    private readonly onClosed: () => void,
  ) {
    target.attach({
      data: (bytes) => {
        this.bytesOut += bytes.length;
        // The target is read no faster than the channel's window lets its bytes go.
        target.pause();
        channel.send(bytes).then(
          () => target.resume(),
          () => target.destroy(),
        );
      },
      drain: () => this.wake(),
      // The far end sends no more: the client is told, and may still send.
      end: () => void channel.sendEOF().catch(() => {}),
      close: () => {
        this.targetClosed = true;
        if (this.flushTimer !== undefined) this.clock.clearTimeout(this.flushTimer);
        this.wake();
        // closeChannel sends EOF first when it has not gone yet.
        if (!this.channelClosed) void channel.close().catch(() => {});
      },
    });
  }

  /** Channel data for the target: resolves once the target takes more, so that the window waits for it. */
  data(bytes: Uint8Array): Promise<void> | void {
    if (this.targetClosed) return;
    this.bytesIn += bytes.length;
    if (this.target.write(bytes)) return;
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** The client sends no more: the target is told so, and may still answer. */
  eof(): void {
    if (this.targetClosed) return;
    this.ending = true;
    this.target.end();
  }

  /** The channel is closed (by either side, or with its connection): the target goes too, once flushed after an EOF. */
  closed(): void {
    if (this.channelClosed) return;
    this.channelClosed = true;
    // After an EOF the bytes the target was sent and has not taken yet still go (a Unix socket's kernel buffer
    // is small: most of a window can be waiting in the runtime's); destroying now would drop them.
    if (this.ending && !this.targetClosed) this.flushTimer = this.clock.setTimeout(() => this.target.destroy(), FLUSH_GRACE_MS);
    else this.target.destroy();
    this.wake();
    this.onClosed();
  }

  private wake(): void {
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}
