/**
 * The demo server's command line, the same on every runtime with files and a process (Node, Deno and Bun
 * run it through their `node:` modules): `npm start -- [flags]`, `npm run demo:deno -- [flags]`, ... Its
 * command line, output lines and shell are a stable contract that the tests, the benchmarks and the README
 * rely on. Each runtime's entry point passes its server and WebSocket endpoint.
 */

import type { SSHServer, SSHServerOptions } from '../server.js';
import { CommandLine } from './cli.js';
import { serveDemo } from './serve.js';
import { authorizedKeysOf, installHostKeys, parseDemoFlags, stop, withDemoUser } from './setup.js';

/** What a runtime's entry point gives the demo. */
export interface DemoRuntime {
  /** How the user starts it, for the usage line: `npm start --`, `npm run demo:deno --`. */
  command: string;
  createServer(options: SSHServerOptions): SSHServer;
}

const usage = (command: string) => `usage: ${command} [--listen ADDR] [--port N] [--host-key FILE]... [--user NAME:PASSWORD]...
       [--authorized-keys FILE] [--config NAME=VALUE]... [--ws-port N [--ws-origin ORIGIN]...] [--verbose]`;

/** Runs the demo until SIGINT or SIGTERM; `argv` is the arguments after the script. */
export async function runDemo(argv: string[], runtime: DemoRuntime): Promise<void> {
  const options = parseDemoFlags(new CommandLine('wasshd demo', usage(runtime.command)), argv);
  const authorizedKeys = authorizedKeysOf(options.authorizedKeysFile);
  const server = runtime.createServer({ localHost: options.listen, localPort: options.port ?? 2222 });
  for (const setting of options.config) server.config(setting);
  installHostKeys(options.hostKeyFiles, { install: (key) => server.addHostKey(key), generate: () => server.generateHostKey('wasshd demo host key') });
  const users = withDemoUser(options.users);

  serveDemo(server, { users, authorizedKeys, verbose: options.verbose, log: (line) => console.error(line) });

  // Before listening: a signal that arrives as soon as the port is printed still shuts the server down.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void server.shutdown().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), 2000).unref();
    });
  }

  const { host, port } = await server.startListening();
  console.log(`listening on ${host}:${port}`);
  console.log(`connect with: ssh -p ${port} ${[...users.keys()][0]}@${host}`);
  if (options.wsPort !== undefined) {
    const endpoint = { port: options.wsPort, ...(options.wsOrigins.length > 0 ? { allowedOrigins: options.wsOrigins } : {}) };
    const ws = await server.startWebSocket(endpoint).catch((e: Error) => stop(e.message));
    console.log(`websocket on ${ws.host}:${ws.port}`);
  }
}
