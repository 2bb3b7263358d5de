/**
 * The demo server on Cloudflare workerd: `npm run demo:workerd -- --ws-port N [flags]`. A Worker has no TCP
 * listener, so this serves SSH over WebSocket only, at `ws://ADDR:PORT/ssh`, printing `websocket on ADDR:PORT`
 * once the Worker answers there. It bundles the demo Worker (workerd-worker.ts), writes a workerd config in a
 * temporary folder, passes the users, keys and settings through workerd's environment, and runs workerd in
 * the foreground until SIGINT or SIGTERM. Host keys are read or kept here, as the Node demo does, so that every
 * start (and every isolate) serves the same key.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SSHServer as NodeServer } from '../node/index.js';
import type { HostKeyFile } from '../settings.js';
import { CommandLine } from './cli.js';
import { authorizedKeysOf, installHostKeys, parseDemoFlags, stop, withDemoUser } from './setup.js';
import { bundleWorker, socketAddress, startWorkerd, workerdConfig } from './workerd-build.js';
import type { DemoSettings } from './serve.js';

const COMMAND = 'npm run demo:workerd --';
const cli: CommandLine = new CommandLine(
  'wasshd demo',
  `usage: ${COMMAND} --ws-port N [--listen ADDR] [--ws-origin ORIGIN]... [--host-key FILE]... [--host-key-passphrase PASS] [--user NAME:PASSWORD]...
       [--authorized-keys FILE] [--trusted-user-ca-keys FILE] [--config NAME=VALUE]... [--sftp-memory [--sftp-read-only]] [--verbose]`,
);

/** Where workerd's environment carries the settings (see DemoSettings). */
const SETTINGS_VARIABLE = 'WASSHD_DEMO';

const options = parseDemoFlags(cli, process.argv.slice(2));
if (options.port !== undefined) cli.fail('a Worker accepts no TCP connections: use --ws-port (SSH over WebSocket)');
const wsPort = options.wsPort;
if (wsPort === undefined) cli.fail('--ws-port is required: a Worker serves SSH over WebSocket only');
if (options.allowForward) cli.fail('--allow-forward: the Worker demo opens no TCP connections');
if (options.sftp && 'root' in options.sftp) cli.fail('--sftp-root: a Worker has no filesystem of its own; --sftp-memory serves a tree in memory');
const authorizedKeys = authorizedKeysOf(options.authorizedKeysFile);
const hostKeys: HostKeyFile[] = [];
installHostKeys(options.hostKeyFiles, options.hostKeyPassphrase, {
  // Read here, on Node, so that a bad file or passphrase stops the launcher rather than the Worker.
  install: (file) => {
    new NodeServer({ hostKeys: [file] });
    hostKeys.push(file);
  },
  generate: () => {
    // The core generates it here, on Node: a Worker has no disk to keep it on.
    const key = new NodeServer().generateHostKey('wasshd demo host key');
    hostKeys.push(key);
    return key;
  },
});
const users = withDemoUser(options.users);

const settings: DemoSettings = {
  hostKeys,
  users: [...users],
  ...(authorizedKeys ? { authorizedKeys } : {}),
  config: options.config,
  ...(options.wsOrigins.length > 0 ? { allowedOrigins: options.wsOrigins } : {}),
  verbose: options.verbose,
  ...(options.sftp ? { sftpMemory: { readOnly: options.sftpReadOnly } } : {}),
};

const buildDir = mkdtempSync(join(tmpdir(), 'wasshd-workerd-'));
const cleanUp = () => rmSync(buildDir, { recursive: true, force: true });
await bundleWorker(new URL('./workerd-worker.ts', import.meta.url).pathname, buildDir);
const configFile = join(buildDir, 'config.capnp');
writeFileSync(configFile, workerdConfig({ fromEnvironment: { [SETTINGS_VARIABLE]: SETTINGS_VARIABLE } }));

const host = options.listen;
const { child, port } = await startWorkerd(configFile, host, wsPort, { ...process.env, [SETTINGS_VARIABLE]: JSON.stringify(settings) }, 'inherit').catch(
  (e: Error) => {
    cleanUp();
    return stop(e.message);
  },
);

/** Set once workerd is being stopped: the status to exit with when it has. */
let exitStatus: number | undefined;
child.once('exit', (code, signal) => {
  cleanUp();
  if (exitStatus !== undefined) process.exit(exitStatus);
  stop(`workerd exited (${signal ?? code})`);
});
function stopWorkerd(status: number): void {
  exitStatus ??= status;
  child.kill('SIGTERM');
  // workerd ends its connections on SIGTERM; if one lingers, it is cut off.
  setTimeout(() => child.kill('SIGKILL'), 2000).unref();
}
// SIGHUP too: workerd, in a process group of its own, would outlive a closed terminal.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => stopWorkerd(0));

// The first request makes the isolate's server (and reports a bad --config); the endpoint answers 426 to it.
const probe = await fetch(`http://${socketAddress(host, port)}/ssh`).catch((e: Error) => e);
if (probe instanceof Error || probe.status !== 426) {
  console.error(`wasshd demo: ${probe instanceof Error ? probe.message : (await probe.text()).trim()}`);
  stopWorkerd(1);
} else {
  console.log(`websocket on ${host}:${port}`);
  console.log(`connect with: ssh -o ProxyCommand='npx wasshd-ws-proxy ws://${socketAddress(host, port)}/ssh' ${[...users.keys()][0]}@${host}`);
}
