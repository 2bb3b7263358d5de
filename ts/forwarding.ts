/**
 * Local forwarding (`ssh -L`, `ssh -W`: RFC 4254 §7.2 `direct-tcpip` channels) served by the server itself:
 * an `sshTunnelRequested` handler that accepts has the server connect to the address the client named, through
 * the runtime's TCP connector, and the channel and the socket carry each other's bytes, each side's
 * backpressure holding up the other (the SSH window closes while the target does not read; the target is not
 * read while the channel's window is full). A tunnel nobody accepts is left to `channelOpenRequest`, where a
 * host may still take the channel and serve it in code.
 */

import type { ChannelSink, ConnectionState } from './connection.js';
import type { Dispatcher } from './dispatcher.js';
import type { SSHTunnelRequestedEvent } from './events.js';
import type { Clock } from './runtime.js';
import type { Transport } from './transport.js';

/** RFC 4254 §5.1 reason codes a tunnel's open can fail with. */
const OPEN_ADMINISTRATIVELY_PROHIBITED = 1;
const OPEN_CONNECT_FAILED = 2;

/** How long the server waits for the target to accept the connection before refusing the channel. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Where a `direct-tcpip` open asks to be connected, and where the client says the connection came from. */
export interface DirectTcpip {
  address: string;
  port: number;
  originatorAddress: string;
  originatorPort: number;
}

/** The open's type-specific data (RFC 4254 §7.2), or undefined if it is not two (string, uint32) pairs. */
export function parseDirectTcpip(data: Uint8Array): DirectTcpip | undefined {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let at = 0;
  const u32 = (): number | undefined => {
    if (at + 4 > data.length) return undefined;
    at += 4;
    return view.getUint32(at - 4);
  };
  const text = (): string | undefined => {
    const len = u32();
    if (len === undefined || at + len > data.length) return undefined;
    at += len;
    try {
      return utf8.decode(data.subarray(at - len, at));
    } catch {
      return undefined;
    }
  };
  const address = text();
  const port = u32();
  const originatorAddress = text();
  const originatorPort = u32();
  if (address === undefined || port === undefined || originatorAddress === undefined || originatorPort === undefined || at !== data.length) return undefined;
  if (port > 65535 || originatorPort > 65535) return undefined;
  return { address, port, originatorAddress, originatorPort };
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
  | { kind: 'connected'; target: Transport; address: string; port: number };

export class Tunnels {
  constructor(
    private readonly events: Dispatcher,
    private readonly clock: Clock,
    /** The channel's side, through the server's own sending calls. */
    private readonly channelOf: (connectionId: number, channelId: number) => TunnelChannel,
    /** The runtime's TCP connector, where it has one. */
    private readonly connectTcp: ((host: string, port: number) => Promise<Transport>) | undefined,
  ) {}

  /** Asks the handlers about a `direct-tcpip` open and, if one accepts, connects to its target. */
  async request(conn: ConnectionState, channelId: number, data: Uint8Array): Promise<TunnelOpening> {
    const target = parseDirectTcpip(data);
    if (!target) return { kind: 'refused', reason: OPEN_ADMINISTRATIVELY_PROHIBITED, description: 'malformed direct-tcpip request' };
    let refusal: TunnelOpening = { kind: 'declined' };
    const e: SSHTunnelRequestedEvent = {
      connectionId: conn.connectionId,
      channelId,
      direction: 'local',
      ...target,
      accept: false,
      reject(reason = OPEN_ADMINISTRATIVELY_PROHIBITED, description = 'tunnel refused') {
        this.accept = false;
        refusal = { kind: 'refused', reason, description };
      },
    };
    await this.events.decide('sshTunnelRequested', e, () => (e.accept = false));
    if (!e.accept) return refusal;
    if (!this.connectTcp) return { kind: 'refused', reason: OPEN_CONNECT_FAILED, description: 'this runtime opens no TCP connections' };
    try {
      const connected = await this.withTimeout(this.connectTcp(e.address, e.port));
      return { kind: 'connected', target: connected, address: e.address, port: e.port };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return { kind: 'refused', reason: OPEN_CONNECT_FAILED, description: `connect to ${e.address} port ${e.port} failed: ${why}` };
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

  /** Joins an opened channel and its connected target; the returned sink takes the channel's side. */
  join(conn: ConnectionState, channelId: number, opened: TunnelOpening & { kind: 'connected' }): ChannelSink {
    const { connectionId } = conn;
    const tunnel: Tunnel = new Tunnel(opened.target, this.channelOf(connectionId, channelId), () =>
      this.events.enqueueChannel(conn, channelId, () =>
        this.events.dispatch('sshTunnelClosed', { connectionId, channelId, address: opened.address, port: opened.port, bytesIn: tunnel.bytesIn, bytesOut: tunnel.bytesOut }),
      ),
    );
    return tunnel;
  }
}

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

  constructor(
    private readonly target: Transport,
    channel: TunnelChannel,
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
      close: () => {
        this.targetClosed = true;
        this.wake();
        if (!this.channelClosed) void channel.sendEOF().then(() => channel.close()).catch(() => {});
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
    if (!this.targetClosed) this.target.end();
  }

  /** The channel is closed (by either side, or with its connection): the target goes too. */
  closed(): void {
    if (this.channelClosed) return;
    this.channelClosed = true;
    this.target.destroy();
    this.wake();
    this.onClosed();
  }

  private wake(): void {
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}
