/**
 * AllowedClients and BlockedClients with Debian's OpenSSH client on IPv4 (127.0.0.1) and IPv6 (::1)
 * loopback, through one dual-stack listener (UseIPv6=2, where IPv4 clients arrive as ::ffff:127.0.0.1):
 * single addresses and ranges, changed while the server runs (each change applies to the next accept). A
 * client kept out gets no byte of SSH, only the close; a session already open goes on; a connectionRequest
 * handler may still let a listed-out client in, as the reference's Accept.
 */

import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { SSHServer, type ConnectionRequestEvent } from '../../ts/node/index.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { run, SSH_BASE } from '../helpers/demo.js';

const { servers, sockets } = closeAfterEach();

async function dualStack(options: ConstructorParameters<typeof SSHServer>[0] = {}): Promise<{ server: SSHServer; port: number; requests: ConnectionRequestEvent[]; logs: string[] }> {
  const server = new SSHServer({ localHost: '::', localPort: 0, useIPv6: 2, config: { PerSourcePenaltyExemptList: '127.0.0.0/8,::1' }, ...options });
  servers.push(server);
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.password === 'pw' ? e.accept() : e.reject()));
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec' || e.request.command === 'wait') return;
    await server.sendText(e.connectionId, e.channelId, `from ${server.connections.get(e.connectionId)!.remoteHost}\n`);
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  const requests: ConnectionRequestEvent[] = [];
  server.on('connectionRequest', (e) => void requests.push({ ...e }));
  const logs: string[] = [];
  server.on('log', (e) => void logs.push(e.message));
  const { port } = await server.startListening();
  return { server, port, requests, logs };
}

/** OpenSSH's `ssh -p PORT u@HOST command` with the password, from `from` if given; its exit code and output. */
async function ssh(port: number, host: string, { command = 'x', from }: { command?: string; from?: string } = {}): Promise<{ code: number | null; out: string; err: string }> {
  const bind = from ? ['-b', from] : [];
  const r = await run('sshpass', ['-p', 'pw', 'ssh', ...SSH_BASE, ...bind, '-o', 'PubkeyAuthentication=no', '-p', String(port), `u@${host}`, command]);
  return { code: r.code, out: r.stdout.toString(), err: r.stderr };
}

/** Everything a raw TCP client from `host` receives before the server closes (at most 2 s). */
function firstBytes(port: number, host: string): Promise<Buffer> {
  const socket = connect({ host, port });
  sockets.push(socket);
  const got: Buffer[] = [];
  socket.on('data', (d: Buffer) => got.push(d));
  socket.on('error', () => {});
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(Buffer.concat(got)), 2000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
  });
}

const CLOSED = /Connection closed|Connection reset|kex_exchange_identification/;

it('BlockedClients with single addresses keeps IPv4 or IPv6 out, set at run time, while an open session goes on', async () => {
  const { server, port, requests, logs } = await dualStack();
  // A session that is open before the list is set: it ends only when told to.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec' || e.request.command !== 'wait') return;
    await released;
    await server.sendText(e.connectionId, e.channelId, 'still here\n');
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  const waiting = ssh(port, '127.0.0.1', { command: 'wait' });
  await expect.poll(() => server.channels.length).toBe(1);

  server.config('BlockedClients=127.0.0.1');
  expect(await firstBytes(port, '127.0.0.1')).toHaveLength(0);
  const blocked = await ssh(port, '127.0.0.1');
  expect(blocked.code).toBe(255);
  expect(blocked.err).toMatch(CLOSED);
  expect(await ssh(port, '::1')).toMatchObject({ code: 0, out: 'from ::1\n' });

  server.config('BlockedClients=::1');
  expect(await firstBytes(port, '::1')).toHaveLength(0);
  expect((await ssh(port, '::1')).code).toBe(255);
  expect(await ssh(port, '127.0.0.1')).toMatchObject({ code: 0, out: 'from ::ffff:127.0.0.1\n' });

  release();
  expect(await waiting).toMatchObject({ code: 0, out: 'still here\n' });
  expect(requests.filter((r) => r.refusedBy).map((r) => [r.address, r.refusedBy, r.accept])).toEqual([
    ['::ffff:127.0.0.1', 'BlockedClients', false],
    ['::ffff:127.0.0.1', 'BlockedClients', false],
    ['::1', 'BlockedClients', false],
    ['::1', 'BlockedClients', false],
  ]);
  expect(logs.filter((l) => l.includes('in BlockedClients'))).toHaveLength(4);
});

it('AllowedClients with ranges lets in only what they cover, IPv4 rules matching IPv4-mapped clients', async () => {
  const { server, port, requests } = await dualStack({ allowedClients: ['127.0.0.0/8'] });
  expect(await ssh(port, '127.0.0.1')).toMatchObject({ code: 0, out: 'from ::ffff:127.0.0.1\n' });
  expect(await firstBytes(port, '::1')).toHaveLength(0);
  expect((await ssh(port, '::1')).err).toMatch(CLOSED);

  server.config('AllowedClients=::/127,10.*');
  expect(await ssh(port, '::1')).toMatchObject({ code: 0, out: 'from ::1\n' });
  expect((await ssh(port, '127.0.0.1')).err).toMatch(CLOSED);

  // Both lists: a blocked range inside an allowed one keeps its addresses out (clients bound to other loopback addresses).
  server.config('AllowedClients=127.*');
  server.config('BlockedClients=127.0.0.0/30');
  expect((await ssh(port, '127.0.0.1', { from: '127.0.0.2' })).err).toMatch(CLOSED);
  expect(await ssh(port, '127.0.0.1', { from: '127.0.0.5' })).toMatchObject({ code: 0, out: 'from ::ffff:127.0.0.5\n' });
  expect(requests.filter((r) => r.refusedBy).map((r) => r.refusedBy)).toEqual(['AllowedClients', 'AllowedClients', 'AllowedClients', 'BlockedClients']);
});

it('lets a listed-out client in when a connectionRequest handler accepts it, as the reference does', async () => {
  const { server, port } = await dualStack({ blockedClients: ['::1', '127.0.0.1'] });
  server.on('connectionRequest', (e) => {
    if (e.address === '::1') e.accept = true;
  });
  expect(await ssh(port, '::1')).toMatchObject({ code: 0, out: 'from ::1\n' });
  expect((await ssh(port, '127.0.0.1')).err).toMatch(CLOSED);
});
