/**
 * The demo server on Cloudflare workerd: `npm run demo:workerd -- --ws-port N [flags]`. A Worker has no TCP
 * listener, so this serves SSH over WebSocket only, at `ws://ADDR:PORT/ssh`, printing `websocket on ADDR:PORT`
 * once the Worker answers there. It bundles the demo Worker (workerd-worker.ts), writes a workerd config in a
 * temporary folder, passes the users, keys and settings through workerd's environment, and runs workerd in
 * the foreground until SIGINT or SIGTERM. Host keys are read or kept here, as the Node demo does, so that every
 * start (and every isolate) serves the same key.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SSHServer as NodeServer } from '../node/index.js';
import { AuthorizedKeysError, readAuthorizedKeys } from './authorized-keys.js';
import { CommandLine } from './cli.js';
import { bundleWorker, socketAddress, startWorkerd, workerdConfig } from './workerd-build.js';
import type { DemoSettings } from './workerd-worker.js';

const COMMAND = 'npm run demo:workerd --';
const cli: CommandLine = new CommandLine(
  'wasshd demo',
  `usage: ${COMMAND} --ws-port N [--listen ADDR] [--ws-origin ORIGIN]... [--host-key FILE]... [--user NAME:PASSWORD]...
       [--authorized-keys FILE] [--config NAME=VALUE]... [--verbose]`,
);

/** Where workerd's environment carries the settings (see DemoSettings). */
const SETTINGS_VARIABLE = 'WASSHD_DEMO';

/** A problem with what the command line points to: say so and exit 1. */
function stop(message: string): never {
  console.error(`wasshd demo: ${message}`);
  process.exit(1);
}

const values = cli.parse(process.argv.slice(2), {
  listen: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string' },
  'ws-port': { type: 'string' },
  'ws-origin': { type: 'string', multiple: true, default: [] },
  'host-key': { type: 'string', multiple: true, default: [] },
  user: { type: 'string', multiple: true, default: [] },
  'authorized-keys': { type: 'string' },
  config: { type: 'string', multiple: true, default: [] },
  verbose: { type: 'boolean', default: false },
});
if (values.port !== undefined) cli.fail('a Worker accepts no TCP connections: use --ws-port (SSH over WebSocket)');
const wsPortText = values['ws-port'];
if (wsPortText === undefined) cli.fail('--ws-port is required: a Worker serves SSH over WebSocket only');
if (!/^\d+$/.test(wsPortText) || Number(wsPortText) > 65535) cli.fail(`bad port: ${wsPortText}`);

const users = new Map<string, string>();
for (const u of values.user) {
  const colon = u.indexOf(':');
  if (colon < 1) cli.fail(`--user wants NAME:PASSWORD, got ${u}`);
  users.set(u.slice(0, colon), u.slice(colon + 1));
}

function read(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    return stop(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

let authorizedKeys: string[] = [];
const keysFile = values['authorized-keys'];
if (keysFile !== undefined) {
  try {
    authorizedKeys = readAuthorizedKeys(read(keysFile, '--authorized-keys'), keysFile).map((k) => k.openssh);
  } catch (e) {
    if (e instanceof AuthorizedKeysError) stop(e.message);
    throw e;
  }
}

const hostKeys = values['host-key'].map((file) => read(file, '--host-key'));
if (hostKeys.length === 0) {
  const stateDir = resolve(process.env.WASSHD_STATE_DIR ?? '.wasshd');
  const keyFile = join(stateDir, 'ssh_host_ed25519_key');
  if (existsSync(keyFile)) hostKeys.push(read(keyFile, 'the host key'));
  else {
    // The core generates it, here on Node: a Worker has no disk to keep it on.
    const key = new NodeServer().generateHostKey('wasshd demo host key');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(keyFile, key, { mode: 0o600 });
    hostKeys.push(key);
  }
  console.log(`state directory: ${stateDir}`);
}

if (users.size === 0) {
  const password = randomBytes(9).toString('base64url');
  users.set('demo', password);
  console.log(`user demo, password ${password}`);
}

const settings: DemoSettings = {
  hostKeys,
  users: [...users],
  authorizedKeys,
  config: values.config,
  ...(values['ws-origin'].length > 0 ? { allowedOrigins: values['ws-origin'] } : {}),
  verbose: values.verbose,
};

const buildDir = mkdtempSync(join(tmpdir(), 'wasshd-workerd-'));
const cleanUp = () => rmSync(buildDir, { recursive: true, force: true });
await bundleWorker(new URL('./workerd-worker.ts', import.meta.url).pathname, buildDir);
const configFile = join(buildDir, 'config.capnp');
writeFileSync(configFile, workerdConfig({ fromEnvironment: { [SETTINGS_VARIABLE]: SETTINGS_VARIABLE } }));

const host = values.listen;
const { child, port } = await startWorkerd(configFile, host, Number(wsPortText), { ...process.env, [SETTINGS_VARIABLE]: JSON.stringify(settings) }, 'inherit').catch(
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
