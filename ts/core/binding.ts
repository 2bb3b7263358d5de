/**
 * The server's way into its wasm core: one instance serves every connection, and every call reaches it
 * through `enter`, which contains a trap (the instance is replaced by a fresh one with the same host keys and
 * settings) so that nothing thrown inside reaches a socket or timer callback. Around each call for a
 * connection it moves the data: input from the connection's inbox into the core, the core's output to the
 * transport, its events to the router, its next deadline to the deadlines' timer, and channel data the
 * application queued into the core as the windows allow.
 */

import type { Core } from '../../wasm/pkg/wasshd_wasm.js';
import type { ChannelState, ConnectionState } from '../connection.js';
import { Deadlines } from '../deadlines.js';
import type { Dispatcher } from '../dispatcher.js';
import { DisconnectReason, ErrorCode, SSHError, fromCoreError } from '../errors.js';
import { randomBytes, wholeMs, type Clock, type Runtime } from '../runtime.js';
import { decodeEvents, type CoreEvent } from './events.js';
import { legacyLoadFailure } from './instance.js';
import { withFileBytes, withKeyFiles } from './key-files.js';

/** What a guarded core call came to: its value, or the core's refusal (a trap has been dealt with by then). */
export type CoreResult<T> = { ok: true; value: T } | { ok: false; error: SSHError };

/** What the binding hands back to the server. */
export interface BindingHost {
  /** One event the core reported. */
  route(event: CoreEvent): void;
  /** The instance trapped, while serving `conn` if one was being served: every connection it held is lost. */
  lost(error: SSHError, conn: ConnectionState | undefined): void;
  /** No fresh instance could be started: take no more connections. */
  stopListening(): Promise<void>;
}

/**
 * Input handed to the core in one call: large reads (a WebSocket message) are fed in pieces, so that a
 * decision reached partway stops the rest from entering the shared wasm memory.
 */
const INPUT_PIECE = 64 * 1024;
/**
 * Input a connection may have waiting in the host while it is not read: a TCP socket stops at once when
 * paused; a WebSocket peer may go on sending, after authentication up to its channel windows, before it only
 * what a pipelining client would (the core's own pre-authentication bound). Beyond this it is cut off.
 */
const MAX_INBOX_BYTES = 8 * 1024 * 1024;
const MAX_INBOX_BYTES_UNAUTHENTICATED = 320 * 1024;

/**
 * What the host writes to a client that stopped reading before it stops feeding the core that client's
 * input. Channel data within the windows needs no reply and must be taken from a peer that cannot be paused
 * (a WebSocket); requests whose replies pile up must not be.
 */
const MAX_WRITTEN_WHILE_FULL = 64 * 1024;

/** The bits of `Core.status` (wasm/boundary: `status`). */
export const Status = {
  /** The connection has output to write. */
  Output: 1,
  /** Some connection has events. */
  Events: 2,
  /** Input waits for the host's answer to a decision. */
  DecisionPending: 4,
  /** A call stopped at the output budget with input left to process. */
  InputPending: 8,
} as const;

export class CoreBinding {
  private instance: Core;
  /** The wasm instance trapped and a fresh one is being started; new connections wait for it. */
  private restarting: Promise<void> | undefined;
  /** No fresh instance could be started after a trap: nothing can be served any more. */
  private broken: SSHError | undefined;
  /** What was given to the core, replayed into a fresh instance after a trap. */
  private readonly settings = new Map<string, string>();
  /** The host keys in the canonical form (`KeyFiles.host_key`); `next`: a key the server will move to. */
  private readonly hostKeys: { key: Uint8Array; next: boolean }[] = [];
  /** Highest connection id handed out, so that a fresh core never reuses one. */
  private lastConnectionId = 0;
  /** What one `send_data` call takes at most (the core's `CALL_OUTPUT_BUDGET`). */
  private readonly callOutputBudget: number;
  /** Every connection's next deadline, behind one timer. */
  private readonly deadlines: Deadlines<ConnectionState>;

  constructor(
    private readonly runtime: Runtime,
    private readonly clock: Clock,
    private readonly events: Dispatcher,
    private readonly host: BindingHost,
  ) {
    this.instance = runtime.createCore(randomBytes(64));
    this.callOutputBudget = this.instance.call_output_budget();
    this.deadlines = new Deadlines(clock, (conn) => this.withConn(conn, (core) => core.handle_timeout(conn.connectionId, wholeMs(this.clock))));
  }

  /** The instance serving now. */
  get core(): Core {
    return this.instance;
  }

  /** Set while a fresh instance is being started after a trap. */
  get recovering(): Promise<void> | undefined {
    return this.restarting;
  }

  // ---- guarded calls ----------------------------------------------------------------------------------

  /**
   * The one way into the core: every call goes through here, and nothing it does throws. A trap (any
   * failure that is not the core's own `[code] message` refusal) leaves the instance unusable, since the
   * binding's borrow flag stays set and every later call would throw as well; it is dealt with here, once:
   * the host loses every connection (the one being served owes the `crash` penalty if it had not
   * authenticated) and a fresh instance is started. Until that instance is in place, calls fail without
   * reaching the dead one. A refusal comes back for the caller to report or pass on.
   */
  enter<T>(conn: ConnectionState | undefined, call: (core: Core) => T): CoreResult<T> {
    if (this.broken) return { ok: false, error: this.broken };
    if (this.restarting) return { ok: false, error: new SSHError(ErrorCode.WasmTrapped, 'the wasm instance trapped and a fresh one is starting') };
    if (conn?.dead) return { ok: false, error: new SSHError(ErrorCode.WasmTrapped, `connection ${conn.connectionId} was lost to a wasm trap`) };
    try {
      return { ok: true, value: call(this.instance) };
    } catch (e) {
      const error = fromCoreError(e);
      if (error.code === ErrorCode.WasmTrapped) this.trapped(error, conn);
      return { ok: false, error };
    }
  }

  /** A core call for the application (a setting, a key): a refusal or a trap reaches the caller as SSHError. */
  call<T>(call: (core: Core) => T): T {
    const result = this.enter(undefined, call);
    if (!result.ok) throw result.error;
    return result.value;
  }

  /**
   * Runs a core call for one connection, then flushes, drains and re-arms. With `rethrow`, a refused
   * command reaches the caller as SSHError; otherwise it is reported through the `error` event. A trap has
   * already been dealt with by `enter`, and ended the connection.
   */
  withConn(conn: ConnectionState, call: (core: Core) => void, rethrow = false): void {
    const result = this.enter(conn, call);
    const refused = result.ok || result.error.code === ErrorCode.WasmTrapped ? undefined : result.error;
    if (refused && !rethrow) this.events.error(conn.connectionId, refused.code, refused.message);
    this.afterCall(conn);
    if (refused && rethrow) throw refused;
  }

  // ---- what a fresh instance is given again -----------------------------------------------------------

  /**
   * Installs a private key file as a host key, opened with `passphrase` if encrypted (read by the keys module,
   * `withKeyFiles`); returns its public key line. `next`: a key the server will move to, announced after login
   * but never signing an exchange.
   */
  addHostKey(file: string | Uint8Array, passphrase = '', next = false): string {
    const key = withKeyFiles(this.runtime.keyFiles, (keys) => withFileBytes(file, (bytes) => keys.host_key(bytes, passphrase)));
    const line = this.call((core) => (next ? core.add_next_host_key(key) : core.add_host_key(key)));
    this.hostKeys.push({ key, next });
    return line;
  }

  /** Generates a host key (in the keys module: `type` and `bits` as `ssh-keygen -t -b`), installs it and returns the private key file. */
  generateHostKey(type: string, bits: number, comment: string): string {
    const file = withKeyFiles(this.runtime.keyFiles, (keys) => keys.generate(type, bits, comment));
    this.addHostKey(file);
    return file;
  }

  /**
   * A fresh instance without host keys and with every core setting at its default (`SSHServer.reset`), for
   * a server that serves no connection any more; connection ids go on from the last one.
   */
  reset(): void {
    const core = this.runtime.createCore(randomBytes(64));
    core.continue_ids_after(this.lastConnectionId);
    this.instance = core;
    this.broken = undefined;
    this.settings.clear();
    for (const { key } of this.hostKeys) key.fill(0);
    this.hostKeys.length = 0;
  }

  /** Sets a setting the core holds; false when the core does not know the name. */
  setConfig(name: string, value: string): boolean {
    let known: boolean;
    try {
      known = this.call((core) => core.set_config(name, value));
    } catch (e) {
      // The core can say only that the legacy module is missing or failed; the host knows why it failed.
      const failure = legacyLoadFailure(this.instance);
      if (failure !== undefined && e instanceof Error && e.message.includes('wasm/pkg-legacy')) e.message += ` (loading it failed: ${failure})`;
      throw e;
    }
    if (known) this.settings.set(name, value);
    return known;
  }

  /**
   * A new connection in the core, with fresh platform entropy; its id, which a fresh instance will not hand
   * out again. The caller serves it before anything else can run (a trap in between would leave it on a
   * dead instance).
   */
  open(): CoreResult<number> {
    const opened = this.enter(undefined, (core) => {
      core.add_entropy(randomBytes(32));
      return core.open(wholeMs(this.clock));
    });
    if (opened.ok) this.lastConnectionId = Math.max(this.lastConnectionId, opened.value);
    return opened;
  }

  // ---- around every call for a connection ------------------------------------------------------------

  /**
   * After a call for the connection: its output and the events, if it says it has any; its deadline; whether to
   * read it; input left over. Event handlers may call the core again, so the status is asked afresh after them.
   */
  afterCall(conn: ConnectionState): void {
    if (conn.dead) return;
    const before = this.status(conn);
    if (before === undefined) return;
    if (before & Status.Output) this.flush(conn);
    if (before & Status.Events) this.pump(conn);
    this.rearm(conn);
    const after = before & Status.Events ? this.status(conn) : before;
    if (after === undefined) return;
    this.updateReading(conn, after);
    this.continueInput(conn, after);
  }

  /** The transport has room again: write, read and feed the core again. */
  drained(conn: ConnectionState): void {
    conn.writable = true;
    conn.writtenWhileFull = 0;
    const status = this.status(conn);
    if (status === undefined) return;
    this.updateReading(conn, status);
    this.continueInput(conn, status);
    for (const ch of conn.channels.values()) this.pumpChannel(conn, ch);
  }

  /** The core's `Status` bits for the connection, or undefined if the call failed (a trap, dealt with). */
  private status(conn: ConnectionState): number | undefined {
    const status = this.enter(conn, (core) => core.status(conn.connectionId));
    return status.ok ? status.value : undefined;
  }

  /**
   * The core stopped processing buffered input at its per-call output budget: go on once the output is
   * written, while the client reads what it is sent (otherwise `drain` comes back here).
   */
  private continueInput(conn: ConnectionState, status: number): void {
    if (!conn.writable || conn.ended || conn.dead || !(status & Status.InputPending)) return;
    this.withConn(conn, (core) => core.input(conn.connectionId, new Uint8Array(0), wholeMs(this.clock)));
  }

  /**
   * Reads from the transport only while the core waits for no decision (the service, an authentication
   * step, or channel decisions a client piled up to their bound: a channel decision otherwise holds up only
   * its channel's handlers) and the client takes what it is sent: a client cannot pile up input while the
   * host decides, nor replies while it does not read. What a transport that cannot pause delivers meanwhile
   * is fed to the core only while no decision waits and the client has not been sent much since it stopped
   * reading; the rest waits in the inbox.
   */
  private updateReading(conn: ConnectionState, status: number): void {
    if (conn.closed || conn.dead || conn.ended) return;
    const deciding = (status & Status.DecisionPending) !== 0;
    if (conn.writable && !deciding) conn.transport.resume();
    else conn.transport.pause();
    conn.reading = !deciding && (conn.writable || conn.writtenWhileFull < MAX_WRITTEN_WHILE_FULL);
    if (conn.reading && conn.inbox.length > 0) this.receive(conn);
  }

  /**
   * Queues what the transport delivered and feeds the core from the queue, a piece at a time, while the
   * connection is being read. A client that piles up more than the inbox bound is cut off.
   */
  receive(conn: ConnectionState, bytes?: Uint8Array): void {
    if (conn.ended || conn.dead) return;
    if (bytes && bytes.length > 0) {
      conn.inbox.push(bytes);
      conn.inboxBytes += bytes.length;
    }
    // Called again from inside a core call (through updateReading): the loop below goes on.
    if (conn.feeding) return;
    conn.feeding = true;
    try {
      while (conn.inbox.length > 0 && conn.reading && !conn.ended && !conn.dead) {
        const head = conn.inbox[0]!;
        const piece = head.subarray(0, INPUT_PIECE);
        if (piece.length === head.length) conn.inbox.shift();
        else conn.inbox[0] = head.subarray(piece.length);
        conn.inboxBytes -= piece.length;
        this.withConn(conn, (core) => core.input(conn.connectionId, piece, wholeMs(this.clock)));
      }
    } finally {
      conn.feeding = false;
    }
    // An emptied queue keeps the room it grew (17 slots) until cut to length 0: an idle connection keeps none.
    if (conn.inbox.length === 0) conn.inbox.length = 0;
    // What is left waits for a decision or for a client that does not read: within bounds.
    if (!conn.ended && conn.inboxBytes > (conn.user === undefined ? MAX_INBOX_BYTES_UNAUTHENTICATED : MAX_INBOX_BYTES)) {
      conn.inbox.length = 0;
      conn.inboxBytes = 0;
      this.withConn(conn, (core) => core.disconnect(conn.connectionId, DisconnectReason.ProtocolError, 'client sent too much without waiting for replies'));
    }
  }

  /** Writes what the core has for the connection to its transport. */
  flush(conn: ConnectionState): void {
    if (conn.dead || conn.closed) return;
    const taken = this.enter(conn, (core) => core.take_output(conn.connectionId));
    if (!taken.ok) return;
    const out = taken.value;
    if (out.length === 0) return;
    if (!conn.writable) conn.writtenWhileFull += out.length;
    conn.bytesSent += out.length;
    conn.lastActivity = this.clock.now();
    if (!conn.transport.write(out)) {
      // The client is not reading: stop reading it too, so that what it sends cannot pile up replies.
      conn.writable = false;
      conn.transport.pause();
    }
    if (!conn.writable && conn.writtenWhileFull >= MAX_WRITTEN_WHILE_FULL) conn.reading = false;
  }

  private rearm(conn: ConnectionState): void {
    let deadline = -1;
    if (!conn.ended) {
      const next = this.enter(conn, (core) => core.next_deadline(conn.connectionId));
      if (!next.ok) return;
      deadline = next.value;
    }
    if (deadline !== conn.deadline) this.deadlines.set(conn, deadline);
  }

  /** The connection is gone or lost: its deadline with it. */
  forgetDeadline(conn: ConnectionState): void {
    this.deadlines.set(conn, -1);
  }

  /**
   * Routes every pending event of every connection; `conn` is the one whose call produced them. Records the
   * host cannot decode count as a trap: the instance is not one this host can serve with.
   */
  pump(conn: ConnectionState): void {
    const drained = this.enter(conn, (core) => decodeEvents(core.drain_events()));
    if (!drained.ok) return;
    for (const event of drained.value) this.host.route(event);
  }

  /** Hands queued data to the core as far as the window and the socket allow. */
  pumpChannel(conn: ConnectionState, ch: ChannelState): void {
    if (conn.dead) return;
    while (ch.queue.length > 0 && conn.writable && !conn.ended && !ch.closed) {
      const item = ch.queue[0]!;
      // The core takes at most its per-call budget: hand it no more, or every call would copy the whole rest
      // of a large send into the shared wasm memory (quadratic in the send, and as large as it).
      const piece = item.data.subarray(0, this.callOutputBudget);
      const sent = this.enter(conn, (core) => core.send_data(conn.connectionId, ch.channelId, item.stream, piece, wholeMs(this.clock)));
      if (!sent.ok) {
        ch.fail(() => sent.error);
        break;
      }
      const taken = sent.value;
      ch.bytesSent += taken;
      this.flush(conn);
      if (taken < item.data.length) {
        item.data = item.data.subarray(taken);
        if (taken === 0) break; // the window is full (or a key exchange runs): channelReadyToSend resumes
        continue; // one call takes a bounded amount: go on while the socket takes it
      }
      ch.queue.shift();
      item.resolve();
    }
    ch.notifyIdle();
    this.rearm(conn);
  }

  // ---- trap containment ------------------------------------------------------------------------------

  /**
   * The wasm instance trapped (out of memory, or a bug): nothing in it can be trusted. The host closes every
   * connection it held, and a fresh instance with the same keys and settings takes new ones.
   */
  private trapped(error: SSHError, conn: ConnectionState | undefined): void {
    if (this.restarting) return;
    // Marked before the host loses its connections: an error or log handler that calls the server meanwhile
    // must not reach the dead instance (and trap it again).
    let restarted!: () => void;
    this.restarting = new Promise<void>((resolve) => (restarted = resolve));
    try {
      this.host.lost(error, conn);
    } finally {
      void this.restart().finally(() => {
        this.restarting = undefined;
        restarted();
      });
    }
  }

  /** Never rejects: connections waiting for it go on (and find the binding broken if no instance started). */
  private async restart(): Promise<void> {
    try {
      const core = this.runtime.createCore(randomBytes(64));
      core.continue_ids_after(this.lastConnectionId);
      for (const { key, next } of this.hostKeys) {
        if (next) core.add_next_host_key(key);
        else core.add_host_key(key);
      }
      for (const [name, value] of this.settings) core.set_config(name, value);
      this.instance = core;
      this.events.log(1, 'fresh wasm instance started');
    } catch (e) {
      // Without a core nothing can be served: stop taking connections rather than accept and drop them.
      const err = fromCoreError(e);
      this.broken = new SSHError(ErrorCode.WasmTrapped, `could not start a fresh wasm instance: ${err.message}`);
      this.events.error(0, ErrorCode.WasmTrapped, this.broken.message);
      await this.host.stopListening().catch((stop: unknown) =>
        this.events.error(0, ErrorCode.WasmTrapped, `could not stop listening: ${stop instanceof Error ? stop.message : String(stop)}`),
      );
    }
  }
}
