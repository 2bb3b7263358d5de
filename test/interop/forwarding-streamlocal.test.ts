/**
 * Remote forwarding of Unix sockets (`streamlocal-forward@openssh.com`, OpenSSH's `ssh -R /path:HOST:PORT`):
 * the server listens on the socket the client names once `sshTunnelRequested` accepts, opens a
 * `forwarded-streamlocal@openssh.com` channel for each connection there, and removes the socket file when the
 * forward ends (cancelled, or with its connection). With Debian's OpenSSH client and with ssh2, on Node, and
 * with OpenSSH on Deno and Bun, where `ssh -L PORT:/path` (`direct-streamlocal@openssh.com`) is tested too.
 */

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeRuntime } from '../../ts/node/index.js';
import { SSHServer } from '../../ts/server.js';
import { BUN, DENO, requirePrograms, run, sha256hex, startDemo, testData } from '../helpers/demo.js';
import { forwardingKit, freePort, PASSWORD, roundTrip, roundTripOnceListening, sshArgs, until } from '../helpers/forwarding.js';
import { connect as connectSsh2 } from '../helpers/ssh2.js';

const SIZE = 16 * 1024 * 1024;

const { cleanup, echoService, tunnelServer, forwardWith } = forwardingKit();

/** A fresh directory for sockets, and a socket path in it. */
const socketPath = (): string => join(mkdtempSync(join(tmpdir(), 'wasshd-rsock-')), 'forward.sock');

describe('remote forwarding of a Unix socket (streamlocal-forward) with OpenSSH', () => {
  it('ssh -R /path:HOST:PORT: 16 MiB through the socket to the client\'s echo service and back byte-exact; the file goes with the connection', async () => {
    requirePrograms('sshpass', 'ssh');
    const echo = await echoService();
    const path = socketPath();
    const { server, port, requested, closed } = await tunnelServer((e) => (e.accept = e.socketPath === path));
    forwardWith(port, '-R', `${path}:127.0.0.1:${echo.port}`);
    const data = testData(SIZE, 51);

    const back = await roundTripOnceListening(path, data);

    expect(back.length).toBe(SIZE);
    expect(sha256hex(back)).toBe(sha256hex(data));
    expect(requested.map((e) => [e.direction, e.socketPath, e.address, e.port])).toEqual([['remote', path, path, 0]]);
    await until(() => closed.length === 1, 'sshTunnelClosed');
    expect(closed[0]).toMatchObject({ direction: 'remote', socketPath: path, address: path, port: 0, bytesIn: SIZE, bytesOut: SIZE });
    expect(echo.connections()).toBe(1);

    // ssh goes, and with its connection the forward and its socket file.
    await cleanup.pop()!();
    await until(() => server.connections.size === 0, 'the connection to end');
    await until(() => !existsSync(path), 'the socket file to be removed');
  });

  it('a path the handler refuses makes ssh -R with ExitOnForwardFailure give up; no file is made', async () => {
    const echo = await echoService();
    const path = socketPath();
    const { port, requested } = await tunnelServer((e) => e.reject());

    const r = await run('sshpass', sshArgs(port, '-N', '-o', 'ExitOnForwardFailure=yes', '-R', `${path}:127.0.0.1:${echo.port}`, 'u@127.0.0.1'));

    expect(r.stderr).toContain(`remote port forwarding failed for listen path ${path}`);
    expect(r.code).toBe(255);
    expect(existsSync(path)).toBe(false);
    expect(requested.map((e) => [e.direction, e.socketPath])).toEqual([['remote', path]]);
  });
});

describe('remote forwarding of a Unix socket where the runtime listens on none', () => {
  it('is refused after the handler accepted it, and the host hears why', async () => {
    const server = new SSHServer({ ...nodeRuntime, listenUnix: undefined }, { localPort: 0 });
    server.generateHostKey();
    server.on('userAuthRequest', (e) => (e.password === PASSWORD ? e.accept() : e.reject()));
    server.on('sshTunnelRequested', (e) => void (e.accept = true));
    const errors: string[] = [];
    server.on('error', (e) => void errors.push(e.description));
    const { port } = await server.startListening();
    cleanup.push(() => server.shutdown(500));
    const path = socketPath();

    const r = await run('sshpass', sshArgs(port, '-N', '-o', 'ExitOnForwardFailure=yes', '-R', `${path}:127.0.0.1:9`, 'u@127.0.0.1'));

    expect(r.stderr).toContain(`remote port forwarding failed for listen path ${path}`);
    expect(errors).toEqual([`remote forward on ${path}: this runtime listens on no Unix sockets`]);
    expect(existsSync(path)).toBe(false);
  });
});

describe('remote forwarding of a Unix socket with the ssh2 client', () => {
  it('forwards in, carries a connection, cancels (the file goes, the connection stays); an existing file is refused and reported', async () => {
    const path = socketPath();
    const { server, port } = await tunnelServer((e) => (e.accept = true));
    const errors: string[] = [];
    server.on('error', (e) => void errors.push(e.description));
    // ssh2 sends OpenSSH's extensions only to a server it takes for OpenSSH unless told otherwise.
    const client = await connectSsh2(port, { username: 'u', password: PASSWORD, strictVendor: false });
    cleanup.push(() => client.end());
    const seen: string[] = [];
    client.on('unix connection', (info, accept) => {
      seen.push(info.socketPath);
      const stream = accept();
      stream.pipe(stream);
    });
    await new Promise<void>((resolve, reject) => client.openssh_forwardInStreamLocal(path, (err) => (err ? reject(err) : resolve())));
    expect(existsSync(path)).toBe(true);
    const data = testData(4 * 1024 * 1024, 52);
    expect(sha256hex(await roundTrip(path, data))).toBe(sha256hex(data));
    expect(seen).toEqual([path]);

    await new Promise<void>((resolve, reject) => client.openssh_unforwardInStreamLocal(path, (err) => (err ? reject(err) : resolve())));
    expect(existsSync(path)).toBe(false);
    await expect(roundTrip(path, data)).rejects.toThrow(/ENOENT/);
    expect(server.connections.size).toBe(1);

    // A file already there is left alone: the request fails, and the host hears why.
    writeFileSync(path, 'not a socket');
    await expect(new Promise<void>((resolve, reject) => client.openssh_forwardInStreamLocal(path, (err) => (err ? reject(err) : resolve())))).rejects.toThrow();
    expect(errors.some((d) => d.startsWith(`remote forward on ${path}: `) && d.includes('EADDRINUSE'))).toBe(true);
  });
});

describe.each([
  { runtime: 'deno', command: [DENO, 'run', '--sloppy-imports', '--allow-net', '--allow-read', '--allow-write', 'test/fixtures/forward-deno.ts'] },
  { runtime: 'bun', command: [BUN, 'test/fixtures/forward-bun.ts'] },
])('forwarding of Unix sockets on $runtime', ({ command }) => {
  it('ssh -R /path:HOST:PORT: 4 MiB each way byte-exact, the tunnel closed with the path and counts, the file removed with the connection', async () => {
    requirePrograms('sshpass', 'ssh', command[0]!);
    const echo = await echoService();
    const server = await startDemo([], {}, command);
    cleanup.push(() => server.stop());
    const path = socketPath();
    forwardWith(server.port, '-R', `${path}:127.0.0.1:${echo.port}`);
    const data = testData(4 * 1024 * 1024, 53);

    expect(sha256hex(await roundTripOnceListening(path, data))).toBe(sha256hex(data));

    await until(() => server.stdout().includes('"closed"'), 'sshTunnelClosed');
    const closed = JSON.parse(/^\{"closed".*$/m.exec(server.stdout())![0]) as { closed: Record<string, unknown> };
    expect(closed.closed).toMatchObject({ direction: 'remote', socketPath: path, bytesIn: data.length, bytesOut: data.length });
    await cleanup.pop()!();
    await until(() => !existsSync(path), 'the socket file to be removed');
  });

  it('ssh -L PORT:/path (direct-streamlocal): 4 MiB each way byte-exact through a Unix-socket echo service', async () => {
    requirePrograms('sshpass', 'ssh', command[0]!);
    const path = socketPath();
    const echo = await echoService(undefined, path);
    const server = await startDemo([], {}, command);
    cleanup.push(() => server.stop());
    const local = await freePort();
    forwardWith(server.port, '-L', `127.0.0.1:${local}:${path}`);
    const data = testData(4 * 1024 * 1024, 54);

    expect(sha256hex(await roundTripOnceListening(local, data))).toBe(sha256hex(data));
    expect(echo.connections()).toBe(1);
    await until(() => server.stdout().includes('"closed"'), 'sshTunnelClosed');
    expect(JSON.parse(/^\{"closed".*$/m.exec(server.stdout())![0])).toMatchObject({ closed: { direction: 'local', socketPath: path, bytesIn: data.length, bytesOut: data.length } });
  });
});
