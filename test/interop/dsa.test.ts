/**
 * DSA (`ssh-dss`), off by default, with the real OpenSSH 9.2 client: a DSA host key from each file format
 * (`ssh-keygen -t dsa`, plain and passphrase-protected; `puttygen` PPK v2 and v3; OpenSSL's `DSA PRIVATE KEY`,
 * PKCS#8 plain and encrypted; `openssl pkcs12 -export`) served with `SSHPublicKeyAlgorithms=ssh-dss`, the key the
 * client records equal to `ssh-keygen -l` of the file; not offered without that setting. A DSA user key logs in
 * once `SSHPubKeyAuthSigAlgorithms` names ssh-dss, byte-exact through `cat`, and is refused by default; the
 * JavaScript `SSHClient` logs in with it too (its host-key list stays the default, without ssh-dss). paramiko
 * 5 (the suite's) dropped DSA, so OpenSSH is the one outside client here.
 */

import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHClient } from '../../ts/node/index.js';
import { requirePrograms, run, sha256hex, ssh, sshRecordingHostKey, startDemo, testData, type Demo } from '../helpers/demo.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/keys');
const USER = 'dee';
const PASSPHRASE = 'passphrase';
const dir = mkdtempSync(join(tmpdir(), 'wasshd-dsa-'));

/** A fixture copied where ssh and ssh-keygen accept it (mode 0600). */
function copy(name: string): string {
  const file = join(dir, name);
  copyFileSync(join(FIXTURES, name), file);
  chmodSync(file, 0o600);
  return file;
}

/** Second field of `ssh-keygen -lf FILE`. */
async function fingerprint(file: string): Promise<string> {
  const r = await run('ssh-keygen', ['-lf', file]);
  expect(r.code, r.stderr.toString()).toBe(0);
  return r.stdout.toString().split(' ')[1]!;
}

/** A self-signed certificate for OpenSSL's DSA key, the two exported by `openssl pkcs12 -export` (OpenSSL 3's defaults). */
async function pkcs12(): Promise<string> {
  const key = copy('openssl-dsa.pem');
  const [cert, file] = [join(dir, 'dsa.crt'), join(dir, 'dsa.p12')];
  for (const args of [
    ['req', '-new', '-x509', '-key', key, '-subj', '/CN=wasshd', '-days', '1', '-out', cert],
    ['pkcs12', '-export', '-inkey', key, '-in', cert, '-passout', `pass:${PASSPHRASE}`, '-out', file],
  ]) {
    const r = await run('openssl', args);
    expect(r.code, r.stderr.toString()).toBe(0);
  }
  return file;
}

/** A demo serving `hostKeys`, the DSA user key authorized; `extra`: more flags. */
function demoWith(hostKeys: string[], extra: string[] = []): Promise<Demo> {
  const authorized = join(dir, 'authorized_keys');
  writeFileSync(authorized, readFileSync(join(FIXTURES, 'dsa.pub')));
  return startDemo(['--user', `${USER}:pw`, '--authorized-keys', authorized, ...hostKeys.flatMap((k) => ['--host-key', k]), '--host-key-passphrase', PASSPHRASE, ...extra]);
}

beforeAll(() => requirePrograms('ssh', 'ssh-keygen', 'openssl', 'sshpass'));

describe('a DSA host key from every format, served with SSHPublicKeyAlgorithms=ssh-dss', () => {
  it.each([
    ['dsa', 'dsa'],
    ['dsa-enc', 'dsa-enc.pub'],
    ['dsa.v2.ppk', 'dsa'],
    ['dsa-enc.v3.ppk', 'dsa'],
    ['openssl-dsa.pem', 'openssl-dsa.pem'],
    ['openssl-dsa.pkcs8', 'openssl-dsa.pem'],
    ['openssl-dsa.enc.pkcs8', 'openssl-dsa.pem'],
    ['PKCS#12', 'openssl-dsa.pem'],
  ])('%s: ssh -o HostKeyAlgorithms=ssh-dss records the key ssh-keygen -l gives for %s', async (file, same) => {
    const hostKey = file === 'PKCS#12' ? await pkcs12() : copy(file);
    const demo = await demoWith([hostKey], ['--config', 'SSHPublicKeyAlgorithms=ssh-dss']);
    try {
      const knownHosts = await sshRecordingHostKey(demo.port, USER, 'pw', 'ssh-dss');
      expect(await fingerprint(knownHosts)).toBe(await fingerprint(copy(same)));
    } finally {
      await demo.stop();
    }
  });

  it('is not offered by default, even when it is the only key', async () => {
    const demo = await demoWith([copy('dsa')]);
    try {
      // Without ssh() and its LogLevel=ERROR, under which OpenSSH does not say why it gave up.
      const options = ['-F', '/dev/null', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'BatchMode=yes'];
      const r = await run('ssh', [...options, '-o', 'HostKeyAlgorithms=ssh-dss', '-p', String(demo.port), `${USER}@127.0.0.1`, 'true']);
      expect(r.code).toBe(255);
      expect(r.stderr.toString()).toMatch(/no matching host key type found/);
    } finally {
      await demo.stop();
    }
  });
});

describe('a DSA user key', () => {
  const accept = ['-o', 'PubkeyAcceptedAlgorithms=+ssh-dss'];
  let userKey: string;
  beforeAll(() => {
    userKey = copy('dsa');
  });

  it('is refused by default', async () => {
    const demo = await demoWith([copy('ecdsa256')]);
    try {
      const r = await ssh(demo.port, { user: USER, keyFile: userKey, options: accept, command: 'echo in' });
      expect(r.code).toBe(255);
      expect(r.stderr.toString()).toMatch(/Permission denied/);
    } finally {
      await demo.stop();
    }
  });

  describe('once SSHPubKeyAuthSigAlgorithms names ssh-dss', () => {
    let demo: Demo;
    beforeAll(async () => {
      // The JavaScript client offers the default host-key algorithms: it gets the ECDSA key.
      const hostKeys = [copy('dsa'), copy('ecdsa256')];
      const algorithms = ['SSHPublicKeyAlgorithms=ssh-dss,ecdsa-sha2-nistp256', 'SSHPubKeyAuthSigAlgorithms=ssh-ed25519,ssh-dss'];
      demo = await demoWith(hostKeys, algorithms.flatMap((a) => ['--config', a]));
    });
    afterAll(() => demo.stop());

    it('logs in from OpenSSH over an ssh-dss host key, 1 MiB through cat byte-exact', async () => {
      const data = testData(1024 * 1024, 12);
      const r = await ssh(demo.port, { user: USER, keyFile: userKey, options: [...accept, '-o', 'HostKeyAlgorithms=ssh-dss'], command: 'cat', input: data });
      expect(r.stderr.toString()).toBe('');
      expect(r.code).toBe(0);
      expect(sha256hex(r.stdout)).toBe(sha256hex(data));
    });

    it('logs in from the JavaScript SSHClient', async () => {
      const hostFingerprint = await fingerprint(copy('ecdsa256.pub'));
      const c = await SSHClient.connect({
        host: '127.0.0.1',
        port: demo.port,
        user: USER,
        privateKey: readFileSync(userKey, 'utf8'),
        verifyHostKey: (shown) => shown === hostFingerprint,
      });
      try {
        expect(Buffer.from((await c.exec('echo in')).stdout).toString()).toBe('in\n');
      } finally {
        await c.close();
      }
    });
  });
});
