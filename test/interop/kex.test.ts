/**
 * Every key exchange method with every real client here that speaks it, one method at a time (the server
 * configured with that one, so methods that are off by default are switched on), each running `echo` over the
 * exchanged keys: OpenSSH 9.2's `ssh -o KexAlgorithms=NAME`, the ssh2 npm client, and AsyncSSH
 * (PyPI) for what Debian's OpenSSH lacks. The connection's `algorithms.kex` names the method.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectConfig } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { closeAfterEach } from '../helpers/cleanup.js';
import { serveEcho } from '../helpers/echo-server.js';
import { run, ssh } from '../helpers/demo.js';
import { connect as ssh2Connect, exec } from '../helpers/ssh2.js';

const root = new URL('../..', import.meta.url).pathname;
const ASYNCSSH = join(root, '.tools/asyncssh/bin/python');
const ASYNCSSH_CLIENT = join(root, 'test/helpers/asyncssh-client.py');
const USER = 'kex';
const PASSWORD = 'kex pw';

type Peer = 'openssh' | 'ssh2' | 'asyncssh';

/** Each method and the clients here that speak it. */
const METHODS: { name: string; peers: Peer[] }[] = [
  { name: 'mlkem768x25519-sha256', peers: ['asyncssh'] },
  { name: 'sntrup761x25519-sha512', peers: ['openssh'] },
  { name: 'sntrup761x25519-sha512@openssh.com', peers: ['openssh'] },
  { name: 'curve25519-sha256', peers: ['openssh', 'ssh2', 'asyncssh'] },
  { name: 'curve25519-sha256@libssh.org', peers: ['openssh', 'ssh2', 'asyncssh'] },
  { name: 'ecdh-sha2-nistp256', peers: ['openssh', 'ssh2', 'asyncssh'] },
  { name: 'ecdh-sha2-nistp384', peers: ['openssh', 'ssh2', 'asyncssh'] },
  { name: 'ecdh-sha2-nistp521', peers: ['openssh', 'ssh2', 'asyncssh'] },
  { name: 'diffie-hellman-group-exchange-sha256', peers: ['openssh', 'ssh2', 'asyncssh'] },
  { name: 'diffie-hellman-group16-sha512', peers: ['openssh', 'ssh2', 'asyncssh'] },
  { name: 'diffie-hellman-group18-sha512', peers: ['openssh', 'ssh2', 'asyncssh'] },
  { name: 'diffie-hellman-group14-sha256', peers: ['openssh', 'ssh2', 'asyncssh'] },
  // Off by default: the server in each test is configured with the one method.
  { name: 'diffie-hellman-group14-sha1', peers: ['openssh', 'ssh2', 'asyncssh'] },
  { name: 'diffie-hellman-group-exchange-sha1', peers: ['openssh', 'ssh2', 'asyncssh'] },
  { name: 'diffie-hellman-group1-sha1', peers: ['openssh', 'ssh2', 'asyncssh'] },
];

const { servers, clients } = closeAfterEach();

/** A server offering only `kex` (the defaults when it is undefined), recording each echo's negotiated kex. */
async function serve(kex?: string): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const { port } = await serveEcho(servers, { user: USER, password: PASSWORD }, kex ? { SSHKeyExchangeAlgorithms: kex } : {}, (server, id) =>
    seen.push(server.connections.get(id)!.algorithms!.kex),
  );
  return { port, seen };
}

async function viaPeer(peer: Peer, port: number, kex: string): Promise<string> {
  switch (peer) {
    case 'openssh': {
      const r = await ssh(port, { user: USER, password: PASSWORD, command: 'echo openssh', options: ['-o', `KexAlgorithms=${kex}`] });
      if (r.code !== 0) throw new Error(`ssh exited ${r.code}: ${r.stderr}`);
      return r.stdout.toString();
    }
    case 'ssh2': {
      const c = await ssh2Connect(port, { username: USER, password: PASSWORD, algorithms: { kex: [kex as never] } } as Partial<ConnectConfig>);
      clients.push(c);
      const r = await exec(c, 'echo ssh2');
      c.end();
      return r.stdout.toString();
    }
    case 'asyncssh': {
      if (!existsSync(ASYNCSSH)) throw new Error(`AsyncSSH is missing at ${ASYNCSSH}: run bash scripts/setup.sh`);
      const r = await run(ASYNCSSH, [ASYNCSSH_CLIENT, String(port), USER, PASSWORD, kex, 'echo asyncssh'], undefined, 60_000);
      if (r.code !== 0) throw new Error(`AsyncSSH exited ${r.code}: ${r.stderr}`);
      return r.stdout.toString();
    }
  }
}

describe.each(METHODS)('$name', ({ name, peers }) => {
  it.each(peers)('with %s', async (peer) => {
    const { port, seen } = await serve(name);
    expect(await viaPeer(peer, port, name)).toBe(`${peer}\n`);
    expect(seen).toEqual([name]);
  });
});

it('the defaults offer the post-quantum hybrid: a client that prefers it gets it', async () => {
  const { port, seen } = await serve();
  expect(await viaPeer('asyncssh', port, 'mlkem768x25519-sha256,curve25519-sha256')).toBe('asyncssh\n');
  expect(seen).toEqual(['mlkem768x25519-sha256']);
});
