/**
 * The Deno and Bun WebSocket endpoints (`--ws-port`), with the ssh2 client running over the `ws` package:
 * the SSH byte stream in binary messages both ways, the path, the Origin allow-list, and the close codes
 * for what the endpoint does not take.
 */

import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { closeAfterEach } from '../helpers/cleanup.js';
import { BUN, BUN_DEMO, DENO, DENO_DEMO, requirePrograms, sha256hex, startDemo, testData, type Demo } from '../helpers/demo.js';
import { exec } from '../helpers/ssh2.js';
import { closeOf, openWebSocket, refusedStatus, sshOverWebSocket } from '../helpers/websocket.js';

const RUNTIMES = [
  { name: 'deno', command: DENO_DEMO, requires: [DENO] },
  { name: 'bun', command: BUN_DEMO, requires: [BUN] },
];

const USER = 'wsuser';
const PASSWORD = 'ws pw';
const ORIGIN = 'https://console.example';
const MiB = 1024 * 1024;
/** `startWebSocket`'s default maximum message size, which the demo keeps. */
const MAX_MESSAGE = MiB;

describe.each(RUNTIMES)('$name WebSocket endpoint', ({ command, requires }) => {
  const open = closeAfterEach();
  let demo: Demo;
  beforeAll(async () => {
    requirePrograms(...requires);
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--ws-port', '0', '--ws-origin', ORIGIN], {}, command);
  });
  afterAll(() => demo?.stop());
  const url = (path = '/ssh') => `ws://127.0.0.1:${demo.wsPort}${path}`;

  it('serves ssh2 over the WebSocket: login, exec, 16 MiB byte-exact both ways', async () => {
    const { client } = await sshOverWebSocket(url(), { username: USER, password: PASSWORD });
    open.clients.push(client);
    const echo = await exec(client, 'echo over a websocket');
    expect(echo.stdout.toString()).toBe('over a websocket\n');
    expect(echo.code).toBe(0);
    const data = testData(16 * MiB, 11);
    const up = await exec(client, 'sha256', data);
    expect(up.stdout.toString().trim()).toBe(sha256hex(data));
    const down = await exec(client, `source ${16 * MiB}`);
    expect(down.stdout.length).toBe(16 * MiB);
    expect(sha256hex(down.stdout)).toBe(sha256hex(Buffer.from(Uint8Array.from({ length: 16 * MiB }, (_, i) => i % 251))));
  });

  it('flushes what it sent before closing: a bad identification line is answered, then the connection closed', async () => {
    // Listening from the start: the server's first message can come in the same read as the upgrade.
    const ws = new WebSocket(url());
    const received: Buffer[] = [];
    ws.on('message', (m: Buffer) => received.push(m));
    const closed = closeOf(ws);
    await once(ws, 'open');
    ws.send(Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    expect((await closed).code).toBe(1000);
    const text = Buffer.concat(received).toString('latin1');
    expect(text.startsWith('SSH-2.0-')).toBe(true);
    expect(text.endsWith('Invalid SSH identification string.\r\n')).toBe(true);
  });

  it('lets in a listed origin and refuses another with 403 before upgrading', async () => {
    const listed = await openWebSocket(url(), { origin: ORIGIN });
    listed.terminate();
    expect(await refusedStatus(url(), { origin: 'https://elsewhere.example' })).toBe(403);
  });

  it('answers 404 on another path', async () => {
    expect(await refusedStatus(url('/other'))).toBe(404);
  });

  it('closes the connection on a text message (1003)', async () => {
    const ws = await openWebSocket(url());
    const closed = closeOf(ws);
    ws.send('SSH-2.0-as text\r\n');
    expect((await closed).code).toBe(1003);
  });

  it('closes the connection on a message over the maximum size (1009)', async () => {
    const ws = await openWebSocket(url());
    const closed = closeOf(ws);
    ws.send(Buffer.alloc(MAX_MESSAGE + 1));
    expect((await closed).code).toBe(1009);
  });
});
