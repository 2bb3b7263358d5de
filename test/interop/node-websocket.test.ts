/**
 * SSH over WebSocket on Node (ts/node/websocket.ts, on uWebSockets.js) and the wasshd-ws-proxy bridge that
 * takes OpenSSH there: the native server is the one running; the endpoint's contract (path, Origin, message
 * kinds and sizes, the client's address); the bridge's errors; and backpressure from a client that stops
 * reading. The conformance suite runs the common OpenSSH checks over the same endpoint.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { nodeRuntime } from '../../ts/node/index.js';
import { addressText, HIGH_WATER_MARK, uwsWebSocket } from '../../ts/node/websocket.js';
import { SSHServer as BaseServer, type SSHServerOptions } from '../../ts/server.js';
import type { Transport, WebSocketListenAdapter } from '../../ts/transport.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { makeUserKey, nodeDemoOn, requirePrograms, run, sha256hex, SSH_BASE, ssh, startDemo, testData, viaWebSocket, WS_PROXY, type Demo } from '../helpers/demo.js';

const open = closeAfterEach();
const key = makeUserKey();
const MiB = 1024 * 1024;
const ALLOWED = 'https://ok.example';

/** Resolves when the client is upgraded; rejects with the HTTP status when it is refused. */
function connectWs(url: string, origin?: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...(origin ? { origin } : {}) });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    ws.once('error', reject);
  });
}

function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Runs the bridge by itself, with nothing on stdin. */
function bridge(args: string[]) {
  return run(WS_PROXY[0]!, [...WS_PROXY.slice(1), ...args]);
}

/** A server on the library with the test key allowed, for tests that need a hand on it. */
function keyServer(options: SSHServerOptions = {}, runtime = nodeRuntime): BaseServer {
  const server = new BaseServer(runtime, { localPort: 0, ...options });
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.authMethod === 'publickey' && e.publicKey?.openssh === key.publicLine.split(' ').slice(0, 2).join(' ') ? e.accept() : e.reject()));
  open.servers.push(server);
  return server;
}

const withKey = ['-i', key.keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes'];

describe('the demo endpoint (--ws-port)', () => {
  let demo: Demo;
  let base: string;
  beforeAll(async () => {
    demo = await startDemo(['--ws-port', '0', '--ws-origin', ALLOWED, '--user', 'u:pw', '--authorized-keys', key.authorizedKeys, '--verbose']);
    base = `127.0.0.1:${demo.wsPort}`;
  });
  afterAll(() => demo?.stop());

  it('is served by the native uWebSockets.js server', async () => {
    const elsewhere = await fetch(`http://${base}/elsewhere`);
    expect(elsewhere.status).toBe(404);
    // uWebSockets.js marks its own responses; the package's JavaScript fallback (on ws) does not.
    expect(elsewhere.headers.get('uwebsockets')).toBe('20');
    const plain = await fetch(`http://${base}/ssh`);
    expect(plain.status).toBe(426);
    expect(plain.headers.get('upgrade')).toBe('websocket');
  });

  it('upgrades only its path, and only for an allowed origin or none (403 before upgrading otherwise)', async () => {
    await expect(connectWs(`ws://${base}/other`)).rejects.toThrow('HTTP 404');
    await expect(connectWs(`ws://${base}/ssh`, 'https://evil.example')).rejects.toThrow('HTTP 403');
    for (const origin of [ALLOWED, undefined]) {
      const ws = await connectWs(`ws://${base}/ssh`, origin);
      const closed = closeOf(ws);
      ws.close(1000);
      await closed;
    }
  });

  it('closes on a text message (1003)', async () => {
    const ws = await connectWs(`ws://${base}/ssh`);
    const closed = closeOf(ws);
    ws.send('SSH-2.0-text\r\n');
    expect(await closed).toEqual({ code: 1003, reason: 'binary messages only' });
  });

  it('closes on a message over the maximum (1009); one over twice it is cut off before it is buffered (1006)', async () => {
    const ws = await connectWs(`ws://${base}/ssh`);
    const closed = closeOf(ws);
    ws.send(Buffer.alloc(MiB + 1)); // the demo's maximum is the default, 1 MiB
    expect(await closed).toEqual({ code: 1009, reason: 'message too big' });
    const huge = await connectWs(`ws://${base}/ssh`);
    const cut = closeOf(huge);
    huge.send(Buffer.alloc(2 * MiB + 1));
    expect((await cut).code).toBe(1006);
  });

  it('serves OpenSSH through the bridge, with the allowed origin or none, and the bridge says why a refused one fails', async () => {
    for (const origin of [ALLOWED, undefined]) {
      const r = await ssh(demo.wsPort!, { user: 'u', keyFile: key.keyFile, command: 'echo over websocket', options: viaWebSocket(demo.wsPort!, origin ? { origin } : {}) });
      expect(r.stdout.toString()).toBe('over websocket\n');
      expect(r.code).toBe(0);
    }
    const refused = await ssh(demo.wsPort!, { user: 'u', keyFile: key.keyFile, command: 'echo no', options: viaWebSocket(demo.wsPort!, { origin: 'https://evil.example' }) });
    expect(refused.code).toBe(255);
    expect(refused.stderr).toContain(`wasshd-ws-proxy: ws://${base}/ssh: the endpoint refused the WebSocket upgrade: HTTP 403 Forbidden`);
    await demo.settled();
    // Connections through the bridge come from the bridge's address.
    expect(demo.stderr()).toMatch(/\] connected from 127\.0\.0\.1\n/);
  });

  it('bridge: a clear error and exit status 1 when the endpoint is not there or refuses; 2 for a bad command line', async () => {
    const wrongPath = await bridge([`ws://${base}/nope`]);
    expect(wrongPath.code).toBe(1);
    expect(wrongPath.stderr).toBe(`wasshd-ws-proxy: ws://${base}/nope: the endpoint refused the WebSocket upgrade: HTTP 404 Not Found\n`);
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as { port: number }).port;
    await new Promise((resolve) => free.close(resolve));
    const nobody = await bridge([`ws://127.0.0.1:${port}/ssh`]);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(new RegExp(`^wasshd-ws-proxy: ws://127\\.0\\.0\\.1:${port}/ssh: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\n$`));
    const usage = await bridge(['http://example']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^wasshd-ws-proxy: want one ws:\/\/ or wss:\/\/ URL\nusage: wasshd-ws-proxy/);
  });
});

describe('uWebSockets.js must be native', () => {
  it('refuses to serve on the JavaScript fallback of the uWebSockets.js package', async () => {
    await expect(startDemo(['--ws-port', '0'], { UWS_USE_FALLBACK: '1' })).rejects.toThrow(/uWebSockets\.js is running its JavaScript emulation on ws instead of its native server/);
  });

  // The package has native builds for Node 20 (and older) only; newer ones need a glibc Debian 12 lacks.
  it.each([22, 24])('says why there is no WebSocket endpoint on Node %i here', async (major) => {
    const command = nodeDemoOn(major);
    requirePrograms(command[0]!);
    await expect(startDemo(['--ws-port', '0'], {}, command)).rejects.toThrow(new RegExp(`instead of its native server \\(no build for Node ${major}\\.`));
  });
});

describe('the endpoint on the library', () => {
  it('gives the client address as Node sockets do, and port 0', async () => {
    expect(addressText(Uint8Array.of(127, 0, 0, 1))).toBe('127.0.0.1');
    const v6 = (text: string) => Uint8Array.from(text.split(':').flatMap((w) => [parseInt(w, 16) >> 8, parseInt(w, 16) & 0xff]));
    expect(addressText(v6('0:0:0:0:0:0:0:1'))).toBe('::1');
    expect(addressText(v6('0:0:0:0:0:0:0:0'))).toBe('::');
    expect(addressText(v6('0:0:0:0:0:ffff:7f00:1'))).toBe('::ffff:127.0.0.1');
    expect(addressText(v6('2001:db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1');
    expect(addressText(v6('2001:0:0:1:0:0:0:1'))).toBe('2001:0:0:1::1');
    expect(addressText(v6('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(addressText(v6('fe80:0:0:0:0:0:0:0'))).toBe('fe80::');

    const seen: string[] = [];
    const server = keyServer();
    server.on('channelRequested', async (e) => {
      server.sendExitStatus(e.connectionId, e.channelId, 0);
      await server.closeChannel(e.connectionId, e.channelId);
    });
    server.on('connected', (e) => {
      const c = server.connections.get(e.connectionId)!;
      seen.push(c.remoteHost);
      // uWebSockets.js does not tell the peer's port.
      expect(c.remotePort).toBe(0);
    });
    for (const [host, client] of [['::1', '[::1]'], ['::', '127.0.0.1'], ['127.0.0.1', '127.0.0.1']] as const) {
      const { port } = await server.startWebSocket({ host, port: 0 });
      const r = await ssh(port, { user: 'u', keyFile: key.keyFile, command: 'x', options: ['-o', `ProxyCommand=${WS_PROXY.join(' ')} ws://${client}:${port}/ssh`] });
      expect(r.code).toBe(0);
      await server.stopListening();
    }
    expect(seen).toEqual(['::1', '::ffff:127.0.0.1', '127.0.0.1']);
  });

  it('says so when its port cannot be had, and takes no new connections once stopped', async () => {
    const server = keyServer();
    const { port } = await server.startWebSocket({ port: 0 });
    const other = keyServer();
    await expect(other.startWebSocket({ port })).rejects.toThrow(`cannot listen for WebSocket on 127.0.0.1:${port}: in use, or not an address of this machine`);
    await server.stopListening();
    await expect(connectWs(`ws://127.0.0.1:${port}/ssh`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('closes a client that sends too much before the server has taken its connection (1008)', async () => {
    const server = keyServer();
    let admit!: () => void;
    const admitting = new Promise<void>((resolve) => (admit = resolve));
    let asked!: () => void;
    const askedOnce = new Promise<void>((resolve) => (asked = resolve));
    server.on('connectionRequest', async () => {
      asked();
      await admitting;
    });
    const { port } = await server.startWebSocket({ port: 0 });
    const ws = await connectWs(`ws://127.0.0.1:${port}/ssh`);
    const closed = closeOf(ws);
    await askedOnce;
    for (let i = 0; i < 3; i++) ws.send(Buffer.alloc(128 * 1024));
    expect(await closed).toEqual({ code: 1008, reason: 'too much data before the server answered' });
    admit();
  });

  it('OpenSSH through the bridge: a message over the maximum closes the connection, and the bridge says so', async () => {
    // 32 KiB: every handshake message fits, every data packet of ssh (32 KiB of payload) does not, and the
    // bridge's largest message (a 64 KiB read) is within twice it, so the close is always 1009.
    const server = keyServer();
    const { port } = await server.startWebSocket({ port: 0, maxMessageBytes: 32 * 1024 });
    const r = await ssh(port, { user: 'u', keyFile: key.keyFile, command: 'upload', input: testData(MiB), options: viaWebSocket(port) });
    expect(r.code).toBe(255);
    expect(r.stderr).toContain(`wasshd-ws-proxy: ws://127.0.0.1:${port}/ssh: the endpoint closed the connection: 1009 message too big`);
  });

  it('bridge: a text message from the endpoint ends it with a clear error', async () => {
    const endpoint = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(endpoint, 'listening');
    endpoint.on('connection', (ws) => ws.send('not SSH'));
    try {
      const port = (endpoint.address() as { port: number }).port;
      const r = await bridge([`ws://127.0.0.1:${port}/ssh`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`wasshd-ws-proxy: ws://127.0.0.1:${port}/ssh: the endpoint sent a text message; SSH over WebSocket is binary only\n`);
    } finally {
      endpoint.close();
    }
  });
});

/**
 * The count once it has stopped growing for `quietMs` (its sender is held back), or once it reaches `total`
 * (nothing held it back).
 */
async function whereItStops(count: () => number, total: number, quietMs = 500): Promise<number> {
  let last = -1;
  while (count() !== last && count() < total) {
    last = count();
    await new Promise((resolve) => setTimeout(resolve, quietMs));
  }
  return count();
}

describe('bridge backpressure', () => {
  const TOTAL = 64 * MiB;
  /** Pipes, socket buffers and one high-water mark of the bridge's: far less than TOTAL. */
  const HELD_AT_MOST = 16 * MiB;
  const data = testData(TOTAL, 11);
  let endpoint: WebSocketServer;
  let url: string;
  beforeAll(async () => {
    endpoint = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await once(endpoint, 'listening');
    url = `ws://127.0.0.1:${(endpoint.address() as { port: number }).port}/ssh`;
  });
  afterAll(() => endpoint?.close());

  it('stops reading the endpoint while its output is not read, and loses nothing', async () => {
    let sent = 0;
    const connected = new Promise<void>((resolve) =>
      endpoint.once('connection', (ws) => {
        for (let at = 0; at < TOTAL; at += 64 * 1024) {
          const piece = data.subarray(at, at + 64 * 1024);
          ws.send(piece, { binary: true }, () => (sent += piece.length));
        }
        resolve();
      }),
    );
    const child = spawn(WS_PROXY[0]!, [...WS_PROXY.slice(1), url], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdout.pause();
    await connected;
    const held = await whereItStops(() => sent, TOTAL);
    expect(held, 'the endpoint sent everything into a bridge whose output nobody read').toBeLessThanOrEqual(HELD_AT_MOST);
    const chunks: Buffer[] = [];
    let got = 0;
    child.stdout.on('data', (d: Buffer) => {
      chunks.push(d);
      if ((got += d.length) === TOTAL) child.stdin.end();
    });
    child.stdout.resume();
    const [code] = await once(child, 'close');
    expect(code).toBe(0);
    expect(sha256hex(Buffer.concat(chunks))).toBe(sha256hex(data));
  });

  it('stops reading its input while the endpoint does not read, and loses nothing', async () => {
    const received: Buffer[] = [];
    let endpointSide!: WebSocket;
    const connected = new Promise<void>((resolve) =>
      endpoint.once('connection', (ws) => {
        endpointSide = ws;
        ws.pause();
        ws.on('message', (d: Buffer) => received.push(d));
        resolve();
      }),
    );
    const child = spawn(WS_PROXY[0]!, [...WS_PROXY.slice(1), url], { stdio: ['pipe', 'ignore', 'inherit'] });
    await connected;
    let written = 0;
    const writing = (async () => {
      for (let at = 0; at < TOTAL; at += 64 * 1024) {
        const piece = data.subarray(at, at + 64 * 1024);
        if (!child.stdin.write(piece, () => (written += piece.length))) await once(child.stdin, 'drain');
      }
    })();
    const held = await whereItStops(() => written, TOTAL);
    expect(held, 'the bridge read all its input while the endpoint read nothing').toBeLessThanOrEqual(HELD_AT_MOST);
    const closed = once(endpointSide, 'close');
    endpointSide.resume();
    await writing;
    child.stdin.end();
    await closed;
    expect(sha256hex(Buffer.concat(received))).toBe(sha256hex(data));
    expect((await once(child, 'close'))[0]).toBe(0);
  });
});

describe('backpressure', () => {
  /** What the server's WebSocket transports were asked to write: the largest buffered amount after a write, and refusals. */
  const seen = { maxBuffered: 0, refusals: 0, onWrite: () => {} };
  const watching: WebSocketListenAdapter = {
    listen: (options, accept) =>
      uwsWebSocket.listen(options, (t: Transport) => {
        const write = t.write.bind(t);
        t.write = (data) => {
          const ok = write(data);
          seen.maxBuffered = Math.max(seen.maxBuffered, t.bufferedAmount);
          if (!ok) seen.refusals++;
          seen.onWrite();
          return ok;
        };
        accept(t);
      }),
  };

  it('a client that stops reading: the server buffers at most its high-water mark and one call, and nothing is lost', async () => {
    requirePrograms('ssh');
    // Eight sessions on one connection (OpenSSH multiplexing) whose full 2 MiB windows, 16 MiB in all, are sent
    // at once to a client that has stopped reading: far more than the kernel's socket buffers hold.
    const SESSIONS = 8;
    const BYTES = 3 * MiB;
    const server = keyServer({}, { ...nodeRuntime, webSocket: watching });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    let allStarted!: () => void;
    const allStartedP = new Promise<void>((resolve) => (allStarted = resolve));
    server.on('channelRequested', (e) => {
      if (++started === SESSIONS) allStarted();
      // Not awaited: the channel's later events would wait behind the handler, and the sessions start together.
      void released.then(async () => {
        await server.sendChannelData(e.connectionId, e.channelId, testData(BYTES, e.channelId + 1));
        server.sendExitStatus(e.connectionId, e.channelId, 0);
        await server.closeChannel(e.connectionId, e.channelId);
      });
    });
    const { port } = await server.startWebSocket({ port: 0 });

    const control = join(mkdtempSync(join(tmpdir(), 'wasshd-mux-')), 'control');
    const mux = ['-o', `ControlPath=${control}`];
    const master: ChildProcess = spawn('ssh', [...SSH_BASE, ...withKey, ...viaWebSocket(port), ...mux, '-o', 'ControlMaster=yes', '-N', 'u@127.0.0.1'], { stdio: 'ignore' });
    const masterExit = once(master, 'exit');
    try {
      while (!existsSync(control)) {
        if (master.exitCode !== null) throw new Error('the ssh master exited before it was ready');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const sessions = Array.from({ length: SESSIONS }, () => {
        const child = spawn('ssh', [...SSH_BASE, ...mux, '-o', 'ControlMaster=no', 'u@127.0.0.1', 'burst'], { stdio: ['ignore', 'pipe', 'pipe'] });
        const hash = createHash('sha256');
        let bytes = 0;
        child.stdout.on('data', (d: Buffer) => {
          bytes += d.length;
          hash.update(d);
        });
        return once(child, 'close').then(([code]) => ({ code, bytes, digest: hash.digest('hex') }));
      });
      await allStartedP;

      // The client stops reading: nothing it receives is taken from the bridge, the bridge stops reading the
      // WebSocket, and the server's sends back up into its own buffer.
      process.kill(master.pid!, 'SIGSTOP');
      const refusalsBefore = seen.refusals;
      const bound = HIGH_WATER_MARK + 512 * 1024;
      const stalled = new Promise<void>((resolve) => {
        seen.onWrite = () => {
          if (seen.refusals > refusalsBefore || seen.maxBuffered > bound) resolve();
        };
      });
      release();
      await stalled;
      expect(seen.maxBuffered, 'buffered past the bound while the client did not read').toBeLessThanOrEqual(bound);
      process.kill(master.pid!, 'SIGCONT');

      const results = await Promise.all(sessions);
      const expected = results.map((_, i) => sha256hex(testData(BYTES, i + 1)));
      expect(results.map((r) => r.code)).toEqual(results.map(() => 0));
      expect(results.map((r) => r.bytes)).toEqual(results.map(() => BYTES));
      expect(results.map((r) => r.digest).sort()).toEqual(expected.sort());
      expect(seen.maxBuffered).toBeLessThanOrEqual(bound);
      console.log(`backpressure: largest buffered amount ${(seen.maxBuffered / MiB).toFixed(2)} MiB (bound ${(bound / MiB).toFixed(2)} MiB), ${seen.refusals} writes refused`);
    } finally {
      if (master.exitCode === null) {
        process.kill(master.pid!, 'SIGCONT');
        master.kill('SIGTERM');
      }
      await masterExit;
      seen.onWrite = () => {};
    }
  }, 60_000);
});
