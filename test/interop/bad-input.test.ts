/**
 * Hostile input: a scripted client reaches a protocol state and then misbehaves. Each test checks both
 * ends (the DISCONNECT reason the client reads, the `disconnected` statusCode the server reports for that
 * connection) while the real OpenSSH client moves 8 MiB through `cat` on the same server, byte-exact: a
 * refused connection must not disturb the others sharing the wasm instance.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DisconnectReason, nodeRuntime, type DisconnectedEvent, type Transport } from '../../ts/node/index.js';
import { SSHServer } from '../../ts/server.js';
import { nodeTcp } from '../../ts/node/tcp.js';
import { requirePrograms } from '../helpers/demo.js';
import { MSG, RawClient, Writer } from '../helpers/raw-client.js';

const USER = 'mallory';
const PASSWORD = 'hunter2 hunter2';
const MiB = 1024 * 1024;
const INPUT = randomBytes(8 * MiB);
/** Echoed bytes after which the `cat` session waits for the attack to finish (see `whileTransferring`). */
const HOLD_AFTER = 1 * MiB;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

let server: SSHServer;
let port: number;
let clients: RawClient[];
let children: ChildProcess[];
/** The server's `disconnected` event, by the connection's remote (our local) port. */
let disconnects: Map<number, Deferred<DisconnectedEvent>>;
/** A `cat` session has echoed HOLD_AFTER bytes and is waiting for `release`. */
let inFlight: Deferred<void>;
let release: Deferred<void>;

/** What the server does with a connection's socket: whether it reads it, and whether its last write was taken. */
interface SocketState {
  paused: boolean;
  lastWriteTaken: boolean;
  changed: (() => void)[];
}
/** By the connection's remote (our local) port. */
let socketStates: Map<number, SocketState>;

function socketState(remotePort: number): SocketState {
  let st = socketStates.get(remotePort);
  if (!st) socketStates.set(remotePort, (st = { paused: false, lastWriteTaken: true, changed: [] }));
  return st;
}

/** The server's sockets, watched: pause, resume and the result of each write are recorded. */
function watched(t: Transport): Transport {
  const st = socketState(t.remotePort);
  const changed = () => {
    for (const wake of st.changed.splice(0)) wake();
  };
  return new Proxy(t, {
    get(target, prop) {
      if (prop === 'write') {
        return (data: Uint8Array) => {
          st.lastWriteTaken = target.write(data);
          changed();
          return st.lastWriteTaken;
        };
      }
      if (prop === 'pause' || prop === 'resume') {
        return () => {
          st.paused = prop === 'pause';
          target[prop]();
          changed();
        };
      }
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/**
 * Resolves once the server has stopped reading this client because its replies back up: the socket paused
 * after a write it did not take (the server's own decision, seen as it happens, not inferred from silence).
 * Throws if `readAll` says the server read everything first.
 */
async function readingStopped(remotePort: number, readAll: () => boolean): Promise<void> {
  const st = socketState(remotePort);
  while (!(st.paused && !st.lastWriteTaken)) {
    if (readAll()) throw new Error('the server read the whole flood without ever pausing');
    await new Promise<void>((resolve) => st.changed.push(resolve));
  }
}

function disconnectOf(remotePort: number): Deferred<DisconnectedEvent> {
  let d = disconnects.get(remotePort);
  if (!d) disconnects.set(remotePort, (d = deferred()));
  return d;
}

beforeEach(async () => {
  clients = [];
  children = [];
  disconnects = new Map();
  inFlight = deferred();
  release = deferred();
  const portOf = new Map<number, number>();
  /** Bytes received per `cat` session, by "connection/channel". */
  const cats = new Map<string, number>();
  const key = (e: { connectionId: number; channelId: number }) => `${e.connectionId}/${e.channelId}`;

  socketStates = new Map();
  const listen = { listen: (o: Parameters<typeof nodeTcp.listen>[0], accept: (t: Transport) => void) => nodeTcp.listen(o, (t) => accept(watched(t))) };
  server = new SSHServer({ ...nodeRuntime, listen }, { localPort: 0 });
  server.generateHostKey();
  server.on('connected', (e) => {
    const conn = server.connections.get(e.connectionId);
    if (conn) portOf.set(e.connectionId, conn.remotePort);
  });
  server.on('disconnected', (e) => {
    const remotePort = portOf.get(e.connectionId);
    if (remotePort !== undefined) disconnectOf(remotePort).resolve(e);
  });
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.user === USER && e.password === PASSWORD ? e.accept() : e.reject()));
  // Every exec runs `cat`: data echoed back, then EOF, exit status 0 and close once the client's EOF came.
  server.on('channelRequested', (e) => {
    if (e.request.type === 'exec') cats.set(key(e), 0);
  });
  server.on('channelDataIn', async (e) => {
    const seen = cats.get(key(e));
    if (seen === undefined) return;
    cats.set(key(e), seen + e.data.length);
    if (seen + e.data.length >= HOLD_AFTER) {
      inFlight.resolve();
      await release.promise;
    }
    await server.sendChannelData(e.connectionId, e.channelId, e.data);
  });
  server.on('channelEOF', async (e) => {
    if (!cats.has(key(e))) return;
    await server.sendEOF(e.connectionId, e.channelId);
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  ({ port } = await server.startListening());
});

afterEach(async () => {
  release.resolve();
  for (const c of clients) c.destroy();
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await server.shutdown();
});

async function connect(): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}

/** What the server reported when it dropped this client's connection. */
function serverSide(c: RawClient): Promise<DisconnectedEvent> {
  return disconnectOf(c.localPort).promise;
}

/** The real OpenSSH client runs `cat` with INPUT on stdin; resolves with what it printed. */
function opensshCat(): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  requirePrograms('sshpass', 'ssh');
  const args = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];
  args.push('-o', 'PubkeyAuthentication=no', '-p', String(port), `${USER}@127.0.0.1`, 'cat');
  const child = spawn('sshpass', ['-p', PASSWORD, 'ssh', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => stdout.push(d));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => {});
  child.stdin.end(INPUT);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr })));
}

/**
 * Starts the OpenSSH transfer, runs `attack` once the server has echoed its first MiB, then checks the
 * transfer finished byte-exact. The `cat` session holds its echo until the attack is over, so the
 * transfer is mid-stream (window partly used, data queued in the core) whatever the machine's speed,
 * without sleeping.
 */
async function whileTransferring(attack: () => Promise<void>): Promise<void> {
  const good = opensshCat();
  const endedEarly = good.then((r) => {
    throw new Error(`ssh ended before its transfer was under way (exit ${r.code}): ${r.stderr}`);
  });
  await Promise.race([inFlight.promise, endedEarly]); // the race also handles endedEarly's later rejection
  try {
    await attack();
  } finally {
    release.resolve();
  }
  const r = await good;
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.length).toBe(INPUT.length);
  expect(sha256(r.stdout)).toBe(sha256(INPUT));
}

/**
 * Both ends agree the connection was refused for `reason`: the client reads a DISCONNECT carrying it
 * (after exactly the messages in `skipped`), the server reports it, and the socket closes.
 */
async function expectRefused(c: RawClient, reason: number, skipped: number[], description?: RegExp): Promise<void> {
  const d = await c.readDisconnect();
  expect(d.skipped).toEqual(skipped);
  expect(d.reason).toBe(reason);
  if (description) expect(d.description).toMatch(description);
  expect((await serverSide(c)).statusCode).toBe(reason);
  await c.closed;
}

it('answers a version line of another major version with PROTOCOL_VERSION_NOT_SUPPORTED, in plaintext', async () => {
  await whileTransferring(async () => {
    const c = await connect();
    c.sendRaw('SSH-1.5-garbage\r\n');
    expect(await c.readVersion()).toMatch(/^SSH-2\.0-/);
    // Read as an unencrypted binary packet: the server's KEXINIT (sent on accept), then the DISCONNECT.
    await expectRefused(c, DisconnectReason.ProtocolVersionNotSupported, [MSG.KEXINIT]);
  });
}, 60_000);

it('refuses packet length 0xFFFFFFFF after the version exchange with PROTOCOL_ERROR', async () => {
  await whileTransferring(async () => {
    const c = await connect();
    c.sendVersion();
    await c.readVersion();
    c.sendRaw(Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.alloc(12)]));
    await expectRefused(c, DisconnectReason.ProtocolError, [MSG.KEXINIT], /packet length/);
  });
}, 60_000);

it('answers a corrupted MAC after key exchange with MAC_ERROR, encrypted', async () => {
  await whileTransferring(async () => {
    const c = await connect();
    await c.handshake({ strict: false });
    expect(c.hostKey && `ssh-ed25519 ${c.hostKey.toString('base64')}`).toBe(server.hostPublicKeys[0]!.split(' ').slice(0, 2).join(' '));
    c.corruptNextMac();
    c.send(new Writer(MSG.SERVICE_REQUEST).string('ssh-userauth').done());
    // readPacket decrypts and checks the server's MAC: the DISCONNECT comes under the new keys.
    await expectRefused(c, DisconnectReason.MacError, []);
  });
}, 60_000);

it('refuses CHANNEL_OPEN before authentication with PROTOCOL_ERROR', async () => {
  await whileTransferring(async () => {
    const c = await connect();
    await c.handshake();
    expect(c.strictKex).toBe(true);
    c.sendSessionOpen();
    await expectRefused(c, DisconnectReason.ProtocolError, []);
  });
}, 60_000);

it('refuses a connection-layer message during authentication with PROTOCOL_ERROR', async () => {
  await whileTransferring(async () => {
    const c = await connect();
    await c.handshake();
    await c.serviceRequest();
    expect(await c.password(USER, 'wrong')).toBe(false);
    c.send(new Writer(MSG.GLOBAL_REQUEST).string('tcpip-forward').bool(true).string('127.0.0.1').u32(0).done());
    await expectRefused(c, DisconnectReason.ProtocolError, []);
  });
}, 60_000);

it('refuses USERAUTH_SUCCESS sent by the client with PROTOCOL_ERROR', async () => {
  await whileTransferring(async () => {
    const c = await connect();
    await c.handshake();
    await c.serviceRequest();
    c.send(Buffer.from([MSG.USERAUTH_SUCCESS]));
    await expectRefused(c, DisconnectReason.ProtocolError, []);
  });
}, 60_000);

it('answers an unknown message after authentication with UNIMPLEMENTED and stays usable', async () => {
  await whileTransferring(async () => {
    const c = await connect();
    await c.handshake();
    await c.serviceRequest();
    expect(await c.password(USER, PASSWORD)).toBe(true);
    const seq = c.send(new Writer(200).string('anything').done());
    // Strict kex reset both sequence numbers at NEWKEYS: SERVICE_REQUEST was 0, USERAUTH_REQUEST 1.
    expect(seq).toBe(2);
    const { r } = await c.expect(MSG.UNIMPLEMENTED);
    expect(r.u32()).toBe(seq);
    const stdin = randomBytes(100 * 1024);
    const result = await c.exec(await c.openSession(), 'cat', stdin);
    expect(sha256(result.stdout)).toBe(sha256(stdin));
    expect(result.exitStatus).toBe(0);
    c.disconnect(DisconnectReason.ByApplication, 'done');
    await c.closed;
    // The server never sent a DISCONNECT of its own; our clean one is reported as a normal end.
    const s = await serverSide(c);
    expect(s.statusCode).toBe(0);
  });
}, 60_000);

it('stops reading a client that floods requests without reading the replies, and serves it again once it reads', async () => {
  await whileTransferring(async () => {
    const c = await connect();
    await c.handshake();
    await c.serviceRequest();
    expect(await c.password(USER, PASSWORD)).toBe(true);
    const conn = [...server.connections.values()].find((s) => s.remotePort === c.localPort)!;
    c.pauseReading();
    const requests = 300_000;
    const request = new Writer(MSG.GLOBAL_REQUEST).string('flood@example.com').bool(true).done();
    const sentBefore = conn.bytesReceived;
    for (let i = 0; i < requests; i++) c.send(request);
    const flood = c.sentBytes - sentBefore;
    // The replies fill the kernel's buffers and then the server's 1 MiB one; from then on the server reads
    // nothing more from this client until it reads, however much it sent.
    await readingStopped(c.localPort, () => conn.bytesReceived - sentBefore >= flood);
    expect(conn.bytesReceived - sentBefore, 'the server stopped reading').toBeLessThan(flood / 2);
    expect(conn.bufferedAmount).toBeLessThanOrEqual(2 * MiB);

    c.resumeReading();
    for (let i = 0; i < requests; i++) await c.expect(MSG.REQUEST_FAILURE);
    expect(conn.bytesReceived - sentBefore).toBe(flood);
    const stdin = randomBytes(64 * 1024);
    expect(sha256((await c.exec(await c.openSession(), 'cat', stdin)).stdout)).toBe(sha256(stdin));
  });
}, 120_000);
