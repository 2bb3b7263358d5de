/**
 * The server examples (examples/two-factor) on the built package, installed in a project of their own, with
 * Debian's OpenSSH: the two-factor login and every way short of it. A refused login comes from a loopback address of
 * its own (`ssh -b`), so that the servers' per-source penalties never refuse the next test.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUserKey, run } from '../helpers/demo.js';
import { installBuiltPackage, startNodeProgram, type Running } from '../helpers/package.js';
import { fingerprintOf } from '../helpers/sshd.js';

let app: string;
const key = makeUserKey();
const unknownKey = makeUserKey();
const running: Running[] = [];

beforeAll(() => {
  app = installBuiltPackage({ examples: ['two-factor'] });
}, 120_000);
afterAll(() => {
  for (const { child } of running) child.kill();
});

async function start(example: string, env: Record<string, string>): Promise<Running> {
  const server = await startNodeProgram(app, `examples/${example}/server.js`, { PORT: '0', ...env });
  running.push(server);
  return server;
}

/** No host key prompts or records, no agent, no config file; the debug lines that name each step's outcome. */
const BASE = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentityAgent=none', '-o', 'LogLevel=DEBUG1'];

describe('two-factor: a key, then a password', () => {
  const PASSWORD = 'correct horse';
  let server: Running;
  beforeAll(async () => {
    server = await start('two-factor', { AUTHORIZED_KEYS: key.authorizedKeys, PASSWORD });
  });

  /** `ssh` with a key file, a password (sshpass) or both; one password prompt at most. */
  function login({ keyFile, password, source = '127.0.0.1', port = server.port }: { keyFile?: string; password?: string; source?: string; port?: number }) {
    const auth = keyFile ? ['-i', keyFile, '-o', 'IdentitiesOnly=yes'] : ['-o', 'PubkeyAuthentication=no'];
    const args = [...BASE, ...auth, '-o', 'NumberOfPasswordPrompts=1', '-b', source, '-p', String(port), 'alice@127.0.0.1', 'whoami'];
    return password === undefined ? run('ssh', ['-o', 'BatchMode=yes', ...args]) : run('sshpass', ['-p', password, 'ssh', ...args]);
  }

  it('logs in with the key and then the password, and the session says which', async () => {
    expect(server.stdout()).toContain('AuthenticationMethods publickey,password\n');
    const r = await login({ keyFile: key.keyFile, password: PASSWORD });
    expect(r.stderr).toMatch(/Authentications that can continue: publickey\r?\n/);
    expect(r.stderr).toContain('Authenticated using "publickey" with partial success.');
    expect(r.stderr).toMatch(/Authentications that can continue: password\r?\n/);
    expect(r.stdout.toString()).toBe(`alice logged in with publickey ${fingerprintOf(`${key.keyFile}.pub`)}, then password\n`);
    expect(r.code).toBe(0);
  });

  it.each([
    { name: 'the key alone', keyFile: key.keyFile, source: '127.0.0.2', partial: true, methods: 'password' },
    { name: 'the password alone', password: PASSWORD, source: '127.0.0.3', partial: false, methods: 'publickey' },
    { name: 'the key and a wrong password', keyFile: key.keyFile, password: 'wrong', source: '127.0.0.4', partial: true, methods: 'password' },
    { name: 'an unknown key and the password', keyFile: unknownKey.keyFile, password: PASSWORD, source: '127.0.0.5', partial: false, methods: 'publickey' },
  ])('refuses $name, listing $methods', async ({ keyFile, password, source, partial, methods }) => {
    const r = await login({ keyFile, password, source });
    expect(r.stderr).toContain(`alice@127.0.0.1: Permission denied (${methods}).`);
    expect(r.stderr.includes('with partial success')).toBe(partial);
    expect(r.stdout.length).toBe(0);
    expect(r.code).toBe(255);
  });

  it('takes the chain by its setting name too (config("AuthenticationMethods=...")): here the password first', async () => {
    const reversed = await start('two-factor', { AUTHORIZED_KEYS: key.authorizedKeys, PASSWORD, AUTHENTICATION_METHODS: 'password,publickey' });
    expect(reversed.stdout()).toContain('AuthenticationMethods password,publickey\n');
    const r = await login({ keyFile: key.keyFile, password: PASSWORD, port: reversed.port });
    expect(r.stderr).toContain('Authenticated using "password" with partial success.');
    expect(r.stdout.toString()).toBe(`alice logged in with password, then publickey ${fingerprintOf(`${key.keyFile}.pub`)}\n`);
    expect(r.code).toBe(0);
  });
});
