/**
 * Host keys of every type, several at once, from the files `ssh-keygen` and `openssl` made
 * (test/fixtures/keys), served by the demo to the real OpenSSH client: the key the client records is the
 * file's (by `ssh-keygen -lf`), the client's order of host-key algorithms decides, ECDSA and RSA user keys
 * log in, and SHA-1 `ssh-rsa` only once configured.
 */

import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, ssh, sshRecordingHostKey, startDemo, type Demo } from '../helpers/demo.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/keys');
const USER = 'kim';
/** The served files, the passphrase opening the encrypted ones. */
const HOST_KEYS = ['ed25519-enc', 'ecdsa256.pkcs8', 'openssl-p384.enc.pkcs8', 'ecdsa521', 'rsa3072.pem'];
const PASSPHRASE = 'passphrase';

/** Second field of `ssh-keygen -lf FILE`. */
async function fingerprint(file: string): Promise<string> {
  const r = await run('ssh-keygen', ['-lf', file]);
  expect(r.code).toBe(0);
  return r.stdout.toString().split(' ')[1]!;
}

/** A private fixture copied where ssh accepts it (mode 0600). */
function userKey(name: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'wasshd-hk-')), name);
  copyFileSync(join(FIXTURES, name), file);
  chmodSync(file, 0o600);
  return file;
}

/** Connects with `HostKeyAlgorithms=algs`, recording the host key; returns the known_hosts file. */
function connect(port: number, algs: string): Promise<string> {
  return sshRecordingHostKey(port, USER, 'pw', algs);
}

describe('several host keys from files of every format', () => {
  let demo: Demo;
  beforeAll(async () => {
    const keys = HOST_KEYS.flatMap((k) => ['--host-key', join(FIXTURES, k)]);
    const authorized = join(mkdtempSync(join(tmpdir(), 'wasshd-ak-')), 'authorized_keys');
    writeFileSync(authorized, ['ecdsa384.pub', 'rsa3072.pub'].map((f) => readFileSync(join(FIXTURES, f), 'utf8')).join(''));
    demo = await startDemo(['--user', `${USER}:pw`, '--authorized-keys', authorized, '--host-key-passphrase', PASSPHRASE, '--verbose', ...keys]);
  });
  afterAll(() => demo.stop());

  it.each([
    ['ssh-ed25519', 'ed25519-enc.pub'],
    ['ecdsa-sha2-nistp256', 'ecdsa256.pub'],
    ['ecdsa-sha2-nistp384', 'openssl-p384.pkcs8.pub'],
    ['ecdsa-sha2-nistp521', 'ecdsa521.pub'],
    ['rsa-sha2-512', 'rsa3072.pub'],
    ['rsa-sha2-256', 'rsa3072.pub'],
  ])('HostKeyAlgorithms=%s connects and records the key of %s', async (alg, publicFile) => {
    const knownHosts = await connect(demo.port, alg);
    expect(await fingerprint(knownHosts)).toBe(await fingerprint(join(FIXTURES, publicFile)));
    await demo.settled();
    expect(demo.stderr()).toContain(`keys exchanged: sntrup761x25519-sha512, ${alg}, `);
  });

  it("the client's first choice among the served keys wins", async () => {
    for (const [algs, publicFile] of [
      ['rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519', 'rsa3072.pub'],
      ['ecdsa-sha2-nistp521,rsa-sha2-256,ssh-ed25519', 'ecdsa521.pub'],
      ['ssh-dss,ecdsa-sha2-nistp384,ssh-ed25519', 'openssl-p384.pkcs8.pub'],
    ] as const) {
      expect(await fingerprint(await connect(demo.port, algs))).toBe(await fingerprint(join(FIXTURES, publicFile)));
    }
  });

  it('ssh-rsa (SHA-1) is not offered by default', async () => {
    const options = ['-F', '/dev/null', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'BatchMode=yes'];
    const r = await run('ssh', [...options, '-o', 'HostKeyAlgorithms=ssh-rsa', '-p', String(demo.port), `${USER}@127.0.0.1`, 'true']);
    expect(r.code).toBe(255);
    expect(r.stderr.toString()).toMatch(/no matching host key type found/);
  });

  it.each([
    ['ecdsa384', 'ecdsa-sha2-nistp384'],
    ['rsa3072', 'rsa-sha2-256'],
    ['rsa3072', 'rsa-sha2-512'],
  ])('the %s user key logs in by publickey with PubkeyAcceptedAlgorithms=%s', async (key, alg) => {
    const r = await ssh(demo.port, { user: USER, keyFile: userKey(key), options: ['-o', `PubkeyAcceptedAlgorithms=${alg}`], command: 'echo in' });
    expect(r.stderr.toString()).toBe('');
    expect(r.stdout.toString()).toBe('in\n');
  });

  it('an RSA user key signing with ssh-rsa (SHA-1) is refused by default', async () => {
    const r = await ssh(demo.port, { user: USER, keyFile: userKey('rsa3072'), options: ['-o', 'PubkeyAcceptedAlgorithms=ssh-rsa'], command: 'echo in' });
    expect(r.code).toBe(255);
    expect(r.stderr.toString()).toMatch(/Permission denied/);
  });
});

it('ssh-rsa host and user signatures are accepted once configured', async () => {
  const authorized = join(mkdtempSync(join(tmpdir(), 'wasshd-ak-')), 'authorized_keys');
  writeFileSync(authorized, readFileSync(join(FIXTURES, 'rsa3072.pub')));
  const demo = await startDemo([
    '--user', `${USER}:pw`, '--authorized-keys', authorized, '--host-key', join(FIXTURES, 'rsa3072'),
    '--config', 'SSHPublicKeyAlgorithms=rsa-sha2-512,ssh-rsa', '--config', 'SSHPubKeyAuthSigAlgorithms=ssh-rsa',
  ]);
  try {
    const options = ['-o', 'HostKeyAlgorithms=ssh-rsa', '-o', 'PubkeyAcceptedAlgorithms=ssh-rsa'];
    const r = await ssh(demo.port, { user: USER, keyFile: userKey('rsa3072'), options, command: 'echo in' });
    expect(r.stderr.toString()).toBe('');
    expect(r.stdout.toString()).toBe('in\n');
  } finally {
    await demo.stop();
  }
});

it.each([
  [['--host-key-passphrase', 'wrong'], 'wrong --host-key-passphrase for host key'],
  [[], 'no --host-key-passphrase for the encrypted host key'],
])('the demo with %j stops at start with one line and status 2', async (flags, message) => {
  const file = join(FIXTURES, 'ecdsa521-enc');
  const r = await run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../ts/demo/main.ts'), '--port', '0', '--host-key', file, ...flags]);
  expect(r.code).toBe(2);
  expect(r.stderr.toString()).toBe(`wasshd demo: ${message} ${file}\n`);
});
