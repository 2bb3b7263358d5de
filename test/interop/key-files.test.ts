/**
 * Key files through the key files' wasm module: keys generated of every type (`generateHostKey({ type, bits })`)
 * are OpenSSH files that `ssh-keygen -y` reads to the served public key, whose fingerprints equal
 * `ssh-keygen -l`'s (SHA256 and MD5), and that the demo serves to OpenSSH's `ssh` with `--host-key`.
 */

import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHServer } from '../../ts/node/index.js';
import { run, startDemo, type Demo } from '../helpers/demo.js';

const USER = 'kit';
const dir = mkdtempSync(join(tmpdir(), 'wasshd-key-files-'));

/** `text` written where ssh-keygen and the demo read it (mode 0600, as ssh-keygen requires). */
function keyFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  chmodSync(file, 0o600);
  return file;
}

/** The second field of `ssh-keygen -l [-E md5] -f FILE`. */
async function keygenFingerprint(file: string, hash: 'sha256' | 'md5'): Promise<string> {
  const r = await run('ssh-keygen', ['-E', hash, '-lf', file]);
  expect(r.code, r.stderr.toString()).toBe(0);
  return r.stdout.toString().split(' ')[1]!;
}

/** Each kind `generateHostKey` makes, the signature algorithm OpenSSH asks for it with. */
const GENERATED = [
  { type: 'ed25519', bits: undefined, alg: 'ssh-ed25519' },
  { type: 'ecdsa', bits: undefined, alg: 'ecdsa-sha2-nistp256' },
  { type: 'ecdsa', bits: 384, alg: 'ecdsa-sha2-nistp384' },
  { type: 'ecdsa', bits: 521, alg: 'ecdsa-sha2-nistp521' },
  { type: 'rsa', bits: undefined, alg: 'rsa-sha2-512' },
] as const;

describe('generated host keys', () => {
  const files = new Map<string, string>();

  it.each(GENERATED)('$type of $bits bits: ssh-keygen reads the file to the served key and prints its fingerprints', async ({ type, bits, alg }) => {
    const server = new SSHServer();
    const text = server.generateHostKey({ type, ...(bits ? { bits } : {}), comment: `generated ${alg}` });
    expect(text).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const file = keyFile(alg, text);
    files.set(alg, file);
    const [line] = server.hostPublicKeys;
    expect(line!.split(' ')[0]).toBe(type === 'rsa' ? 'ssh-rsa' : alg);
    const derived = await run('ssh-keygen', ['-y', '-f', file]);
    expect(derived.code, derived.stderr.toString()).toBe(0);
    expect(derived.stdout.toString().split(' ').slice(0, 2).join(' ').trim()).toBe(line);
    expect(server.hostKeyFingerprints('sha256')).toEqual([await keygenFingerprint(file, 'sha256')]);
    expect(server.hostKeyFingerprints('md5')).toEqual([await keygenFingerprint(file, 'md5')]);
    if (type === 'rsa') {
      const bitsLine = await run('ssh-keygen', ['-lf', file]);
      expect(bitsLine.stdout.toString()).toMatch(/^3072 /);
    }
  });

  describe('served by the demo to OpenSSH', () => {
    let demo: Demo;
    beforeAll(async () => {
      demo = await startDemo(['--user', `${USER}:pw`, ...[...files.values()].flatMap((f) => ['--host-key', f])]);
    });
    afterAll(() => demo.stop());

    it.each(GENERATED)('HostKeyAlgorithms=$alg connects and records the generated key', async ({ alg }) => {
      const knownHosts = join(mkdtempSync(join(tmpdir(), 'wasshd-kh-')), 'known_hosts');
      const args = ['-F', '/dev/null', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=accept-new', '-o', 'LogLevel=ERROR'];
      args.push('-o', 'IdentityAgent=none', '-o', 'PubkeyAuthentication=no', '-o', `HostKeyAlgorithms=${alg}`, '-p', String(demo.port));
      const r = await run('sshpass', ['-p', 'pw', 'ssh', ...args, `${USER}@127.0.0.1`, 'echo hello']);
      expect(r.stderr.toString()).toBe('');
      expect(r.stdout.toString()).toBe('hello\n');
      expect(await keygenFingerprint(knownHosts, 'sha256')).toBe(await keygenFingerprint(files.get(alg)!, 'sha256'));
    });
  });
});

it('refuses sizes and types ssh-keygen would not make, saying which', () => {
  const server = new SSHServer();
  expect(() => server.generateHostKey({ type: 'ecdsa', bits: 512 })).toThrow('new key: key refused: ecdsa keys of 512 bits: 256, 384 or 521');
  expect(() => server.generateHostKey({ type: 'rsa', bits: 1024 })).toThrow('new key: key refused: rsa keys of 1024 bits: from 2048 to 8192');
  expect(() => server.generateHostKey({ type: 'dsa' as 'rsa' })).toThrow('new key: unsupported: generating dsa keys (ed25519, ecdsa or rsa)');
  expect(server.hostPublicKeys).toEqual([]);
});
