/**
 * Both crypto providers with real clients: OpenSSH with every cipher and MAC, 8 MiB byte-exact both ways with
 * key re-exchanges, against a demo forced to each (`CryptoProvider=wasm`, `host`); and the host provider's
 * table of keyed objects, which empties as connections close and starts empty in the instance that replaces
 * a trapped one.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostCryptoHandles } from '../../ts/core/instance.js';
import { nodeRuntime } from '../../ts/node/index.js';
import { SSHServer } from '../../ts/server.js';
import type { Core } from '../../wasm/pkg/wasshd_wasm.js';
import { sha256hex, ssh, startDemo, testData, type Demo } from '../helpers/demo.js';
import { connect, type Ssh2Client } from '../helpers/ssh2.js';

const MiB = 1024 * 1024;
const USER = 'carol';
const PASSWORD = 'provider-pw';

const HMACS = ['hmac-sha2-256', 'hmac-sha2-512', 'hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'];
/** UMAC is the core's own on either provider (over the AES-CTR the provider gives), so one cipher serves. */
const UMACS = ['umac-64@openssh.com', 'umac-64-etm@openssh.com', 'umac-128@openssh.com', 'umac-128-etm@openssh.com'];
/** The legacy HMACs, off by default: SHA-1 and MD5, whole and cut to 96 bits, in both orders. */
const LEGACY_HMACS = ['hmac-sha1', 'hmac-sha1-96', 'hmac-md5', 'hmac-md5-96'].flatMap((mac) => [mac, `${mac}-etm@openssh.com`]);

/** Every cipher; with AES-CTR every MAC in both orders (the AEAD ciphers have none: ''). */
const SUITES: [cipher: string, mac: string][] = [
  ['chacha20-poly1305@openssh.com', ''],
  ['aes128-gcm@openssh.com', ''],
  ['aes256-gcm@openssh.com', ''],
  ...['aes128-ctr', 'aes192-ctr', 'aes256-ctr'].flatMap((cipher): [string, string][] => HMACS.map((mac) => [cipher, mac])),
  ...[...UMACS, ...LEGACY_HMACS].map((mac): [string, string] => ['aes128-ctr', mac]),
  // The CBC modes, off by default, each with a MAC of another kind.
  ['aes128-cbc', 'hmac-sha2-256'],
  ['aes192-cbc', 'hmac-sha2-512-etm@openssh.com'],
  ['aes256-cbc', 'umac-128-etm@openssh.com'],
  ['3des-cbc', 'hmac-sha1'],
];
const CIPHERS = [...new Set(SUITES.map(([cipher]) => cipher))];

describe.each(['wasm', 'host'])('CryptoProvider=%s with OpenSSH', (provider) => {
  let demo: Demo;
  beforeAll(async () => {
    // Every MAC offered, those off by default included.
    const macs = `SSHMacAlgorithms=${[...HMACS, ...UMACS, ...LEGACY_HMACS].join(',')}`;
    const ciphers = `SSHEncryptionAlgorithms=${CIPHERS.join(',')}`;
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--config', `CryptoProvider=${provider}`, '--config', macs, '--config', ciphers, '--verbose']);
  });
  afterAll(() => demo?.stop());

  it.each(SUITES)('%s %s: 8 MiB each way byte-exact across key re-exchanges', async (cipher, mac) => {
    const data = testData(8 * MiB, cipher.length * 31 + mac.length);
    const before = (demo.stderr().match(/keys re-exchanged/g) ?? []).length;
    const options = ['-c', cipher, ...(mac ? ['-m', mac] : []), '-o', 'RekeyLimit=4M'];
    const r = await ssh(demo.port, { user: USER, password: PASSWORD, command: 'cat', options, input: data });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(data.length);
    expect(sha256hex(r.stdout)).toBe(sha256hex(data));
    await demo.settled();
    expect((demo.stderr().match(/keys re-exchanged/g) ?? []).length - before).toBeGreaterThanOrEqual(2);
  });
});

describe('the host provider table', () => {
  const server = new SSHServer(nodeRuntime, { localPort: 0 });
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.password === PASSWORD ? e.accept() : e.reject()));
  let port = 0;
  const coreOf = (): Core => server['binding'].core;
  const handles = () => hostCryptoHandles(coreOf());

  beforeAll(async () => {
    port = (await server.startListening()).port;
  });
  afterAll(() => server.shutdown(500));

  /** ssh2 offers: each suite and the keyed objects it holds per connection (both directions). */
  const OFFERS: { cipher: string; hmac?: string; objects: number }[] = [
    { cipher: 'chacha20-poly1305@openssh.com', objects: 2 },
    { cipher: 'aes128-gcm@openssh.com', objects: 2 },
    { cipher: 'aes256-gcm@openssh.com', objects: 2 },
    { cipher: 'aes128-ctr', hmac: 'hmac-sha2-256', objects: 4 },
    { cipher: 'aes256-ctr', hmac: 'hmac-sha2-512-etm@openssh.com', objects: 4 },
  ];
  const login = (i: number) =>
    connect(port, {
      username: USER,
      password: PASSWORD,
      algorithms: { cipher: [OFFERS[i % OFFERS.length]!.cipher as never], hmac: [(OFFERS[i % OFFERS.length]!.hmac ?? 'hmac-sha2-256') as never] },
    });
  const closed = (c: Ssh2Client) => new Promise<void>((resolve) => (c.once('close', () => resolve()), c.end()));
  /** Resolves once the server has forgotten every connection (a disconnect reaches the core after the socket's end). */
  async function drained(): Promise<void> {
    for (let waited = 0; server.connections.size > 0 || coreOf().connection_count() > 0; waited += 10) {
      if (waited > 10_000) throw new Error(`connections left: ${server.connections.size}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('holds what each open connection keyed, and nothing after 100 connections have closed', async () => {
    expect(server.config('CryptoProvider')).toBe('host');
    expect(handles()).toBe(0);
    for (const [i, offer] of OFFERS.entries()) {
      const c = await login(i);
      expect(handles(), offer.cipher).toBe(offer.objects);
      await closed(c);
      await drained();
      expect(handles(), offer.cipher).toBe(0);
    }
    for (let round = 0; round < 10; round++) {
      const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => login(round * 10 + i)));
      expect(handles()).toBeGreaterThanOrEqual(20);
      await Promise.all(clients.map(closed));
    }
    await drained();
    expect(handles()).toBe(0);
  });

  it('starts empty in the instance that replaces a trapped one', async () => {
    const victims = await Promise.all([login(0), login(3)]);
    const trapped = coreOf();
    expect(handles()).toBe(6);
    const restarted = new Promise<void>((resolve) => server.on('log', (e) => void (/fresh wasm instance started/.test(e.message) && resolve())));
    const gone = Promise.all(victims.map((c) => new Promise<void>((resolve) => c.once('close', () => resolve()))));
    // As trap.test.ts does: a pointer far past the end of linear memory makes the next call trap.
    (trapped as unknown as { __wbg_ptr: number }).__wbg_ptr = 0xfffffff0;
    victims[0]!.exec('anything', () => {});
    await Promise.all([restarted, gone]);
    expect(coreOf()).not.toBe(trapped);
    // The trapped instance never freed its six; they went with it and its table.
    expect(hostCryptoHandles(trapped)).toBe(6);
    expect(handles()).toBe(0);
    const again = await login(4);
    expect(handles()).toBe(4);
    await closed(again);
    await drained();
    expect(handles()).toBe(0);
  });
});
