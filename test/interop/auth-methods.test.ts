/**
 * OpenSSH's AuthenticationMethods through the demo server (`--config AuthenticationMethods=...`), with the
 * real OpenSSH client: every listed step is needed, in order, while the demo's handler only decides each
 * step on its own (a key from authorized_keys, a password). Also what a client that knows only the public
 * key gets: PK_OK for its query, and no step passed.
 */

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUserKey, run, SSH_BASE, startDemo, type Demo } from '../helpers/demo.js';
import { MSG, RawClient, Reader, Writer } from '../helpers/raw-client.js';

const USER = 'erin';
const PASSWORD = 'second factor';
const key = makeUserKey();

/** OpenSSH trying `methods` in that order, with the key and (through sshpass) the password if given. */
function ssh(port: number, methods: string, password: string | undefined) {
  // Before SSH_BASE: OpenSSH takes the first value of an option.
  const args = ['-o', 'LogLevel=DEBUG1', ...SSH_BASE, '-i', key.keyFile, '-o', 'IdentitiesOnly=yes', '-o', `PreferredAuthentications=${methods}`];
  args.push('-o', 'NumberOfPasswordPrompts=1', '-p', String(port), `${USER}@127.0.0.1`, 'whoami');
  return password === undefined ? run('ssh', ['-o', 'BatchMode=yes', ...args]) : run('sshpass', ['-p', password, 'ssh', ...args]);
}

describe.each([
  ['publickey,password', 'password'],
  ['publickey,keyboard-interactive', 'keyboard-interactive'],
])('AuthenticationMethods=%s', (chain, second) => {
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--authorized-keys', key.authorizedKeys, '--config', `AuthenticationMethods=${chain}`]);
  });
  afterAll(() => demo?.stop());

  it('logs in with the key and then the second factor', async () => {
    const r = await ssh(demo.port, `publickey,${second}`, PASSWORD);
    expect(r.stdout.toString()).toBe(`${USER}\n`);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Authenticated using "publickey" with partial success.');
    expect(r.stderr).toContain(`Authenticated to 127.0.0.1 ([127.0.0.1]:${demo.port}) using "${second}".`);
  });

  it('refuses the key alone', async () => {
    const r = await ssh(demo.port, `publickey,${second}`, undefined);
    expect(r.code).toBe(255);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toContain('Authenticated using "publickey" with partial success.');
    expect(r.stderr).toContain(`Permission denied (${second}).`);
  });

  it('refuses the second factor alone, without asking for it', async () => {
    const r = await ssh(demo.port, second, PASSWORD);
    expect(r.code).toBe(255);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toContain('Permission denied (publickey).');
  });

  it('refuses the second factor first, then the key', async () => {
    const r = await ssh(demo.port, `${second},publickey`, PASSWORD);
    // The server lists only publickey at first, so OpenSSH goes straight to the key, then the second factor.
    expect(r.stdout.toString()).toBe(`${USER}\n`);
    expect(r.stderr).toContain('Authenticated using "publickey" with partial success.');
  });

  it('gives a client that knows only the public key PK_OK for its query, and nothing more', async () => {
    const c = await RawClient.connect(demo.port);
    try {
      await c.handshake();
      await c.serviceRequest();
      const [algorithm, base64] = readFileSync(`${key.keyFile}.pub`, 'utf8').split(' ') as [string, string];
      const blob = Buffer.from(base64, 'base64');
      c.send(new Writer(MSG.USERAUTH_REQUEST).string(USER).string('ssh-connection').string('publickey').bool(false).string(algorithm).string(blob).done());
      const PK_OK = 60;
      await c.expect(PK_OK);
      // The right password, as if the key had passed: the server still wants the key first.
      c.send(new Writer(MSG.USERAUTH_REQUEST).string(USER).string('ssh-connection').string('password').bool(false).string(PASSWORD).done());
      const { r } = await c.expect(MSG.USERAUTH_FAILURE);
      expect(failure(r)).toEqual({ methods: 'publickey', partial: false });
    } finally {
      c.destroy();
    }
  });
});

function failure(r: Reader): { methods: string; partial: boolean } {
  return { methods: r.text(), partial: r.bool() };
}
