/**
 * SSHServer: the public, runtime-independent server. It owns sockets (through a ListenAdapter), one timer
 * per connection (a second while a refusal waits out the auth-failure delay) and the event API; the wasm core
 * owns the protocol. Every core call for a connection is followed by flushing that connection's output,
 * draining events, re-arming its timer, reading its socket only while no decision is pending and the client
 * reads, and continuing input the core left at its per-call output budget.
 */

import type { Core } from '../wasm/pkg/wasshd_wasm.js';
import { coreMemory } from './core/instance.js';
import { decodeEvents, type AuthMethodName, type ChannelRequestInfo, type CoreEvent } from './core/events.js';

export type { AuthMethodName, ChannelRequestInfo } from './core/events.js';
import { Emitter } from './emitter.js';
import { AuthFailureDelay, parseAuthFailureDelay, remainingDelay } from './auth-delay.js';
import { DisconnectReason, ErrorCode, SSHError, fromCoreError } from './errors.js';
import { SourcePenalties, StartupLimit, sourceOf, type PenaltyCause } from './limits.js';
import type { ListenAdapter, Listener, Transport, WebSocketListenAdapter } from './transport.js';

/**
 * The host's time and timers: milliseconds from any origin, never going back. Every wait of the host (the
 * core's deadline, the close grace, the auth-failure delay) goes through one, so that a runtime without the
 * usual globals can supply its own and a test can run the server on a fake clock.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** `performance.now` and the global timers, which every runtime the host targets has. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** `startWebSocket`'s options. */
export interface WebSocketEndpoint {
  /** Default: `localHost`. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Default `/ssh`. */
  path?: string;
  /** `Origin` headers allowed to connect; default any (and none). */
  allowedOrigins?: string[];
  /** Largest message accepted, in bytes; default 1 MiB. */
  maxMessageBytes?: number;
}

/** A message larger than any SSH packet and a socket read's worth of them. */
const DEFAULT_MAX_WEBSOCKET_MESSAGE = 1024 * 1024;

/** What a runtime entry point provides. */
export interface Runtime {
  /**
   * A core in a wasm instance of its own, sharing nothing with earlier ones (`instantiateCore`): the first,
   * synchronously, so that a server can be configured as soon as it is constructed, and a fresh one after a trap.
   */
  createCore(seed: Uint8Array): Core;
  listen: ListenAdapter;
  /** The runtime's WebSocket server, where it has one (`startWebSocket`). */
  webSocket?: WebSocketListenAdapter;
  /** Default `systemClock`. */
  clock?: Clock;
  /** Uniform in [0, 1), for MaxStartups' random early drop. Default: the platform's CSPRNG. */
  random?: () => number;
}

/** `crypto.getRandomValues`, which every runtime the host targets has, as a number in [0, 1). */
function cryptoRandom(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32;
}

export interface KeyboardInteractivePrompt {
  prompt: string;
  echo: boolean;
}

export interface SSHServerOptions {
  /** OpenSSH private key files (text) to serve as host keys (the reference's SSHCert). */
  hostKeys?: string[];
  /** Address to listen on (LocalHost); default 127.0.0.1. */
  localHost?: string;
  /** Port to listen on (LocalPort); 0 picks a free port. Default 22. */
  localPort?: number;
  /** Pending-connection queue length (ConnectionBacklog). */
  connectionBacklog?: number;
  /** Methods offered to clients (DefaultAuthMethods). Default password, publickey, keyboard-interactive. */
  authMethods?: AuthMethodName[];
  /**
   * OpenSSH's AuthenticationMethods: lists of methods that must all pass, in order, for a login to succeed
   * (passing any one list is enough), e.g. `[['publickey', 'password'], ['publickey', 'keyboard-interactive']]`.
   * Default `'any'`: one method the handler accepts. The core enforces the order; the handler decides each step.
   */
  authenticationMethods?: AuthMethodName[][] | 'any';
  /** Seconds without channel traffic before a client is disconnected; 0 = never (DefaultIdleTimeout). */
  defaultIdleTimeout?: number;
  /** Seconds a client has to authenticate (DefaultTimeout, OpenSSH's LoginGraceTime). Default 120. */
  defaultTimeout?: number;
  /** Instruction text for keyboard-interactive (KeyboardInteractiveMessage). */
  keyboardInteractiveMessage?: string;
  /** Prompts sent when a client starts keyboard-interactive and no handler chose others. */
  keyboardInteractivePrompts?: KeyboardInteractivePrompt[];
  /** Allowed ciphers, most preferred first (SSHEncryptionAlgorithms). */
  encryptionAlgorithms?: string[];
  /** Allowed compression algorithms (SSHCompressionAlgorithms). */
  compressionAlgorithms?: string[];
  /**
   * Least time in milliseconds from a refused authentication attempt to its answer, plus up to as much again
   * by user name (AuthFailureDelay); 0 turns it off. Default 5, as OpenSSH.
   */
  authFailureDelay?: number;
  /** Further settings by the reference's names, as `config()` takes them. */
  config?: Record<string, string | number | boolean>;
}

// ---- events -----------------------------------------------------------------------------------------

export interface ConnectionRequestEvent {
  address: string;
  port: number;
  /** Set to false (or call reject) to refuse. Default true. */
  accept: boolean;
  reject(): void;
}

export interface ConnectedEvent {
  connectionId: number;
  statusCode: number;
  description: string;
}

export interface ConnectionEvent {
  connectionId: number;
}

export interface SSHStatusEvent extends ConnectionEvent {
  message: string;
}

export interface LogEvent extends ConnectionEvent {
  logLevel: number;
  message: string;
  logType: string;
}

export interface ServiceRequestEvent extends ConnectionEvent {
  service: string;
  accept: boolean;
}

export interface UserAuthRequestEvent extends ConnectionEvent {
  user: string;
  service: string;
  authMethod: AuthMethodName;
  /**
   * Methods this login has already passed, oldest first (the steps answered with partial success). The
   * core keeps this chain: the user and service cannot change during a login, and a method the last
   * partial success did not list never reaches the handler.
   */
  methodsPassed: AuthMethodName[];
  /** For `password`. */
  password?: string;
  /**
   * For `publickey`. `signed` is false for a query ("would this key do?"): accepting it only tells the
   * client the key is acceptable, and the decision that counts comes with the signed request, whose
   * signature the core has verified before the handler sees it.
   */
  publicKey?: { algorithm: string; blob: Uint8Array; openssh: string; signed: boolean };
  /** For `keyboard-interactive`: `responses` is undefined when the method starts. */
  keyboardInteractive?: { submethods: string; responses?: string[] };
  /**
   * This step passed. The login succeeds unless `AuthenticationMethods` needs further steps, in which case
   * the client is told of partial success and what may follow.
   */
  accept(): void;
  /** Refuses; `methods` narrows the methods the client is told it may still try. */
  reject(options?: { methods?: AuthMethodName[] }): void;
  /**
   * This step passed, but the client must also pass one of `methods` (default: what `AuthenticationMethods`
   * allows next, or every offered method): the reference's PartialSuccess.
   */
  partialSuccess(methods?: AuthMethodName[]): void;
  /**
   * Sends keyboard-interactive prompts (again), at most `MaxKeyboardInteractiveRounds` rounds per attempt.
   * `retry`: the previous answers were wrong; the round counts toward `MaxAuthAttempts` and waits out the
   * auth-failure delay, as a refusal would.
   */
  prompt(prompts: KeyboardInteractivePrompt[], options?: { name?: string; instruction?: string; retry?: boolean }): void;
}

export interface ChannelEvent extends ConnectionEvent {
  channelId: number;
}

export interface ChannelOpenRequestEvent extends ChannelEvent {
  /** Channel type, such as `session`. */
  service: string;
  /** Type-specific data of the open request. */
  parameters: Uint8Array;
  /** Default: true for `session`, false otherwise. */
  accept: boolean;
  reject(reason?: number, description?: string): void;
}

export interface ChannelRequestEvent extends ChannelEvent {
  requestType: string;
  request: ChannelRequestInfo;
  wantReply: boolean;
  /** Default: true for pty-req, env, shell, exec, subsystem, window-change and signal. */
  accept: boolean;
}

export interface ChannelRequestedEvent extends ChannelEvent {
  requestType: string;
  request: ChannelRequestInfo;
}

export interface ChannelDataInEvent extends ChannelEvent {
  data: Uint8Array;
  /** 0 for the data stream, 1 for stderr (extended data). */
  stream: number;
}

export interface DisconnectedEvent extends ConnectionEvent {
  /** The RFC 4253 disconnect reason; 0 when the connection ended normally. */
  statusCode: number;
  description: string;
}

export interface ErrorEvent {
  connectionId: number;
  errorCode: number;
  description: string;
}

export interface SSHServerEvents {
  connectionRequest: ConnectionRequestEvent;
  connected: ConnectedEvent;
  sshStatus: SSHStatusEvent;
  log: LogEvent;
  serviceRequest: ServiceRequestEvent;
  userAuthRequest: UserAuthRequestEvent;
  channelOpenRequest: ChannelOpenRequestEvent;
  channelOpened: ChannelEvent;
  channelRequest: ChannelRequestEvent;
  channelRequested: ChannelRequestedEvent;
  channelDataIn: ChannelDataInEvent;
  channelEOF: ChannelEvent;
  channelReadyToSend: ChannelEvent;
  channelClosed: ChannelEvent;
  disconnected: DisconnectedEvent;
  error: ErrorEvent;
}

// ---- state ------------------------------------------------------------------------------------------

/** A connected client (an entry of the reference's Connections collection). */
export interface SSHConnection {
  readonly connectionId: number;
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly clientVersion: string | undefined;
  /** The authenticated user, once there is one. */
  readonly user: string | undefined;
  readonly strictKex: boolean;
  /** Bytes read from the client so far. */
  readonly bytesReceived: number;
  /** Bytes written to the client that its transport has not sent yet. */
  readonly bufferedAmount: number;
}

/** An open channel (an entry of the reference's Channels collection). */
export interface SSHChannel {
  readonly connectionId: number;
  readonly channelId: number;
  readonly service: string;
}

/** What a guarded core call came to: its value, or the core's refusal (a trap has been dealt with by then). */
type CoreResult<T> = { ok: true; value: T } | { ok: false; error: SSHError };

interface PendingSend {
  data: Uint8Array;
  stream: number;
  resolve(): void;
  reject(e: Error): void;
}

class ChannelState implements SSHChannel {
  readonly queue: PendingSend[] = [];
  private idleWaiters: (() => void)[] = [];
  closed = false;
  constructor(
    readonly connectionId: number,
    readonly channelId: number,
    readonly service: string,
  ) {}

  /** Resolves once everything queued has been handed to the core. */
  idle(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  notifyIdle(): void {
    if (this.queue.length > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  fail(error: Error): void {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(error);
    this.notifyIdle();
  }
}

class ConnectionState implements SSHConnection {
  chain: Promise<void> = Promise.resolve();
  timer: unknown;
  deadline = -1;
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
   * The core takes input now: no decision waits for a handler, and the client reads what it is sent or has
   * not been sent much since it stopped (see `feedable`).
   */
  reading = true;
  /**
   * Input received while not reading, or beyond one piece: a transport that cannot stop its peer (a
   * WebSocket) still delivers, and the core is fed only what it may take.
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
  /** Counted among the connections still logging in. */
  loggingIn = true;
  clientVersion: string | undefined;
  user: string | undefined;
  strictKex = false;
  readonly channels = new Map<number, ChannelState>();
  /** Resolves when the transport has closed and the connection is forgotten. */
  readonly gone: Promise<void>;
  markGone!: () => void;
  constructor(
    readonly connectionId: number,
    readonly transport: Transport,
  ) {
    this.gone = new Promise((resolve) => (this.markGone = resolve));
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

/** How long a closed connection's peer has to close its side of the socket. */
const CLOSE_GRACE_MS = 5000;

const STANDARD_SESSION_REQUESTS = new Set(['pty-req', 'env', 'shell', 'exec', 'subsystem', 'window-change', 'signal']);

/** Settings held by the host rather than the core. */
const HOST_SETTINGS = [
  'MaxConnections',
  'AuthFailureDelay',
  'KeyboardInteractiveMessage',
  'ConnectionBacklog',
  'MaxStartups',
  'PerSourceMaxStartups',
  'PerSourcePenalties',
  'PerSourcePenaltyExemptList',
] as const;

/** Disconnect reasons that mean the client broke the protocol before authenticating: the `protocol` penalty, if configured. */
const PROTOCOL_VIOLATIONS: readonly number[] = [DisconnectReason.ProtocolError, DisconnectReason.MacError, DisconnectReason.IllegalUserName];

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export class SSHServer extends Emitter<SSHServerEvents> {
  private core: Core;
  private readonly conns = new Map<number, ConnectionState>();
  private listener: Listener | undefined;
  private webSocketListener: Listener | undefined;
  /** The wasm instance trapped and a fresh one is being started; new connections wait for it. */
  private recovering: Promise<void> | undefined;
  /** What was given to the core, replayed into a fresh instance after a trap. */
  private readonly coreSettings = new Map<string, string>();
  private readonly hostKeyFiles: string[] = [];
  /** Highest connection id handed out, so that a fresh core never reuses one. */
  private lastConnectionId = 0;
  private maxConnections = 1000;
  private maxStartups = new StartupLimit();
  /**
   * Connections still logging in, those still being admitted included (MaxStartups), in all and by source
   * (PerSourceMaxStartups).
   */
  private startups = 0;
  /** Connections past admission whose `connectionRequest` handler or core open is pending: they hold a slot. */
  private admitting = 0;
  private readonly startupsBySource = new Map<string, number>();
  private perSourceMaxStartups = Infinity;
  readonly penalties = new SourcePenalties();
  /** How long refused authentication attempts wait (AuthFailureDelay), with this instance's secret. */
  readonly authFailureDelay = new AuthFailureDelay();
  private readonly clock: Clock;
  private readonly random: () => number;
  private keyboardInteractiveMessage: string;
  private readonly keyboardInteractivePrompts: KeyboardInteractivePrompt[];
  private readonly perConnectionPrompts = new Map<number, KeyboardInteractivePrompt[]>();
  localHost: string;
  localPort: number;
  connectionBacklog: number;

  constructor(
    private readonly runtime: Runtime,
    options: SSHServerOptions = {},
  ) {
    super();
    this.clock = runtime.clock ?? systemClock;
    this.random = runtime.random ?? cryptoRandom;
    this.core = runtime.createCore(randomBytes(64));
    this.localHost = options.localHost ?? '127.0.0.1';
    this.localPort = options.localPort ?? 22;
    this.connectionBacklog = options.connectionBacklog ?? 511;
    this.keyboardInteractiveMessage = options.keyboardInteractiveMessage ?? '';
    this.keyboardInteractivePrompts = options.keyboardInteractivePrompts ?? [];
    for (const key of options.hostKeys ?? []) this.addHostKey(key);
    if (options.authMethods) this.config(`DefaultAuthMethods=${options.authMethods.join(',')}`);
    if (options.authenticationMethods) {
      const chains = options.authenticationMethods;
      this.config(`AuthenticationMethods=${chains === 'any' ? 'any' : chains.map((c) => c.join(',')).join(' ')}`);
    }
    if (options.defaultIdleTimeout !== undefined) this.config(`DefaultIdleTimeout=${options.defaultIdleTimeout}`);
    if (options.defaultTimeout !== undefined) this.config(`DefaultTimeout=${options.defaultTimeout}`);
    if (options.encryptionAlgorithms) this.config(`SSHEncryptionAlgorithms=${options.encryptionAlgorithms.join(',')}`);
    if (options.compressionAlgorithms) this.config(`SSHCompressionAlgorithms=${options.compressionAlgorithms.join(',')}`);
    if (options.authFailureDelay !== undefined) this.config(`AuthFailureDelay=${options.authFailureDelay}`);
    for (const [name, value] of Object.entries(options.config ?? {})) this.config(`${name}=${value}`);
  }

  // ---- keys and settings ----------------------------------------------------------------------------

  /** Installs an OpenSSH private key file as a host key; returns its public key line. */
  addHostKey(opensshPrivateKey: string): string {
    const line = this.coreCall((core) => core.add_host_key(opensshPrivateKey));
    this.hostKeyFiles.push(opensshPrivateKey);
    return line;
  }

  /** Generates an ed25519 host key, installs it and returns the private key file to store. */
  generateHostKey(comment = 'wasshd host key'): string {
    const key = this.coreCall((core) => core.generate_host_key(comment));
    this.hostKeyFiles.push(key);
    return key;
  }

  get hostPublicKeys(): string[] {
    return this.coreCall((core) => core.host_public_keys());
  }

  /**
   * Sets (`"Name=Value"`) or reads (`"Name"`) a setting by the reference's name. Per-connection settings
   * take the connection id in brackets, e.g. `NegotiatedStrictKex[3]`. Returns the current value.
   */
  config(setting: string): string {
    const eq = setting.indexOf('=');
    const name = (eq < 0 ? setting : setting.slice(0, eq)).trim();
    const value = eq < 0 ? undefined : setting.slice(eq + 1);
    const indexed = /^(\w+)\[(\d+)\]$/.exec(name);
    if (indexed) return this.connectionSetting(indexed[1]!, Number(indexed[2]), value);
    switch (name) {
      case 'MaxConnections':
        if (value !== undefined) this.maxConnections = positiveInt(name, value, 100_000);
        return String(this.maxConnections);
      case 'ConnectionBacklog':
        if (value !== undefined) this.connectionBacklog = positiveInt(name, value, 65_535);
        return String(this.connectionBacklog);
      case 'AuthFailureDelay':
        if (value !== undefined) this.authFailureDelay.base = parseAuthFailureDelay(value);
        return String(this.authFailureDelay.base);
      case 'KeyboardInteractiveMessage':
        if (value !== undefined) this.keyboardInteractiveMessage = value;
        return this.keyboardInteractiveMessage;
      case 'MaxStartups':
        if (value !== undefined) this.maxStartups = StartupLimit.parse(value);
        return this.maxStartups.toString();
      case 'PerSourceMaxStartups':
        if (value !== undefined) this.perSourceMaxStartups = /^none$/i.test(value.trim()) ? Infinity : positiveInt(name, value, 100_000);
        return Number.isFinite(this.perSourceMaxStartups) ? String(this.perSourceMaxStartups) : 'none';
      case 'PerSourcePenalties':
        if (value !== undefined) this.penalties.configure(value);
        return this.penalties.describe();
      case 'PerSourcePenaltyExemptList':
        if (value !== undefined) this.penalties.setExempt(value);
        return this.penalties.exemptList;
    }
    if (value !== undefined) {
      const known = this.coreCall((core) => core.set_config(name, value));
      if (!known) throw new SSHError(ErrorCode.InvalidArgument, `unknown setting: ${name} (host settings: ${HOST_SETTINGS.join(', ')})`);
      this.coreSettings.set(name, value);
    }
    const current = this.coreCall((core) => core.get_config(name));
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
        if (value !== undefined) this.perConnectionPrompts.set(id, parsePrompts(value));
        return (this.perConnectionPrompts.get(id) ?? this.keyboardInteractivePrompts).map((p) => `${p.prompt},echo=${p.echo}`).join(';');
      default:
        throw new SSHError(ErrorCode.InvalidArgument, `unknown per-connection setting: ${name}`);
    }
  }

  // ---- listening --------------------------------------------------------------------------------------

  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** Bytes of linear memory of the wasm instance that serves every connection (it grows, never shrinks). */
  get wasmMemoryBytes(): number {
    return coreMemory(this.core)?.buffer.byteLength ?? 0;
  }

  get connections(): ReadonlyMap<number, SSHConnection> {
    return this.conns;
  }

  get channels(): SSHChannel[] {
    return [...this.conns.values()].flatMap((c) => [...c.channels.values()].filter((ch) => !ch.closed));
  }

  /** Starts accepting connections; resolves with the bound address (the port is real when 0 was asked). */
  async startListening(): Promise<{ host: string; port: number }> {
    if (this.listener) throw new SSHError(ErrorCode.AlreadyListening, 'already listening');
    if (this.hostPublicKeys.length === 0) throw new SSHError(ErrorCode.NoHostKey, 'no host key: pass hostKeys or call addHostKey/generateHostKey first');
    this.listener = await this.runtime.listen.listen({ host: this.localHost, port: this.localPort, backlog: this.connectionBacklog }, (t) => void this.accept(t));
    this.localPort = this.listener.port;
    return { host: this.listener.host, port: this.listener.port };
  }

  /**
   * Also accepts SSH over WebSocket: binary messages carry the SSH byte stream (browsers, edge runtimes, and
   * OpenSSH through the `wasshd-ws-proxy` bridge). Resolves with the bound address. The connections are
   * the same as over TCP, with the same limits; behind a proxy, see PerSourcePenaltyExemptList.
   */
  async startWebSocket(options: WebSocketEndpoint): Promise<{ host: string; port: number }> {
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
   * Serves one already-accepted byte stream: what the listen adapters call, and the way to serve a
   * transport they do not cover (a WebSocket stream, an in-memory pipe).
   */
  async accept(transport: Transport): Promise<void> {
    if (this.recovering) await this.recovering;
    const address = transport.remoteAddress;
    const refusal = this.admission(address);
    if (refusal) {
      this.serverLog(2, `refused connection from ${address}:${transport.remotePort}: ${refusal}`);
      transport.destroy();
      return;
    }
    // The slot is held from here, while the handler decides: connections arriving meanwhile count it.
    this.admitting++;
    this.countStartup(address, 1);
    let id: number | undefined;
    try {
      id = await this.admit(transport);
    } finally {
      this.admitting--;
    }
    if (id === undefined) {
      this.countStartup(address, -1);
      transport.destroy();
      return;
    }
    this.lastConnectionId = Math.max(this.lastConnectionId, id);
    const conn = new ConnectionState(id, transport);
    this.conns.set(id, conn);
    transport.attach({
      data: (bytes) => {
        conn.bytesReceived += bytes.length;
        this.receive(conn, bytes);
      },
      drain: () => {
        conn.writable = true;
        conn.writtenWhileFull = 0;
        this.updateReading(conn);
        this.continueInput(conn);
        for (const ch of conn.channels.values()) this.pumpChannel(conn, ch);
      },
      close: () => this.transportClosed(conn),
    });
    this.enqueue(conn, () => this.dispatch('connected', { connectionId: id, statusCode: 0, description: 'OK' }));
    this.afterCall(conn);
  }

  /** Asks the `connectionRequest` handlers, then opens the connection in the core; its id, unless refused. */
  private async admit(transport: Transport): Promise<number | undefined> {
    const request: ConnectionRequestEvent = {
      address: transport.remoteAddress,
      port: transport.remotePort,
      accept: true,
      reject() {
        this.accept = false;
      },
    };
    try {
      await this.dispatch('connectionRequest', request);
    } catch (e) {
      this.reportHandlerError(0, e);
      request.accept = false;
    }
    if (!request.accept) return undefined;
    // A trap while the handler ran: this connection belongs to the fresh instance.
    if (this.recovering) await this.recovering;
    const opened = this.enter(undefined, (core) => {
      core.add_entropy(randomBytes(32));
      return core.open(this.now());
    });
    if (opened.ok) return opened.value;
    if (opened.error.code !== ErrorCode.WasmTrapped) this.emitError(0, opened.error.code, opened.error.message);
    return undefined;
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
      if (ch.queue.length === 1) this.pumpChannel(conn, ch);
    });
  }

  /** The reference's SendText: UTF-8 text on the data stream. */
  sendText(connectionId: number, channelId: number, text: string): Promise<void> {
    return this.sendChannelData(connectionId, channelId, text);
  }

  /** Sends `exit-status` for a command that ended. */
  sendExitStatus(connectionId: number, channelId: number, status: number): void {
    const conn = this.connection(connectionId);
    this.withConn(conn, (core) => core.send_exit_status(connectionId, channelId, status >>> 0), true);
  }

  /** Sends `exit-signal` (signal name without "SIG"). */
  sendExitSignal(connectionId: number, channelId: number, signal: string, coreDumped = false, message = ''): void {
    const conn = this.connection(connectionId);
    this.withConn(conn, (core) => core.send_exit_signal(connectionId, channelId, signal, coreDumped, message), true);
  }

  /** Sends EOF after everything queued on the channel has been sent. */
  async sendEOF(connectionId: number, channelId: number): Promise<void> {
    const conn = this.connection(connectionId);
    const ch = this.channel(conn, channelId);
    await ch.idle();
    if (!ch.closed) this.withConn(conn, (core) => core.send_eof(connectionId, channelId), true);
  }

  /** Closes a channel once its queued data has been sent (EOF first). */
  async closeChannel(connectionId: number, channelId: number): Promise<void> {
    const conn = this.connection(connectionId);
    const ch = conn.channels.get(channelId);
    if (!ch || ch.closed) return;
    await ch.idle();
    if (ch.closed) return;
    this.withConn(conn, (core) => {
      core.send_eof(connectionId, channelId);
      core.close_channel(connectionId, channelId);
    }, true);
  }

  /** Starts a new key exchange on the connection (the reference's ExchangeKeys). */
  exchangeKeys(connectionId: number): void {
    const conn = this.connection(connectionId);
    this.withConn(conn, (core) => core.rekey(connectionId), true);
  }

  /** Sends DISCONNECT and closes the connection. */
  disconnect(connectionId: number, reason: number = DisconnectReason.ByApplication, description = 'disconnected by server'): void {
    const conn = this.conns.get(connectionId);
    if (!conn || conn.ended) return;
    conn.endedByHost = true;
    this.withConn(conn, (core) => core.disconnect(connectionId, reason, description), true);
  }

  // ---- plumbing ---------------------------------------------------------------------------------------

  /** The clock in whole milliseconds, as the core and the penalties take it. */
  private now(): number {
    return Math.floor(this.clock.now());
  }

  private connection(id: number): ConnectionState {
    const conn = this.conns.get(id);
    if (!conn) throw new SSHError(ErrorCode.InvalidConnectionId, `invalid connection id ${id}`);
    return conn;
  }

  private channel(conn: ConnectionState, id: number): ChannelState {
    const ch = conn.channels.get(id);
    if (!ch || ch.closed) throw new SSHError(ErrorCode.NoSuchChannel, `no open channel ${id} on connection ${conn.connectionId}`);
    return ch;
  }

  /**
   * The one way into the core: every call goes through here, and nothing it does throws. A trap (any
   * failure that is not the core's own `[code] message` refusal) leaves the instance unusable, since the
   * binding's borrow flag stays set and every later call would throw as well; it is dealt with here, once:
   * the connection being served when it happened owes the `crash` penalty if it had not authenticated, and
   * coreTrapped closes every connection and starts a fresh instance. Until that instance is in place, calls
   * fail without reaching the dead one. A refusal comes back for the caller to report or pass on.
   */
  private enter<T>(conn: ConnectionState | undefined, call: (core: Core) => T): CoreResult<T> {
    if (this.recovering) return { ok: false, error: new SSHError(ErrorCode.WasmTrapped, 'the wasm instance trapped and a fresh one is starting') };
    if (conn?.dead) return { ok: false, error: new SSHError(ErrorCode.WasmTrapped, `connection ${conn.connectionId} was lost to a wasm trap`) };
    try {
      return { ok: true, value: call(this.core) };
    } catch (e) {
      const error = fromCoreError(e);
      if (error.code === ErrorCode.WasmTrapped) {
        if (conn && conn.user === undefined) this.penalties.penalise(conn.remoteHost, 'crash', this.now());
        this.coreTrapped(error);
      }
      return { ok: false, error };
    }
  }

  /** A core call for the application (a setting, a key): a refusal or a trap reaches the caller as SSHError. */
  private coreCall<T>(call: (core: Core) => T): T {
    const result = this.enter(undefined, call);
    if (!result.ok) throw result.error;
    return result.value;
  }

  /**
   * Runs a core call for one connection, then flushes, drains and re-arms. With `rethrow`, a refused
   * command reaches the caller as SSHError; otherwise it is reported through the `error` event. A trap has
   * already been dealt with by `enter`, and ended the connection.
   */
  private withConn(conn: ConnectionState, call: (core: Core) => void, rethrow = false): void {
    const result = this.enter(conn, call);
    const refused = result.ok || result.error.code === ErrorCode.WasmTrapped ? undefined : result.error;
    if (refused && !rethrow) this.emitError(conn.connectionId, refused.code, refused.message);
    this.afterCall(conn);
    if (refused && rethrow) throw refused;
  }

  private afterCall(conn: ConnectionState): void {
    if (conn.dead) return;
    this.flush(conn);
    this.pump(conn);
    this.rearm(conn);
    this.updateReading(conn);
    this.continueInput(conn);
  }

  /**
   * The core stopped processing buffered input at its per-call output budget: go on once the output is
   * written, while the client reads what it is sent (otherwise `drain` comes back here).
   */
  private continueInput(conn: ConnectionState): void {
    if (!conn.writable || conn.ended || conn.dead) return;
    const pending = this.enter(conn, (core) => core.input_pending(conn.connectionId));
    if (pending.ok && pending.value) this.withConn(conn, (core) => core.input(conn.connectionId, new Uint8Array(0), this.now()));
  }

  /**
   * Reads from the transport only while no decision waits for the host's answer and the client takes what
   * it is sent: a client cannot pile up input while the host decides, nor replies while it does not read.
   * What a transport that cannot pause delivers meanwhile is fed to the core only while no decision waits
   * and the client has not been sent much since it stopped reading; the rest waits in the inbox.
   */
  private updateReading(conn: ConnectionState): void {
    if (conn.closed || conn.dead || conn.ended) return;
    const deciding = this.enter(conn, (core) => core.decision_pending(conn.connectionId));
    if (!deciding.ok) return;
    if (conn.writable && !deciding.value) conn.transport.resume();
    else conn.transport.pause();
    conn.reading = !deciding.value && (conn.writable || conn.writtenWhileFull < MAX_WRITTEN_WHILE_FULL);
    if (conn.reading && conn.inbox.length > 0) this.receive(conn);
  }

  /**
   * Queues what the transport delivered and feeds the core from the queue, a piece at a time, while the
   * connection is being read. A client that piles up more than the inbox bound is cut off.
   */
  private receive(conn: ConnectionState, bytes?: Uint8Array): void {
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
        this.withConn(conn, (core) => core.input(conn.connectionId, piece, this.now()));
      }
    } finally {
      conn.feeding = false;
    }
    // What is left waits for a decision or for a client that does not read: within bounds.
    if (!conn.ended && conn.inboxBytes > (conn.user === undefined ? MAX_INBOX_BYTES_UNAUTHENTICATED : MAX_INBOX_BYTES)) {
      conn.inbox.length = 0;
      conn.inboxBytes = 0;
      this.withConn(conn, (core) => core.disconnect(conn.connectionId, DisconnectReason.ProtocolError, 'client sent too much without waiting for replies'));
    }
  }

  private flush(conn: ConnectionState): void {
    if (conn.dead || conn.closed) return;
    const taken = this.enter(conn, (core) => core.take_output(conn.connectionId));
    if (!taken.ok) return;
    const out = taken.value;
    if (out.length === 0) return;
    if (!conn.writable) conn.writtenWhileFull += out.length;
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
    if (deadline === conn.deadline) return;
    if (conn.timer !== undefined) this.clock.clearTimeout(conn.timer);
    conn.timer = undefined;
    conn.deadline = deadline;
    if (deadline < 0) return;
    conn.timer = this.clock.setTimeout(() => {
      conn.timer = undefined;
      conn.deadline = -1;
      this.withConn(conn, (core) => core.handle_timeout(conn.connectionId, this.now()));
    }, Math.max(0, deadline - this.now()));
  }

  /**
   * Routes every pending event of every connection; `conn` is the one whose call produced them. Records the
   * host cannot decode count as a trap: the instance is not one this host can serve with.
   */
  private pump(conn: ConnectionState): void {
    const drained = this.enter(conn, (core) => decodeEvents(core.drain_events()));
    if (!drained.ok) return;
    for (const event of drained.value) this.route(event);
  }

  private enqueue(conn: ConnectionState, work: () => void | Promise<void>): void {
    conn.chain = conn.chain.then(work).catch((e: unknown) => this.reportHandlerError(conn.connectionId, e));
  }

  private reportHandlerError(connectionId: number, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.emitError(connectionId, e instanceof SSHError ? e.code : ErrorCode.InvalidArgument, `event handler failed: ${message}`);
  }

  private emitError(connectionId: number, errorCode: number, description: string): void {
    if (!this.hasListeners('error')) return;
    try {
      void Promise.resolve(this.dispatch('error', { connectionId, errorCode, description })).catch(() => {});
    } catch {
      // An error handler that throws has nowhere further to report to.
    }
  }

  /** Routes one core event to its connection's ordered queue. */
  private route(event: CoreEvent): void {
    const conn = this.conns.get(event.conn);
    if (!conn) return;
    const id = conn.connectionId;
    switch (event.type) {
      case 'log':
        this.enqueue(conn, async () => {
          if (event.level === 1) await this.dispatch('sshStatus', { connectionId: id, message: event.message });
          await this.dispatch('log', { connectionId: id, logLevel: event.level, message: event.message, logType: 'SSH' });
        });
        break;
      case 'clientVersion':
        conn.clientVersion = event.version;
        break;
      case 'keysExchanged':
        conn.strictKex = event.strict;
        // Fresh platform entropy for the next exchange, as the core asks of its host.
        this.enter(conn, (core) => core.add_entropy(randomBytes(32)));
        this.enqueue(conn, () =>
          this.dispatch('sshStatus', {
            connectionId: id,
            message: `${event.initial ? 'keys exchanged' : 'keys re-exchanged'}: ${event.kex}, ${event.hostKey}, ${event.cipherIn}${event.macIn ? ' ' + event.macIn : ''}${event.strict ? ', strict kex' : ''}`,
          }),
        );
        break;
      case 'serviceRequest':
        this.enqueue(conn, async () => {
          const e: ServiceRequestEvent = { connectionId: id, service: event.service, accept: true };
          await this.dispatchDecision('serviceRequest', e, () => (e.accept = false));
          this.withConn(conn, (core) => core.reply_service(id, e.accept));
        });
        break;
      case 'authRequest': {
        // OpenSSH counts authentication as attempted once something is checked: `none` checks nothing.
        if (event.method !== 'none') conn.authAttempts++;
        // The auth-failure delay counts from here, so time spent queued or in the handler is not added on top.
        const arrived = this.clock.now();
        const delayed = refusalIsDelayed(event, conn.noneSeen);
        if (event.method === 'none') conn.noneSeen = true;
        this.enqueue(conn, () => this.onAuthRequest(conn, event, delayed ? arrived : undefined));
        break;
      }
      case 'authenticated':
        conn.user = event.user;
        this.loggedIn(conn);
        this.perConnectionPrompts.delete(id);
        break;
      case 'channelOpenRequest':
        this.enqueue(conn, () => this.onChannelOpen(conn, event));
        break;
      case 'channelRequest':
        this.enqueue(conn, () => this.onChannelRequest(conn, event));
        break;
      case 'channelData':
        this.enqueue(conn, async () => {
          await this.dispatch('channelDataIn', { connectionId: id, channelId: event.channel, data: event.data, stream: event.stream });
          if (!conn.ended) this.withConn(conn, (core) => core.consume_channel_data(id, event.channel, event.data.length));
        });
        break;
      case 'channelEof':
        this.enqueue(conn, () => this.dispatch('channelEOF', { connectionId: id, channelId: event.channel }));
        break;
      case 'channelReadyToSend': {
        const ch = conn.channels.get(event.channel);
        if (ch) this.pumpChannel(conn, ch);
        this.enqueue(conn, () => this.dispatch('channelReadyToSend', { connectionId: id, channelId: event.channel }));
        break;
      }
      case 'channelClosed': {
        conn.channels.get(event.channel)?.fail(new SSHError(ErrorCode.NoSuchChannel, `channel ${event.channel} closed`));
        conn.channels.delete(event.channel);
        this.enqueue(conn, () => this.dispatch('channelClosed', { connectionId: id, channelId: event.channel }));
        break;
      }
      case 'disconnected':
        this.onDisconnected(conn, event);
        break;
    }
  }

  /** Runs decision handlers; a handler that throws counts as a refusal. */
  private async dispatchDecision<K extends keyof SSHServerEvents>(name: K, event: SSHServerEvents[K], refuse: () => void): Promise<void> {
    try {
      await this.dispatch(name, event);
    } catch (e) {
      this.reportHandlerError((event as ConnectionEvent).connectionId ?? 0, e);
      refuse();
    }
  }

  /** `arrived`: when the request reached the host, if a refusal of it waits out the auth-failure delay. */
  private async onAuthRequest(conn: ConnectionState, event: CoreEvent & { type: 'authRequest' }, arrived: number | undefined): Promise<void> {
    const id = conn.connectionId;
    type Decision =
      | { kind: 'accept' }
      | { kind: 'reject'; partialSuccess: boolean; methods?: string[] }
      | { kind: 'prompt'; prompts: KeyboardInteractivePrompt[]; name: string; instruction: string; retry: boolean };
    let decision: Decision | undefined;
    const e: UserAuthRequestEvent = {
      connectionId: id,
      user: event.user,
      service: event.service,
      authMethod: event.method,
      methodsPassed: event.passed,
      accept: () => (decision = { kind: 'accept' }),
      reject: (o = {}) => (decision = { kind: 'reject', partialSuccess: false, ...(o.methods ? { methods: o.methods } : {}) }),
      partialSuccess: (methods) => (decision = { kind: 'reject', partialSuccess: true, ...(methods ? { methods } : {}) }),
      prompt: (prompts, o = {}) =>
        (decision = { kind: 'prompt', prompts, name: o.name ?? '', instruction: o.instruction ?? this.keyboardInteractiveMessage, retry: o.retry ?? false }),
    };
    if (event.password !== undefined) e.password = event.password;
    if (event.publicKey) e.publicKey = { ...event.publicKey, openssh: `${event.publicKey.algorithm} ${base64(event.publicKey.blob)}` };
    if (event.method === 'keyboard-interactive') e.keyboardInteractive = { submethods: event.submethods ?? '', ...(event.responses ? { responses: event.responses } : {}) };
    await this.dispatchDecision('userAuthRequest', e, () => (decision = { kind: 'reject', partialSuccess: false }));
    if (!decision && event.method === 'keyboard-interactive' && !event.responses) {
      const prompts = this.perConnectionPrompts.get(id) ?? this.keyboardInteractivePrompts;
      if (prompts.length > 0) decision = { kind: 'prompt', prompts, name: '', instruction: this.keyboardInteractiveMessage, retry: false };
    }
    const d: Decision = decision ?? { kind: 'reject', partialSuccess: false };
    // Accepts, first prompts and partial successes go out at once: a refusal, or prompts again after wrong
    // answers, waits.
    const failed = (d.kind === 'reject' && !d.partialSuccess) || (d.kind === 'prompt' && d.retry);
    if (failed && arrived !== undefined && !(await this.waitOutAuthFailureDelay(conn, event.user, arrived))) return;
    this.withConn(conn, (core) => {
      if (d.kind === 'accept') core.reply_auth_accept(id);
      else if (d.kind === 'reject') core.reply_auth_reject(id, d.partialSuccess, (d.methods ?? []).join(','));
      else core.reply_auth_prompt(id, d.name, d.instruction, d.prompts.map((p) => p.prompt), Uint8Array.from(d.prompts, (p) => (p.echo ? 1 : 0)), d.retry);
    });
  }

  /**
   * Waits until the user's minimum time since `arrived` has passed (see auth-delay.ts). Resolves false if the
   * connection ended meanwhile: the refusal is dropped and the timer cleared.
   */
  private async waitOutAuthFailureDelay(conn: ConnectionState, user: string, arrived: number): Promise<boolean> {
    const minimum = await this.authFailureDelay.minimum(user);
    if (conn.ended || conn.closed || conn.dead) return false;
    const wait = remainingDelay(minimum, this.clock.now() - arrived);
    if (wait <= 0) return true;
    const due = this.clock.now() + wait;
    return new Promise<boolean>((resolve) => {
      const settle = (send: boolean) => {
        conn.cancelDelayedReply = undefined;
        resolve(send);
      };
      const arm = (ms: number) => {
        const timer = this.clock.setTimeout(() => {
          // A runtime's timers may fire a little early (millisecond granularity): wait out the rest.
          const left = due - this.clock.now();
          if (left > 0) arm(left);
          else settle(true);
        }, ms);
        conn.cancelDelayedReply = () => {
          this.clock.clearTimeout(timer);
          settle(false);
        };
      };
      arm(wait);
    });
  }

  private async onChannelOpen(conn: ConnectionState, event: CoreEvent & { type: 'channelOpenRequest' }): Promise<void> {
    const id = conn.connectionId;
    let reason = 1;
    let description = 'channel refused';
    const e: ChannelOpenRequestEvent = {
      connectionId: id,
      channelId: event.channel,
      service: event.kind,
      parameters: event.data,
      accept: event.kind === 'session',
      reject(r = 1, d = 'channel refused') {
        this.accept = false;
        reason = r;
        description = d;
      },
    };
    await this.dispatchDecision('channelOpenRequest', e, () => (e.accept = false));
    if (e.accept) conn.channels.set(event.channel, new ChannelState(id, event.channel, event.kind));
    this.withConn(conn, (core) => core.reply_channel_open(id, e.accept, reason, description));
    if (e.accept) await this.dispatch('channelOpened', { connectionId: id, channelId: event.channel });
  }

  private async onChannelRequest(conn: ConnectionState, event: CoreEvent & { type: 'channelRequest' }): Promise<void> {
    const id = conn.connectionId;
    const e: ChannelRequestEvent = {
      connectionId: id,
      channelId: event.channel,
      requestType: event.request.type === 'other' ? event.request.name : event.request.type,
      request: event.request,
      wantReply: event.wantReply,
      accept: STANDARD_SESSION_REQUESTS.has(event.request.type),
    };
    await this.dispatchDecision('channelRequest', e, () => (e.accept = false));
    this.withConn(conn, (core) => core.reply_channel_request(id, e.accept));
    if (e.accept) await this.dispatch('channelRequested', { connectionId: id, channelId: event.channel, requestType: e.requestType, request: e.request });
  }

  /** Hands queued data to the core as far as the window and the socket allow. */
  private pumpChannel(conn: ConnectionState, ch: ChannelState): void {
    if (conn.dead) return;
    while (ch.queue.length > 0 && conn.writable && !conn.ended && !ch.closed) {
      const item = ch.queue[0]!;
      const sent = this.enter(conn, (core) => core.send_data(conn.connectionId, ch.channelId, item.stream, item.data, this.now()));
      if (!sent.ok) {
        ch.fail(sent.error);
        break;
      }
      const taken = sent.value;
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

  private onDisconnected(conn: ConnectionState, event: CoreEvent & { type: 'disconnected' }): void {
    conn.ended = true;
    conn.cancelDelayedReply?.();
    this.loggedIn(conn);
    const id = conn.connectionId;
    const error = new SSHError(ErrorCode.WrongState, `connection ${id} closed: ${event.description}`);
    for (const ch of conn.channels.values()) ch.fail(error);
    const cause = this.penaltyCause(conn, event);
    if (cause) this.penalties.penalise(conn.remoteHost, cause, this.now());
    this.flush(conn);
    // A trap while flushing the DISCONNECT has destroyed the transport already.
    if (!conn.closed && !conn.dead) {
      conn.transport.end();
      // A peer that ignores DISCONNECT and keeps its side open is cut off.
      conn.closeTimer = this.clock.setTimeout(() => conn.transport.destroy(), CLOSE_GRACE_MS);
    }
    const normal = event.byPeer && (event.reason === DisconnectReason.ByApplication || event.reason === DisconnectReason.AuthCancelledByUser);
    const protocolFault = !event.byPeer && ![DisconnectReason.ByApplication, DisconnectReason.NoMoreAuthMethodsAvailable, DisconnectReason.ConnectionLost].includes(event.reason as 11);
    if (protocolFault) this.emitError(id, event.reason, event.description);
    this.enqueue(conn, () => this.dispatch('disconnected', { connectionId: id, statusCode: normal ? 0 : event.reason, description: normal ? 'OK' : event.description }));
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

  /** Why a new connection from `address` is refused, if it is. */
  private admission(address: string): string | undefined {
    if (this.conns.size + this.admitting >= this.maxConnections) return `MaxConnections (${this.maxConnections}) reached`;
    if (this.penalties.refuses(address, this.now())) return 'source penalised (PerSourcePenalties)';
    if ((this.startupsBySource.get(sourceOf(address)) ?? 0) >= this.perSourceMaxStartups) return `PerSourceMaxStartups (${this.perSourceMaxStartups}) reached`;
    if (this.maxStartups.drops(this.startups, this.random)) return `MaxStartups ${this.maxStartups} with ${this.startups} unauthenticated`;
    return undefined;
  }

  private countStartup(address: string, delta: 1 | -1): void {
    const source = sourceOf(address);
    const n = (this.startupsBySource.get(source) ?? 0) + delta;
    if (n > 0) this.startupsBySource.set(source, n);
    else this.startupsBySource.delete(source);
    this.startups += delta;
  }

  /** The connection authenticated or ended: it no longer counts toward MaxStartups. */
  private loggedIn(conn: ConnectionState): void {
    if (!conn.loggingIn) return;
    conn.loggingIn = false;
    this.countStartup(conn.remoteHost, -1);
  }

  /** A log line that belongs to no connection (connection id 0). */
  private serverLog(level: number, message: string): void {
    if (!this.hasListeners('log')) return;
    try {
      void Promise.resolve(this.dispatch('log', { connectionId: 0, logLevel: level, message, logType: 'SSH' })).catch(() => {});
    } catch {
      // A log handler that throws has nowhere further to report to.
    }
  }

  private transportClosed(conn: ConnectionState): void {
    const id = conn.connectionId;
    if (conn.closed) return;
    conn.closed = true;
    this.clock.clearTimeout(conn.timer);
    this.clock.clearTimeout(conn.closeTimer);
    conn.cancelDelayedReply?.();
    if (!conn.dead) {
      if (!conn.ended) this.enter(conn, (core) => core.connection_lost(id));
      this.pump(conn);
      this.enter(conn, (core) => core.close(id));
    }
    this.enqueue(conn, () => this.forget(conn));
  }

  private forget(conn: ConnectionState): void {
    if (this.conns.get(conn.connectionId) === conn) this.conns.delete(conn.connectionId);
    this.perConnectionPrompts.delete(conn.connectionId);
    conn.markGone();
  }

  /**
   * The wasm instance trapped (out of memory, or a bug): nothing in it can be trusted. Every connection it
   * held is closed with an error, and a fresh instance with the same keys and settings takes new ones.
   */
  private coreTrapped(err: SSHError): void {
    if (this.recovering) return;
    const victims = [...this.conns.values()];
    this.serverLog(1, `${err.message}; closing ${victims.length} connection(s) and starting a fresh wasm instance`);
    this.emitError(0, err.code, err.message);
    const lost = new SSHError(ErrorCode.WasmTrapped, `connection closed: ${err.message}`);
    for (const conn of victims) {
      // One whose protocol had already ended has had its `disconnected`; only its socket is left to close.
      const endedBefore = conn.ended;
      conn.dead = true;
      conn.ended = true;
      this.loggedIn(conn);
      this.clock.clearTimeout(conn.timer);
      this.clock.clearTimeout(conn.closeTimer);
      conn.cancelDelayedReply?.();
      for (const ch of conn.channels.values()) ch.fail(lost);
      this.conns.delete(conn.connectionId);
      conn.transport.destroy();
      const id = conn.connectionId;
      if (!endedBefore) {
        this.emitError(id, lost.code, lost.message);
        this.enqueue(conn, () => this.dispatch('disconnected', { connectionId: id, statusCode: DisconnectReason.ConnectionLost, description: lost.message }));
      }
      this.enqueue(conn, () => this.forget(conn));
    }
    this.recovering = this.restartCore().finally(() => (this.recovering = undefined));
  }

  private async restartCore(): Promise<void> {
    try {
      const core = this.runtime.createCore(randomBytes(64));
      core.continue_ids_after(this.lastConnectionId);
      for (const key of this.hostKeyFiles) core.add_host_key(key);
      for (const [name, value] of this.coreSettings) core.set_config(name, value);
      this.core = core;
      this.serverLog(1, 'fresh wasm instance started');
    } catch (e) {
      // Without a core nothing can be served: stop taking connections rather than accept and drop them.
      const err = fromCoreError(e);
      this.emitError(0, ErrorCode.WasmTrapped, `could not start a fresh wasm instance: ${err.message}`);
      await this.stopListening();
    }
  }
}

/**
 * Whether refusing this request waits out the auth-failure delay: every attempt (a password, a
 * keyboard-interactive start or answers, a publickey request with or without a signature) and every `none`
 * after the first. Publickey queries are included, as in OpenSSH's sshd: a host that looks up the user's
 * keys before refusing would otherwise tell by its timing whether the user exists (a client offering several
 * keys waits the minimum once per refused key). Not the first `none`: it is the probe every client opens
 * with to learn the methods, and delaying it would slow down every login; OpenSSH delays no `none` at all,
 * but a repeated `none` serves only probing, so it waits here, the line the core also draws when it counts
 * refusals toward MaxAuthAttempts. Accepts never
 * wait (the answer itself says what a delay would hide). Refusals the core makes on its own (a bad
 * signature, a method not offered) depend neither on the user nor on the host's data and go out at once.
 */
function refusalIsDelayed(event: CoreEvent & { type: 'authRequest' }, noneSeen: boolean): boolean {
  return event.method !== 'none' || noneSeen;
}

function positiveInt(name: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new SSHError(ErrorCode.InvalidArgument, `${name} must be an integer from 1 to ${max}`);
  return n;
}

/** Parses the reference's prompt list: `First prompt,echo=false;Second prompt,echo=true`. */
function parsePrompts(value: string): KeyboardInteractivePrompt[] {
  return value
    .split(';')
    .filter((p) => p.length > 0)
    .map((p) => {
      const m = /^(.*),echo=(true|false)$/i.exec(p);
      return m ? { prompt: m[1]!, echo: m[2]!.toLowerCase() === 'true' } : { prompt: p, echo: false };
    });
}
