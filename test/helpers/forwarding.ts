/** What the forwarding tests share: a loopback echo service, a server deciding tunnels, ssh holding a forward, round trips. */

import { spawn } from 'node:child_process';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { afterEach } from 'vitest';
import { SSHServer, type SSHTunnelClosedEvent, type SSHTunnelRequestedEvent } from '../../ts/node/index.js';
import { SSH_BASE } from './demo.js';

export const PASSWORD = 'pw';

/** `sshpass` arguments for ssh logging in to `port` by password, then `args`. */
export const sshArgs = (port: number, ...args: string[]) => ['-p', PASSWORD, 'ssh', ...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-p', String(port), ...args];

/** ssh with a log level that shows "Allocated port N" (INFO), the rest as SSH_BASE. */
export const SSH_INFO = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentityAgent=none', '-o', 'LogLevel=INFO'];

/** Waits until `condition` holds, polling. */
export async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends `data` to 127.0.0.1:`target` (or the Unix socket at that path) and resolves with everything that comes back until the other side ends. */
export async function roundTrip(target: number | string, data: Buffer): Promise<Buffer> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = typeof target === 'string' ? netConnect(target, () => resolve(s)) : netConnect(target, '127.0.0.1', () => resolve(s));
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

/** `roundTrip`, tried again until the port or socket listens (ssh sets a forward up after its login). */
export async function roundTripOnceListening(target: number | string, data: Buffer): Promise<Buffer> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const back = await roundTrip(target, data).catch(() => undefined);
    if (back) return back;
    if (Date.now() > deadline) throw new Error(`nothing listened on ${target}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A loopback port nothing listens on (just bound and freed). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** A `forwarded-tcpip` open's data (RFC 4254 §7.2): the forward's address and port, then the originator's. */
export function forwardedTcpip(address: string, port: number, originatorAddress: string, originatorPort: number): Buffer {
  const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  const text = (t: string) => Buffer.concat([u32(Buffer.byteLength(t)), Buffer.from(t)]);
  return Buffer.concat([text(address), u32(port), text(originatorAddress), u32(originatorPort)]);
}

/**
 * The helpers that open what must close after each test of the calling file, and the list they put it on
 * (closed in reverse order).
 */
export function forwardingKit() {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  /**
   * A TCP service on loopback (or on the Unix socket at `path`) that sends back what it receives, and ends its
   * side when the client ends; `each` sees every connection instead of echoing it.
   */
  async function echoService(each?: (socket: Socket) => void, path?: string): Promise<{ port: number; connections: () => number }> {
    let count = 0;
    const sockets = new Set<Socket>();
    const server: Server = createServer({ allowHalfOpen: true }, (s) => {
      count++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      if (each) each(s);
      else s.pipe(s);
    });
    await new Promise<void>((resolve) => (path === undefined ? server.listen(0, '127.0.0.1', resolve) : server.listen(path, resolve)));
    cleanup.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    return { port: path === undefined ? (server.address() as { port: number }).port : 0, connections: () => count };
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

  /** `ssh -N` holding one forward (`-L SPEC` or `-R SPEC`) to the server on `port` until the test ends; `extra` goes before it. */
  function forwardWith(port: number, flag: '-L' | '-R', spec: string, extra: string[] = []): void {
    const ssh = spawn('sshpass', sshArgs(port, ...extra, '-N', '-o', 'ExitOnForwardFailure=yes', flag, spec, 'u@127.0.0.1'), { stdio: 'ignore' });
    cleanup.push(() => ssh.kill());
  }

  /** `ssh -N -R 0:127.0.0.1:TARGET` (`extra` before it) until the test ends; resolves with the port the server bound. */
  async function remotePortZero(port: number, target: number, extra: string[] = []): Promise<number> {
    let stderr = '';
    const ssh = spawn('sshpass', ['-p', PASSWORD, 'ssh', ...SSH_INFO, ...extra, '-o', 'PubkeyAuthentication=no', '-o', 'ExitOnForwardFailure=yes', '-N', '-R', `0:127.0.0.1:${target}`, '-p', String(port), 'u@127.0.0.1']);
    ssh.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    cleanup.push(() => ssh.kill());
    await until(() => /Allocated port (\d+)/.test(stderr), 'the allocated port');
    return Number(/Allocated port (\d+)/.exec(stderr)![1]);
  }

  return { cleanup, echoService, tunnelServer, forwardWith, remotePortZero };
}
