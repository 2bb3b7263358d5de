/**
 * Forwarding with Debian's OpenSSH client: `ssh -W`, `ssh -L` and `ssh -R` (a fixed port and port 0)
 * through a TCP echo service on loopback, 16 MiB byte-exact each way, decided by `sshTunnelRequested` (which
 * sees where the client asks to go or to listen), with the byte counts in `sshTunnelClosed`; refusals and
 * failed connects shown to the client as OpenSSH prints them; remote forwarding and its cancellation with the
 * `ssh2` client too; a channel the server opens that the client refuses.
 */

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUN, BUN_DEMO, DENO, DENO_DEMO, NODE_DEMO, requirePrograms, run, sha256hex, startDemo, testData } from '../helpers/demo.js';
import { forwardedTcpip, forwardingKit, freePort, PASSWORD, roundTrip, roundTripOnceListening, sshArgs, until } from '../helpers/forwarding.js';
import { connect as connectSsh2 } from '../helpers/ssh2.js';

const SIZE = 16 * 1024 * 1024;

const { cleanup, echoService, tunnelServer, forwardWith, remotePortZero } = forwardingKit();

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
    await echoService(undefined, path);
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
  it('forwards to loopback byte-exact (ssh -W, and ssh -R on a loopback port), refuses other targets and Unix sockets, and forwards nothing without the flag', async () => {
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
    const back = await roundTrip(await remotePortZero(forwarding.port, echo.port), data);
    expect(sha256hex(back)).toBe(sha256hex(data));

    // Remote, on a Unix socket: refused, whatever the path.
    const socketPath = join(mkdtempSync(join(tmpdir(), 'wasshd-demo-')), 'r.sock');
    const unix = await run('sshpass', sshArgs(forwarding.port, '-N', '-o', 'ExitOnForwardFailure=yes', '-R', `${socketPath}:127.0.0.1:${echo.port}`, 'u@127.0.0.1'));
    expect(unix.stderr).toContain(`remote port forwarding failed for listen path ${socketPath}`);
    expect(existsSync(socketPath)).toBe(false);

    const plain = await startDemo(['--port', '0', '--user', `u:${PASSWORD}`], {}, command);
    cleanup.push(() => plain.stop());
    const off = await run('sshpass', sshArgs(plain.port, '-v', '-W', `127.0.0.1:${echo.port}`, 'u@127.0.0.1'));
    expect(off.stderr).toContain('open failed: administratively prohibited: forwarding is off (--allow-forward)');
    expect(echo.connections()).toBe(2);
  });
});

describe('remote forwarding (tcpip-forward) with OpenSSH', () => {
  it('ssh -R 0 gets the bound port, and connections there reach the client\'s target: 16 MiB byte-exact, twice', async () => {
    requirePrograms('sshpass', 'ssh');
    const echo = await echoService();
    const { port, requested, closed } = await tunnelServer((e) => (e.accept = e.direction === 'remote'));
    const bound = await remotePortZero(port, echo.port);
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
    await expect(server.openChannel(connectionId, 'forwarded-tcpip', forwardedTcpip('127.0.0.1', 40_000, '127.0.0.1', 1))).rejects.toThrow(/the client refused the channel: .*\(reason \d\)/);
  });
});
