/**
 * A client that stops reading makes the Deno and Bun servers stop sending, over TCP and over WebSocket:
 * the transport's `write` reports backpressure, the host stops handing the core channel data, and what the
 * transport holds stays near its high-water mark instead of growing with what the SSH windows allow. The
 * server is test/fixtures/watched-server.ts, which reports how much its transports held after each write.
 */

import { connect as tcpConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WatchedStats } from '../fixtures/watched-server.js';
import { startWatched, WATCHED, type Watched } from '../helpers/watched.js';
import { requirePrograms, sha256hex, testData } from '../helpers/demo.js';
import { type Ssh2Client } from '../helpers/ssh2.js';
import { sshOverWebSocket } from '../helpers/websocket.js';
import ssh2 from 'ssh2';

const RUNTIMES = [
  { name: 'deno', command: WATCHED.deno },
  { name: 'bun', command: WATCHED.bun },
];

const MiB = 1024 * 1024;
/** The adapters' high-water mark; a write that crosses it may add one output of the core (256 KiB) beyond. */
const HIGH_WATER_MARK = MiB;
const BOUND = HIGH_WATER_MARK + 512 * 1024;
/** ssh2's channel window: what the server may send on a channel before the client adjusts it. */
const SSH2_WINDOW = 2 * MiB;
/** Channels echoing at once: their windows let the server send far more than the kernel's socket buffers hold. */
const CHANNELS = 16;
const EACH = 4 * MiB;

/** ssh2 over a TCP socket or a WebSocket, with a way to stop and restart reading at the socket. */
async function connectClient(kind: 'tcp' | 'websocket', server: Watched): Promise<{ client: Ssh2Client; pause(): void; resume(): void; received(): number }> {
  const config = { username: 'watch', password: 'watch pw', readyTimeout: 20_000 };
  if (kind === 'websocket') {
    const { client, ws } = await sshOverWebSocket(`ws://127.0.0.1:${server.wsPort}/ssh`, config);
    const socket = (ws as unknown as { _socket: Socket })._socket;
    return { client, pause: () => ws.pause(), resume: () => ws.resume(), received: () => socket.bytesRead };
  }
  const socket = tcpConnect({ host: '127.0.0.1', port: server.tcpPort });
  const client = await new Promise<Ssh2Client>((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('ready', () => resolve(c));
    c.on('error', reject);
    c.connect({ ...config, sock: socket });
  });
  return { client, pause: () => socket.pause(), resume: () => socket.resume(), received: () => socket.bytesRead };
}

/**
 * Runs `cat` on a new channel; resolves once it runs, with a way to send it `data` and the promise of all
 * it sends back. Its input is sent only once the client has stopped reading, so that the client's socket
 * buffer has not grown with earlier traffic and the server's own bounds are what is measured.
 */
function echo(client: Ssh2Client, data: Buffer): Promise<{ send(): void; output: Promise<Buffer> }> {
  return new Promise((started, fail) =>
    client.exec('cat', (err, stream) => {
      if (err) return fail(err);
      const out: Buffer[] = [];
      stream.on('data', (d: Buffer) => out.push(d));
      started({ send: () => stream.end(data), output: new Promise((done) => stream.on('close', () => done(Buffer.concat(out)))) });
    }),
  );
}

/** Resolves once the server's writes of `kind` have gone past `before` and then stopped: unchanged over several looks in a row. */
async function stalled(server: Watched, kind: 'tcp' | 'websocket', before: number): Promise<WatchedStats> {
  let last = before;
  let still = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const stats = await server.stats();
    if (stats[kind].written > before && stats[kind].written === last) {
      if (++still === 5) return stats;
    } else still = 0;
    last = stats[kind].written;
  }
}

describe.each(RUNTIMES)('$name', ({ command }) => {
  let server: Watched;
  beforeAll(async () => {
    requirePrograms(command[0]!);
    server = await startWatched(command);
  });
  afterAll(() => server?.stop());

  it.each(['tcp', 'websocket'] as const)('over %s, a client that stops reading makes the server stop sending', async (kind) => {
    const { client, pause, resume, received } = await connectClient(kind, server);
    try {
      const inputs = Array.from({ length: CHANNELS }, (_, i) => testData(EACH, i + 1));
      const running = await Promise.all(inputs.map((data) => echo(client, data)));
      const before = (await server.stats())[kind].written;
      pause();
      for (const r of running) r.send();
      const atStall = await stalled(server, kind, before);
      // What the server wrote and the client has not read sits in the kernels' socket buffers and the transport.
      const inFlight = atStall[kind].written - received();
      expect(atStall[kind].maxBuffered, 'the most the transport held').toBeLessThanOrEqual(BOUND);
      expect(inFlight, 'the transport stopped the server, not the SSH windows').toBeLessThan((CHANNELS * SSH2_WINDOW) / 2);
      expect(atStall[kind].refusals, 'writes the transport refused').toBeGreaterThan(0);
      resume();
      const outputs = await Promise.all(running.map((r) => r.output));
      outputs.forEach((output, i) => expect(sha256hex(output), `channel ${i}`).toBe(sha256hex(inputs[i]!)));
      const after = await server.stats();
      expect(after[kind].maxBuffered).toBeLessThanOrEqual(BOUND);
      expect(after[kind].drains).toBeGreaterThan(0);
    } finally {
      client.end();
    }
  });
});
