/**
 * Key files through the key files' wasm module. Files the real tools make, at test time: PuTTY's PPK v2 and v3
 * (`puttygen`, plain and passphrase-protected), JWKs (Node's `crypto` export), PKCS#12 (`openssl pkcs12
 * -export` with OpenSSL 3's defaults), each read to the key the tool holds and served by the demo to OpenSSH's
 * `ssh`; wrong passphrases, damaged files and unsupported variants stop the demo with one line and status 2.
 * Keys generated of every type (`generateHostKey({ type, bits })`) are OpenSSH files that `ssh-keygen -y` reads
 * to the served public key, whose fingerprints equal `ssh-keygen -l`'s (SHA256 and MD5), and that the demo
 * serves to `ssh` with `--host-key`.
 */

import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHServer } from '../../ts/node/index.js';
import { requirePrograms, run, sshRecordingHostKey, startDemo, type Demo } from '../helpers/demo.js';

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

/** Connects with `HostKeyAlgorithms=alg`; returns the known_hosts file that recorded the host key. */
function sshConnect(port: number, alg: string): Promise<string> {
  return sshRecordingHostKey(port, USER, 'pw', alg);
}

/** A tool's run that must succeed. */
async function tool(program: string, args: string[]): Promise<string> {
  const r = await run(program, args);
  expect(r.code, `${program} ${args.join(' ')}: ${r.stderr.toString()}`).toBe(0);
  return r.stdout.toString();
}

const PASSPHRASE = 'format-secret';

/** A made key file, the public line the tool that made it gives for it, and the algorithm ssh asks for it with. */
interface Made {
  file: string;
  publicLine: string;
  alg: string;
}

/** `puttygen -t type` as a PPK of `version`, with the passphrase or without; its public line by puttygen. */
async function puttygen(name: string, type: string, bits: number, version: 2 | 3, encrypted: boolean, alg: string): Promise<Made> {
  const file = join(dir, name);
  const pass = keyFile(`${name}.pass`, encrypted ? `${PASSPHRASE}\n` : '');
  await tool('puttygen', ['-t', type, ...(bits ? ['-b', String(bits)] : []), '-C', name, '--ppk-param', `version=${version}`, '--new-passphrase', pass, '-o', file]);
  const publicLine = await tool('puttygen', [file, '--old-passphrase', pass, '-O', 'public-openssh']);
  return { file, publicLine: publicLine.split(' ').slice(0, 2).join(' ').trim(), alg };
}

/** Node's `crypto` key of `type` exported as a JWK file; its public line from the same key as PKCS#8, read by the server. */
function jwk(name: string, type: 'ed25519' | 'ec' | 'rsa', options: object, alg: string): Made {
  const { privateKey } = generateKeyPairSync(type as 'ec', options as { namedCurve: string });
  const file = keyFile(name, JSON.stringify(privateKey.export({ format: 'jwk' })));
  const publicLine = new SSHServer().addHostKey(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  return { file, publicLine, alg };
}

/** `openssl genpkey` and a self-signed certificate for it, exported with `openssl pkcs12 -export`; the key's public line by `ssh-keygen -y` of its PEM. */
async function pkcs12(name: string, curve: string, extra: string[], alg: string): Promise<Made> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const file = join(dir, name);
  await tool('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', key]);
  chmodSync(key, 0o600);
  await tool('openssl', ['req', '-new', '-x509', '-key', key, '-subj', '/CN=wasshd', '-days', '1', '-out', cert]);
  await tool('openssl', ['pkcs12', '-export', ...extra, '-inkey', key, '-in', cert, '-passout', `pass:${PASSPHRASE}`, '-out', file]);
  const publicLine = (await tool('ssh-keygen', ['-y', '-f', key])).split(' ').slice(0, 2).join(' ').trim();
  return { file, publicLine, alg };
}

describe('key files the tools make', () => {
  const made: Made[] = [];
  beforeAll(async () => {
    requirePrograms('puttygen', 'openssl', 'ssh-keygen');
    made.push(
      await puttygen('ppk2-rsa', 'rsa', 2048, 2, false, 'rsa-sha2-256'),
      await puttygen('ppk3-ecdsa384', 'ecdsa', 384, 3, true, 'ecdsa-sha2-nistp384'),
      jwk('jwk-ed25519', 'ed25519', {}, 'ssh-ed25519'),
      jwk('jwk-p521', 'ec', { namedCurve: 'P-521' }, 'ecdsa-sha2-nistp521'),
      await pkcs12('pfx-p256', 'P-256', [], 'ecdsa-sha2-nistp256'),
    );
  }, 60_000);

  it('reads each to the key its tool holds, from text or (PKCS#12) bytes and base64', async () => {
    const more = [
      await puttygen('ppk2-ed25519-enc', 'ed25519', 0, 2, true, 'ssh-ed25519'),
      await puttygen('ppk3-rsa', 'rsa', 2048, 3, false, 'rsa-sha2-512'),
      jwk('jwk-p256', 'ec', { namedCurve: 'P-256' }, 'ecdsa-sha2-nistp256'),
      jwk('jwk-rsa', 'rsa', { modulusLength: 2048 }, 'rsa-sha2-512'),
      // OpenSSL 3's -legacy: the key bag under 3DES with the SHA-1 PKCS#12 KDF, the certificates under RC2-40.
      await pkcs12('pfx-legacy-p384', 'P-384', ['-legacy'], 'ecdsa-sha2-nistp384'),
    ];
    for (const { file, publicLine } of [...made, ...more]) {
      const bytes = readFileSync(file);
      const server = new SSHServer();
      const text = bytes[0] === 0x30 ? bytes : bytes.toString('utf8');
      expect(server.addHostKey(text, { passphrase: PASSPHRASE }), file).toBe(publicLine);
      if (bytes[0] === 0x30) expect(server.addHostKey(bytes.toString('base64'), { passphrase: PASSPHRASE })).toBe(publicLine);
      const printed = keyFile(`${file.split('/').pop()}.pub`, `${publicLine}\n`);
      expect(server.hostKeyFingerprints(), file).toEqual([await keygenFingerprint(printed, 'sha256')]);
    }
  });

  describe('served by the demo to OpenSSH', () => {
    let demo: Demo;
    beforeAll(async () => {
      demo = await startDemo(['--user', `${USER}:pw`, '--host-key-passphrase', PASSPHRASE, ...made.flatMap((m) => ['--host-key', m.file])]);
    });
    afterAll(() => demo.stop());

    it('each key connects and is the one recorded', async () => {
      for (const { alg, publicLine, file } of made) {
        const knownHosts = await sshConnect(demo.port, alg);
        const printed = keyFile(`${file.split('/').pop()}.served.pub`, `${publicLine}\n`);
        expect(await keygenFingerprint(knownHosts, 'sha256'), alg).toBe(await keygenFingerprint(printed, 'sha256'));
      }
    });
  });

  it('stops the demo with one line and status 2 for a wrong passphrase, a damaged file or an unsupported variant', async () => {
    const ppk = made[1]!.file;
    const text = readFileSync(ppk, 'utf8');
    const cut = keyFile('cut.ppk', text.slice(0, text.length / 2));
    const v4 = keyFile('v4.ppk', text.replace('PuTTY-User-Key-File-3', 'PuTTY-User-Key-File-4'));
    const demo = (file: string, passphrase: string) =>
      run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../ts/demo/main.ts'), '--port', '0', '--host-key', file, '--host-key-passphrase', passphrase]);
    for (const [file, passphrase, message] of [
      [ppk, 'wrong', `wrong --host-key-passphrase for host key ${ppk}`],
      [made[4]!.file, 'wrong', `wrong --host-key-passphrase for host key ${made[4]!.file}`],
      [cut, PASSPHRASE, `host key ${cut}: malformed key: damaged PuTTY key file`],
      [v4, PASSPHRASE, `host key ${v4}: unsupported: PuTTY key files of version 4 (2 and 3 are read)`],
    ] as const) {
      const r = await demo(file, passphrase);
      expect(r.stderr.toString(), file).toBe(`wasshd demo: ${message}\n`);
      expect(r.code, file).toBe(2);
    }
  }, 60_000);
});

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
      const knownHosts = await sshConnect(demo.port, alg);
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
