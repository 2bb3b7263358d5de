/**
 * One conformance suite for every runtime the server runs on: the same checks, with Debian's OpenSSH client,
 * against each runtime's demo started by its own command (the demo contract: `--port 0`, `listening on
 * ADDR:PORT`, and with `--ws-port 0` also `websocket on ADDR:PORT`). A runtime joins by adding a row to
 * RUNTIMES; its WebSocket endpoint, by a row with `over: 'websocket'`, which OpenSSH reaches through the
 * wasshd-ws-proxy bridge.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUN, BUN_DEMO, COMPONENT_DEMO, DENO, DENO_DEMO, WORKERD, WORKERD_DEMO, makeUserKey, NODE_DEMO, nodeDemoOn, requirePrograms, run, sha256hex, SSH_BASE, ssh, startDemo, testData, viaWebSocket, type Demo } from '../helpers/demo.js';

interface RuntimeUnderTest {
  name: string;
  /** The program and arguments that start its demo, before the demo's own flags. */
  command: string[];
  /** Programs it needs besides Node. */
  requires: string[];
  /** How OpenSSH reaches the demo: its TCP port (default), or its WebSocket endpoint through the bridge. */
  over?: 'websocket';
  /** The demo serves WebSocket only (a Worker has no TCP listener). */
  webSocketOnly?: true;
}

const RUNTIMES: RuntimeUnderTest[] = [
  { name: 'node', command: NODE_DEMO, requires: [] },
  { name: 'component', command: COMPONENT_DEMO, requires: [] },
  { name: 'node22', command: nodeDemoOn(22), requires: [nodeDemoOn(22)[0]!] },
  { name: 'node24', command: nodeDemoOn(24), requires: [nodeDemoOn(24)[0]!] },
  { name: 'deno', command: DENO_DEMO, requires: [DENO] },
  { name: 'bun', command: BUN_DEMO, requires: [BUN] },
  // uWebSockets.js has a native build for Node 20 only on Debian 12's glibc (see the README).
  { name: 'node over WebSocket', command: NODE_DEMO, requires: [], over: 'websocket' },
  { name: 'deno over WebSocket', command: DENO_DEMO, requires: [DENO], over: 'websocket' },
  { name: 'bun over WebSocket', command: BUN_DEMO, requires: [BUN], over: 'websocket' },
  { name: 'workerd over WebSocket', command: WORKERD_DEMO, requires: [WORKERD], over: 'websocket', webSocketOnly: true },
];

const USER = 'conform';
const PASSWORD = 'conformance pw';
const MiB = 1024 * 1024;
const key = makeUserKey();

describe.each(RUNTIMES)('$name', ({ command, requires, over, webSocketOnly }) => {
  let demo: Demo;
  /** The port ssh is given, and the options that reach the endpoint under test through it. */
  let port: number;
  let reach: string[];
  beforeAll(async () => {
    requirePrograms(...requires);
    const args = ['--user', `${USER}:${PASSWORD}`, '--authorized-keys', key.authorizedKeys, '--verbose'];
    demo = await startDemo(over === 'websocket' ? [...args, '--ws-port', '0'] : args, {}, command, { tcp: !webSocketOnly });
    port = over === 'websocket' ? demo.wsPort! : demo.port;
    reach = over === 'websocket' ? viaWebSocket(port) : [];
  });
  afterAll(() => demo?.stop());

  const withKey = (commandLine: string, input?: Buffer, options: string[] = []) =>
    ssh(port, { user: USER, keyFile: key.keyFile, command: commandLine, options: [...reach, ...options], ...(input ? { input } : {}) });

  it('runs a command', async () => {
    const r = await withKey('echo conformance');
    expect(r.stdout.toString()).toBe('conformance\n');
    expect(r.code).toBe(0);
  });

  it('moves 16 MiB byte-exact both ways', async () => {
    const data = testData(16 * MiB, 7);
    const up = await withKey('sha256', data);
    expect(up.stdout.toString().trim()).toBe(sha256hex(data));
    const down = await withKey(`source ${16 * MiB}`);
    expect(down.stdout.length).toBe(16 * MiB);
    expect(sha256hex(down.stdout)).toBe(sha256hex(Buffer.from(Uint8Array.from({ length: 16 * MiB }, (_, i) => i % 251))));
  });

  it('serves the echo subsystem on the channel\'s web streams: 16 MiB back byte-exact', async () => {
    const data = testData(16 * MiB, 9);
    const r = await withKey('echo', data, ['-s']);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(16 * MiB);
    expect(sha256hex(r.stdout)).toBe(sha256hex(data));
  });

  it('runs an interactive shell on a pty', async () => {
    const r = await run('ssh', [...SSH_BASE, ...reach, '-i', key.keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-tt', '-p', String(port), `${USER}@127.0.0.1`], Buffer.from('pty\r\nexit 3\r\n'));
    expect(r.stdout.toString()).toMatch(/ \d+x\d+\r\n/);
    expect(r.code).toBe(3);
  });

  it('rekeys while data moves', async () => {
    const rekeys = () => (demo.stderr().match(/keys re-exchanged/g) ?? []).length;
    const before = rekeys();
    const data = testData(4 * MiB, 8);
    const r = await withKey('sha256', data, ['-o', 'RekeyLimit=256K']);
    expect(r.stdout.toString().trim()).toBe(sha256hex(data));
    await demo.settled();
    expect(rekeys() - before).toBeGreaterThan(4);
  });

  it('refuses a wrong password', async () => {
    const r = await ssh(port, { user: USER, password: 'not the password', command: 'echo no', options: [...reach, '-o', 'NumberOfPasswordPrompts=1'] });
    expect(r.code, 'sshpass: the password was refused').toBe(5);
    expect(r.stdout.length).toBe(0);
  });
});
