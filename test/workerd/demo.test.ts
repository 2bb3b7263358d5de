/**
 * The demo as a Cloudflare Worker on a local workerd (`npm run demo:workerd`): SSH over WebSocket with the
 * ssh2 client, the endpoint's refusals (path, origin, text and oversized messages) and its command line.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256hex, startDemo, testData, WORKERD_DEMO, type Demo } from '../helpers/demo.js';
import { exec } from '../helpers/ssh2.js';
import { closeOf, openWebSocket, sshOverWebSocket } from '../helpers/websocket.js';

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

const login = async (password = PASSWORD) => (await sshOverWebSocket(url, { username: USER, password })).client;

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

  it('declines permessage-deflate, which encrypted bytes would only make slower', async () => {
    const ws = await openWebSocket(url, { perMessageDeflate: true });
    expect(ws.extensions).toBe('');
    ws.close();
  });

  it('answers 404 beside the endpoint and 426 to a request that is not an upgrade', async () => {
    await expect(openWebSocket(`ws://127.0.0.1:${demo.wsPort}/other`)).rejects.toThrow('HTTP 404');
    const plain = await fetch(`http://127.0.0.1:${demo.wsPort}/ssh`);
    expect(plain.status).toBe(426);
  });

  it('closes on a text message (1003) and on one over 1 MiB (1009)', async () => {
    const text = await openWebSocket(url);
    const textClosed = closeOf(text);
    text.send('SSH-2.0-client\r\n');
    expect((await textClosed).code).toBe(1003);

    const big = await openWebSocket(url);
    const bigClosed = closeOf(big);
    big.send(Buffer.alloc(MiB + 1));
    expect((await bigClosed).code).toBe(1009);
  });
});

/** The folder the demo built its Worker in: its workerd child's config is there. */
function buildFolder(d: Demo): string {
  const pid = d.process.pid!;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ');
  const workerd = children.map((child) => readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0')).find((argv) => argv[1] === 'serve');
  return dirname(workerd![2]!);
}

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

  it('without --user, prints a generated password that logs in; keeps its host key in the state directory; binds --listen', async () => {
    const state = mkdtempSync(join(tmpdir(), 'wasshd-state-'));
    const hostKeys: string[] = [];
    for (const listen of ['127.0.0.1', '127.0.0.2']) {
      const d = await startDemo(['--ws-port', '0', '--listen', listen], { WASSHD_STATE_DIR: state }, WORKERD_DEMO, { tcp: false });
      try {
        expect(d.stdout()).toContain(`state directory: ${state}\n`);
        expect(d.stdout()).toMatch(new RegExp(`^websocket on ${listen.replace(/\./g, '\\.')}:${d.wsPort}$`, 'm'));
        const password = /^user demo, password (\S+)$/m.exec(d.stdout())?.[1];
        expect(password).toMatch(/^[\w-]{12}$/);
        const { client: c } = await sshOverWebSocket(`ws://${listen}:${d.wsPort}/ssh`, {
          username: 'demo',
          password: password!,
          hostVerifier: (key: Buffer) => {
            hostKeys.push(key.toString('base64'));
            return true;
          },
        });
        expect((await exec(c, 'whoami')).stdout.toString()).toBe('demo\n');
        c.end();
      } finally {
        await d.stop();
      }
    }
    expect(hostKeys[1]).toBe(hostKeys[0]);
  });

  it('writes no password or private key to disk: they reach the Worker through its environment', async () => {
    const state = mkdtempSync(join(tmpdir(), 'wasshd-state-'));
    const d = await startDemo(['--ws-port', '0', '--user', 'u:a secret password'], { WASSHD_STATE_DIR: state }, WORKERD_DEMO, { tcp: false });
    // A line of the host key's base64 body.
    const keyLine = readFileSync(join(state, 'ssh_host_ed25519_key'), 'utf8').split('\n')[2]!;
    expect(keyLine).toMatch(/^[A-Za-z0-9+/=]{60,}$/);
    try {
      const folder = buildFolder(d);
      const files = readdirSync(folder);
      expect(files.sort()).toEqual(['config.capnp', 'wasshd_keys_bg.wasm', 'wasshd_legacy_bg.wasm', 'wasshd_wasm_bg.wasm', 'worker.js']);
      for (const file of files) {
        const text = readFileSync(join(folder, file), 'latin1');
        expect(text).not.toContain('a secret password');
        expect(text).not.toContain(keyLine);
      }
    } finally {
      await d.stop();
    }
  });

  it('exits 0 on SIGTERM, with workerd stopped and its build folder removed', async () => {
    const d = await startDemo(['--ws-port', '0', '--user', 'u:p'], {}, WORKERD_DEMO, { tcp: false });
    const folder = buildFolder(d);
    const exited = new Promise<number | null>((resolve) => d.process.once('exit', (code) => resolve(code)));
    await d.stop();
    expect(await exited).toBe(0);
    expect(existsSync(folder)).toBe(false);
    await expect(fetch(`http://127.0.0.1:${d.wsPort}/ssh`)).rejects.toThrow();
  });
});
