/**
 * A connection from admission to its end: its transport's callbacks, the core's events routed to the
 * handlers (through the connection's ordered queue, or the channel's for a channel's events) and to the
 * decisions, and its three ways to end: the core reports it disconnected, the transport closes, or the wasm
 * instance traps and takes every connection.
 */

import type { Admission } from './admission.js';
import type { Piece } from './channel-framing.js';
import { ChannelState, ConnectionState } from './connection.js';
import type { CoreBinding } from './core/binding.js';
import type { CoreEvent } from './core/events.js';
import { refusalIsDelayed, type Decisions } from './decisions.js';
import type { Dispatcher } from './dispatcher.js';
import { DisconnectReason, ErrorCode, SSHError } from './errors.js';
import type { PenaltyCause, SourcePenalties } from './limits.js';
import { randomBytes, wholeMs, type Clock } from './runtime.js';
import type { Transport, TransportHandlers } from './transport.js';

/** How long a closed connection's peer has to close its side of the socket. */
const CLOSE_GRACE_MS = 5000;

/** Disconnect reasons that mean the client broke the protocol before authenticating: the `protocol` penalty, if configured. */
const PROTOCOL_VIOLATIONS: readonly number[] = [DisconnectReason.ProtocolError, DisconnectReason.MacError, DisconnectReason.IllegalUserName];

export class Router {
  constructor(
    /** The server's connections by id, from `open` until forgotten. */
    private readonly conns: Map<number, ConnectionState>,
    private readonly binding: CoreBinding,
    private readonly events: Dispatcher,
    private readonly decisions: Decisions,
    private readonly admission: Admission,
    private readonly penalties: SourcePenalties,
    private readonly clock: Clock,
  ) {}

  /** Serves a connection the core has opened: its transport's callbacks, then `connected`. */
  open(id: number, transport: Transport): void {
    const conn = new ConnectionState(id, transport, this.clock);
    this.conns.set(id, conn);
    transport.attach(new TransportEvents(this, conn));
    this.events.enqueue(conn, () => this.events.dispatch('connected', { connectionId: id, statusCode: 0, description: 'OK' }));
    this.binding.afterCall(conn);
  }

  /** Routes one core event to its connection's ordered queue, or its channel's. */
  route(event: CoreEvent): void {
    const conn = this.conns.get(event.conn);
    if (!conn) return;
    const id = conn.connectionId;
    const { events } = this;
    switch (event.type) {
      case 'log':
        events.enqueue(conn, async () => {
          if (event.level === 1) await events.dispatch('sshStatus', { connectionId: id, message: event.message });
          await events.dispatch('log', { connectionId: id, logLevel: event.level, message: event.message, logType: 'SSH' });
        });
        break;
      case 'clientVersion':
        conn.clientVersion = event.version;
        if (!this.admission.acceptsVersion(event.version)) {
          this.binding.withConn(conn, (core) => core.disconnect(id, DisconnectReason.ProtocolVersionNotSupported, 'version not accepted (SSHVersionPattern)'));
        }
        break;
      case 'keysExchanged':
        conn.strictKex = event.strict;
        conn.algorithms = { kex: event.kex, hostKey: event.hostKey, cipherIn: event.cipherIn, cipherOut: event.cipherOut, macIn: event.macIn, macOut: event.macOut };
        // Fresh platform entropy for the next exchange, as the core asks of its host.
        this.binding.enter(conn, (core) => core.add_entropy(randomBytes(32)));
        events.enqueue(conn, () =>
          events.dispatch('sshStatus', {
            connectionId: id,
            message: `${event.initial ? 'keys exchanged' : 'keys re-exchanged'}: ${event.kex}, ${event.hostKey}, ${event.cipherIn}${event.macIn ? ' ' + event.macIn : ''}${event.strict ? ', strict kex' : ''}`,
          }),
        );
        break;
      case 'serviceRequest':
        events.enqueue(conn, () => this.decisions.service(conn, event));
        break;
      case 'authRequest': {
        // OpenSSH counts authentication as attempted once something is checked: `none` checks nothing.
        if (event.method !== 'none') conn.authAttempts++;
        // The auth-failure delay counts from here, so time spent queued or in the handler is not added on top.
        const arrived = this.clock.now();
        const delayed = refusalIsDelayed(event, conn.noneSeen);
        if (event.method === 'none') conn.noneSeen = true;
        events.enqueue(conn, () => this.decisions.auth(conn, event, delayed ? arrived : undefined));
        break;
      }
      case 'authenticated':
        conn.user = event.user;
        this.admission.loggedIn(conn);
        this.decisions.connectionPrompts.delete(id);
        break;
      case 'channelOpenRequest':
        events.enqueueChannel(conn, event.channel, () => this.decisions.channelOpen(conn, event));
        break;
      case 'channelRequest':
        events.enqueueChannel(conn, event.channel, () => this.decisions.channelRequest(conn, event));
        break;
      case 'channelData': {
        const ch = conn.channels.get(event.channel);
        if (ch) ch.bytesReceived += event.data.length;
        events.enqueueChannel(conn, event.channel, async () => {
          // Taken when the data's turn comes: streams asked for meanwhile get what arrived before.
          const sink = ch?.sink;
          const framer = event.stream === 0 ? ch?.framer : undefined;
          if (sink) await sink.data(event.data);
          else if (framer) {
            framer.hold(event.data);
            await this.dataIn(id, ch!);
          }
          else await events.dispatch('channelDataIn', { connectionId: id, channelId: event.channel, data: event.data, stream: event.stream });
          if (!conn.ended) this.binding.withConn(conn, (core) => core.consume_channel_data(id, event.channel, event.data.length));
        });
        break;
      }
      case 'channelEof': {
        const ch = conn.channels.get(event.channel);
        events.enqueueChannel(conn, event.channel, async () => {
          ch?.sink?.eof();
          if (ch?.sink?.internal) return;
          // What framing still holds comes before the EOF.
          if (ch?.framer && !ch.sink) {
            await this.dataIn(id, ch);
            const last = ch.framer.rest();
            if (last) await this.dispatchPiece(id, ch.channelId, last);
          }
          await events.dispatch('channelEOF', { connectionId: id, channelId: event.channel });
        });
        break;
      }
      case 'channelReadyToSend': {
        const ch = conn.channels.get(event.channel);
        if (ch) this.binding.pumpChannel(conn, ch);
        events.enqueueChannel(conn, event.channel, () => events.dispatch('channelReadyToSend', { connectionId: id, channelId: event.channel }));
        break;
      }
      case 'channelClosed': {
        const ch = conn.channels.get(event.channel);
        ch?.fail(() => new SSHError(ErrorCode.NoSuchChannel, `channel ${event.channel} closed`));
        conn.channels.delete(event.channel);
        events.enqueueChannel(conn, event.channel, () => {
          ch?.sink?.closed();
          if (!ch?.sink?.internal) return events.dispatch('channelClosed', { connectionId: id, channelId: event.channel });
        });
        break;
      }
      case 'globalRequest':
        events.enqueue(conn, () => this.decisions.globalRequest(conn, event));
        break;
      case 'channelOpenConfirmed': {
        const opening = conn.opening?.get(event.channel);
        if (!opening) break;
        conn.opening!.delete(event.channel);
        const ch = new ChannelState(id, event.channel, opening.kind);
        conn.channels.set(event.channel, ch);
        opening.opened(ch);
        if (opening.announce) events.enqueueChannel(conn, event.channel, () => events.dispatch('channelOpened', { connectionId: id, channelId: event.channel }));
        break;
      }
      case 'channelOpenFailed': {
        const opening = conn.opening?.get(event.channel);
        conn.opening?.delete(event.channel);
        opening?.refused(new SSHError(ErrorCode.NoSuchChannel, `the client refused the channel: ${event.description} (reason ${event.reason})`));
        break;
      }
      case 'disconnected':
        this.onDisconnected(conn, event);
        break;
    }
  }

  private onDisconnected(conn: ConnectionState, event: CoreEvent & { type: 'disconnected' }): void {
    conn.ended = true;
    conn.cancelDelayedReply?.();
    this.admission.loggedIn(conn);
    const id = conn.connectionId;
    this.endChannels(conn, () => new SSHError(ErrorCode.WrongState, `connection ${id} closed: ${event.description}`));
    const cause = this.penaltyCause(conn, event);
    if (cause) this.penalties.penalise(conn.remoteHost, cause, wholeMs(this.clock));
    this.binding.flush(conn);
    // A trap while flushing the DISCONNECT has destroyed the transport already.
    if (!conn.closed && !conn.dead) {
      conn.transport.end();
      // A peer that ignores DISCONNECT and keeps its side open is cut off.
      conn.closeTimer = this.clock.setTimeout(() => conn.transport.destroy(), CLOSE_GRACE_MS);
    }
    const normal = event.byPeer && (event.reason === DisconnectReason.ByApplication || event.reason === DisconnectReason.AuthCancelledByUser);
    const protocolFault = !event.byPeer && ![DisconnectReason.ByApplication, DisconnectReason.NoMoreAuthMethodsAvailable, DisconnectReason.ConnectionLost].includes(event.reason as 11);
    if (protocolFault) this.events.error(id, event.reason, event.description);
    this.events.enqueueLast(conn, () => this.events.dispatch('disconnected', { connectionId: id, statusCode: normal ? 0 : event.reason, description: normal ? 'OK' : event.description }));
  }

  /**
   * How an unauthenticated connection's end counts against its source, if at all. As in OpenSSH's sshd: a
   * pre-auth session that ends for any reason but the grace time or a crash exits 255 (a fatal error, the
   * peer's DISCONNECT, a dropped socket alike), which sshd charges as `noauth`, or as `authfail` once
   * authentication was attempted. A protocol violation costs `protocol` instead only if it is configured.
   */
  private penaltyCause(conn: ConnectionState, event: CoreEvent & { type: 'disconnected' }): PenaltyCause | undefined {
    if (conn.user !== undefined || conn.endedByHost) return undefined;
    if (event.reason === DisconnectReason.NoMoreAuthMethodsAvailable) return 'authfail';
    if (!event.byPeer && PROTOCOL_VIOLATIONS.includes(event.reason) && this.penalties.charges('protocol')) return 'protocol';
    if (!event.byPeer && event.reason === DisconnectReason.ByApplication) return 'grace-exceeded';
    return conn.authAttempts > 0 ? 'authfail' : 'noauth';
  }

  /** What the transport delivered. */
  received(conn: ConnectionState, bytes: Uint8Array): void {
    conn.bytesReceived += bytes.length;
    conn.lastActivity = this.clock.now();
    this.binding.receive(conn, bytes);
  }

  drained(conn: ConnectionState): void {
    this.binding.drained(conn);
  }

  transportClosed(conn: ConnectionState): void {
    const id = conn.connectionId;
    if (conn.closed) return;
    conn.closed = true;
    this.binding.forgetDeadline(conn);
    this.clock.clearTimeout(conn.closeTimer);
    conn.cancelDelayedReply?.();
    if (!conn.dead) {
      if (!conn.ended) this.binding.enter(conn, (core) => core.connection_lost(id));
      this.binding.pump(conn);
      this.binding.enter(conn, (core) => core.close(id));
    }
    this.events.enqueueLast(conn, () => this.forget(conn));
  }

  private forget(conn: ConnectionState): void {
    if (this.conns.get(conn.connectionId) === conn) this.conns.delete(conn.connectionId);
    this.decisions.connectionPrompts.delete(conn.connectionId);
    conn.markGone();
  }

  /**
   * `channelDataIn` for each complete piece the channel's framing holds, one after another: the framing is
   * read anew for each, so that a handler's change applies to what follows.
   */
  private async dataIn(connectionId: number, ch: ChannelState): Promise<void> {
    for (let piece = ch.framer?.next(); piece; piece = ch.framer?.next()) await this.dispatchPiece(connectionId, ch.channelId, piece);
  }

  private dispatchPiece(connectionId: number, channelId: number, { data, eolFound }: Piece): void | Promise<void> {
    return this.events.dispatch('channelDataIn', { connectionId, channelId, data, stream: 0, ...(eolFound === undefined ? {} : { eolFound }) });
  }

  /** The connection ended: its channels, the channels it was being offered, and its remote forwards go with it. */
  private endChannels(conn: ConnectionState, error: () => SSHError): void {
    for (const ch of conn.channels.values()) {
      ch.fail(error);
      ch.sink?.closed();
    }
    const opening = conn.opening;
    conn.opening = undefined;
    for (const o of opening?.values() ?? []) o.refused(error());
    this.decisions.tunnels.ended(conn);
  }

  /**
   * The wasm instance trapped: every connection it held is closed with an error (the binding starts a fresh
   * instance). The connection being served when it happened owes the `crash` penalty if it had not
   * authenticated.
   */
  lost(err: SSHError, served: ConnectionState | undefined): void {
    if (served && served.user === undefined) this.penalties.penalise(served.remoteHost, 'crash', wholeMs(this.clock));
    const victims = [...this.conns.values()];
    this.events.log(1, `${err.message}; closing ${victims.length} connection(s) and starting a fresh wasm instance`);
    this.events.error(0, err.code, err.message);
    const lost = new SSHError(ErrorCode.WasmTrapped, `connection closed: ${err.message}`);
    for (const conn of victims) {
      // One whose protocol had already ended has had its `disconnected`; only its socket is left to close.
      const endedBefore = conn.ended;
      conn.dead = true;
      conn.ended = true;
      this.admission.loggedIn(conn);
      this.binding.forgetDeadline(conn);
      this.clock.clearTimeout(conn.closeTimer);
      conn.cancelDelayedReply?.();
      this.endChannels(conn, () => lost);
      this.conns.delete(conn.connectionId);
      conn.transport.destroy();
      const id = conn.connectionId;
      if (!endedBefore) {
        this.events.error(id, lost.code, lost.message);
        this.events.enqueueLast(conn, () => this.events.dispatch('disconnected', { connectionId: id, statusCode: DisconnectReason.ConnectionLost, description: lost.message }));
      }
      this.events.enqueueLast(conn, () => this.forget(conn));
    }
  }
}

/** A connection's transport callbacks: an object of two fields whose methods every connection shares (closures would cost each one). */
class TransportEvents implements TransportHandlers {
  constructor(
    private readonly router: Router,
    private readonly conn: ConnectionState,
  ) {}

  data(bytes: Uint8Array): void {
    this.router.received(this.conn, bytes);
  }

  drain(): void {
    this.router.drained(this.conn);
  }

  close(): void {
    this.router.transportClosed(this.conn);
  }
}
