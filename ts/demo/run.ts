/**
 * The demo server's command line, the same on every runtime with files and a process (Node, Deno and Bun
 * run it through their `node:` modules): `npm start -- [flags]`, `npm run demo:deno -- [flags]`, ... Its
 * command line, output lines and shell are a stable contract that the tests, the benchmarks and the README
 * rely on. Each runtime's entry point passes its server and WebSocket endpoint.
 */

import type { HostKeyFile, SSHServer, SSHServerOptions } from '../server.js';
import type { StaticFile } from '../transport.js';
import { DirectoryFileSystem } from '../sftp/directory.js';
import { MemoryFileSystem } from '../sftp/memory.js';
import { CommandLine } from './cli.js';
import { authorizedKeysOption, type DemoSettings, serveDemo, serveSettings } from './serve.js';
import { authorizedKeysOf, installHostKeys, parseDemoFlags, stop, withDemoUser } from './setup.js';

/** Where a server listens. */
export interface Address {
  host: string;
  port: number;
}

/** What a worker process of `--workers` is handed: the demo's settings and where to listen. */
export interface WorkerSettings extends DemoSettings {
  listen: string;
  port: number;
}

/** A runtime's way to serve `--workers N`: N processes, each its own server, sharing one listening socket. */
export interface DemoWorkers {
  /** Starts the workers; resolves with where they listen once every one does. Ends the process when they end. */
  start(count: number, settings: WorkerSettings): Promise<Address>;
}

/** What a runtime's entry point gives the demo. */
export interface DemoRuntime {
  /** How the user starts it, for the usage line: `npm start --`, `npm run demo:deno --`. */
  command: string;
  createServer(options: SSHServerOptions): SSHServer;
  /** Where the runtime has it (Node: node:cluster); without it `--workers` is refused. */
  workers?: DemoWorkers;
  /**
   * A page to serve from the WebSocket endpoint's port (the web demo): the endpoint is then always on, on
   * `--ws-port` or 8080, and its address printed as `web on http://ADDR:PORT/`.
   */
  webFiles?: () => ReadonlyMap<string, StaticFile>;
}

const usage = (runtime: DemoRuntime) => `usage: ${runtime.command} [--listen ADDR] [--port N] [--host-key FILE]... [--host-key-passphrase PASS] [--user NAME:PASSWORD]...
       [--authorized-keys FILE] [--trusted-user-ca-keys FILE] [--config NAME=VALUE]... [--ws-port N [--ws-origin ORIGIN]...] [--allow-forward] [--verbose]${runtime.workers ? ' [--workers N]' : ''}
       [--sftp-root DIR | --sftp-memory] [--sftp-read-only]`;

const DEFAULT_PORT = 2222;
const DEFAULT_WEB_PORT = 8080;
/** How long a stop waits for the connections to close before exiting anyway. */
const SHUTDOWN_GRACE_MS = 2000;

/**
 * Shuts `server` down and exits 0 on SIGINT or SIGTERM. A signal while stopping changes nothing: a worker of
 * `--workers` gets Ctrl-C from the terminal and again from its primary.
 */
function stopOnSignals(server: SSHServer): void {
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) return;
    stopping = true;
    void server.shutdown().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, onSignal);
}

/** Runs the demo until SIGINT or SIGTERM; `argv` is the arguments after the script. */
export async function runDemo(argv: string[], runtime: DemoRuntime): Promise<void> {
  const options = parseDemoFlags(new CommandLine('wasshd demo', usage(runtime)), argv, { withWorkers: runtime.workers !== undefined });
  const authorizedKeys = authorizedKeysOf(options.authorizedKeysFile);
  // With --workers this server serves nothing: it checks the settings and makes the host key for the workers.
  const server = runtime.createServer({ localHost: options.listen, localPort: options.port ?? DEFAULT_PORT, ...authorizedKeysOption(authorizedKeys) });
  for (const setting of options.config) server.config(setting);
  const hostKeys: HostKeyFile[] = [];
  installHostKeys(options.hostKeyFiles, options.hostKeyPassphrase, {
    install: (file) => {
      if (typeof file === 'string') server.addHostKey(file);
      else server.addHostKey(file.key, { passphrase: file.passphrase });
      hostKeys.push(file);
    },
    generate: () => {
      const key = server.generateHostKey('wasshd demo host key');
      hostKeys.push(key);
      return key;
    },
  });
  const users = withDemoUser(options.users);
  const files = runtime.webFiles?.();

  let address: Address;
  if (options.workers !== undefined) {
    const settings: WorkerSettings = {
      hostKeys,
      users: [...users],
      ...(authorizedKeys ? { authorizedKeys } : {}),
      config: options.config,
      verbose: options.verbose,
      allowForward: options.allowForward,
      listen: options.listen,
      port: options.port ?? DEFAULT_PORT,
    };
    address = await runtime.workers!.start(options.workers, settings).catch((e: Error) => stop(e.message));
  } else {
    const sftp = options.sftp && { fs: 'root' in options.sftp ? new DirectoryFileSystem(options.sftp.root) : new MemoryFileSystem(), readOnly: options.sftpReadOnly };
    serveDemo(server, { users, verbose: options.verbose, allowForward: options.allowForward, sftp, log: (line) => console.error(line) });
    // Before listening: a signal that arrives as soon as the port is printed still shuts the server down.
    stopOnSignals(server);
    address = await server.startListening();
  }
  console.log(`listening on ${address.host}:${address.port}`);
  console.log(`connect with: ssh -p ${address.port} ${[...users.keys()][0]}@${address.host}`);
  if (options.wsPort !== undefined || files) {
    const endpoint = {
      port: options.wsPort ?? DEFAULT_WEB_PORT,
      ...(options.wsOrigins.length > 0 ? { allowedOrigins: options.wsOrigins } : {}),
      ...(files ? { files } : {}),
    };
    const ws = await server.startWebSocket(endpoint).catch((e: Error) => stop(e.message));
    console.log(`websocket on ${ws.host}:${ws.port}`);
    if (files) {
      // What the page shows before the user logs in, to be compared with this.
      for (const fingerprint of server.hostKeyFingerprints()) console.log(`host key ${fingerprint}`);
      console.log(`web on http://${ws.host.includes(':') ? `[${ws.host}]` : ws.host}:${ws.port}/`);
    }
  }
}

/** A worker process of `--workers`: serves the demo with the primary's settings; resolves where it listens. */
export function runDemoWorker(settings: WorkerSettings, runtime: DemoRuntime): Promise<Address> {
  const server = runtime.createServer({ localHost: settings.listen, localPort: settings.port, hostKeys: settings.hostKeys, ...authorizedKeysOption(settings.authorizedKeys) });
  serveSettings(server, settings, (line) => console.error(line));
  stopOnSignals(server);
  return server.startListening();
}
