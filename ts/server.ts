/**
 * SSHServer: the public, runtime-independent server. It owns sockets (through a ListenAdapter), the timers
 * (one for every connection's deadline, and one per refusal waiting out the auth-failure delay) and the event
 * API; the wasm core owns the protocol. The parts it composes, one concept a file:
 * - `core/binding.ts`: every call into the core. Each call for a connection is followed by flushing that
 *   connection's output, draining events, setting its next deadline (`deadlines.ts`), reading its socket only
 *   while the core waits for no decision and the client reads, and continuing input the core left at its
 *   per-call output budget. Trap containment and restart.
 * - `admission.ts`: whether a new connection is taken (the limits' own rules are in `limits.ts`).
 * - `routing.ts`: a connection from admission to its end, its events and each channel's in order;
 *   `decisions.ts`: the requests handlers answer; `dispatcher.ts`: how the parts call the handlers;
 *   `forwarding.ts`: tunnels the server serves itself.
 * - `connection.ts`: per-connection and per-channel state; `settings.ts`: the options and `config()` names.
 * - `events.ts`, `runtime.ts`: the public event types, and what a runtime entry point provides.
 */

import { Admission } from './admission.js';
import { AuthorizedKeys } from './authorized-keys.js';
import { AuthFailureDelay, parseAuthFailureDelay } from './auth-delay.js';
import type { ChannelState, ConnectionState, OpeningChannel } from './connection.js';
import { CoreBinding } from './core/binding.js';
import type { GenerateHostKeyOptions } from './core/key-files.js';
import { coreMemory } from './core/instance.js';
import { Decisions } from './decisions.js';
import { Dispatcher } from './dispatcher.js';
import { Emitter } from './emitter.js';
import { Tunnels } from './forwarding.js';
import { eolFramer, passThrough, recordFramer, type Framer } from './channel-framing.js';
import { channelStreams, type ChannelStreamOptions, type ChannelStreams } from './channel-streams.js';
import { DisconnectReason, ErrorCode, SSHError } from './errors.js';
import type { ConnectionRequestEvent, SSHChannel, SSHConnection, SSHServerEvents } from './events.js';
import { SourcePenalties, StartupLimit } from './limits.js';
import { Router } from './routing.js';
import { DEFAULT_MAX_WEBSOCKET_MESSAGE, cryptoRandom, systemClock, wholeMs, type BoundAddress, type Clock, type Runtime, type WebSocketEndpoint } from './runtime.js';
import { ClientList } from './client-lists.js';
import {
  HOST_SETTINGS,
  formatPrompts,
  impliedFamily,
  listenFamily,
  optionSettings,
  parseBoolean,
  parsePrompts,
  parseSetting,
  positiveInt,
  type SSHServerOptions,
} from './settings.js';
import type { Listener, SocketOptions, Transport } from './transport.js';

export type {
  AuthMethodName,
  ChannelRequestInfo,
  KeyboardInteractivePrompt,
  ConnectionRequestEvent,
  ConnectedEvent,
  ConnectionEvent,
  SSHStatusEvent,
  LogEvent,
  ServiceRequestEvent,
  UserAuthRequestEvent,
  ChannelEvent,
  ChannelOpenRequestEvent,
  ChannelRequestEvent,
  ChannelRequestedEvent,
  ChannelDataInEvent,
  SSHTunnelRequestedEvent,
  SSHTunnelClosedEvent,
  GlobalRequestEvent,
  DisconnectedEvent,
  ErrorEvent,
  SSHServerEvents,
  SSHConnection,
  SSHChannel,
  NegotiatedAlgorithms,
} from './events.js';
export { systemClock, type BoundAddress, type Clock, type Runtime, type WebSocketEndpoint } from './runtime.js';
export { getSSHParam, getSSHParamBytes, setSSHParam, type SSHParamType } from './ssh-params.js';
export { AuthorizedKeys, AuthorizedKeysError, type AuthorizedKey, type HostPort, type KeyOption } from './authorized-keys.js';
export type { UserCertificate } from './certificates.js';
export type { HostKeyFile, SSHServerOptions } from './settings.js';
export type { AuthFailureDelay } from './auth-delay.js';
export type { ChannelStreamOptions, ChannelStreams } from './channel-streams.js';
export type { Handler } from './emitter.js';
export type { GenerateHostKeyOptions } from './core/key-files.js';

/** Where a new server listens, unless told otherwise (and again after `reset()`). */
const DEFAULT_LISTEN = { localHost: '127.0.0.1', localPort: 22, connectionBacklog: 511 };

/**
 * An SSH-2 server (the reference's SSHServer): host keys, listeners (TCP, WebSocket, or transports handed to
 * `accept`), and every connection's events and methods. Each runtime entry exports its own subclass, which
 * only supplies the runtime.
 */
export class SSHServer extends Emitter<SSHServerEvents> {
  private readonly conns = new Map<number, ConnectionState>();
  private listener: Listener | undefined;
  private webSocketListener: Listener | undefined;
  /** `PerSourcePenalties` and its exemptions, as set. */
  readonly penalties = new SourcePenalties();
  /** How long refused authentication attempts wait (AuthFailureDelay), with this instance's secret. */
  readonly authFailureDelay = new AuthFailureDelay();
  private readonly clock: Clock;
  private readonly events: Dispatcher;
  private readonly admission: Admission;
  private readonly binding: CoreBinding;
  private readonly decisions: Decisions;
  private readonly router: Router;
  /** The address `startListening` binds (the reference's LocalHost); default `127.0.0.1`. */
  localHost: string;
  /** The port `startListening` binds (LocalPort); 0 picks a free one; default 22. */
  localPort: number;
  /** Connections the kernel queues before they are accepted (ConnectionBacklog); default 511. */
  connectionBacklog: number;
  /** TcpNoDelay and KeepAliveTime, applied to each connection as it is accepted. */
  private readonly socketOptions: SocketOptions = { noDelay: true, keepAliveMs: 0 };
  /** UseIPv6 as set; undefined: as `localHost` is written. */
  private useIPv6: 0 | 1 | 2 | undefined;
  /** The host settings a new server has, before any option: what `reset()` puts back. */
  private readonly hostDefaults: [string, string][];

  constructor(
    private readonly runtime: Runtime,
    options: SSHServerOptions = {},
  ) {
    super();
    this.clock = runtime.clock ?? systemClock;
    this.events = new Dispatcher(
      (name, event) => this.dispatch(name, event),
      (name) => this.hasListeners(name),
    );
    this.admission = new Admission(this.penalties, runtime.random ?? cryptoRandom);
    this.binding = new CoreBinding(runtime, this.clock, this.events, {
      route: (event) => this.router.route(event),
      lost: (error, conn) => this.router.lost(error, conn),
      stopListening: () => this.stopListening(),
    });
    const tunnels = new Tunnels(
      this.events,
      this.clock,
      {
        channel: (connectionId, channelId) => ({
          send: (data) => this.sendChannelData(connectionId, channelId, data),
          sendEOF: () => this.sendEOF(connectionId, channelId),
          close: () => this.closeChannel(connectionId, channelId),
        }),
        openChannel: (connectionId, kind, data) => this.openChannelTo(connectionId, kind, data, false),
      },
      { tcp: runtime.connectTcp, unix: runtime.connectUnix },
      { tcp: runtime.listen, unix: runtime.listenUnix },
    );
    this.decisions = new Decisions(this.events, this.binding, this.clock, this.authFailureDelay, tunnels, options);
    this.router = new Router(this.conns, this.binding, this.events, this.decisions, this.admission, this.penalties, this.clock);
    this.localHost = options.localHost ?? DEFAULT_LISTEN.localHost;
    this.localPort = options.localPort ?? DEFAULT_LISTEN.localPort;
    this.connectionBacklog = options.connectionBacklog ?? DEFAULT_LISTEN.connectionBacklog;
    // These came with the options already, or have reset methods of their own.
    const ownReset = ['ConnectionBacklog', 'KeyboardInteractiveMessage', 'PerSourcePenalties', 'PerSourcePenaltyExemptList', 'TrustedUserCAKeys', 'UseIPv6'];
    this.hostDefaults = HOST_SETTINGS.filter((name) => !ownReset.includes(name)).map((name) => [name, this.config(name)]);
    for (const file of options.hostKeys ?? []) {
      if (typeof file === 'string') this.addHostKey(file);
      else this.addHostKey(file.key, file);
    }
    for (const setting of optionSettings(options)) this.config(setting);
  }

  // ---- keys and settings ----------------------------------------------------------------------------

  /**
   * Installs a private key file as a host key (OpenSSH, PEM PKCS#1 / SEC1 / PKCS#8, PuTTY PPK v2 and v3, JWK,
   * PKCS#12 as bytes or in base64; ed25519, ECDSA or RSA of 2048 bits or more), replacing one of the same type;
   * returns its public key line. An encrypted file needs `passphrase` (error 1302 without it or with a wrong
   * one; 1303 for a format or key type not read). The file is read by the key files' wasm module, loaded by
   * the first such call.
   *
   * With `next`, the key is one the server will move to (OpenSSH's host-key rotation) instead: it signs no
   * key exchange and replaces nothing, but every client is told of it after login (`hostkeys-00@openssh.com`)
   * and may ask for proof the server holds it, so that OpenSSH's `UpdateHostKeys` adds it to `known_hosts`.
   * Once clients have learned it, install it without `next` on the next start.
   *
   * `certificate`: its OpenSSH host certificate line (`ssh-keygen -s CA -h`), offered beside the plain key
   * (the `HostCertificate` setting).
   */
  addHostKey(privateKey: string | Uint8Array, options: { passphrase?: string; next?: boolean; certificate?: string } = {}): string {
    const line = this.binding.addHostKey(privateKey, options.passphrase ?? '', options.next ?? false);
    if (options.certificate !== undefined) this.config(`HostCertificate=${options.certificate}`);
    return line;
  }

  /**
   * Generates a host key (`options`: its type, size and comment; a string is the comment of an ed25519 key),
   * installs it and returns the private key file to store: an unencrypted OpenSSH file, as `ssh-keygen -N ''`
   * writes. RSA keys take seconds to make.
   */
  generateHostKey(options: string | GenerateHostKeyOptions = {}): string {
    const { type = 'ed25519', bits = 0, comment = 'wasshd host key' } = typeof options === 'string' ? { comment: options } : options;
    return this.binding.generateHostKey(type, bits, comment);
  }

  /** The installed host keys' public halves, as OpenSSH one-line public keys. */
  get hostPublicKeys(): string[] {
    return this.binding.call((core) => core.host_public_keys());
  }

  /** The installed host keys' fingerprints, in the order of `hostPublicKeys`, as `ssh-keygen -l [-E md5]` prints them. */
  hostKeyFingerprints(hash: 'sha256' | 'md5' = 'sha256'): string[] {
    return this.binding.call((core) => core.host_key_fingerprints(hash));
  }

  /**
   * Sets (`"Name=Value"`) or reads (`"Name"`) a setting by the reference's name. Per-connection settings
   * take the connection id in brackets, e.g. `NegotiatedStrictKex[3]`. Returns the current value.
   */
  config(setting: string): string {
    const { name, value, connectionId } = parseSetting(setting);
    if (connectionId !== undefined) return this.connectionSetting(name, connectionId, value);
    const { admission } = this;
    switch (name) {
      case 'MaxConnections':
        if (value !== undefined) admission.maxConnections = positiveInt(name, value, 100_000);
        return String(admission.maxConnections);
      case 'ConnectionBacklog':
        if (value !== undefined) this.connectionBacklog = positiveInt(name, value, 65_535);
        return String(this.connectionBacklog);
      case 'AuthFailureDelay':
        if (value !== undefined) this.authFailureDelay.base = parseAuthFailureDelay(value);
        return String(this.authFailureDelay.base);
      case 'KeyboardInteractiveMessage':
        if (value !== undefined) this.decisions.keyboardInteractiveMessage = value;
        return this.decisions.keyboardInteractiveMessage;
      case 'TrustedUserCAKeys':
        // Replaces the list: key lines as `trustedUserCAKeys` reads them; empty for none.
        if (value !== undefined) this.decisions.trustedUserCAKeys = value.trim() === '' ? undefined : AuthorizedKeys.parse(value, name);
        return this.decisions.trustedUserCAKeys?.toString() ?? '';
      case 'MaxStartups':
        if (value !== undefined) admission.maxStartups = StartupLimit.parse(value);
        return admission.maxStartups.toString();
      case 'PerSourceMaxStartups':
        if (value !== undefined) admission.perSourceMaxStartups = /^none$/i.test(value.trim()) ? Infinity : positiveInt(name, value, 100_000);
        return Number.isFinite(admission.perSourceMaxStartups) ? String(admission.perSourceMaxStartups) : 'none';
      case 'PerSourcePenalties':
        if (value !== undefined) this.penalties.configure(value);
        return this.penalties.describe();
      case 'PerSourcePenaltyExemptList':
        if (value !== undefined) this.penalties.setExempt(value);
        return this.penalties.exemptList;
      case 'SSHVersionPattern':
        if (value !== undefined) this.admission.sshVersionPattern = value;
        return this.admission.sshVersionPattern;
      case 'AllowedClients':
        if (value !== undefined) admission.allowedClients = new ClientList(name, value);
        return admission.allowedClients.text;
      case 'BlockedClients':
        if (value !== undefined) admission.blockedClients = new ClientList(name, value);
        return admission.blockedClients.text;
      case 'TcpNoDelay':
        if (value !== undefined) this.socketOptions.noDelay = parseBoolean(name, value);
        return String(this.socketOptions.noDelay);
      case 'KeepAliveTime':
        if (value !== undefined) this.socketOptions.keepAliveMs = /^\s*0\s*$/.test(value) ? 0 : positiveInt(name, value, 2 ** 31 - 1);
        return String(this.socketOptions.keepAliveMs);
      case 'KeepAliveInterval':
      case 'KeepAliveRetryCount':
        throw new SSHError(ErrorCode.InvalidArgument, `${name}: no JavaScript runtime sets TCP_KEEPINTVL or TCP_KEEPCNT; the system's values apply`);
      case 'UseIPv6':
        if (value !== undefined) {
          if (!/^\s*[012]\s*$/.test(value)) throw new SSHError(ErrorCode.InvalidArgument, 'UseIPv6 must be 0 (IPv4 only), 1 (IPv6 only) or 2 (both)');
          this.useIPv6 = Number(value) as 0 | 1 | 2;
        }
        return String(this.useIPv6 ?? impliedFamily(this.localHost));
    }
    if (value !== undefined && !this.binding.setConfig(name, value)) {
      throw new SSHError(ErrorCode.InvalidArgument, `unknown setting: ${name} (host settings: ${HOST_SETTINGS.join(', ')})`);
    }
    const current = this.binding.call((core) => core.get_config(name));
    if (current === undefined) throw new SSHError(ErrorCode.InvalidArgument, `unknown setting: ${name}`);
    return current;
  }

  private connectionSetting(name: string, id: number, value: string | undefined): string {
    const conn = this.connection(id);
    switch (name) {
      case 'ClientSSHVersionString':
        return conn.clientVersion ?? '';
      case 'NegotiatedStrictKex':
        return conn.strictKex ? 'True' : 'False';
      case 'KeyboardInteractivePrompts':
        if (value !== undefined) this.decisions.connectionPrompts.set(id, parsePrompts(value));
        return formatPrompts(this.decisions.prompts(id));
      case 'UserAuthBanner':
        // Sent at once: set in a userAuthRequest handler, it reaches the client before the step's answer.
        if (value !== undefined) this.binding.withConn(conn, (core) => core.send_banner(id, value), true);
        return value ?? '';
      default:
        throw new SSHError(ErrorCode.InvalidArgument, `unknown per-connection setting: ${name}`);
    }
  }

  // ---- listening --------------------------------------------------------------------------------------

  /** Whether `startListening` is in force (the reference's Listening). */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** Bytes of linear memory of the wasm instance that serves every connection (it grows, never shrinks). */
  get wasmMemoryBytes(): number {
    return coreMemory(this.binding.core)?.buffer.byteLength ?? 0;
  }

  /** The connected clients by id (the reference's Connections). */
  get connections(): ReadonlyMap<number, SSHConnection> {
    return this.conns;
  }

  /** Every open channel of every connection (the reference's Channels). */
  get channels(): SSHChannel[] {
    return [...this.conns.values()].flatMap((c) => [...c.channels.values()].filter((ch) => !ch.closed));
  }

  /** Starts accepting connections; resolves with the bound address (the port is real when 0 was asked). */
  async startListening(): Promise<BoundAddress> {
    if (this.listener) throw new SSHError(ErrorCode.AlreadyListening, 'already listening');
    if (this.hostPublicKeys.length === 0) throw new SSHError(ErrorCode.NoHostKey, 'no host key: pass hostKeys or call addHostKey/generateHostKey first');
    const where = listenFamily(this.localHost, this.useIPv6);
    this.listener = await this.runtime.listen.listen({ ...where, port: this.localPort, backlog: this.connectionBacklog }, (t) => void this.accept(t));
    this.localPort = this.listener.port;
    return { host: this.listener.host, port: this.listener.port };
  }

  /**
   * Also accepts SSH over WebSocket: binary messages carry the SSH byte stream (browsers, edge runtimes, and
   * OpenSSH through the `wasshd-ws-proxy` bridge). Resolves with the bound address. The connections are
   * the same as over TCP, with the same limits; behind a proxy, see PerSourcePenaltyExemptList.
   */
  async startWebSocket(options: WebSocketEndpoint): Promise<BoundAddress> {
    if (!this.runtime.webSocket) throw new SSHError(ErrorCode.InvalidArgument, 'this runtime has no WebSocket server');
    if (this.webSocketListener) throw new SSHError(ErrorCode.AlreadyListening, 'the WebSocket endpoint is already listening');
    if (this.hostPublicKeys.length === 0) throw new SSHError(ErrorCode.NoHostKey, 'no host key: pass hostKeys or call addHostKey/generateHostKey first');
    const listener = await this.runtime.webSocket.listen(
      {
        host: options.host ?? this.localHost,
        port: options.port,
        path: options.path ?? '/ssh',
        maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_WEBSOCKET_MESSAGE,
        ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
        ...(options.files ? { files: options.files } : {}),
      },
      (t) => void this.accept(t),
    );
    this.webSocketListener = listener;
    return { host: listener.host, port: listener.port };
  }

  /** Stops accepting new connections (TCP and WebSocket); existing ones go on. */
  async stopListening(): Promise<void> {
    const l = this.listener;
    const ws = this.webSocketListener;
    this.listener = undefined;
    this.webSocketListener = undefined;
    await Promise.all([l?.close(), ws?.close()]);
  }

  /** Stops listening, disconnects every client and resolves once their sockets are closed. */
  async shutdown(graceMs = 2000): Promise<void> {
    await this.stopListening();
    const all = [...this.conns.values()];
    for (const c of all) this.disconnect(c.connectionId, DisconnectReason.ByApplication, 'server shutting down');
    let timer: unknown;
    const grace = new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(all.map((c) => c.gone)), grace]);
    this.clock.clearTimeout(timer);
    // Clients that did not close their side in time are cut off.
    for (const c of all) if (this.conns.has(c.connectionId)) c.transport.destroy();
    await Promise.all(all.map((c) => c.gone));
  }

  /**
   * The reference's Reset: as `shutdown`, then every setting back to what a new `SSHServer` without options
   * has: a fresh wasm instance without host keys and with the core's defaults, the host settings', `localHost`
   * 127.0.0.1, `localPort` 22, penalties forgotten. Event handlers stay. Add a host key before listening again.
   */
  async reset(graceMs = 2000): Promise<void> {
    await this.shutdown(graceMs);
    this.binding.reset();
    Object.assign(this, DEFAULT_LISTEN);
    this.useIPv6 = undefined;
    for (const [name, value] of this.hostDefaults) this.config(`${name}=${value}`);
    this.penalties.reset();
    this.decisions.reset();
  }

  /**
   * Serves one already-accepted byte stream: what the listen adapters call, and the way to serve a
   * transport they do not cover (a WebSocket stream, an in-memory pipe).
   */
  async accept(transport: Transport): Promise<void> {
    const recovering = this.binding.recovering;
    if (recovering) await recovering;
    const address = transport.remoteAddress;
    const refusal = this.admission.refusal(address, this.conns.size, wholeMs(this.clock));
    if (refusal) {
      this.events.log(2, `refused connection from ${address}:${transport.remotePort}: ${refusal}`);
      transport.destroy();
      return;
    }
    transport.configure?.(this.socketOptions);
    // The slot is held from here, while the handler decides: connections arriving meanwhile count it.
    this.admission.begin(address);
    let served = false;
    try {
      served = await this.admit(transport);
    } finally {
      this.admission.settled();
    }
    if (!served) {
      this.admission.release(address);
      transport.destroy();
    }
  }

  /**
   * Asks the `connectionRequest` handlers, then opens the connection in the core and serves it at once (a
   * trap between the two would leave it on a dead instance); false if refused.
   */
  private async admit(transport: Transport): Promise<boolean> {
    const refusedBy = this.admission.listedOut(transport.remoteAddress);
    const request: ConnectionRequestEvent = {
      address: transport.remoteAddress,
      port: transport.remotePort,
      accept: refusedBy === undefined,
      ...(refusedBy ? { refusedBy } : {}),
      reject() {
        this.accept = false;
      },
    };
    try {
      await this.dispatch('connectionRequest', request);
    } catch (e) {
      this.events.handlerFailed(0, e);
      request.accept = false;
    }
    if (!request.accept) {
      const why = refusedBy === 'AllowedClients' ? 'not in AllowedClients' : refusedBy === 'BlockedClients' ? 'in BlockedClients' : 'by a connectionRequest handler';
      this.events.log(2, `refused connection from ${transport.remoteAddress}:${transport.remotePort}: ${why}`);
      return false;
    }
    // A trap while the handler ran: this connection belongs to the fresh instance.
    const recovering = this.binding.recovering;
    if (recovering) await recovering;
    const opened = this.binding.open();
    if (!opened.ok) {
      if (opened.error.code !== ErrorCode.WasmTrapped) this.events.error(0, opened.error.code, opened.error.message);
      return false;
    }
    this.router.open(opened.value, transport);
    return true;
  }

  // ---- commands ---------------------------------------------------------------------------------------

  /**
   * Sends data on a channel. Resolves once the core has taken all of it, waiting for the peer's window
   * and for the socket to drain as needed, so awaiting it is backpressure. An unknown connection or a
   * closed channel rejects (SSHError 126 or 127), as every promise-returning command does, never throws.
   */
  async sendChannelData(connectionId: number, channelId: number, data: Uint8Array | string, stream = 0): Promise<void> {
    const conn = this.connection(connectionId);
    const ch = this.channel(conn, channelId);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (bytes.length === 0) return;
    return new Promise((resolve, reject) => {
      ch.queue.push({ data: bytes, stream, resolve, reject });
      if (ch.queue.length === 1) this.binding.pumpChannel(conn, ch);
    });
  }

  /** The reference's SendText: UTF-8 text on the data stream. */
  sendText(connectionId: number, channelId: number, text: string): Promise<void> {
    return this.sendChannelData(connectionId, channelId, text);
  }

  /** Sends `exit-status` for a command that ended. */
  sendExitStatus(connectionId: number, channelId: number, status: number): void {
    const conn = this.connection(connectionId);
    this.binding.withConn(conn, (core) => core.send_exit_status(connectionId, channelId, status >>> 0), true);
  }

  /** Sends `exit-signal` (signal name without "SIG"). */
  sendExitSignal(connectionId: number, channelId: number, signal: string, coreDumped = false, message = ''): void {
    const conn = this.connection(connectionId);
    this.binding.withConn(conn, (core) => core.send_exit_signal(connectionId, channelId, signal, coreDumped, message), true);
  }

  /** Sends EOF after everything queued on the channel has been sent. */
  async sendEOF(connectionId: number, channelId: number): Promise<void> {
    const conn = this.connection(connectionId);
    const ch = this.channel(conn, channelId);
    await ch.idle();
    if (!ch.closed) this.binding.withConn(conn, (core) => core.send_eof(connectionId, channelId), true);
  }

  /** Closes a channel once its queued data has been sent (EOF first). */
  async closeChannel(connectionId: number, channelId: number): Promise<void> {
    const conn = this.connection(connectionId);
    const ch = conn.channels.get(channelId);
    if (!ch || ch.closed) return;
    await ch.idle();
    if (ch.closed) return;
    this.binding.withConn(conn, (core) => {
      core.send_eof(connectionId, channelId);
      core.close_channel(connectionId, channelId);
    }, true);
  }

  /** Starts a new key exchange on the connection (the reference's ExchangeKeys). */
  exchangeKeys(connectionId: number): void {
    const conn = this.connection(connectionId);
    this.binding.withConn(conn, (core) => core.rekey(connectionId), true);
  }

  /** Sends DISCONNECT and closes the connection. */
  disconnect(connectionId: number, reason: number = DisconnectReason.ByApplication, description = 'disconnected by server'): void {
    const conn = this.conns.get(connectionId);
    if (!conn || conn.ended) return;
    conn.endedByHost = true;
    this.binding.withConn(conn, (core) => core.disconnect(connectionId, reason, description), true);
  }

  private connection(id: number): ConnectionState {
    const conn = this.conns.get(id);
    if (!conn) throw new SSHError(ErrorCode.InvalidConnectionId, `invalid connection id ${id}`);
    return conn;
  }

  /**
   * Sends a message built with `setSSHParam` (the reference's SendSSHPacket) to an authenticated client:
   * `packetType` 98, a channel request on `channelId` whose payload starts at its request type (the server
   * writes the recipient), or 80, a global request (`channelId` -1); either must ask for no reply, which the
   * server would not expect. Local extensions (192 to 255) go as given. Any other type would break the
   * protocol's state and is refused (SSHError 129).
   */
  sendSSHPacket(connectionId: number, channelId: number, packetType: number, payload: Uint8Array): void {
    const conn = this.connection(connectionId);
    if (!Number.isInteger(packetType) || packetType < 0 || packetType > 255) throw new SSHError(ErrorCode.InvalidArgument, `not a message number: ${packetType}`);
    this.binding.withConn(conn, (core) => core.send_packet(connectionId, channelId, packetType, payload), true);
  }

  /**
   * Delivers the channel's data in records of `recordLength` bytes (the reference's ChangeRecordLength;
   * 0 as it comes), what is left at the client's EOF as a last, short one. May be called at any time,
   * `channelDataIn` handlers included; data already held is cut anew.
   */
  changeRecordLength(connectionId: number, channelId: number, recordLength: number): void {
    this.reframe(connectionId, channelId, recordLength > 0 ? recordFramer(positiveInt('recordLength', String(recordLength), 2 ** 31)) : undefined);
  }

  /**
   * Delivers the channel's data in lines cut at `eol` (taken off; `eolFound` true), or at `maxChannelLength`
   * bytes without one (the reference's ChannelEOL and MaxChannelLength, set together); an empty `eol` stops it.
   */
  setChannelEOL(connectionId: number, channelId: number, eol: string | Uint8Array, maxChannelLength: number): void {
    const bytes = typeof eol === 'string' ? new TextEncoder().encode(eol) : eol;
    this.reframe(connectionId, channelId, bytes.length > 0 ? eolFramer(bytes, positiveInt('maxChannelLength', String(maxChannelLength), 2 ** 31)) : undefined);
  }

  /** The channel's framing replaced: what the old one held, not yet delivered, is the new one's start. */
  private reframe(connectionId: number, channelId: number, framer: Framer | undefined): void {
    const ch = this.channel(this.connection(connectionId), channelId);
    const held = ch.framer?.rest();
    ch.framer = held ? (framer ?? passThrough()) : framer;
    if (held) ch.framer!.hold(held.data);
  }

  /**
   * Opens a channel of `kind` to the client (the reference's OpenChannel), with its type-specific `data`;
   * resolves with its id once the client took it (then `channelOpened` fires and the channel is served like
   * any other), rejects with SSHError 127 and the client's reason if it refused.
   */
  openChannel(connectionId: number, kind: string, data: Uint8Array = new Uint8Array(0)): Promise<number> {
    return this.openChannelTo(connectionId, kind, data, true);
  }

  /** `announce`: `channelOpened` fires (not for a tunnel's channel, which the server serves). */
  private openChannelTo(connectionId: number, kind: string, data: Uint8Array, announce: boolean): Promise<number> {
    const conn = this.connection(connectionId);
    return new Promise((resolve, reject) => {
      let asked = false;
      // A refusal is thrown (and rejects); a trap has ended the connection, and nothing will answer.
      this.binding.withConn(
        conn,
        (core) => {
          const channelId = core.open_channel(connectionId, kind, data);
          (conn.opening ??= new Map<number, OpeningChannel>()).set(channelId, { kind, announce, opened: (ch) => resolve(ch.channelId), refused: reject });
          asked = true;
        },
        true,
      );
      if (!asked) reject(new SSHError(ErrorCode.WasmTrapped, `connection ${connectionId} was lost to a wasm trap`));
    });
  }

  /**
   * The channel as web streams: what the client sends, ending at its EOF, and what goes to it, whose close
   * sends EOF (abort, or `options.signal`, closes the channel). From then on the channel's data goes to the
   * readable instead of `channelDataIn`, including what arrived earlier and still waits for its turn (so the
   * `channelRequested` handler of an `exec` may take them before reading any); `channelEOF` and
   * `channelClosed` still fire. Unread data holds the channel's window shut past `options.highWaterMark`.
   * Serve them after the handler returns, not in it: the channel's data waits for its handlers.
   */
  channelStreams(connectionId: number, channelId: number, options?: ChannelStreamOptions): ChannelStreams {
    const conn = this.connection(connectionId);
    const ch = this.channel(conn, channelId);
    if (ch.sink) throw new SSHError(ErrorCode.WrongState, `channel ${channelId} is already served by streams or a tunnel`);
    const io = {
      send: (data: Uint8Array) => this.sendChannelData(connectionId, channelId, data),
      sendEOF: () => this.sendEOF(connectionId, channelId),
      close: () => this.closeChannel(connectionId, channelId),
    };
    const { readable, writable, sink } = channelStreams(io, options);
    ch.sink = sink;
    return { readable, writable };
  }

  private channel(conn: ConnectionState, id: number): ChannelState {
    const ch = conn.channels.get(id);
    if (!ch || ch.closed) throw new SSHError(ErrorCode.NoSuchChannel, `no open channel ${id} on connection ${conn.connectionId}`);
    return ch;
  }
}
