/**
 * The demo as a Cloudflare Worker on a local workerd (`npm run demo:workerd`): SSH over WebSocket with the
 * ssh2 client, the endpoint's refusals (path, origin, text and oversized messages) and its command line.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256hex, startDemo, testData, WORKERD_DEMO, type Demo } from '../helpers/demo.js';
import { exec } from '../helpers/ssh2.js';
import { closedWith, connectOverWebSocket, openWebSocket } from '../helpers/websocket.js';

const MiB = 1024 * 1024;
const USER = 'worker';
const PASSWORD = 'worker pw';
const ORIGIN = 'https://console.example';

let demo: Demo;
let url: string;
beforeAll(async () => {
  demo = await startDemo(['--ws-port', '0', '--user', `${USER}:${PASSWORD}`, '--ws-origin', ORIGIN, '--verbose'], {}, WORKERD_DEMO, { tcp: false });
  url = `ws://127.0.0.1:${demo.wsPort}/ssh`;
});
afterAll(() => demo?.stop());

const login = (password = PASSWORD) => connectOverWebSocket(url, { username: USER, password });

describe('the workerd demo over WebSocket', () => {
  it('prints the endpoint, logs in and runs a command', async () => {
    expect(demo.stdout()).toMatch(/^websocket on 127\.0\.0\.1:\d+$/m);
    expect(demo.stdout()).not.toMatch(/listening on/);
    const c = await login();
    try {
      const r = await exec(c, 'echo from a Worker');
      expect(r.stdout.toString()).toBe('from a Worker\n');
      expect(r.code).toBe(0);
      expect((await exec(c, 'whoami')).stdout.toString()).toBe(`${USER}\n`);
    } finally {
      c.end();
    }
  });

  it('moves 16 MiB byte-exact both ways', async () => {
    const c = await login();
    try {
      const data = testData(16 * MiB, 21);
      const up = await exec(c, 'sha256', data);
      expect(up.stdout.toString().trim()).toBe(sha256hex(data));
      const down = await exec(c, `source ${16 * MiB}`);
      expect(down.stdout.length).toBe(16 * MiB);
      expect(sha256hex(down.stdout)).toBe(sha256hex(Buffer.from(Uint8Array.from({ length: 16 * MiB }, (_, i) => i % 251))));
    } finally {
      c.end();
    }
  });

  it('refuses a wrong password', async () => {
    await expect(login('not the password')).rejects.toThrow(/authentication methods failed/);
  });

  it('serves two clients at the same time, each from the address workerd saw', async () => {
    const [a, b] = await Promise.all([login(), login()]);
    try {
      const data = testData(2 * MiB, 22);
      const [ra, rb] = await Promise.all([exec(a, 'sha256', data), exec(b, 'cat', data)]);
      expect(ra.stdout.toString().trim()).toBe(sha256hex(data));
      expect(sha256hex(rb.stdout)).toBe(sha256hex(data));
    } finally {
      a.end();
      b.end();
    }
    await demo.settled();
    expect(demo.stderr()).toMatch(/\] connected from 127\.0\.0\.1\n/);
  });

  it('refuses an origin not allowed, before upgrading; lets its own origin and non-browser clients in', async () => {
    await expect(openWebSocket(url, { origin: 'https://elsewhere.example' })).rejects.toThrow('HTTP 403');
    for (const ws of [await openWebSocket(url, { origin: ORIGIN }), await openWebSocket(url)]) ws.close();
  });

  it('answers 404 beside the endpoint and 426 to a request that is not an upgrade', async () => {
    await expect(openWebSocket(`ws://127.0.0.1:${demo.wsPort}/other`)).rejects.toThrow('HTTP 404');
    const plain = await fetch(`http://127.0.0.1:${demo.wsPort}/ssh`);
    expect(plain.status).toBe(426);
  });

  it('closes on a text message (1003) and on one over 1 MiB (1009)', async () => {
    const text = await openWebSocket(url);
    const textClosed = closedWith(text);
    text.send('SSH-2.0-client\r\n');
    expect((await textClosed).code).toBe(1003);

    const big = await openWebSocket(url);
    const bigClosed = closedWith(big);
    big.send(Buffer.alloc(MiB + 1));
    expect((await bigClosed).code).toBe(1009);
  });
});

describe('the workerd demo command line', () => {
  const run = (args: string[]) =>
    spawnSync(WORKERD_DEMO[0]!, [...WORKERD_DEMO.slice(1), ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, WASSHD_STATE_DIR: mkdtempSync(join(tmpdir(), 'wasshd-state-')) },
    });

  it('wants --ws-port and refuses --port: a Worker has no TCP listener', () => {
    const none = run(['--user', 'u:p']);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/--ws-port is required/);
    const tcp = run(['--port', '2222', '--ws-port', '0']);
    expect(tcp.status).toBe(2);
    expect(tcp.stderr).toMatch(/accepts no TCP connections/);
  });

  it('stops with the setting a bad --config names, before printing the endpoint', () => {
    const r = run(['--ws-port', '0', '--user', 'u:p', '--config', 'NoSuchSetting=1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown setting: NoSuchSetting/);
    expect(r.stdout).not.toMatch(/websocket on/);
  });

  it('exits 0 on SIGTERM', async () => {
    const d = await startDemo(['--ws-port', '0', '--user', 'u:p'], {}, WORKERD_DEMO, { tcp: false });
    const exited = new Promise<number | null>((resolve) => d.process.once('exit', (code) => resolve(code)));
    await d.stop();
    expect(await exited).toBe(0);
  });
});
