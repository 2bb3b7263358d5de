/**
 * Forwarding with Debian's OpenSSH client: `ssh -W`, `ssh -L` and `ssh -R` (a fixed port and port 0)
 * through a TCP echo service on loopback, 16 MiB byte-exact each way, decided by `sshTunnelRequested` (which
 * sees where the client asks to go or to listen), with the byte counts in `sshTunnelClosed`; refusals and
 * failed connects shown to the client as OpenSSH prints them; remote forwarding and its cancellation with the
 * `ssh2` client too; a channel the server opens that the client refuses.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SSHServer, type SSHTunnelClosedEvent, type SSHTunnelRequestedEvent } from '../../ts/node/index.js';
import { BUN, BUN_DEMO, DENO, DENO_DEMO, NODE_DEMO, SSH_BASE, requirePrograms, run, sha256hex, startDemo, testData } from '../helpers/demo.js';
import { connect as connectSsh2 } from '../helpers/ssh2.js';

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
    const local = await freePort();
    forwardWith(port, '-L', `127.0.0.1:${local}:127.0.0.1:${echo.port}`);

    const through = async (seed: number): Promise<void> => {
      const data = testData(SIZE, seed);
      const back = await roundTripOnceListening(local, data);
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

  it('ssh -L to a Unix socket (direct-streamlocal): 4 MiB byte-exact each way, the handler told the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasshd-unix-'));
    const path = join(dir, 'echo.sock');
    const unixEcho = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((resolve) => unixEcho.listen(path, resolve));
    cleanup.push(() => new Promise((resolve) => unixEcho.close(resolve)));
    const { port, requested, closed } = await tunnelServer((e) => (e.accept = e.socketPath === path));
    const local = await freePort();
    forwardWith(port, '-L', `127.0.0.1:${local}:${path}`);
    const data = testData(4 * 1024 * 1024, 41);

    expect(sha256hex(await roundTripOnceListening(local, data))).toBe(sha256hex(data));
    expect(requested.map((e) => [e.direction, e.socketPath, e.address, e.port])).toEqual([['local', path, path, 0]]);
    await until(() => closed.length === 1, 'sshTunnelClosed');
    expect(closed[0]).toMatchObject({ bytesIn: data.length, bytesOut: data.length });
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
  it('forwards to loopback byte-exact (ssh -W, and ssh -R on a loopback port), refuses other targets, and forwards nothing without the flag', async () => {
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

    // Remote: a loopback bind, port 0.
    let stderr = '';
    const remote = spawn('sshpass', ['-p', PASSWORD, 'ssh', ...SSH_INFO, '-o', 'PubkeyAuthentication=no', '-o', 'ExitOnForwardFailure=yes', '-N', '-R', `0:127.0.0.1:${echo.port}`, '-p', String(forwarding.port), 'u@127.0.0.1']);
    remote.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    cleanup.push(() => remote.kill());
    await until(() => /Allocated port (\d+)/.test(stderr), 'the allocated port');
    const back = await roundTrip(Number(/Allocated port (\d+)/.exec(stderr)![1]), data);
    expect(sha256hex(back)).toBe(sha256hex(data));

    const plain = await startDemo(['--port', '0', '--user', `u:${PASSWORD}`], {}, command);
    cleanup.push(() => plain.stop());
    const off = await run('sshpass', sshArgs(plain.port, '-v', '-W', `127.0.0.1:${echo.port}`, 'u@127.0.0.1'));
    expect(off.stderr).toContain('open failed: administratively prohibited: forwarding is off (--allow-forward)');
    expect(echo.connections()).toBe(2);
  });
});

/** Sends `data` to 127.0.0.1:`port` and resolves with everything that comes back until the other side ends. */
async function roundTrip(port: number, data: Buffer): Promise<Buffer> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = tcpConnect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const ended = new Promise<void>((resolve) => socket.on('end', () => resolve()));
  socket.end(data);
  await ended;
  socket.destroy();
  return Buffer.concat(chunks);
}

/** `roundTrip`, tried again until the port listens (ssh sets a forward up after its login). */
async function roundTripOnceListening(port: number, data: Buffer): Promise<Buffer> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const back = await roundTrip(port, data).catch(() => undefined);
    if (back) return back;
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A loopback port nothing listens on (just bound and freed). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** `ssh -N` holding one forward (`-L SPEC` or `-R SPEC`) to the server on `port` until the test ends. */
function forwardWith(port: number, flag: '-L' | '-R', spec: string): void {
  const ssh = spawn('sshpass', sshArgs(port, '-N', '-o', 'ExitOnForwardFailure=yes', flag, spec, 'u@127.0.0.1'), { stdio: 'ignore' });
  cleanup.push(() => ssh.kill());
}

/** ssh with a log level that shows "Allocated port N" (INFO), the rest as SSH_BASE. */
const SSH_INFO = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentityAgent=none', '-o', 'LogLevel=INFO'];

describe('remote forwarding (tcpip-forward) with OpenSSH', () => {
  it('ssh -R 0 gets the bound port, and connections there reach the client\'s target: 16 MiB byte-exact, twice', async () => {
    requirePrograms('sshpass', 'ssh');
    const echo = await echoService();
    const { port, requested, closed } = await tunnelServer((e) => (e.accept = e.direction === 'remote'));
    let stderr = '';
    const ssh = spawn('sshpass', ['-p', PASSWORD, 'ssh', ...SSH_INFO, '-o', 'PubkeyAuthentication=no', '-o', 'ExitOnForwardFailure=yes', '-N', '-R', `0:127.0.0.1:${echo.port}`, '-p', String(port), 'u@127.0.0.1']);
    ssh.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    cleanup.push(() => ssh.kill());
    await until(() => /Allocated port (\d+)/.test(stderr), 'the allocated port');
    const bound = Number(/Allocated port (\d+)/.exec(stderr)![1]);
    expect(requested.map((e) => [e.direction, e.address, e.port])).toEqual([['remote', 'localhost', 0]]);

    for (const seed of [31, 32]) {
      const data = testData(SIZE, seed);
      const back = await roundTrip(bound, data);
      expect(back.length).toBe(SIZE);
      expect(sha256hex(back)).toBe(sha256hex(data));
    }
    await until(() => closed.length === 2, 'two sshTunnelClosed');
    expect(closed.map((c) => [c.direction, c.port, c.bytesIn, c.bytesOut])).toEqual([
      ['remote', bound, SIZE, SIZE],
      ['remote', bound, SIZE, SIZE],
    ]);
    expect(echo.connections()).toBe(2);
  });

  it('ssh -R on a fixed port listens there', async () => {
    const echo = await echoService();
    const { port } = await tunnelServer((e) => (e.accept = true));
    const fixed = await freePort();
    forwardWith(port, '-R', `127.0.0.1:${fixed}:127.0.0.1:${echo.port}`);
    const data = testData(1024 * 1024, 33);
    expect(sha256hex(await roundTripOnceListening(fixed, data))).toBe(sha256hex(data));
  });

  it('a refused remote forward makes ssh -R with ExitOnForwardFailure give up; nothing listens', async () => {
    const echo = await echoService();
    const { port, requested } = await tunnelServer((e) => e.reject());

    const r = await run('sshpass', sshArgs(port, '-N', '-o', 'ExitOnForwardFailure=yes', '-R', `0:127.0.0.1:${echo.port}`, 'u@127.0.0.1'));

    expect(r.stderr).toContain('remote port forwarding failed for listen port 0');
    expect(r.code).toBe(255);
    expect(requested).toHaveLength(1);
  });

  it('with the ssh2 client: forwardIn on port 0, a connection through it, unforwardIn stops the listener', async () => {
    const { server, port } = await tunnelServer((e) => (e.accept = true));
    const client = await connectSsh2(port, { username: 'u', password: PASSWORD });
    cleanup.push(() => client.end());
    // The client echoes what a forwarded connection sends it.
    client.on('tcp connection', (_info, accept) => {
      const stream = accept();
      stream.pipe(stream);
    });
    const bound = await new Promise<number>((resolve, reject) => client.forwardIn('127.0.0.1', 0, (err, p) => (err ? reject(err) : resolve(p))));
    expect(bound).toBeGreaterThan(0);
    const data = testData(4 * 1024 * 1024, 34);
    expect(sha256hex(await roundTrip(bound, data))).toBe(sha256hex(data));

    await new Promise<void>((resolve, reject) => client.unforwardIn('127.0.0.1', bound, (err) => (err ? reject(err) : resolve())));
    await expect(roundTrip(bound, data)).rejects.toThrow(/ECONNREFUSED/);
    expect(server.connections.size).toBe(1);
  });

  it('a channel the server opens that the client refuses rejects openChannel with the client\'s reason', async () => {
    let connectionId = -1;
    const { server, port } = await tunnelServer(() => {});
    server.on('connected', (e) => void (connectionId = e.connectionId));
    const ssh = spawn('sshpass', sshArgs(port, '-N', 'u@127.0.0.1'), { stdio: 'ignore' });
    cleanup.push(() => ssh.kill());
    await until(() => server.connections.get(connectionId)?.user !== undefined, 'the login');
    // OpenSSH takes forwarded-tcpip only for ports it asked to have forwarded.
    const data = Buffer.from([0, 0, 0, 9, ...Buffer.from('127.0.0.1'), 0, 0, 0x9c, 0x40, 0, 0, 0, 9, ...Buffer.from('127.0.0.1'), 0, 0, 0, 1]);
    await expect(server.openChannel(connectionId, 'forwarded-tcpip', data)).rejects.toThrow(/the client refused the channel: .*\(reason \d\)/);
  });
});
