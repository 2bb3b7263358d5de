/**
 * A transport that cannot stop its peer (a WebSocket: no pause, whole messages of any size) still keeps the
 * wasm instance bounded. The host feeds the core in pieces and only while it reads (it stops while a decision
 * holds up the connection: the service, authentication, or channel requests piled up to the core's bound);
 * what arrives meanwhile waits in the host, up to the client's windows after authentication and the core's
 * own small bound before, and a client that sends more is cut off. Here TCP sockets play such a transport: `pause` and `resume` do
 * nothing, and what the client sends is delivered in large coalesced messages.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeRuntime } from '../../ts/node/index.js';
import { nodeTcp } from '../../ts/node/tcp.js';
import { SSHServer, type DisconnectedEvent } from '../../ts/server.js';
import type { ListenAdapter, Transport, TransportHandlers } from '../../ts/transport.js';
import { MSG, RawClient, Writer, type Session } from '../helpers/raw-client.js';

/** How long arriving bytes are gathered into one message. */
const GATHER_MS = 20;
let largestMessage = 0;
let pauses = 0;
/** While set, every write reports a full buffer, as to a client that does not read. */
let writesBlocked = false;
const drains = new Set<() => void>();
function unblockWrites(): void {
  writesBlocked = false;
  for (const drain of drains) drain();
}

function unpausable(t: Transport): Transport {
  return {
    get remoteAddress() {
      return t.remoteAddress;
    },
    get remotePort() {
      return t.remotePort;
    },
    get bufferedAmount() {
      return t.bufferedAmount;
    },
    write: (data) => t.write(data) && !writesBlocked,
    end: () => t.end(),
    destroy: () => t.destroy(),
    pause: () => void pauses++,
    resume: () => {},
    attach(h: TransportHandlers) {
      let gathered: Uint8Array[] = [];
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deliver = () => {
        timer = undefined;
        const message = Buffer.concat(gathered);
        gathered = [];
        largestMessage = Math.max(largestMessage, message.length);
        h.data(message);
      };
      drains.add(() => h.drain());
      t.attach({
        data: (bytes) => {
          gathered.push(bytes);
          timer ??= setTimeout(deliver, GATHER_MS);
        },
        drain: () => h.drain(),
        close: (e) => {
          if (timer) clearTimeout(timer);
          h.close(e);
        },
      });
    },
  };
}

const listen: ListenAdapter = { listen: (options, accept) => nodeTcp.listen(options, (t) => accept(unpausable(t))) };
const server = new SSHServer({ ...nodeRuntime, listen }, { localPort: 0 });
server.generateHostKey();

/** The service request's handler waits for `release` while this is set. */
let holdService = true;
let release!: () => void;
const released = new Promise<void>((resolve) => (release = resolve));
/** The handler of an `env HOLD` request waits for `unblock`. */
let unblock!: () => void;
const unblocked = new Promise<void>((resolve) => (unblock = resolve));
let holding: () => void = () => {};
/** Replies one channel may owe before the connection waits for the host (core-rs/src/server/connection.rs). */
const MAX_PENDING_REQUESTS = 8;
const received = new Map<number, number>();
const ended = new Map<number, DisconnectedEvent>();

server.on('serviceRequest', async () => {
  if (holdService) await released;
});
server.on('userAuthRequest', (e) => (e.password === 'pw' ? e.accept() : e.reject()));
server.on('channelRequest', async (e) => {
  if (e.request.type !== 'env' || e.request.name !== 'HOLD') return;
  holding();
  await unblocked;
});
server.on('channelDataIn', (e) => void received.set(e.connectionId, (received.get(e.connectionId) ?? 0) + e.data.length));
server.on('disconnected', (e) => void ended.set(e.connectionId, e));

let port = 0;
beforeAll(async () => {
  port = (await server.startListening()).port;
});
afterAll(async () => {
  release();
  unblock();
  await server.shutdown(500);
});

function connectionOf(c: RawClient): number {
  const conn = [...server.connections.values()].find((k) => k.remotePort === c.localPort);
  if (!conn) throw new Error(`no connection from port ${c.localPort}`);
  return conn.connectionId;
}

describe('a transport that cannot pause its peer', () => {
  // First, while the instance is fresh: what the client sends must not have made it grow.
  it('cuts off a client that piles up more than it may while not read, before the wasm instance holds it', async () => {
    const before = server.wasmMemoryBytes;
    const c = await RawClient.connect(port);
    await c.handshake();
    // The service request's handler does not answer: junk piles up behind it.
    c.send(new Writer(MSG.SERVICE_REQUEST).string('ssh-userauth').done());
    c.sendRaw(new Uint8Array(4 * 1024 * 1024).fill(0x5a));
    // The connection's events wait behind the stalled handler; the client is told at once.
    const d = await c.readDisconnect();
    expect(d.reason).toBe(2);
    expect(d.description).toContain('too much');
    await c.closed;
    expect(server.wasmMemoryBytes - before, 'growth of the wasm memory').toBeLessThan(1024 * 1024);
  });

  it('keeps what a client sends during a decision out of the wasm instance, and loses none of it', async () => {
    holdService = false;
    const c = await RawClient.connect(port);
    await c.handshake();
    await c.serviceRequest();
    expect(await c.password('user', 'pw')).toBe(true);
    const sessions: Session[] = [];
    for (let n = 0; n < 3; n++) sessions.push(await c.openSession());
    const id = connectionOf(c);

    // Requests whose handlers stall, as many as the connection may owe on a channel, then every window's worth
    // of data at once.
    const held = new Promise<void>((resolve) => (holding = resolve));
    const baseline = server.wasmMemoryBytes;
    const pausesBefore = pauses;
    for (let n = 0; n < MAX_PENDING_REQUESTS; n++) {
      c.send(new Writer(MSG.CHANNEL_REQUEST).u32(sessions[0]!.remote).string('env').bool(false).string('HOLD').string('1').done());
    }
    await held;
    const packet = new Uint8Array(32 * 1024).fill(0x61);
    let sent = 0;
    for (const s of sessions) {
      while (s.window >= packet.length) {
        c.send(new Writer(MSG.CHANNEL_DATA).u32(s.remote).string(packet).done());
        s.window -= packet.length;
        sent += packet.length;
      }
    }
    // Everything the client sent reaches the host while the handler still stalls.
    await expect.poll(() => server.connections.get(id)?.bytesReceived ?? 0, { timeout: 30_000 }).toBeGreaterThan(sent);
    const during = server.wasmMemoryBytes;
    expect(pauses, 'the host asked the transport to pause').toBeGreaterThan(pausesBefore);
    expect(largestMessage, 'the transport delivered large messages').toBeGreaterThan(1024 * 1024);
    expect(during - baseline, `wasm memory grew from ${baseline} to ${during} while ${sent} bytes waited`).toBeLessThan(2 * 1024 * 1024);
    expect(received.get(id) ?? 0, 'no data reaches handlers behind a pending decision').toBe(0);

    unblock();
    await expect.poll(() => received.get(id) ?? 0, { timeout: 30_000 }).toBe(sent);
    expect(server.connections.has(id)).toBe(true);
    c.disconnect();
  });

  it('takes what a client that does not read sends within its windows, and cuts off one whose requests pile up replies', async () => {
    // Uploads within the windows need no reply: a client may send them while it reads nothing.
    const uploader = await RawClient.connect(port);
    await uploader.handshake();
    await uploader.serviceRequest();
    expect(await uploader.password('user', 'pw')).toBe(true);
    const sessions: Session[] = [];
    for (let n = 0; n < 8; n++) sessions.push(await uploader.openSession());
    const id = connectionOf(uploader);
    writesBlocked = true;
    // A reply that finds the buffer full: from now on the server deals with a client that does not read.
    uploader.send(new Writer(MSG.GLOBAL_REQUEST).string('keepalive@openssh.com').bool(true).done());
    await uploader.expect(MSG.REQUEST_FAILURE);
    const packet = new Uint8Array(32 * 1024).fill(0x62);
    let sent = 0;
    for (const s of sessions) {
      while (s.window >= packet.length) {
        uploader.send(new Writer(MSG.CHANNEL_DATA).u32(s.remote).string(packet).done());
        s.window -= packet.length;
        sent += packet.length;
      }
    }
    await expect.poll(() => received.get(id) ?? 0, { timeout: 30_000 }).toBe(sent);
    expect(sent, 'more than the inbox holds').toBeGreaterThan(8 * 1024 * 1024);
    expect(ended.has(id)).toBe(false);
    unblockWrites();
    uploader.destroy();

    // Requests that each want a reply, from a client that reads none: the replies stop, the requests pile up.
    const flooder = await RawClient.connect(port);
    await flooder.handshake();
    await flooder.serviceRequest();
    expect(await flooder.password('user', 'pw')).toBe(true);
    const flooderId = connectionOf(flooder);
    writesBlocked = true;
    const request = new Writer(MSG.GLOBAL_REQUEST).string('keepalive@openssh.com').bool(true).done();
    for (let n = 0; n < 2_000_000 && !ended.has(flooderId); n++) {
      flooder.send(request);
      if (n % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await expect.poll(() => ended.get(flooderId)?.description, { timeout: 30_000 }).toContain('too much');
    unblockWrites();
    flooder.destroy();
  });
});

