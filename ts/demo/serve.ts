/**
 * The demo server's behaviour on any runtime: who may log in (the users' passwords, for password and
 * keyboard-interactive, and authorized keys for any of them), and the demo shell on session channels
 * (shell.ts). No file, process or socket access here: the runtime's entry point supplies what it read.
 */

import { AuthorizedKeys } from '../authorized-keys.js';
import type { SSHServer } from '../server.js';
import { MemoryFileSystem, serveSftp, type SftpSessionOptions } from '../sftp/index.js';
import type { HostKeyFile, SSHServerOptions } from '../settings.js';
import { DemoSession, type PtyInfo, type ShellIO } from './shell.js';

export interface DemoUsers {
  /** User name to password. */
  users: Map<string, string>;
  /** Status lines on `log` (connections, key exchanges, ends) besides errors. */
  verbose: boolean;
  /** Local and remote forwarding (`ssh -L`, `-W`, `-R`) to and on loopback TCP; refused otherwise (Unix sockets too), and without it. */
  allowForward?: boolean;
  /** Subsystem `sftp`, served from this filesystem; without it the subsystem is refused. */
  sftp?: SftpSessionOptions;
  /** Where diagnostics go (stderr on a command line). */
  log(line: string): void;
}

/** Compares secrets in time independent of where they differ: their digests, byte for byte, every byte. */
async function sameSecret(a: string, b: string): Promise<boolean> {
  const digest = async (s: string) => new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/**
 * Everything a demo process needs when another process read the command line (the workerd launcher for its
 * Worker, the Node demo's primary for its `--workers`): passed as data, so no secret goes to disk.
 */
export interface DemoSettings {
  /** Private key files and passphrases: every process must serve the same host keys, so none is generated there. */
  hostKeys: HostKeyFile[];
  users: [name: string, password: string][];
  /** The `--authorized-keys` file (its keys may log in as any user), read where the command line was. */
  authorizedKeys?: AuthorizedKeysFile;
  /** `NAME=VALUE` settings for `config()`. */
  config: string[];
  /** The Worker's WebSocket endpoint: the origins it lets in. */
  allowedOrigins?: string[];
  verbose: boolean;
  allowForward?: boolean;
  /** `--sftp-memory` (and `--sftp-read-only`): subsystem `sftp` from an in-memory tree, one per server. */
  sftpMemory?: { readOnly: boolean };
}

/** An authorized_keys file's name and text. */
export interface AuthorizedKeysFile {
  file: string;
  text: string;
}

/** The server options that make `settings`' keys log in (the server enforces their lines' options). */
export function authorizedKeysOption(file: AuthorizedKeysFile | undefined): Pick<SSHServerOptions, 'authorizedKeys'> {
  return file ? { authorizedKeys: AuthorizedKeys.parse(file.text, file.file) } : {};
}

/** Applies `settings` to a server made with their host keys and `authorizedKeysOption`, and serves the demo on it. */
export function serveSettings(server: SSHServer, settings: DemoSettings, log: (line: string) => void): void {
  for (const setting of settings.config) server.config(setting);
  const { allowForward, verbose, sftpMemory } = settings;
  const sftp = sftpMemory && { fs: new MemoryFileSystem(), readOnly: sftpMemory.readOnly };
  serveDemo(server, { users: new Map(settings.users), verbose, allowForward, sftp, log });
}

interface ChannelSession {
  user: string;
  /** Made by the first `env` request. */
  env?: Map<string, string>;
  pty?: PtyInfo;
  session?: DemoSession;
  /** A shell, exec or subsystem has started on the channel: no second one. */
  started?: boolean;
}

/**
 * The echo subsystem, on the channel's web streams: every byte back as it came, then EOF and exit status 0 at
 * the client's EOF. A channel closed meanwhile ends it.
 */
async function echoSubsystem(server: SSHServer, c: number, ch: number): Promise<void> {
  const { readable, writable } = server.channelStreams(c, ch);
  try {
    await readable.pipeTo(writable);
  } catch {
    return;
  }
  server.sendExitStatus(c, ch, 0);
  await server.closeChannel(c, ch);
}

/** A session channel as its shell writes to it: one object per session, its methods shared (closures cost each session). */
class ChannelShellIO implements ShellIO {
  constructor(
    private readonly server: SSHServer,
    private readonly connectionId: number,
    private readonly channelId: number,
  ) {}

  write(data: Uint8Array | string): Promise<void> {
    return this.server.sendChannelData(this.connectionId, this.channelId, data);
  }

  writeStderr(data: Uint8Array | string): Promise<void> {
    return this.server.sendChannelData(this.connectionId, this.channelId, data, 1);
  }

  async exit(status: number): Promise<void> {
    await this.server.sendEOF(this.connectionId, this.channelId);
    this.server.sendExitStatus(this.connectionId, this.channelId, status);
    await this.server.closeChannel(this.connectionId, this.channelId);
  }
}

/** Loopback addresses as a client names them: the only targets `--allow-forward` lets it reach. */
const isLoopback = (address: string): boolean => /^127(\.\d{1,3}){3}$/.test(address) || address === '::1' || address.toLowerCase() === 'localhost';

export function serveDemo(server: SSHServer, { users, verbose, allowForward = false, sftp, log }: DemoUsers): void {
  const sessions = new Map<string, ChannelSession>();
  const key = (c: number, ch: number) => `${c}/${ch}`;

  // Unix sockets are refused even with --allow-forward: a client-chosen path reaches or creates files anywhere the server may.
  server.on('sshTunnelRequested', (e) => {
    if (!allowForward) e.reject(1, 'forwarding is off (--allow-forward)');
    else if (e.socketPath !== undefined) e.reject(1, `forwarding of Unix socket ${e.socketPath} refused: loopback TCP only`);
    else if (isLoopback(e.address)) e.accept = true;
    else e.reject(1, `forwarding to ${e.address} refused: loopback targets only`);
  });

  server.on('userAuthRequest', async (e) => {
    const password = users.get(e.user);
    if (password === undefined) return e.reject();
    if (e.authMethod === 'password' && e.password !== undefined && (await sameSecret(e.password, password))) return e.accept();
    // A key on an --authorized-keys line that lets it in from here now: the server enforces the line's options.
    if (e.authMethod === 'publickey' && e.authorizedKey) return e.accept();
    if (e.authMethod === 'keyboard-interactive') {
      const responses = e.keyboardInteractive?.responses;
      if (responses === undefined) return e.prompt([{ prompt: 'Password: ', echo: false }]);
      if (responses.length === 1 && (await sameSecret(responses[0]!, password))) return e.accept();
    }
    e.reject();
  });

  server.on('channelOpened', (e) => {
    sessions.set(key(e.connectionId, e.channelId), { user: server.connections.get(e.connectionId)?.user ?? '' });
  });

  server.on('channelRequest', (e) => {
    const s = sessions.get(key(e.connectionId, e.channelId));
    const r = e.request;
    const starts = r.type === 'shell' || r.type === 'exec' || r.type === 'subsystem';
    const served = r.type === 'subsystem' && (r.name === 'echo' || (r.name === 'sftp' && sftp !== undefined));
    if (!s || (starts && s.started) || (r.type === 'subsystem' && !served)) e.accept = false;
  });

  server.on('channelRequested', (e) => {
    const s = sessions.get(key(e.connectionId, e.channelId));
    if (!s) return;
    const r = e.request;
    const { connectionId: c, channelId: ch } = e;
    const start = (): DemoSession => {
      s.started = true;
      s.session = new DemoSession(new ChannelShellIO(server, c, ch), s);
      return s.session;
    };
    switch (r.type) {
      case 'pty-req':
        s.pty = { term: r.term, cols: r.cols, rows: r.rows };
        break;
      case 'env':
        (s.env ??= new Map()).set(r.name, r.value);
        break;
      case 'window-change':
        s.session?.onWindowChange(r.cols, r.rows);
        if (s.pty) Object.assign(s.pty, { cols: r.cols, rows: r.rows });
        break;
      case 'signal':
        s.session?.onSignal(r.name);
        break;
      case 'shell':
        start().shell();
        break;
      case 'exec':
        // A forced command (authorized_keys command=): what the client asked is in the environment, as sshd puts it.
        if (e.originalCommand !== undefined) (s.env ??= new Map()).set('SSH_ORIGINAL_COMMAND', e.originalCommand);
        start().exec(r.command);
        break;
      case 'subsystem':
        s.started = true;
        if (r.name === 'sftp') void serveSftp(server, c, ch, sftp!);
        else void echoSubsystem(server, c, ch);
        break;
    }
  });

  server.on('channelDataIn', (e) => {
    if (e.stream !== 0) return;
    return sessions.get(key(e.connectionId, e.channelId))?.session?.onData(e.data);
  });
  server.on('channelEOF', (e) => sessions.get(key(e.connectionId, e.channelId))?.session?.onEof());
  server.on('channelClosed', (e) => void sessions.delete(key(e.connectionId, e.channelId)));
  server.on('disconnected', (e) => {
    for (const k of sessions.keys()) if (k.startsWith(`${e.connectionId}/`)) sessions.delete(k);
    if (verbose) log(`[${e.connectionId}] disconnected: ${e.statusCode} ${e.description}`);
  });
  server.on('error', (e) => log(`[${e.connectionId}] error ${e.errorCode}: ${e.description}`));
  if (verbose) {
    server.on('connected', (e) => log(`[${e.connectionId}] connected from ${server.connections.get(e.connectionId)?.remoteHost}`));
    server.on('sshStatus', (e) => log(`[${e.connectionId}] ${e.message}`));
    // Level 1 lines are the status lines above; LogLevel=2 or 3 adds these.
    server.on('log', (e) => void (e.logLevel > 1 && log(`[${e.connectionId}] (${e.logLevel}) ${e.message}`)));
  }
}
