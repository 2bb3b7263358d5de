/**
 * The demo server's command line, the same on every runtime with files and a process (Node, Deno and Bun
 * run it through their `node:` modules): `npm start -- [flags]`, `npm run demo:deno -- [flags]`, ... Its
 * command line, output lines and shell are a stable contract that the tests, the benchmarks and the README
 * rely on. Each runtime's entry point passes its server and WebSocket endpoint.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SSHServer, SSHServerOptions } from '../server.js';
import { AuthorizedKeysError, readAuthorizedKeys } from './authorized-keys.js';
import { CommandLine } from './cli.js';
import { serveDemo } from './serve.js';

/** What a runtime's entry point gives the demo. */
export interface DemoRuntime {
  /** How the user starts it, for the usage line: `npm start --`, `npm run demo:deno --`. */
  command: string;
  createServer(options: SSHServerOptions): SSHServer;
}

const usage = (command: string) => `usage: ${command} [--listen ADDR] [--port N] [--host-key FILE]... [--user NAME:PASSWORD]...
       [--authorized-keys FILE] [--config NAME=VALUE]... [--ws-port N [--ws-origin ORIGIN]...] [--verbose]`;

let cli: CommandLine;

interface Options {
  listen: string;
  port: number;
  /** The WebSocket endpoint's port, if any, and the origins it allows. */
  wsPort: number | undefined;
  wsOrigins: string[];
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
    'ws-port': { type: 'string' },
    'ws-origin': { type: 'string', multiple: true, default: [] },
    'host-key': { type: 'string', multiple: true, default: [] },
    user: { type: 'string', multiple: true, default: [] },
    'authorized-keys': { type: 'string' },
    config: { type: 'string', multiple: true, default: [] },
    verbose: { type: 'boolean', default: false },
  });
  const portOf = (text: string) => {
    if (!/^\d+$/.test(text) || Number(text) > 65535) cli.fail(`bad port: ${text}`);
    return Number(text);
  };
  const port = portOf(values.port);
  const wsPort = values['ws-port'] === undefined ? undefined : portOf(values['ws-port']);
  if (wsPort === undefined && values['ws-origin'].length > 0) cli.fail('--ws-origin needs --ws-port');
  const users = new Map<string, string>();
  for (const u of values.user) {
    const colon = u.indexOf(':');
    if (colon < 1) cli.fail(`--user wants NAME:PASSWORD, got ${u}`);
    users.set(u.slice(0, colon), u.slice(colon + 1));
  }
  return {
    listen: values.listen,
    port,
    wsPort,
    wsOrigins: values['ws-origin'],
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

/** Runs the demo until SIGINT or SIGTERM; `argv` is the arguments after the script. */
export async function runDemo(argv: string[], runtime: DemoRuntime): Promise<void> {
  cli = new CommandLine('wasshd demo', usage(runtime.command));
  const options = parseArgs(argv);
  const authorizedKeys = options.authorizedKeys ? authorizedKeysOf(options.authorizedKeys) : new Set<string>();
  const stateDir = resolve(process.env.WASSHD_STATE_DIR ?? '.wasshd');
  const server = runtime.createServer({ localHost: options.listen, localPort: options.port });
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

  serveDemo(server, { users: options.users, authorizedKeys, verbose: options.verbose, log: (line) => console.error(line) });

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
  if (options.wsPort !== undefined) {
    const endpoint = { port: options.wsPort, ...(options.wsOrigins.length > 0 ? { allowedOrigins: options.wsOrigins } : {}) };
    const ws = await server.startWebSocket(endpoint).catch((e: Error) => stop(e.message));
    console.log(`websocket on ${ws.host}:${ws.port}`);
  }
}
