/**
 * The SSH client over any transport (`ts/transport.ts`: a TCP socket on Node, a WebSocket in a browser),
 * around one `ClientCore` (wasm/src/client.rs) in a wasm instance of its own. The core holds the protocol;
 * this moves bytes, keeps the one timer, checks the host key with the application, logs in with what it
 * was given and routes channel events to sessions. Runtime entries (`ts/node`, `ts/browser`) supply the core.
 */

import type { ClientCore } from '../../wasm/pkg-client/wasshd_client.js';
import { DisconnectReason, ErrorCode, SSHError, fromCoreError } from '../errors.js';
import type { KeyboardInteractivePrompt } from '../events.js';
import { withFileBytes, withKeyFiles, type KeyFilesModule } from '../core/key-files.js';
import { randomBytes, systemClock, wholeMs, type Clock } from '../runtime.js';
import type { Transport } from '../transport.js';
import { decodeClientEvents, type ClientCoreEvent } from './events.js';
import { ClientSession, type ExitInfo, type PtyOptions, type SessionHost } from './session.js';
import { concat } from '../bytes.js';

/** What a runtime entry gives the client. */
export interface ClientRuntime {
  /** @internal A client core in a wasm instance of its own (`instantiateClientCore`); `now` in ms. */
  createClientCore(seed: Uint8Array, now: number): ClientCore;
  /** @internal The keys wasm module, which opens `privateKey` (see `Runtime.keyFiles`). */
  keyFiles?: KeyFilesModule;
  /** Default `systemClock`. */
  clock?: Clock;
}

/** The server's host key, as `verifyHostKey` sees it. */
export interface HostKeyInfo {
  /** e.g. `ssh-ed25519`. */
  algorithm: string;
  /** The public key blob (RFC 4253 §6.6). */
  key: Uint8Array;
  /** `SHA256:...`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

/** Answers one round of keyboard-interactive prompts (RFC 4256), an answer for each. */
export type KeyboardInteractiveHandler = (
  prompts: KeyboardInteractivePrompt[],
  info: { name: string; instruction: string },
) => string[] | Promise<string[]>;

/** `SSHClient.connect`'s options: where to connect, how to check the server, how to log in. */
export interface SSHClientOptions {
  /** The byte stream to the server (a runtime entry can make a TCP one from `host` and `port`). */
  transport: Transport;
  /** The user name to log in as. */
  user: string;
  /**
   * Decides whether the server is the one meant, before anything is sent to it: compare `fingerprint`
   * with one known from elsewhere. False (or a rejection) ends the connection.
   */
  verifyHostKey: (fingerprint: string, key: HostKeyInfo) => boolean | Promise<boolean>;
  /** Tried in this order, those given that the server takes: `privateKey`, `password`, `keyboardInteractive`. */
  password?: string;
  /** A private key file: OpenSSH, PKCS#1, SEC1, OpenSSL DSA or PKCS#8 (ed25519, ECDSA, RSA or, if the server takes ssh-dss, DSA). */
  privateKey?: string;
  /** Opens `privateKey` if it is encrypted. */
  passphrase?: string;
  /** Answers the server's keyboard-interactive prompts. */
  keyboardInteractive?: KeyboardInteractiveHandler;
  /** The server's banner (RFC 4252 §5.4), control characters replaced. */
  onBanner?: (message: string) => void;
  /**
   * Gives up (SSHError `LoginTimeout`, saying at which step) when `connect` has not logged in this many
   * milliseconds after it was called: opening the connection, the key exchange, `verifyHostKey` and the
   * authentication together. Default: no limit.
   */
  timeoutMs?: number;
  /** Default `systemClock`. */
  clock?: Clock;
}

export interface ShellOptions extends PtyOptions {
  /** Environment variables to ask for (servers usually take only a few, such as `LANG`). */
  env?: Record<string, string>;
}

export interface ExecOptions {
  /** Sent as the command's input, which then ends; without it the input ends at once. */
  stdin?: string | Uint8Array;
}

/** What `exec` collected: the whole output and how the command ended. */
export interface ExecResult extends ExitInfo {
  /** Everything written to the data stream. */
  stdout: Uint8Array;
  /** Everything written to stderr. */
  stderr: Uint8Array;
}

type Method = 'publickey' | 'password' | 'keyboard-interactive';

/** setTimeout's largest delay: a longer one would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const METHOD_NAMES: Record<Method, string> = { publickey: 'the key', password: 'the password', 'keyboard-interactive': 'the keyboard-interactive answers' };

/**
 * An SSH-2 client over the same core: host-key check, login, then `session` channels (`exec`, `shell`,
 * `session`). Each runtime entry exports its own subclass, whose static `connect` makes one.
 */
export class SSHClient {
  /** The server's identification string. */
  serverVersion = '';
  /** The server's host key, once seen. */
  hostKey: HostKeyInfo | undefined;
  /** Resolves when the connection has ended, with the reason if it was not `close()`. */
  readonly closed: Promise<SSHError | undefined>;
  private readonly core: ClientCore;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly sessions = new Map<number, ClientSession>();
  private readonly host: SessionHost;
  private readonly login: Promise<void>;
  private settleLogin!: { resolve: () => void; reject: (e: SSHError) => void };
  private settleClosed!: (error: SSHError | undefined) => void;
  /** Methods to try, in order; the one whose answer is awaited; those the server refused. */
  private readonly untried: Method[];
  private trying: Method | undefined;
  private readonly refused: Method[] = [];
  /** `verifyHostKey` accepted the server's key. */
  private verified = false;
  /** Why the connection is ending, decided on our side before the core reports the end. */
  private failure: SSHError | undefined;
  private closing = false;
  private ended = false;
  private transportClosed = false;
  private transportError: Error | undefined;
  /** We have ended the transport: nothing more is written. */
  private transportEnded = false;
  private writable = true;
  private dispatching = false;
  private timer: unknown;
  private deadline = -1;
  private readonly keyFiles: KeyFilesModule | undefined;

  protected constructor(
    runtime: ClientRuntime,
    private readonly options: SSHClientOptions,
  ) {
    this.clock = options.clock ?? runtime.clock ?? systemClock;
    this.transport = options.transport;
    this.untried = [...(options.privateKey ? ['publickey' as const] : []), ...(options.password !== undefined ? ['password' as const] : []), ...(options.keyboardInteractive ? ['keyboard-interactive' as const] : [])];
    this.login = new Promise((resolve, reject) => (this.settleLogin = { resolve, reject }));
    this.login.catch(() => {}); // `connect` awaits it
    this.closed = new Promise((resolve) => (this.settleClosed = resolve));
    if (this.untried.length === 0) throw new SSHError(ErrorCode.InvalidArgument, 'give a password, a privateKey or a keyboardInteractive handler to log in with');
    this.core = runtime.createClientCore(randomBytes(64), wholeMs(this.clock));
    this.keyFiles = runtime.keyFiles;
    const self = this;
    this.host = {
      call: (f) => this.call(f),
      get writable() {
        return self.writable && !self.ended;
      },
      now: () => wholeMs(this.clock),
      sendBudget: this.core.call_output_budget(),
    };
    this.transport.attach({
      data: (bytes) => this.quietly((core) => core.input(bytes, wholeMs(this.clock))),
      drain: () => {
        this.writable = true;
        for (const session of this.sessions.values()) session.pump();
      },
      close: (error) => {
        this.transportClosed = true;
        this.transportError = error;
        this.quietly((core) => core.connection_lost());
      },
    });
    this.afterCall(); // the version line and KEXINIT
  }

  /**
   * Opens the transport (`open`), makes a client on it (`make`, a runtime entry's constructor call) and waits
   * for its login, within `options.timeoutMs`; the transport is closed if any of it fails, and the reason rejects.
   */
  protected static async loggedIn<C extends SSHClient>(
    options: Pick<SSHClientOptions, 'timeoutMs' | 'clock'>,
    open: () => Promise<Transport>,
    make: (transport: Transport) => C,
  ): Promise<C> {
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && !(timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
      throw new SSHError(ErrorCode.InvalidArgument, `timeoutMs must be a number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, not ${timeoutMs}`);
    }
    const clock = options.clock ?? systemClock;
    let client: C | undefined;
    let timer: unknown;
    const late = new Promise<never>((_, reject) => {
      if (timeoutMs === undefined) return;
      timer = clock.setTimeout(() => {
        const error = new SSHError(ErrorCode.LoginTimeout, `no login within ${timeoutMs} ms: ${client ? client.loginStep() : 'the connection did not open'}`);
        reject(error);
        client?.abort(error);
      }, timeoutMs);
    });
    try {
      const opening = open();
      // A connection that opens after the deadline is closed at once.
      const transport = await Promise.race([opening, late]).catch((e: unknown) => {
        void opening.then((t) => t.destroy(), () => {});
        throw e;
      });
      try {
        client = make(transport);
      } catch (e) {
        transport.destroy();
        throw e;
      }
      await Promise.race([client.login, late]);
      return client;
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
    }
  }

  /** Where a login that has not finished is, for a timeout's message. */
  private loginStep(): string {
    if (!this.serverVersion) return 'the server sent no SSH version line';
    if (!this.hostKey) return 'the key exchange did not finish';
    if (!this.verified) return 'verifyHostKey did not answer';
    return this.trying ? `the server did not answer ${METHOD_NAMES[this.trying]}` : 'the authentication did not finish';
  }

  /** Opens a session channel, on which to ask for a pty, a command, a shell or a subsystem. */
  async openSession(): Promise<ClientSession> {
    if (this.ended) throw this.endError();
    const id = this.call((core) => core.open_session());
    const session = new ClientSession(this.host, id);
    this.sessions.set(id, session);
    await session.opened;
    return session;
  }

  /** Runs `command` and collects its output once it has ended. */
  async exec(command: string | Uint8Array, options: ExecOptions = {}): Promise<ExecResult> {
    const session = await this.openSession();
    const stdout: Uint8Array[] = [];
    const stderr: Uint8Array[] = [];
    session.onData((data) => stdout.push(data));
    session.onStderr((data) => stderr.push(data));
    await session.exec(command);
    if (options.stdin !== undefined) void session.write(options.stdin).catch(() => {}); // a failed write ends the session too
    session.end();
    const exit = await session.exit;
    return { stdout: concat(stdout), stderr: concat(stderr), ...exit };
  }

  /** A shell on a terminal of the given size (default 80 by 24, `xterm-256color`). */
  async shell(options: ShellOptions = {}): Promise<ClientSession> {
    const session = await this.openSession();
    await session.pty(options);
    for (const [name, value] of Object.entries(options.env ?? {})) await session.env(name, value).catch(() => {}); // refusals are usual
    await session.shell();
    return session;
  }

  /** Ends the connection; resolves once it has. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.closing = true;
      this.call((core) => core.disconnect(DisconnectReason.ByApplication, 'closed by the user'));
    }
    await this.closed;
  }

  // ---- the core -----------------------------------------------------------------------------------

  /**
   * Every call into the core goes through here: a refusal throws SSHError to the caller; a trap (anything
   * else) ends this connection, whose instance is then unusable. After the call, output and events.
   */
  private call<T>(f: (core: ClientCore) => T): T {
    let result: T;
    try {
      result = f(this.core);
    } catch (e) {
      const error = fromCoreError(e);
      if (error.code === ErrorCode.WasmTrapped) this.finish(error);
      throw error;
    }
    this.afterCall();
    return result;
  }

  /** A call from a socket or timer callback, which has nobody to throw to: a trap has ended the connection. */
  private quietly(f: (core: ClientCore) => void): void {
    try {
      this.call(f);
    } catch {
      // reported through `connect`, the sessions and `closed`
    }
  }

  private afterCall(): void {
    if (this.ended) return;
    this.flush();
    if (this.dispatching) return; // the outer loop drains what this call produced
    this.dispatching = true;
    try {
      for (;;) {
        const records = this.core.drain_events();
        if (records.length === 0) break;
        for (const event of decodeClientEvents(records)) this.handle(event);
        this.flush();
      }
    } catch (e) {
      this.finish(e instanceof SSHError ? e : fromCoreError(e));
    } finally {
      this.dispatching = false;
    }
    this.rearm();
  }

  private flush(): void {
    if (this.transportClosed || this.transportEnded) return;
    const out = this.core.take_output();
    if (out.length > 0 && !this.transport.write(out)) this.writable = false;
  }

  private rearm(): void {
    const deadline = this.ended ? -1 : this.core.next_deadline();
    if (deadline === this.deadline) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.deadline = deadline;
    if (deadline < 0) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.deadline = -1;
      this.quietly((core) => core.handle_timeout(wholeMs(this.clock)));
    }, Math.max(0, deadline - wholeMs(this.clock)));
  }

  // ---- events -------------------------------------------------------------------------------------

  private handle(event: ClientCoreEvent): void {
    switch (event.type) {
      case 'serverVersion':
        this.serverVersion = event.version;
        break;
      case 'hostKey':
        this.hostKey = { algorithm: event.algorithm, key: event.key, fingerprint: event.fingerprint };
        this.verify(this.hostKey);
        break;
      case 'banner':
        this.options.onBanner?.(event.message);
        break;
      case 'authFailure':
        if (!event.partialSuccess && this.trying) this.refused.push(this.trying);
        this.trying = undefined;
        this.authenticate(event.methods);
        break;
      case 'authPrompt':
        this.answer(event.prompts, event.name, event.instruction);
        break;
      case 'authenticated':
        this.settleLogin.resolve();
        break;
      case 'disconnected':
        this.finish(this.endReason(event.reason, event.description, event.byPeer));
        break;
      case 'log':
      case 'keysExchanged':
        break;
      default: {
        const session = this.sessions.get(event.channel);
        if (session?.handle(event)) this.sessions.delete(event.channel);
      }
    }
  }

  /** Asks the application about the host key; nothing is sent to the server before it answers. */
  private verify(key: HostKeyInfo): void {
    const refuse = (why: string) => {
      this.failure = new SSHError(ErrorCode.HostKeyNotAccepted, `host key ${key.fingerprint} (${key.algorithm}) ${why}`);
      this.call((core) => core.accept_host_key(false));
    };
    Promise.resolve()
      .then(() => this.options.verifyHostKey(key.fingerprint, key))
      .then(
        (ok) => {
          if (this.ended) return;
          if (!ok) return refuse('was not accepted by verifyHostKey');
          this.verified = true;
          this.call((core) => core.accept_host_key(true));
          this.authenticate(undefined);
        },
        (e: unknown) => !this.ended && refuse(`not accepted: verifyHostKey failed: ${message(e)}`),
      )
      .catch((e: unknown) => this.abort(e));
  }

  /** Tries the next method given that the server takes (`allowed`: its last list, or unknown before any). */
  private authenticate(allowed: string[] | undefined): void {
    const { user } = this.options;
    for (let method = this.untried.shift(); method; method = this.untried.shift()) {
      if (allowed && !allowed.includes(method)) continue;
      this.trying = method;
      if (method === 'publickey') {
        const key = withKeyFiles(this.keyFiles, (keys) => withFileBytes(this.options.privateKey!, (bytes) => keys.login_key(bytes, this.options.passphrase ?? '')));
        this.call((core) => core.auth_publickey(user, key));
      } else if (method === 'password') this.call((core) => core.auth_password(user, this.options.password!));
      else this.call((core) => core.auth_keyboard_interactive(user));
      return;
    }
    const refused = this.refused.map((m) => METHOD_NAMES[m]).join(' and ');
    const takes = allowed?.length ? ` (it takes ${allowed.join(', ')})` : '';
    const why = refused ? `the server refused ${refused}` : `the server takes none of the methods given`;
    this.failure = new SSHError(ErrorCode.CouldNotAuthenticate, `authentication failed for user "${user}": ${why}${takes}`);
    this.call((core) => core.disconnect(DisconnectReason.NoMoreAuthMethodsAvailable, 'no more authentication methods'));
  }

  private answer(prompts: KeyboardInteractivePrompt[], name: string, instruction: string): void {
    const handler = this.options.keyboardInteractive!;
    Promise.resolve()
      .then(() => (prompts.length === 0 ? [] : handler(prompts, { name, instruction })))
      .then(
        (answers) => !this.ended && this.call((core) => core.answer_prompts(answers)),
        (e: unknown) => this.abort(new SSHError(ErrorCode.CouldNotAuthenticate, `keyboard-interactive cancelled: ${message(e)}`), DisconnectReason.AuthCancelledByUser),
      )
      .catch((e: unknown) => this.abort(e));
  }

  /** Ends the connection from our side for `e` (a bad private key, an answer the core refused, a trap). */
  private abort(e: unknown, reason: number = DisconnectReason.ByApplication): void {
    if (this.ended) return;
    this.failure ??= e instanceof SSHError ? e : new SSHError(ErrorCode.InvalidArgument, message(e));
    try {
      this.call((core) => core.disconnect(reason, 'client error'));
    } catch {
      this.finish(this.failure); // the core trapped: `call` has ended the connection already
    }
  }

  // ---- the end ------------------------------------------------------------------------------------

  private endReason(reason: number, description: string, byPeer: boolean): SSHError | undefined {
    if (this.failure) return this.failure;
    if (this.closing) return undefined;
    // A transport that closed without a DISCONNECT first; the core counts that as the peer's doing.
    if (this.transportClosed) return new SSHError(ErrorCode.ConnectionLost, `connection lost${this.transportError ? `: ${this.transportError.message}` : ''}`);
    if (byPeer) return new SSHError(ErrorCode.ConnectionLost, `the server closed the connection: ${description} (reason ${reason})`);
    return new SSHError(ErrorCode.ConnectionLost, `connection ended: ${description} (reason ${reason})`);
  }

  private endError(): SSHError {
    return this.failure ?? new SSHError(ErrorCode.ConnectionLost, 'the connection is closed');
  }

  /** The connection is over (`error` undefined: closed by `close()`); everything waiting on it fails. */
  private finish(error: SSHError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.failure ??= error;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.flush(); // the DISCONNECT
    this.transportEnded = true;
    if (!this.transportClosed) this.transport.end();
    const reason = this.endError();
    this.settleLogin.reject(reason);
    for (const session of this.sessions.values()) session.fail(reason);
    this.sessions.clear();
    this.settleClosed(error);
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

