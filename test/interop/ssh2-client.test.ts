/** A second, independent client: the `ssh2` npm package's client against the demo server. */

import { readFileSync } from 'node:fs';
import type { ConnectConfig } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUserKey, sha256hex, startDemo, testData, type Demo } from '../helpers/demo.js';
import { connect as connectTo, exec } from '../helpers/ssh2.js';

const USER = 'bob';
const PASSWORD = 'hunter2';
const key = makeUserKey();
let demo: Demo;

beforeAll(async () => {
  demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--authorized-keys', key.authorizedKeys]);
});
afterAll(() => demo?.stop());

const connect = (config: Partial<ConnectConfig>) => connectTo(demo.port, { username: USER, ...config });

describe('ssh2 npm client', () => {
  it('authenticates with a password and runs a command', async () => {
    const c = await connect({ password: PASSWORD });
    try {
      const r = await exec(c, 'whoami');
      expect(r.stdout.toString()).toBe(`${USER}\n`);
      expect(r.code).toBe(0);
      expect((await exec(c, 'exit 42')).code).toBe(42);
    } finally {
      c.end();
    }
  });

  it('authenticates with an ed25519 key', async () => {
    const c = await connect({ privateKey: readFileSync(key.keyFile) });
    try {
      expect((await exec(c, 'echo key works')).stdout.toString()).toBe('key works\n');
    } finally {
      c.end();
    }
  });

  it('is refused with a wrong password', async () => {
    await expect(connect({ password: 'wrong' })).rejects.toThrow(/authentication methods failed/);
  });

  it.each(['aes256-gcm@openssh.com', 'aes128-ctr', 'chacha20-poly1305@openssh.com'])('moves 8 MiB each way byte-exact with %s', async (cipher) => {
    const c = await connect({ password: PASSWORD, algorithms: { cipher: [cipher as never], kex: ['curve25519-sha256'] } });
    try {
      const data = testData(8 * 1024 * 1024, 11);
      const up = await exec(c, 'sha256', data);
      expect(up.stdout.toString().trim()).toBe(sha256hex(data));
      const echoed = await exec(c, 'cat', data);
      expect(sha256hex(echoed.stdout)).toBe(sha256hex(data));
    } finally {
      c.end();
    }
  });

  it('runs several channels on one connection at once', async () => {
    const c = await connect({ password: PASSWORD });
    try {
      const results = await Promise.all([1, 2, 3, 4].map((n) => exec(c, `echo channel ${n}`)));
      expect(results.map((r) => r.stdout.toString())).toEqual(['channel 1\n', 'channel 2\n', 'channel 3\n', 'channel 4\n']);
    } finally {
      c.end();
    }
  });
});
