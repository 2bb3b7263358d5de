/**
 * The workerd entry point in a Worker of the tests' own (fixture-worker.ts) on a local workerd: a trap in the
 * wasm instance, met while serving one request, closes the connections other requests hold and a fresh
 * instance serves the next client; and the transport's write backpressure over workerd's `bufferedAmount`.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHServer as NodeServer, ErrorCode } from '../../ts/node/index.js';
import { bundleWorker, startWorkerd, workerdConfig, type Workerd } from '../../ts/demo/workerd-build.js';
import { exec, type Ssh2Client } from '../helpers/ssh2.js';
import { closeOf, openWebSocket, sshOverWebSocket } from '../helpers/websocket.js';

let workerd: Workerd;
let base: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasshd-workerd-test-'));
  await bundleWorker(new URL('./fixture-worker.ts', import.meta.url).pathname, dir);
  writeFileSync(join(dir, 'config.capnp'), workerdConfig({ fromEnvironment: { HOST_KEY: 'HOST_KEY' } }));
  const hostKey = new NodeServer().generateHostKey();
  workerd = await startWorkerd(join(dir, 'config.capnp'), '127.0.0.1', 0, { ...process.env, HOST_KEY: hostKey });
  base = `127.0.0.1:${workerd.port}`;
});
afterAll(() => workerd?.child.kill());

interface Stats {
  errors: number[];
  flood: { written: number; maxBuffered: number; blocked: boolean; drains: number };
}
const stats = async () => (await (await fetch(`http://${base}/stats`)).json()) as Stats;

/** Polls `/stats` until `done` holds; fails after `ms`. */
async function until(done: (s: Stats) => boolean, ms = 10_000): Promise<Stats> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await stats();
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`still waiting: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const login = async () => (await sshOverWebSocket(`ws://${base}/ssh`, { username: 'u', password: 'pw' })).client;
const closed = (c: Ssh2Client) => new Promise<void>((resolve) => c.once('close', () => resolve()));

describe('the workerd entry point', () => {
  it('after a trap met in one request, closes the connections of the others and serves new clients from a fresh instance', async () => {
    const bystander = await login();
    const victim = await login();
    expect((await exec(bystander, 'echo before')).stdout.toString()).toBe('ran echo before\n');
    const bystanderClosed = closed(bystander);
    const victimClosed = closed(victim);
    victim.exec('trap', () => {});
    await Promise.all([victimClosed, bystanderClosed]);
    expect((await stats()).errors).toContain(ErrorCode.WasmTrapped);

    const next = await login();
    try {
      expect((await exec(next, 'echo after')).stdout.toString()).toBe('ran echo after\n');
    } finally {
      next.end();
    }
  });

  it('keeps up to 320 KiB a client sends before the server has admitted its connection, and closes at more (1008)', async () => {
    const url = `ws://${base}/undecided`;
    // 320 KiB of zeros, then admission: the server reads them as a bad version line and ends the connection itself.
    const within = await openWebSocket(url);
    const withinClosed = closeOf(within);
    for (let i = 0; i < 5; i++) within.send(Buffer.alloc(64 * 1024));
    await fetch(`http://${base}/admit`);
    expect((await withinClosed).code).toBe(1000);

    const beyond = await openWebSocket(url);
    const beyondClosed = closeOf(beyond);
    for (let i = 0; i < 5; i++) beyond.send(Buffer.alloc(64 * 1024));
    beyond.send(Buffer.alloc(1));
    expect(await beyondClosed).toEqual({ code: 1008, reason: 'too much sent before the connection was admitted' });
    await fetch(`http://${base}/admit`);
  });

  it('stops writing to a client that does not read, past 1 MiB queued in workerd, and goes on when it reads', async () => {
    let received = 0;
    let done!: Promise<void>;
    const ws = await openWebSocket(`ws://${base}/flood`, {}, (socket) => {
      socket.on('message', (data: Buffer) => (received += data.length));
      done = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    });
    // The client stops reading its socket: what workerd cannot send stays queued there (bufferedAmount).
    ws.pause();
    const blocked = await until((s) => s.flood.blocked);
    expect(blocked.flood.written).toBeLessThan(32 * 1024 * 1024);
    expect(blocked.flood.maxBuffered).toBeLessThanOrEqual(1024 * 1024 + 256 * 1024);

    ws.resume();
    await done;
    expect(received).toBe(32 * 1024 * 1024);
    expect((await stats()).flood.drains).toBeGreaterThan(0);
  });
});
