/**
 * The TCP settings on Node: UseIPv6 (0 IPv4 only, 1 IPv6 only, 2 both on one socket) seen from clients on
 * 127.0.0.1 and ::1; TcpNoDelay as Node's sockets are told it; KeepAliveTime as the kernel reports the
 * accepted socket's keep-alive timer (`ss -o`); both changed while listening, for the next accept. Deno and
 * Bun: test/runtimes/socket-settings.test.ts.
 */

import { Socket } from 'node:net';
import { afterEach, expect, it, vi } from 'vitest';
import { SSHServer } from '../../ts/node/index.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { requirePrograms } from '../helpers/demo.js';
import { served, serverTimer } from '../helpers/sockets.js';

const { servers, sockets } = closeAfterEach();
afterEach(() => void vi.restoreAllMocks());

async function listening(options: ConstructorParameters<typeof SSHServer>[0]): Promise<{ server: SSHServer; host: string; port: number }> {
  const server = new SSHServer({ localPort: 0, config: { PerSourcePenaltyExemptList: '127.0.0.1,::1' }, ...options });
  servers.push(server);
  server.generateHostKey();
  return { server, ...(await server.startListening()) };
}

/** Which of IPv4 and IPv6 loopback clients the server at `port` takes, and as which address. */
async function takes(server: SSHServer, port: number): Promise<string[]> {
  const seen: string[] = [];
  for (const host of ['127.0.0.1', '::1']) {
    const client = await served(host, port);
    if (!client) continue;
    sockets.push(client);
    await expect.poll(() => [...server.connections.values()].find((c) => c.remotePort === client.localPort)).toBeDefined();
    seen.push([...server.connections.values()].find((c) => c.remotePort === client.localPort)!.remoteHost);
  }
  return seen;
}

it.each([
  { useIPv6: 2, listensOn: '::', seen: ['::ffff:127.0.0.1', '::1'] },
  { useIPv6: 1, listensOn: '::', seen: ['::1'] },
  { useIPv6: 0, listensOn: '0.0.0.0', seen: ['127.0.0.1'] },
] as const)('UseIPv6=$useIPv6 on a wildcard localHost listens on $listensOn and takes $seen', async ({ useIPv6, listensOn, seen }) => {
  const { server, host, port } = await listening({ localHost: '::', useIPv6 });
  expect(host).toBe(listensOn);
  expect(await takes(server, port)).toEqual(seen);
});

it('UseIPv6 unset listens as localHost is written: :: takes both families, ::1 IPv6 only', async () => {
  const both = await listening({ localHost: '::' });
  expect(await takes(both.server, both.port)).toEqual(['::ffff:127.0.0.1', '::1']);
  const v6 = await listening({ localHost: '::1' });
  expect(v6.server.config('UseIPv6')).toBe('1');
  expect(await takes(v6.server, v6.port)).toEqual(['::1']);
});

it('applies TcpNoDelay and KeepAliveTime to each connection as it is accepted, a change to the next one', async () => {
  requirePrograms('ss');
  const noDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
  /** The last TCP_NODELAY the server's end of `client` was told. */
  const lastNoDelay = (client: Socket) => {
    const calls = noDelay.mock.calls.filter((_, i) => (noDelay.mock.contexts[i] as Socket).remotePort === client.localPort);
    return calls.at(-1)?.[0];
  };
  const { server, port } = await listening({ tcpNoDelay: false, keepAliveTime: 20_000 });

  const first = (await served('127.0.0.1', port))!;
  sockets.push(first);
  expect(lastNoDelay(first)).toBe(false);
  // ss prints whole seconds from 10 s on: the first probe is due 20 s after the last traffic.
  expect(serverTimer(first)).toMatch(/^keepalive,(1[5-9]|20)sec,0$/);

  server.config('TcpNoDelay=true');
  server.config('KeepAliveTime=0');
  const second = (await served('127.0.0.1', port))!;
  sockets.push(second);
  expect(lastNoDelay(second)).toBe(true);
  expect(serverTimer(second)).toBe('');
  // The first connection keeps what it was accepted with.
  expect(serverTimer(first)).toMatch(/^keepalive,/);
});
