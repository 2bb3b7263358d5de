/**
 * The demo server: `npm start -- [flags]`. Its command line and shell are a stable contract that the
 * tests, the benchmarks and the README rely on.
 */

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SSHServer } from '../node/index.js';
import { AuthorizedKeysError, readAuthorizedKeys } from './authorized-keys.js';
import { CommandLine } from './cli.js';
import { DemoSession, type PtyInfo } from './shell.js';

const USAGE = `usage: npm start -- [--listen ADDR] [--port N] [--host-key FILE]... [--user NAME:PASSWORD]...
                 [--authorized-keys FILE] [--config NAME=VALUE]... [--verbose]`;

const cli: CommandLine = new CommandLine('wasshd demo', USAGE);

interface Options {
  listen: string;
  port: number;
  hostKeys: string[];
  users: Map<string, string>;
  authorizedKeys: string | undefined;
  config: string[];
  verbose: boolean;
}

function parseArgs(argv: string[]): Options {
  const values = cli.parse(argv, {
    listen: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '2222' },
    'host-key': { type: 'string', multiple: true, default: [] },
    user: { type: 'string', multiple: true, default: [] },
    'authorized-keys': { type: 'string' },
    config: { type: 'string', multiple: true, default: [] },
    verbose: { type: 'boolean', default: false },
  });
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) cli.fail(`bad port: ${values.port}`);
  const users = new Map<string, string>();
  for (const u of values.user) {
    const colon = u.indexOf(':');
    if (colon < 1) cli.fail(`--user wants NAME:PASSWORD, got ${u}`);
    users.set(u.slice(0, colon), u.slice(colon + 1));
  }
  return {
    listen: values.listen,
    port,
    hostKeys: values['host-key'],
    users,
    authorizedKeys: values['authorized-keys'],
    config: values.config,
    verbose: values.verbose,
  };
}

/**
 * `type base64` of every key in the authorized_keys file. A line whose options the demo would not enforce
 * stops it here, before it listens: taking the key without its restriction would let in what the line forbids.
 */
function authorizedKeysOf(path: string): Set<string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return stop(`cannot read --authorized-keys ${path}: ${(e as Error).message}`);
  }
  try {
    return new Set(readAuthorizedKeys(text, path).map((k) => k.openssh));
  } catch (e) {
    if (e instanceof AuthorizedKeysError) return stop(e.message);
    throw e;
  }
}

/** A problem with what the command line points to (not the command line itself): say so and exit 1. */
function stop(message: string): never {
  console.error(`wasshd demo: ${message}`);
  process.exit(1);
}

/** Compares secrets in time independent of where they differ. */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

const options = parseArgs(process.argv.slice(2));
const authorizedKeys = options.authorizedKeys ? authorizedKeysOf(options.authorizedKeys) : new Set<string>();
const stateDir = resolve(process.env.WASSHD_STATE_DIR ?? '.wasshd');
const server = new SSHServer({ localHost: options.listen, localPort: options.port });
for (const setting of options.config) server.config(setting);

if (options.hostKeys.length > 0) {
  for (const file of options.hostKeys) server.addHostKey(readFileSync(file, 'utf8'));
} else {
  const keyFile = join(stateDir, 'ssh_host_ed25519_key');
  if (existsSync(keyFile)) server.addHostKey(readFileSync(keyFile, 'utf8'));
  else {
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(keyFile, server.generateHostKey('wasshd demo host key'), { mode: 0o600 });
  }
  console.log(`state directory: ${stateDir}`);
}

if (options.users.size === 0) {
  const password = randomBytes(9).toString('base64url');
  options.users.set('demo', password);
  console.log(`user demo, password ${password}`);
}

server.on('userAuthRequest', (e) => {
  const password = options.users.get(e.user);
  if (password === undefined) return e.reject();
  if (e.authMethod === 'password' && e.password !== undefined && sameSecret(e.password, password)) return e.accept();
  if (e.authMethod === 'publickey' && e.publicKey && authorizedKeys.has(e.publicKey.openssh)) return e.accept();
  if (e.authMethod === 'keyboard-interactive') {
    const responses = e.keyboardInteractive?.responses;
    if (responses === undefined) return e.prompt([{ prompt: 'Password: ', echo: false }]);
    if (responses.length === 1 && sameSecret(responses[0]!, password)) return e.accept();
  }
  e.reject();
});

interface ChannelSession {
  user: string;
  env: Map<string, string>;
  pty?: PtyInfo;
  session?: DemoSession;
}
const sessions = new Map<string, ChannelSession>();
const key = (c: number, ch: number) => `${c}/${ch}`;

server.on('channelOpened', (e) => {
  sessions.set(key(e.connectionId, e.channelId), { user: server.connections.get(e.connectionId)?.user ?? '', env: new Map() });
});

server.on('channelRequest', (e) => {
  const s = sessions.get(key(e.connectionId, e.channelId));
  const r = e.request;
  const starts = r.type === 'shell' || r.type === 'exec' || r.type === 'subsystem';
  if (!s || (starts && s.session) || (r.type === 'subsystem' && r.name !== 'echo')) e.accept = false;
});

server.on('channelRequested', (e) => {
  const s = sessions.get(key(e.connectionId, e.channelId));
  if (!s) return;
  const r = e.request;
  const { connectionId: c, channelId: ch } = e;
  const start = (): DemoSession => {
    s.session = new DemoSession(
      {
        write: (data) => server.sendChannelData(c, ch, data),
        writeStderr: (data) => server.sendChannelData(c, ch, data, 1),
        exit: async (status) => {
          await server.sendEOF(c, ch);
          server.sendExitStatus(c, ch, status);
          await server.closeChannel(c, ch);
        },
      },
      s,
    );
    return s.session;
  };
  switch (r.type) {
    case 'pty-req':
      s.pty = { term: r.term, cols: r.cols, rows: r.rows };
      break;
    case 'env':
      s.env.set(r.name, r.value);
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
      start().exec(r.command);
      break;
    case 'subsystem':
      start().subsystem(r.name);
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
  if (options.verbose) console.error(`[${e.connectionId}] disconnected: ${e.statusCode} ${e.description}`);
});
server.on('error', (e) => console.error(`[${e.connectionId}] error ${e.errorCode}: ${e.description}`));
if (options.verbose) {
  server.on('connected', (e) => console.error(`[${e.connectionId}] connected from ${server.connections.get(e.connectionId)?.remoteHost}`));
  server.on('sshStatus', (e) => console.error(`[${e.connectionId}] ${e.message}`));
  // Level 1 lines are the status lines above; LogLevel=2 or 3 adds these.
  server.on('log', (e) => void (e.logLevel > 1 && console.error(`[${e.connectionId}] (${e.logLevel}) ${e.message}`)));
}

// Before listening: a signal that arrives as soon as the port is printed still shuts the server down.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.shutdown().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

const { host, port } = await server.startListening();
console.log(`listening on ${host}:${port}`);
console.log(`connect with: ssh -p ${port} ${[...options.users.keys()][0]}@${host}`);
