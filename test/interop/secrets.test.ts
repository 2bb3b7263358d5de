/**
 * Secrets stay out of logs: a session at LogLevel=3 (every packet dumped) with MaskSensitiveData on, driven
 * by the real OpenSSH client through every authentication method, leaves no password, keyboard-interactive
 * answer, typed data, environment value, command or key material in the log, in text or in hex. The same
 * session with masking off shows them, so the search is not vacuous.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeUserKey, ssh, startDemo, type Demo } from '../helpers/demo.js';

const USER = 'dave';
const PASSWORD = 'pw-7f3a9c-secret';
const TYPED = 'typed-b81e44-secret';
/** Sent in an `env` request (OpenSSH's SetEnv) and in an exec command: channel requests carry secrets too. */
const ENV_VALUE = 'env-4d07a2-secret';
const COMMAND = 'echo command-9b3f61-secret';
const key = makeUserKey();

const hex = (s: string | Buffer) => Buffer.from(s).toString('hex');

/** The 32-byte ed25519 seed inside an unencrypted openssh-key-v1 file (RFC 8709 private key: seed || public). */
function ed25519Seed(file: string): Buffer {
  const body = readFileSync(file, 'utf8').split('\n').filter((l) => !l.startsWith('-----')).join('');
  const raw = Buffer.from(body, 'base64');
  const marker = Buffer.from('ssh-ed25519');
  const last = raw.lastIndexOf(marker);
  // After the private section's key type: string pubkey (4 + 32), then string privkey (4 + 64) = seed || pubkey.
  const pub = raw.subarray(last + marker.length + 4, last + marker.length + 4 + 32);
  const priv = raw.subarray(last + marker.length + 4 + 32 + 4, last + marker.length + 4 + 32 + 4 + 64);
  expect(priv.subarray(32).equals(pub), `${file} parsed`).toBe(true);
  return priv.subarray(0, 32);
}

let demo: Demo | undefined;
afterEach(() => demo?.stop());

async function session(mask: boolean): Promise<string> {
  const state = join('/tmp', `wasshd-secrets-${process.pid}-${mask}`);
  demo = await startDemo(
    ['--user', `${USER}:${PASSWORD}`, '--authorized-keys', key.authorizedKeys, '--verbose', '--config', 'LogLevel=3', '--config', `MaskSensitiveData=${mask}`],
    { WASSHD_STATE_DIR: state },
  );
  const password = await ssh(demo.port, {
    user: USER,
    password: PASSWORD,
    command: 'cat',
    input: Buffer.from(TYPED),
    options: ['-o', 'PreferredAuthentications=password', '-o', `SetEnv=WASSHD_TOKEN=${ENV_VALUE}`],
  });
  expect(password.stdout.toString()).toBe(TYPED);
  const command = await ssh(demo.port, { user: USER, password: PASSWORD, command: COMMAND, options: ['-o', 'PreferredAuthentications=password'] });
  expect(command.stdout.toString()).toBe('command-9b3f61-secret\n');
  const kbd = await ssh(demo.port, { user: USER, password: PASSWORD, command: 'echo kbd', options: ['-o', 'PreferredAuthentications=keyboard-interactive'] });
  expect(kbd.stdout.toString()).toBe('kbd\n');
  const pk = await ssh(demo.port, { user: USER, keyFile: key.keyFile, command: 'echo pk' });
  expect(pk.stdout.toString()).toBe('pk\n');
  await demo.settled();
  const log = demo.stderr();
  expect(log).toMatch(/\(3\) packet in: type=20 len=\d+ [0-9a-f]+/);
  return log;
}

describe('logs at LogLevel 3', () => {
  it('with MaskSensitiveData (the default) hold no password, answer, typed data, environment value, command or private key', async () => {
    const log = await session(true);
    const hostSeed = ed25519Seed(join('/tmp', `wasshd-secrets-${process.pid}-true`, 'ssh_host_ed25519_key'));
    const userSeed = ed25519Seed(key.keyFile);
    const forbidden = { password: PASSWORD, typed: TYPED, 'environment value': ENV_VALUE, command: COMMAND, 'host key seed': hostSeed, 'user key seed': userSeed };
    for (const [name, secret] of Object.entries(forbidden)) {
      if (typeof secret === 'string') expect(log.includes(secret), `${name} in clear`).toBe(false);
      expect(log.includes(hex(secret)), `${name} in hex`).toBe(false);
      expect(log.includes(Buffer.from(secret).toString('base64')), `${name} in base64`).toBe(false);
    }
    expect(log).toMatch(/packet in: type=50 len=\d+ \(masked\)/);
    expect(log).toMatch(/packet in: type=98 len=\d+ \(masked\)/);
  });

  it('with MaskSensitiveData=false dump those packets in full', async () => {
    const log = await session(false);
    for (const secret of [PASSWORD, TYPED, ENV_VALUE, COMMAND]) expect(log).toContain(hex(secret));
  });
});
