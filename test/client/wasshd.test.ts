/**
 * The JavaScript SSH client (`SSHClient` from the Node entry) against our own server: the demo on Node, with a
 * host key of the test's own so that the fingerprint the client shows can be checked against `ssh-keygen`.
 */

import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { instantiateClientCore } from '../../ts/client/instance.js';
import type { HostCrypto } from '../../ts/core/instance.js';
import { nodeCryptoProvider } from '../../ts/core/node-crypto-provider.js';
import { nodeConnectTcp } from '../../ts/node/tcp.js';
import { SSHClient, SSHError, type NodeSSHClientOptions } from '../../ts/node/index.js';
import { makeUserKey, sha256hex, startDemo, testData, type Demo } from '../helpers/demo.js';
import { fingerprintOf } from '../helpers/sshd.js';

const USER = 'carol';
const PASSWORD = 'correct horse';
const MIB16 = 16 * 1024 * 1024;
const userKey = makeUserKey();
const keys = mkdtempSync(join(tmpdir(), 'wasshd-host-'));
const hostKey = join(keys, 'host_ed25519');
const ecdsaKey = join(keys, 'id_ecdsa');
const ECDSA_PASSPHRASE = 'ecdsa pass phrase';
let demo: Demo;
let fingerprint: string;

beforeAll(async () => {
  const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'demo host', '-f', hostKey]);
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
  fingerprint = fingerprintOf(`${hostKey}.pub`);
  const ecdsa = spawnSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', ECDSA_PASSPHRASE, '-C', 'ecdsa user', '-f', ecdsaKey]);
  if (ecdsa.status !== 0) throw new Error(`ssh-keygen failed: ${ecdsa.stderr}`);
  appendFileSync(userKey.authorizedKeys, readFileSync(`${ecdsaKey}.pub`));
  demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--authorized-keys', userKey.authorizedKeys, '--host-key', hostKey]);
});
afterAll(() => demo?.stop());

const trusted = (shown: string) => shown === fingerprint;
const connect = (options: Partial<NodeSSHClientOptions>) =>
  SSHClient.connect({ host: '127.0.0.1', port: demo.port, user: USER, verifyHostKey: trusted, ...options });
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

describe('SSHClient against the wasshd demo', () => {
  it('logs in with a password after showing the host key ssh-keygen prints, and runs a command', async () => {
    const shown: string[] = [];
    const c = await connect({ password: PASSWORD, verifyHostKey: (fp, key) => (shown.push(`${fp} ${key.algorithm}`), trusted(fp)) });
    try {
      expect(shown).toEqual([`${fingerprint} ssh-ed25519`]);
      const r = await c.exec('echo hello');
      expect(text(r.stdout)).toBe('hello\n');
      expect(r.code).toBe(0);
      expect((await c.exec('exit 42')).code).toBe(42);
    } finally {
      await c.close();
    }
  });

  it('logs in with keyboard-interactive, answering the server prompts', async () => {
    const asked: string[] = [];
    const c = await connect({ keyboardInteractive: (prompts) => prompts.map((p) => (asked.push(`${p.prompt}|${p.echo}`), PASSWORD)) });
    try {
      expect(asked).toEqual(['Password: |false']);
      expect(text((await c.exec('whoami')).stdout)).toBe(`${USER}\n`);
    } finally {
      await c.close();
    }
  });

  it('logs in with an ed25519 key', async () => {
    const c = await connect({ privateKey: readFileSync(userKey.keyFile, 'utf8') });
    try {
      expect(text((await c.exec('whoami')).stdout)).toBe(`${USER}\n`);
    } finally {
      await c.close();
    }
  });

  it('is refused with a wrong password, and says so', async () => {
    const failed = await connect({ password: 'wrong' }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(SSHError);
    expect((failed as SSHError).code).toBe(1300);
    expect((failed as SSHError).message).toBe(`authentication failed for user "${USER}": the server refused the password (it takes password, publickey, keyboard-interactive)`);
  });

  it('logs in with a passphrase-protected ECDSA key, and says when the passphrase is wrong', async () => {
    const privateKey = readFileSync(ecdsaKey, 'utf8');
    const c = await connect({ privateKey, passphrase: ECDSA_PASSPHRASE });
    try {
      expect(text((await c.exec('whoami')).stdout)).toBe(`${USER}\n`);
    } finally {
      await c.close();
    }
    const failed = await connect({ privateKey, passphrase: 'wrong' }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 1302, message: 'private key: wrong passphrase for the key file' });
  });

  it('refuses a private key file it cannot read, saying why', async () => {
    const failed = await connect({ privateKey: 'not a key' }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 1303, message: 'private key: unsupported: a key file without PEM armour (-----BEGIN ...)' });
  });

  it('ends the connection when verifyHostKey refuses the key', async () => {
    const failed = await connect({ password: PASSWORD, verifyHostKey: () => false }).catch((e: unknown) => e);
    expect((failed as SSHError).code).toBe(1304);
    expect((failed as SSHError).message).toBe(`host key ${fingerprint} (ssh-ed25519) was not accepted by verifyHostKey`);
  });

  it('seals its packets with node:crypto, the host provider, on Node', async () => {
    const providers: HostCrypto[] = [];
    const module = new WebAssembly.Module(readFileSync(new URL('../../wasm/pkg-client/wasshd_client_bg.wasm', import.meta.url)));
    class WatchedClient extends SSHClient {
      static async watched(): Promise<SSHClient> {
        const provider = () => providers[providers.push(nodeCryptoProvider()) - 1]!;
        const runtime = { createClientCore: (seed: Uint8Array, now: number) => instantiateClientCore(module, seed, now, provider) };
        const open = () => nodeConnectTcp('127.0.0.1', demo.port);
        return SSHClient.loggedIn({}, open, (transport) => new WatchedClient(runtime, { transport, user: USER, password: PASSWORD, verifyHostKey: trusted }));
      }
    }
    const c = await WatchedClient.watched();
    try {
      expect(text((await c.exec('echo sealed')).stdout)).toBe('sealed\n');
      // A keyed cipher (and a MAC or not, by the cipher) each way, held by the host's table.
      expect(providers).toHaveLength(1);
      expect(providers[0]!.liveHandles()).toBeGreaterThanOrEqual(2);
    } finally {
      await c.close();
    }
  });

  it('reports a connection the server drops as lost', async () => {
    const dropping: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', resolve));
    try {
      const port = (dropping.address() as { port: number }).port;
      const failed = await connect({ port, password: PASSWORD }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(SSHError);
      expect((failed as SSHError).code).toBe(1310);
      expect((failed as SSHError).message).toBe('connection lost');
    } finally {
      dropping.close();
    }
  });

  it('gives up a login that does not finish within timeoutMs, saying at which step', async () => {
    // A server that takes the connection and says nothing.
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = performance.now();
      const quiet = await connect({ port, password: PASSWORD, timeoutMs: 300 }).catch((e: unknown) => e);
      expect(quiet).toBeInstanceOf(SSHError);
      expect((quiet as SSHError).code).toBe(1312);
      expect((quiet as SSHError).message).toBe('no login within 300 ms: the server sent no SSH version line');
      expect(performance.now() - started).toBeLessThan(3000);
    } finally {
      silent.close();
    }
    const undecided = await connect({ password: PASSWORD, timeoutMs: 500, verifyHostKey: () => new Promise<boolean>(() => {}) }).catch((e: unknown) => e);
    expect((undecided as SSHError).message).toBe('no login within 500 ms: verifyHostKey did not answer');
    await expect(connect({ password: PASSWORD, timeoutMs: 0 })).rejects.toThrow('timeoutMs must be a number of milliseconds from 1 to 2147483647, not 0');
  });

  it('keeps a connection that logged in within timeoutMs past it', async () => {
    const c = await connect({ password: PASSWORD, timeoutMs: 2000 });
    try {
      await new Promise((resolve) => setTimeout(resolve, 2200));
      expect(text((await c.exec('echo still here')).stdout)).toBe('still here\n');
    } finally {
      await c.close();
    }
  });

  it('moves 16 MiB byte-exact up and down', async () => {
    const c = await connect({ password: PASSWORD });
    try {
      const data = testData(MIB16, 7);
      const up = await c.exec('sha256', { stdin: data });
      expect(text(up.stdout).trim()).toBe(sha256hex(data));
      const down = await c.exec(`source ${MIB16}`);
      expect(down.stdout.length).toBe(MIB16);
      expect(down.stdout.every((b, i) => b === i % 251)).toBe(true);
      const both = await c.exec('cat', { stdin: data });
      expect(sha256hex(Buffer.from(both.stdout))).toBe(sha256hex(data));
    } finally {
      await c.close();
    }
  });
});
