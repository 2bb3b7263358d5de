/**
 * The legacy ciphers, off by default, with AsyncSSH (PyPI), which still speaks those Debian's OpenSSH 9.2
 * dropped: each offered by the demo once configured, 1 MiB through `cat` byte-exact. The CBC modes OpenSSH
 * still has are in crypto-providers.test.ts too.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startDemo, type Demo } from '../helpers/demo.js';

const root = new URL('../..', import.meta.url).pathname;
const ASYNCSSH = join(root, '.tools/asyncssh/bin/python');
const ASYNCSSH_CLIENT = join(root, 'test/helpers/asyncssh-client.py');
const USER = 'legacy';
const PASSWORD = 'legacy pw';
const CIPHERS = ['blowfish-cbc', 'cast128-cbc', 'arcfour', 'arcfour128', 'arcfour256', 'aes128-cbc', '3des-cbc'];

let demo: Demo;
beforeAll(async () => {
  demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--config', `SSHEncryptionAlgorithms=${CIPHERS.join(',')}`, '--verbose']);
});
afterAll(() => demo?.stop());

const asyncssh = (ciphers: string) => {
  if (!existsSync(ASYNCSSH)) throw new Error(`AsyncSSH is missing at ${ASYNCSSH}: run bash scripts/setup.sh`);
  return run(ASYNCSSH, [ASYNCSSH_CLIENT, String(demo.port), USER, PASSWORD, 'curve25519-sha256', 'cat', ciphers], undefined, 60_000);
};

describe.each(CIPHERS)('%s with AsyncSSH', (cipher) => {
  it('moves 1 MiB through cat byte-exact, and the server names the cipher', async () => {
    const r = await asyncssh(cipher);
    expect(r.stderr.toString()).toBe('');
    expect(r.stdout.toString()).toBe(`same ${1 << 20}\n`);
    await demo.settled();
    expect(demo.stderr()).toContain(`curve25519-sha256, ssh-ed25519, ${cipher}`);
  });
});

it('offers none of them by default', async () => {
  const plain = await startDemo(['--user', `${USER}:${PASSWORD}`]);
  try {
    const r = await run(ASYNCSSH, [ASYNCSSH_CLIENT, String(plain.port), USER, PASSWORD, 'curve25519-sha256', 'true', CIPHERS.join(',')], undefined, 60_000);
    expect(r.code).not.toBe(0);
    expect(r.stderr.toString()).toMatch(/No matching encryption algorithm found/);
  } finally {
    await plain.stop();
  }
});
