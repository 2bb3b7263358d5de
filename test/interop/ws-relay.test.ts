/**
 * wasshd-ws-relay with the test playing the tab (the `ws` package) and the SSH clients (TCP sockets): pairing,
 * the bytes both ways and each side's end reaching the other, and every bound: origins, path, waiting
 * WebSockets, clients, the wait for a WebSocket, what a tab may send before and after pairing, the command line.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { run, WS_RELAY } from '../helpers/demo.js';
import { closeOf, openWebSocket, refusedStatus } from '../helpers/websocket.js';

const ORIGIN = 'https://support.example';
const started: ChildProcess[] = [];
const opened: (Socket | WebSocket)[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s instanceof Socket ? s.destroy() : s.terminate();
  for (const child of started.splice(0)) child.kill();
});

/** Starts the relay with ARGS; resolves with its ports once it prints them. */
function startRelay(...args: string[]): Promise<{ ssh: number; ws: number }> {
  const [program, ...before] = WS_RELAY as [string, ...string[]];
  const child = spawn(program, [...before, '--origin', ORIGIN, '--ssh-port', '0', '--ws-port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the relay exited with ${code}: ${out}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on [^ ]*:(\d+)\nwebsocket on [^ ]*:(\d+)\/tab\n/.exec(out);
      if (m) resolve({ ssh: Number(m[1]), ws: Number(m[2]) });
    });
  });
}

/** Messages each tab received that no `nextMessage` has taken yet, and those waiting for one. */
const inboxes = new WeakMap<WebSocket, { messages: [Buffer, boolean][]; takers: ((m: [Buffer, boolean]) => void)[] }>();

async function tab(port: number, origin = ORIGIN): Promise<WebSocket> {
  // Listening from the start: the pairing notice can arrive with the upgrade, before `open` is awaited.
  const ws = await openWebSocket(`ws://127.0.0.1:${port}/tab`, { origin }, (ws) => {
    const inbox = { messages: [] as [Buffer, boolean][], takers: [] as ((m: [Buffer, boolean]) => void)[] };
    inboxes.set(ws, inbox);
    ws.on('message', (data: Buffer, binary: boolean) => {
      const taker = inbox.takers.shift();
      if (taker) taker([data, binary]);
      else inbox.messages.push([data, binary]);
    });
  });
  opened.push(ws);
  return ws;
}

async function client(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  opened.push(socket);
  await once(socket, 'connect');
  return socket;
}

function nextMessage(ws: WebSocket): Promise<[Buffer, boolean]> {
  const inbox = inboxes.get(ws)!;
  const queued = inbox.messages.shift();
  return queued ? Promise.resolve(queued) : new Promise((resolve) => inbox.takers.push(resolve));
}

it('pairs a client with a waiting WebSocket: the notice names the client, then bytes go both ways and each end reaches the other', async () => {
  const relay = await startRelay();
  const ws = await tab(relay.ws);
  const noticed = nextMessage(ws);
  const socket = await client(relay.ssh);
  const [notice, binary] = await noticed;
  expect(binary).toBe(false);
  expect(JSON.parse(notice.toString())).toEqual({ client: { address: '127.0.0.1', port: socket.localPort } });

  const up = nextMessage(ws);
  socket.write('SSH-2.0-client\r\n');
  expect((await up)[0].toString()).toBe('SSH-2.0-client\r\n');
  const down = once(socket, 'data') as Promise<[Buffer]>;
  ws.send(Buffer.from('SSH-2.0-tab\r\n'));
  expect((await down)[0].toString()).toBe('SSH-2.0-tab\r\n');

  const closed = closeOf(ws);
  socket.end();
  expect((await closed).code).toBe(1000);

  // And the tab's end closes the client.
  const ws2 = await tab(relay.ws);
  const noticed2 = nextMessage(ws2);
  const socket2 = await client(relay.ssh);
  await noticed2;
  const ended = once(socket2, 'end');
  ws2.close(1000);
  await ended;
});

it('holds a client that arrives before any WebSocket until one comes, and drops it after --wait seconds', async () => {
  const relay = await startRelay('--wait', '1');
  const early = await client(relay.ssh);
  early.write('sent while waiting\r\n');
  const ws = await tab(relay.ws);
  const [notice] = await nextMessage(ws);
  expect(JSON.parse(notice.toString()).client.port).toBe(early.localPort);
  expect((await nextMessage(ws))[0].toString()).toBe('sent while waiting\r\n');

  const late = await client(relay.ssh);
  const t0 = Date.now();
  await once(late, 'close');
  expect(Date.now() - t0).toBeGreaterThan(800);
});

it('refuses a WebSocket from another origin or none (403), on another path (404), and past --max-waiting (503)', async () => {
  const relay = await startRelay('--max-waiting', '1');
  expect(await refusedStatus(`ws://127.0.0.1:${relay.ws}/tab`, { origin: 'https://elsewhere.example' })).toBe(403);
  expect(await refusedStatus(`ws://127.0.0.1:${relay.ws}/tab`)).toBe(403);
  expect(await refusedStatus(`ws://127.0.0.1:${relay.ws}/other`, { origin: ORIGIN })).toBe(404);
  await tab(relay.ws);
  expect(await refusedStatus(`ws://127.0.0.1:${relay.ws}/tab`, { origin: ORIGIN })).toBe(503);
});

it('drops clients past --max-clients at once', async () => {
  const relay = await startRelay('--max-clients', '1');
  const ws = await tab(relay.ws);
  const noticed = nextMessage(ws);
  await client(relay.ssh);
  await noticed;
  const second = await client(relay.ssh);
  await once(second, 'close');
});

it('closes a WebSocket that sends before it is paired (1008), and a text message once paired (1003) with its client', async () => {
  const relay = await startRelay();
  const eager = await tab(relay.ws);
  const eagerClosed = closeOf(eager);
  eager.send(Buffer.from('too soon'));
  expect(await eagerClosed).toEqual({ code: 1008, reason: 'nothing to carry before pairing' });

  const ws = await tab(relay.ws);
  const noticed = nextMessage(ws);
  const socket = await client(relay.ssh);
  await noticed;
  const closed = closeOf(ws);
  const gone = once(socket, 'close');
  ws.send('text');
  expect(await closed).toEqual({ code: 1003, reason: 'binary messages only' });
  await gone;
});

it('exits 2 with its usage on a bad command line: no --origin, a bad number', async () => {
  const [program, ...before] = WS_RELAY as [string, ...string[]];
  const noOrigin = await run(program, [...before, '--ssh-port', '0']);
  expect(noOrigin.code).toBe(2);
  expect(noOrigin.stderr).toMatch(/^wasshd-ws-relay: --origin is required.*\nusage: wasshd-ws-relay/s);
  const badPort = await run(program, [...before, '--origin', ORIGIN, '--ssh-port', 'x']);
  expect(badPort.code).toBe(2);
  expect(badPort.stderr).toMatch(/--ssh-port wants a whole number from 0 to 65535/);
});
