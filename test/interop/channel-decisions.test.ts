/**
 * Decisions per channel, with real clients: a channel request the application takes seconds to decide
 * holds up neither the connection's other channels nor its transport. The ssh2 npm client runs two channels
 * on one connection, OpenSSH two sessions over one multiplexed connection (`ControlMaster`); meanwhile the
 * other channel moves 16 MiB each way, the server re-exchanges keys and its keepalives are answered. The
 * service and authentication decisions still pause the whole connection.
 */

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHServer } from '../../ts/node/index.js';
import { makeUserKey, requirePrograms, run, sha256hex, SSH_BASE, testData } from '../helpers/demo.js';
import { MSG, RawClient, Writer } from '../helpers/raw-client.js';
import { connect, exec } from '../helpers/ssh2.js';

const USER = 'dana';
const PASSWORD = 'pw';
const MiB = 1024 * 1024;
const key = makeUserKey();
const keyLine = key.publicLine.split(' ').slice(0, 2).join(' ');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A handler that holds its decision: `reached` once it runs, and it returns once `release` is called. */
interface Hold {
  reached: Promise<void>;
  release(): void;
}
/** Decisions held, by exec command, and the service and authentication decisions while set. */
const held = new Map<string, Hold & { reach(): void; released: Promise<void> }>();
function hold(name: string): Hold {
  let reach!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const h = { reached, reach, released, release };
  held.set(name, h);
  return h;
}
async function wait(name: string): Promise<void> {
  const h = held.get(name);
  if (!h) return;
  held.delete(name);
  h.reach();
  await h.released;
}

/**
 * A server whose exec `cat` echoes stdin, with the window reopening once the echo is taken, and whose other
 * commands print `COMMAND ran`.
 */
function makeServer(config: Record<string, number> = {}): SSHServer {
  const server = new SSHServer({ localPort: 0, config });
  server.generateHostKey();
  const cats = new Set<string>();
  server.on('serviceRequest', () => wait('service'));
  server.on('userAuthRequest', async (e) => {
    if (e.authMethod === 'none') return e.reject();
    await wait('auth');
    if ((e.authMethod === 'password' && e.password === PASSWORD) || (e.authMethod === 'publickey' && e.publicKey?.openssh === keyLine)) e.accept();
    else e.reject();
  });
  server.on('channelRequest', async (e) => {
    if (e.request.type === 'exec') await wait(e.request.command);
  });
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    if (e.request.command === 'cat') return void cats.add(`${e.connectionId}:${e.channelId}`);
    await server.sendText(e.connectionId, e.channelId, `${e.request.command} ran\n`);
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  server.on('channelDataIn', async (e) => {
    if (cats.has(`${e.connectionId}:${e.channelId}`)) await server.sendChannelData(e.connectionId, e.channelId, e.data);
  });
  server.on('channelEOF', async (e) => {
    if (!cats.delete(`${e.connectionId}:${e.channelId}`)) return;
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  return server;
}

/** Keepalives every second, two unanswered end the connection: a server that stopped reading would drop it. */
const server = makeServer({ SSHKeepAliveInterval: 1, SSHKeepAliveCountMax: 2 });
/** Without keepalives, for the scripted client, which does not answer them. */
const quiet = makeServer();
let port = 0;
let quietPort = 0;
beforeAll(async () => {
  port = (await server.startListening()).port;
  quietPort = (await quiet.startListening()).port;
});
afterAll(async () => {
  for (const h of held.values()) h.release();
  await Promise.all([server.shutdown(500), quiet.shutdown(500)]);
});

/** Resolves at the connection's next finished re-exchange. */
function rekeyed(connectionId: number): Promise<void> {
  return new Promise((resolve) => {
    const seen = (e: { connectionId: number; message: string }) => {
      if (e.connectionId !== connectionId || !e.message.startsWith('keys re-exchanged')) return;
      server.off('sshStatus', seen);
      resolve();
    };
    server.on('sshStatus', seen);
  });
}

describe('a channel request the handler takes seconds to decide', () => {
  it('ssh2: another channel of the connection moves 16 MiB each way byte-exact meanwhile, then the request runs', async () => {
    const slow = hold('slow');
    const c = await connect(port, { username: USER, password: PASSWORD });
    try {
      const started = performance.now();
      const a = exec(c, 'slow');
      await slow.reached;
      const data = testData(16 * MiB, 5);
      let finished = 0;
      const b = exec(c, 'cat', data).then((r) => ((finished = performance.now()), r));
      // The decision waits 3 s, and for B to finish: at most 20 s, since where A held B up B never would.
      await Promise.all([sleep(3000), Promise.race([b, sleep(20_000)])]);
      const decided = performance.now();
      slow.release();
      const rb = await b;
      expect(rb.code).toBe(0);
      expect(rb.stdout.length).toBe(data.length);
      expect(sha256hex(rb.stdout)).toBe(sha256hex(data));
      expect(finished, 'B finished before A was decided').toBeGreaterThan(0);
      expect(finished).toBeLessThan(decided);
      const ra = await a;
      expect(ra.stdout.toString()).toBe('slow ran\n');
      expect(ra.code).toBe(0);
      expect(decided - started).toBeGreaterThanOrEqual(3000);
    } finally {
      c.end();
    }
  });

  it('OpenSSH multiplexing: another session streams 16 MiB, keys are re-exchanged and keepalives answered meanwhile', async () => {
    requirePrograms('ssh');
    const dir = mkdtempSync(join(tmpdir(), 'wasshd-mux-'));
    const control = join(dir, 'control');
    const options = [...SSH_BASE, '-o', `ControlPath=${control}`, '-p', String(port)];
    const before = new Set(server.connections.keys());
    const master = spawn(
      'ssh',
      [...options, '-i', key.keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'ControlMaster=yes', '-N', `${USER}@127.0.0.1`],
      { stdio: 'ignore' },
    );
    const session = (command: string, input?: Buffer) => run('ssh', [...options, '-o', 'ControlMaster=no', `${USER}@127.0.0.1`, command], input);
    try {
      await expect.poll(() => existsSync(control), { timeout: 20_000 }).toBe(true);
      const [connectionId] = [...server.connections.keys()].filter((id) => !before.has(id));
      expect(connectionId).toBeDefined();
      const slow = hold('slow');
      const a = session('slow');
      await slow.reached;

      const data = testData(16 * MiB, 9);
      const b = await session('cat', data);
      expect(b.stderr).toBe('');
      expect(b.code).toBe(0);
      expect(sha256hex(b.stdout)).toBe(sha256hex(data));

      const exchanged = rekeyed(connectionId!);
      server.exchangeKeys(connectionId!);
      await exchanged;
      // Quiet seconds with the request still pending: keepalives go out each second, and a server that did
      // not read the answers would end the connection at the third.
      await sleep(3500);
      expect(server.connections.has(connectionId!), 'the connection is still up').toBe(true);
      slow.release();
      const ra = await a;
      expect(ra.stderr).toBe('');
      expect(ra.stdout.toString()).toBe('slow ran\n');
      expect(ra.code).toBe(0);
    } finally {
      master.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * What the core does while a handler decides, seen through a message that gets an answer at once when
 * processed (an unassigned number: UNIMPLEMENTED): none before the authentication decision is given, at
 * once while a channel request waits.
 */
describe('reading while a decision waits', () => {
  it('authentication pauses the whole connection until its handler returns', async () => {
    const auth = hold('auth');
    const c = await RawClient.connect(quietPort);
    try {
      await c.handshake();
      await c.serviceRequest();
      c.send(new Writer(MSG.USERAUTH_REQUEST).string(USER).string('ssh-connection').string('password').bool(false).string(PASSWORD).done());
      c.send(new Uint8Array([200]));
      await auth.reached;
      await sleep(300);
      auth.release();
      // The success comes first: the message behind the request waited for the decision.
      await c.expect(MSG.USERAUTH_SUCCESS);
      await c.expect(MSG.UNIMPLEMENTED);
    } finally {
      c.destroy();
    }
  });

  it('a channel request waits alone: the connection goes on reading and answering', async () => {
    const c = await RawClient.connect(quietPort);
    try {
      await c.handshake();
      await c.serviceRequest();
      expect(await c.password(USER, PASSWORD)).toBe(true);
      const s = await c.openSession();
      const pending = hold('pending');
      c.send(new Writer(MSG.CHANNEL_REQUEST).u32(s.remote).string('exec').bool(true).string('pending').done());
      await pending.reached;
      c.send(new Uint8Array([200]));
      await c.expect(MSG.UNIMPLEMENTED);
      const other = await c.openSession();
      expect(other.remote).not.toBe(s.remote);
      pending.release();
      const { r } = await c.expect(MSG.CHANNEL_SUCCESS);
      expect(r.u32()).toBe(s.local);
    } finally {
      c.destroy();
    }
  }, 30_000);
});
