/**
 * A session channel of an `SSHClient` (RFC 4254 §6): requests on it (pty, env, exec, shell, subsystem,
 * window-change, signal), data both ways with the server's window, EOF, close, and how the command ended.
 */

import type { ClientCore } from '../../wasm/pkg-client/wasshd_client.js';
import { ErrorCode, SSHError } from '../errors.js';
import type { ClientCoreEvent } from './events.js';

/** What a session needs from its client. */
export interface SessionHost {
  /** A core call, followed by the client's flush and event dispatch; a refusal throws SSHError. */
  call<T>(f: (core: ClientCore) => T): T;
  /** The transport takes more (no backpressure). */
  readonly writable: boolean;
  /** The clock in whole ms. */
  now(): number;
  /** What one `send_data` call takes at most. */
  readonly sendBudget: number;
}

/** How the command or shell ended: `code` from `exit-status`, `signal` (without `SIG`) from `exit-signal`. */
/** How a command ended, as the server reported it. */
export interface ExitInfo {
  /** Its exit status (`exit-status`), or null if the server sent none. */
  code: number | null;
  /** The signal that ended it (`exit-signal`, without `SIG`), or null. */
  signal: string | null;
}

/** A pseudo-terminal to ask for (`pty-req`). */
export interface PtyOptions {
  /** `TERM` for the remote side; default `xterm-256color`. */
  term?: string;
  /** Width in characters; default 80. */
  cols?: number;
  /** Height in rows; default 24. */
  rows?: number;
  /** Encoded terminal modes (RFC 4254 §8); default none (the server's defaults). */
  modes?: Uint8Array;
}

/** Receives a session's output, a piece at a time, in order. */
export type DataListener = (data: Uint8Array) => void;

const utf8 = new TextEncoder();

/** A `session` channel of an `SSHClient`: a command, a shell or a subsystem, with its output and its end. */
export class ClientSession {
  /** Settles once the server confirmed or refused the channel. */
  readonly opened: Promise<void>;
  /** Resolves when the channel has closed both ways, with how the command ended if the server said. */
  readonly exit: Promise<ExitInfo>;
  private settleOpen!: { resolve: () => void; reject: (e: SSHError) => void };
  private settleExit!: (info: ExitInfo) => void;
  private readonly replies: { name: string; resolve: (ok: boolean) => void; reject: (e: SSHError) => void }[] = [];
  private readonly queue: { data: Uint8Array; stream: number; resolve: () => void; reject: (e: SSHError) => void }[] = [];
  /** Listeners of stdout (0) and stderr (1), and what arrived on each before its first listener. */
  private readonly listeners: DataListener[][] = [[], []];
  private readonly early: Uint8Array[][] = [[], []];
  private readonly endListeners: (() => void)[] = [];
  private info: ExitInfo = { code: null, signal: null };
  private eofWanted = false;
  private eofSent = false;
  private closed = false;
  private sending = false;

  /** @internal Made by `SSHClient`'s `exec`, `shell` and `session`. */
  constructor(
    private readonly host: SessionHost,
    /** The client's id of the channel. */
    readonly id: number,
  ) {
    this.opened = new Promise((resolve, reject) => (this.settleOpen = { resolve, reject }));
    this.exit = new Promise((resolve) => (this.settleExit = resolve));
    // A refused open also rejects `opened`, which its caller awaits; the exit needs no handler.
    this.opened.catch(() => {});
  }

  /** Asks for a terminal; resolves once the server granted it. */
  pty(options: PtyOptions = {}): Promise<void> {
    const { term = 'xterm-256color', cols = 80, rows = 24, modes = new Uint8Array(0) } = options;
    return this.request('pty-req', 'a terminal (pty-req)', (core) => core.request_pty(this.id, term, cols, rows, modes));
  }

  /** Asks to set an environment variable before the command or shell starts; rejects if the server refuses. */
  env(name: string, value: string): Promise<void> {
    return this.request('env', `the environment variable ${name}`, (core) => core.request_env(this.id, name, value));
  }

  /** Runs `command`; its output comes through `onData` and `onStderr`, its end through `exit`. */
  exec(command: string | Uint8Array): Promise<void> {
    const bytes = typeof command === 'string' ? utf8.encode(command) : command;
    return this.request('exec', 'the command', (core) => core.request_exec(this.id, bytes));
  }

  /** Starts the user's shell (ask for a pty first with `pty`); rejects if the server refuses. */
  shell(): Promise<void> {
    return this.request('shell', 'a shell', (core) => core.request_shell(this.id));
  }

  /** Starts a subsystem such as `sftp`; rejects if the server refuses. */
  subsystem(name: string): Promise<void> {
    return this.request('subsystem', `the subsystem ${name}`, (core) => core.request_subsystem(this.id, name));
  }

  /** Tells the server the terminal's new size (no reply is sent for this request). */
  resize(cols: number, rows: number): void {
    this.host.call((core) => core.window_change(this.id, cols, rows));
  }

  /** `name` without `SIG`, e.g. `TERM`. */
  signal(name: string): void {
    this.host.call((core) => core.signal(this.id, name));
  }

  /** Data on the data stream; before the first listener, what arrives waits (and holds the server's window). */
  onData(listener: DataListener): void {
    this.listen(0, listener);
  }

  /** Data on the stderr stream (extended data), as `onData` has it. */
  onStderr(listener: DataListener): void {
    this.listen(1, listener);
  }

  /** The server sent EOF: no more data will come. */
  onEnd(listener: () => void): void {
    this.endListeners.push(listener);
  }

  /** Sends `data` (a string as UTF-8); resolves once the server's window has taken all of it. */
  write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? utf8.encode(data) : data;
    if (this.closed || this.eofWanted) return Promise.reject(new SSHError(ErrorCode.WrongState, 'the session is closed for writing'));
    return new Promise((resolve, reject) => {
      this.queue.push({ data: bytes, stream: 0, resolve, reject });
      this.pump();
    });
  }

  /** Sends EOF once what was written has gone: the command's input ends. */
  end(): void {
    this.eofWanted = true;
    this.pump();
  }

  /** Closes the channel; `exit` resolves once the server closed it too. */
  close(): Promise<ExitInfo> {
    if (!this.closed) this.host.call((core) => core.close_channel(this.id));
    return this.exit;
  }

  private request(name: string, what: string, send: (core: ClientCore) => void): Promise<void> {
    return new Promise<boolean>((resolve, reject) => {
      this.replies.push({ name, resolve, reject });
      try {
        this.host.call(send);
      } catch (e) {
        this.replies.pop();
        reject(e);
      }
    }).then((ok) => {
      if (!ok) throw new SSHError(ErrorCode.ChannelRefused, `the server refused ${what}`);
    });
  }

  private listen(stream: number, listener: DataListener): void {
    this.listeners[stream]!.push(listener);
    const waiting = this.early[stream]!.splice(0);
    for (const data of waiting) this.deliver(stream, data);
  }

  private deliver(stream: number, data: Uint8Array): void {
    for (const listener of this.listeners[stream]!) callListener(listener, data);
    // Processed: the server may send as much again.
    if (!this.closed) this.host.call((core) => core.consume_channel_data(this.id, data.length));
  }

  /** Hands the core what the window and the transport take. */
  pump(): void {
    if (this.sending || this.closed) return;
    this.sending = true;
    try {
      while (this.queue.length > 0 && this.host.writable) {
        const item = this.queue[0]!;
        const piece = item.data.subarray(0, this.host.sendBudget);
        const taken = this.host.call((core) => core.send_data(this.id, item.stream, piece, this.host.now()));
        if (taken < item.data.length) {
          item.data = item.data.subarray(taken);
          if (taken === 0) return; // the window is full or a key exchange runs: ready-to-send resumes
          continue;
        }
        this.queue.shift();
        item.resolve();
      }
      if (this.queue.length === 0 && this.eofWanted && !this.eofSent) {
        this.eofSent = true;
        this.host.call((core) => core.send_eof(this.id));
      }
    } catch (e) {
      this.fail(e instanceof SSHError ? e : new SSHError(ErrorCode.WrongState, String(e)));
    } finally {
      this.sending = false;
    }
  }

  /** @internal One event for this channel. Returns true once the channel is gone. */
  handle(event: ClientCoreEvent): boolean {
    switch (event.type) {
      case 'channelOpened':
        this.settleOpen.resolve();
        break;
      case 'channelOpenFailed':
        this.closed = true;
        this.settleOpen.reject(new SSHError(ErrorCode.ChannelRefused, `the server refused to open a session: ${event.description} (reason ${event.reason})`));
        this.settleExit(this.info);
        return true;
      case 'channelRequestReply':
        this.replies.shift()?.resolve(event.success);
        break;
      case 'channelData': {
        const early = this.early[event.stream];
        if (!early) this.host.call((core) => core.consume_channel_data(this.id, event.data.length)); // a stream nobody reads
        else if (this.listeners[event.stream]!.length > 0) this.deliver(event.stream, event.data);
        else early.push(event.data);
        break;
      }
      case 'channelEof':
        for (const listener of this.endListeners) callListener(listener, undefined);
        break;
      case 'channelReadyToSend':
        this.pump();
        break;
      case 'exitStatus':
        this.info = { ...this.info, code: event.status };
        break;
      case 'exitSignal':
        this.info = { ...this.info, signal: event.signal };
        break;
      case 'channelClosed':
        this.fail(new SSHError(ErrorCode.WrongState, 'the session closed'));
        return true;
      default:
        break;
    }
    return false;
  }

  /** The channel or the connection ended: whatever waits on it fails with `error`. */
  fail(error: SSHError): void {
    this.closed = true;
    this.settleOpen.reject(error);
    for (const reply of this.replies.splice(0)) reply.reject(error);
    for (const item of this.queue.splice(0)) item.reject(error);
    this.settleExit(this.info);
  }
}

/** An application's listener that throws is reported as uncaught, after the client has finished its event. */
function callListener<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value);
  } catch (e) {
    queueMicrotask(() => {
      throw e;
    });
  }
}
