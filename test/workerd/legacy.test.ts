/**
 * The legacy algorithms inside a Cloudflare Worker: their primitives live in a wasm module of their own
 * (wasm/pkg-legacy), which the Worker bundle imports and the server instantiates when a setting names one.
 * Debian's OpenSSH `ssh`, through the `wasshd-ws-proxy` bridge, with 3des-cbc and hmac-md5 (both still in
 * OpenSSH 9.2, off by default), moving 1 MiB through `cat` byte-exact; refused where not configured.
 */

import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeUserKey, run, SSH_BASE, startDemo, testData, viaWebSocket, WORKERD_DEMO, type Demo } from '../helpers/demo.js';

let demo: Demo;
let plain: Demo;
const { keyFile, authorizedKeys } = makeUserKey();
const LEGACY = ['-c', '3des-cbc', '-m', 'hmac-md5'];

beforeAll(async () => {
  const flags = ['--ws-port', '0', '--user', 'u:unused-password', '--authorized-keys', authorizedKeys];
  [demo, plain] = await Promise.all([
    startDemo([...flags, '--config', 'SSHEncryptionAlgorithms=aes128-ctr,3des-cbc', '--config', 'SSHMacAlgorithms=hmac-sha2-256,hmac-md5'], {}, WORKERD_DEMO, { tcp: false }),
    startDemo(flags, {}, WORKERD_DEMO, { tcp: false }),
  ]);
}, 120_000);
afterAll(() => Promise.all([demo?.stop(), plain?.stop()]));

const ssh = (d: Demo, command: string, input?: Buffer) =>
  run('ssh', [...SSH_BASE, ...viaWebSocket(d.wsPort!), '-i', keyFile, '-o', 'IdentitiesOnly=yes', ...LEGACY, '-v', 'u@workerd', command], input, 60_000);

it('speaks 3des-cbc with hmac-md5 once configured: 1 MiB through cat byte-exact', async () => {
  const data = testData(1 << 20, 9);
  const r = await ssh(demo, 'cat', data);
  expect(r.code, r.stderr.toString()).toBe(0);
  expect(r.stdout.equals(data)).toBe(true);
  expect(r.stderr.toString()).toMatch(/cipher: 3des-cbc MAC: hmac-md5/);
});

it('offers neither by default', async () => {
  const r = await ssh(plain, 'true');
  expect(r.code).not.toBe(0);
  expect(r.stderr.toString()).toMatch(/no matching cipher found/);
});
