/**
 * AllowedClients and BlockedClients as lists: what each entry form matches (addresses, CIDR ranges, the
 * reference's wildcards, IPv4-mapped IPv6 on either side), and a bad entry refused at `config()` with a
 * message naming it, the list in force left as it was. The SSHServer's socket settings are read back too.
 */

import { expect, it } from 'vitest';
import { ClientList } from '../../ts/client-lists.js';
import { ErrorCode, SSHServer } from '../../ts/node/index.js';

const CLIENTS = ['127.0.0.1', '::ffff:127.0.0.1', '::1', '10.2.3.4', '192.168.1.7', 'fe80::5%eth0', '2001:db8::9', 'client'];

it.each([
  ['*', CLIENTS],
  ['127.0.0.1', ['127.0.0.1', '::ffff:127.0.0.1']],
  ['::ffff:127.0.0.1', ['127.0.0.1', '::ffff:127.0.0.1']],
  ['::ffff:127.0.0.0/104', ['127.0.0.1', '::ffff:127.0.0.1']],
  ['::1', ['::1']],
  ['10.*', ['10.2.3.4']],
  ['10.*.*.*', ['10.2.3.4']],
  ['192.168.1.*', ['192.168.1.7']],
  ['10.1.2.3/8, fe80::/10', ['10.2.3.4', 'fe80::5%eth0']],
  ['2001:db8::/32,127.0.0.0/8', ['127.0.0.1', '::ffff:127.0.0.1', '2001:db8::9']],
  ['', []],
])('%j matches %j', (list, matched) => {
  const clients = new ClientList('AllowedClients', list);
  expect(CLIENTS.filter((c) => clients.matches(c))).toEqual(matched);
  expect(clients.empty).toBe(list === '');
});

it.each(['300.1.1.1', '10.0.0', 'example.com', '10.0.0.0/33', '::1/129', '1.2.3.4/x', '10.*.0.1', 'fe80::*', '1::2::3', '10.0.0.1/8/8', 'fe80::1%eth0'])(
  'refuses %j at config() with a message naming it, and keeps the list it had',
  (entry) => {
    const server = new SSHServer();
    server.config('BlockedClients=10.9.9.9');
    expect(() => server.config(`BlockedClients=192.0.2.1,${entry}`)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringContaining(`BlockedClients: "${entry}" is not an IPv4 or IPv6 address`) }),
    );
    expect(server.config('BlockedClients')).toBe('10.9.9.9');
  },
);

it('reads the lists and socket settings back as set, from options or config(), with the defaults first', () => {
  const server = new SSHServer({ allowedClients: ['127.0.0.0/8', '::1'], tcpNoDelay: false, keepAliveTime: 30_000 });
  expect(['AllowedClients', 'BlockedClients', 'TcpNoDelay', 'KeepAliveTime', 'UseIPv6'].map((n) => server.config(n))).toEqual(['127.0.0.0/8,::1', '', 'false', '30000', '0']);
  expect(new SSHServer().config('AllowedClients')).toBe('*');
  expect(new SSHServer().config('TcpNoDelay')).toBe('true');
  expect(new SSHServer({ localHost: '::' }).config('UseIPv6')).toBe('2');
  expect(new SSHServer({ localHost: '::1' }).config('UseIPv6')).toBe('1');
  expect(server.config('UseIPv6=2')).toBe('2');
  expect(server.config('TcpNoDelay=True')).toBe('true');
  expect(server.config('KeepAliveTime=0')).toBe('0');
  for (const bad of ['UseIPv6=3', 'UseIPv6=', 'TcpNoDelay=yes please', 'KeepAliveTime=-5', 'KeepAliveInterval=1000', 'KeepAliveRetryCount=3']) {
    expect(() => server.config(bad), bad).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  }
});

it('refuses a UseIPv6 that localHost cannot listen on, when listening starts', async () => {
  for (const [localHost, useIPv6] of [['127.0.0.1', 1], ['::1', 0], ['127.0.0.1', 2]] as const) {
    const server = new SSHServer({ localHost, localPort: 0, useIPv6 });
    server.generateHostKey();
    await expect(server.startListening()).rejects.toThrow(`UseIPv6=${useIPv6} listens on`);
    expect(server.listening).toBe(false);
  }
});
