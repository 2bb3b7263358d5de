/**
 * Local forwarding with Debian's OpenSSH client: `ssh -W` and `ssh -L` through a TCP echo service on
 * loopback, 16 MiB byte-exact each way, decided by `sshTunnelRequested` (which sees where the client asks to
 * go), with the byte counts in `sshTunnelClosed`; refusals and failed connects shown to the client as OpenSSH
 * prints them.
 */

import { spawn } from 'node:child_process';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SSHServer, type SSHTunnelClosedEvent, type SSHTunnelRequestedEvent } from '../../ts/node/index.js';
import { BUN, BUN_DEMO, DENO, DENO_DEMO, NODE_DEMO, SSH_BASE, requirePrograms, run, sha256hex, startDemo, testData } from '../helpers/demo.js';

const SIZE = 16 * 1024 * 1024;
const PASSWORD = 'pw';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A TCP service on loopback that sends back what it receives, and ends its side when the client ends. */
async function echoService(): Promise<{ port: number; connections: () => number }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (s) => {
    count++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as { port: number }).port, connections: () => count };
}

/** A server that logs in `u` by password and decides tunnels with `decide`. */
async function tunnelServer(decide: (e: SSHTunnelRequestedEvent) => void) {
  const server = new SSHServer({ localPort: 0 });
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === PASSWORD ? e.accept() : e.reject()));
  const requested: SSHTunnelRequestedEvent[] = [];
  const closed: SSHTunnelClosedEvent[] = [];
  server.on('sshTunnelRequested', (e) => {
    requested.push(e);
    decide(e);
  });
  server.on('sshTunnelClosed', (e) => void closed.push(e));
  const { port } = await server.startListening();
  cleanup.push(() => server.shutdown(500));
  return { server, port, requested, closed };
}

const sshArgs = (port: number, ...args: string[]) => ['-p', PASSWORD, 'ssh', ...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-p', String(port), ...args];

/** Waits until `condition` holds, polling. */
async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('local forwarding (direct-tcpip) with OpenSSH', () => {
  it('ssh -W carries 16 MiB to a loopback echo service and back byte-exact, and the tunnel closes with the counts', async () => {
    const echo = await echoService();
    const { port, requested, closed } = await tunnelServer((e) => (e.accept = e.address === '127.0.0.1'));
    const data = testData(SIZE, 7);

    const r = await run('sshpass', sshArgs(port, '-W', `127.0.0.1:${echo.port}`, 'u@127.0.0.1'), data);

    expect(r.stderr).toBe('');
    expect(r.stdout.length).toBe(SIZE);
    expect(sha256hex(r.stdout)).toBe(sha256hex(data));
    expect(requested.map((e) => ({ direction: e.direction, address: e.address, port: e.port }))).toEqual([{ direction: 'local', address: '127.0.0.1', port: echo.port }]);
    await until(() => closed.length === 1, 'sshTunnelClosed');
    expect(closed[0]).toMatchObject({ address: '127.0.0.1', port: echo.port, bytesIn: SIZE, bytesOut: SIZE });
    expect(echo.connections()).toBe(1);
  });

  it('ssh -L forwards a local port: 16 MiB through it byte-exact each way, from two connections at once', async () => {
    requirePrograms('sshpass', 'ssh');
    const echo = await echoService();
    const { port, closed } = await tunnelServer((e) => (e.accept = true));
    // A free local port for ssh to listen on.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const local = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const ssh = spawn('sshpass', sshArgs(port, '-N', '-o', 'ExitOnForwardFailure=yes', '-L', `127.0.0.1:${local}:127.0.0.1:${echo.port}`, 'u@127.0.0.1'), { stdio: 'ignore' });
    cleanup.push(() => ssh.kill());

    const through = async (seed: number): Promise<void> => {
      const data = testData(SIZE, seed);
      let socket: Socket | undefined;
      const deadline = Date.now() + 10_000;
      while (!socket) {
        socket = await new Promise<Socket | undefined>((resolve) => {
          const s = tcpConnect(local, '127.0.0.1', () => resolve(s));
          s.once('error', () => resolve(undefined));
        });
        if (!socket) {
          if (Date.now() > deadline) throw new Error('ssh -L never listened');
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      const ended = new Promise<void>((resolve) => socket.on('end', () => resolve()));
      socket.end(data);
      await ended;
      socket.destroy();
      const back = Buffer.concat(chunks);
      expect(back.length).toBe(SIZE);
      expect(sha256hex(back)).toBe(sha256hex(data));
    };
    await Promise.all([through(11), through(12)]);
    await until(() => closed.length === 2, 'two sshTunnelClosed');
    expect(closed.map((c) => [c.bytesIn, c.bytesOut])).toEqual([
      [SIZE, SIZE],
      [SIZE, SIZE],
    ]);
  });

  it('a refusal by the handler reaches the client with its reason and text; the target is never connected', async () => {
    const echo = await echoService();
    const { port } = await tunnelServer((e) => e.reject(1, `no tunnels to ${e.address}`));

    const r = await run('sshpass', [...sshArgs(port, '-v', '-W', `127.0.0.1:${echo.port}`, 'u@127.0.0.1')]);

    expect(r.stderr).toContain('open failed: administratively prohibited: no tunnels to 127.0.0.1');
    expect(r.code).toBe(255);
    expect(echo.connections()).toBe(0);
  });

  it('an accepted tunnel whose target refuses the connection fails to open with "connect failed"', async () => {
    const echo = await echoService();
    const closedPort = echo.port; // closed below, so that nothing listens there
    await cleanup.pop()!();
    const { port, closed } = await tunnelServer((e) => (e.accept = true));

    const r = await run('sshpass', [...sshArgs(port, '-v', '-W', `127.0.0.1:${closedPort}`, 'u@127.0.0.1')]);

    expect(r.stderr).toMatch(new RegExp(`open failed: connect failed: connect to 127\\.0\\.0\\.1 port ${closedPort} failed: .*ECONNREFUSED`));
    expect(r.code).toBe(255);
    expect(closed).toEqual([]);
  });

  it('nobody accepting leaves the channel to channelOpenRequest, which refuses it by default', async () => {
    const echo = await echoService();
    const { server, port, requested } = await tunnelServer(() => {});
    const asked: string[] = [];
    server.on('channelOpenRequest', (e) => void asked.push(e.service));

    const r = await run('sshpass', [...sshArgs(port, '-v', '-W', `127.0.0.1:${echo.port}`, 'u@127.0.0.1')]);

    expect(r.stderr).toContain('open failed: administratively prohibited: channel refused');
    expect(requested).toHaveLength(1);
    expect(asked).toEqual(['direct-tcpip']);
    expect(echo.connections()).toBe(0);
  });
});

describe.each([
  { runtime: 'node', command: NODE_DEMO, requires: [] as string[] },
  { runtime: 'deno', command: DENO_DEMO, requires: [DENO] },
  { runtime: 'bun', command: BUN_DEMO, requires: [BUN] },
])('the $runtime demo with --allow-forward', ({ command, requires }) => {
  it('forwards to loopback byte-exact, refuses other targets, and forwards nothing without the flag', async () => {
    requirePrograms(...requires);
    const echo = await echoService();
    const data = testData(4 * 1024 * 1024, 3);
    const forwarding = await startDemo(['--port', '0', '--user', `u:${PASSWORD}`, '--allow-forward'], {}, command);
    cleanup.push(() => forwarding.stop());

    const through = await run('sshpass', sshArgs(forwarding.port, '-W', `127.0.0.1:${echo.port}`, 'u@127.0.0.1'), data);
    expect(through.stderr).toBe('');
    expect(sha256hex(through.stdout)).toBe(sha256hex(data));

    const elsewhere = await run('sshpass', sshArgs(forwarding.port, '-v', '-W', '192.0.2.1:22', 'u@127.0.0.1'));
    expect(elsewhere.stderr).toContain('open failed: administratively prohibited: forwarding to 192.0.2.1 refused: loopback targets only');

    const plain = await startDemo(['--port', '0', '--user', `u:${PASSWORD}`], {}, command);
    cleanup.push(() => plain.stop());
    const off = await run('sshpass', sshArgs(plain.port, '-v', '-W', `127.0.0.1:${echo.port}`, 'u@127.0.0.1'));
    expect(off.stderr).toContain('open failed: administratively prohibited: forwarding is off (--allow-forward)');
    expect(echo.connections()).toBe(1);
  });
});
