/**
 * What unauthenticated clients may cost: thousands of hostile connections against the demo server, from
 * their own loopback addresses (Linux routes all of 127/8 to lo), while real clients from other addresses
 * keep working. The limits are OpenSSH's MaxStartups, PerSourceMaxStartups and PerSourcePenalties.
 */

import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256hex, ssh, startDemo, testData, type Demo } from '../helpers/demo.js';
import { MSG, RawClient, Writer } from '../helpers/raw-client.js';

const { Client } = ssh2;
type Ssh2Client = InstanceType<typeof Client>;
const USER = 'carol';
const PASSWORD = 'correct horse';

interface Hostile {
  socket: Socket;
  /** The server sent its version line: the connection was taken, not dropped. */
  served: boolean;
  closed: boolean;
}

/** Opens a connection from `source` that sends a version line and then nothing, as a slow attacker would. */
function hostile(port: number, source: string, payload = 'SSH-2.0-hostile\r\n'): Promise<Hostile> {
  return new Promise((resolve) => {
    const h: Hostile = { socket: connect({ host: '127.0.0.1', port, localAddress: source }), served: false, closed: false };
    h.socket.on('connect', () => h.socket.write(payload));
    h.socket.on('data', (d: Buffer) => {
      if (!h.served && d.toString('latin1').startsWith('SSH-2.0-')) {
        h.served = true;
        resolve(h);
      }
    });
    h.socket.on('error', () => {});
    h.socket.on('close', () => {
      h.closed = true;
      resolve(h);
    });
  });
}

/** `count` connections from `source`, one after another, each sending a malformed packet and closed for it. */
async function malformed(port: number, source: string, count: number): Promise<void> {
  // A packet length of 2^32-1 right after the version line: a protocol error.
  const garbage = 'SSH-2.0-hostile\r\n\xff\xff\xff\xff\0\0\0\0\0\0\0\0\0\0\0\0';
  for (let i = 0; i < count; i++) {
    const h = await hostile(port, source, garbage);
    expect(h.served).toBe(true);
    await new Promise<void>((resolve) => (h.closed ? resolve() : h.socket.once('close', () => resolve())));
  }
}

async function flood(port: number, source: string, count: number): Promise<Hostile[]> {
  const all: Hostile[] = [];
  // In waves, so that the listen backlog is not what refuses them.
  for (let i = 0; i < count; i += 200) all.push(...(await Promise.all(Array.from({ length: Math.min(200, count - i) }, () => hostile(port, source)))));
  return all;
}

function login(port: number, localAddress = '127.0.0.1'): Promise<Ssh2Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => resolve(c));
    c.on('error', reject);
    c.connect({ host: '127.0.0.1', port, localAddress, username: USER, password: PASSWORD, readyTimeout: 30_000 });
  });
}

function exec(c: Ssh2Client, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, stream) => {
      if (err) return reject(err);
      let out = '';
      stream.on('data', (d: Buffer) => (out += d.toString()));
      stream.on('close', () => resolve(out));
    });
  });
}

function rssMiB(demo: Demo): number {
  const status = readFileSync(`/proc/${demo.process.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

let demo: Demo | undefined;
const open: Hostile[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) h.socket.destroy();
  await demo?.stop();
});

const sshFrom = (port: number, source: string, command: string, input?: Buffer) =>
  ssh(port, { user: USER, password: PASSWORD, command, ...(input ? { input } : {}), options: ['-b', source] });

describe('before authentication', () => {
  it('keeps authenticated users working while 2,000 unauthenticated hostile connections are open', async () => {
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--config', 'MaxStartups=2500', '--config', 'MaxConnections=2500']);
    const port = demo.port;
    const before = await login(port);
    const baseline = rssMiB(demo);

    open.push(...(await flood(port, '127.0.0.2', 2000)));
    expect(open.filter((h) => h.served && !h.closed)).toHaveLength(2000);
    const loaded = rssMiB(demo);
    console.log(`demo server RSS: ${baseline.toFixed(0)} MiB before, ${loaded.toFixed(0)} MiB with 2,000 unauthenticated connections`);

    // The session that was already up, and a new real OpenSSH login moving 16 MiB each way through cat.
    expect(await exec(before, 'echo still here')).toBe('still here\n');
    const data = testData(16 * 1024 * 1024, 9);
    const r = await sshFrom(port, '127.0.0.3', 'cat', data);
    expect(r.code).toBe(0);
    expect(sha256hex(r.stdout)).toBe(sha256hex(data));
    expect(open.every((h) => !h.closed), 'the hostile connections were held, not dropped').toBe(true);
    // Each waiting connection costs little: well under a megabyte.
    expect((loaded - baseline) / 2000).toBeLessThan(1);
    before.end();
  });

  it('holds at most PerSourceMaxStartups from one source and drops the rest early, while other sources log in', async () => {
    // 5 held stays under MaxStartups' 10, where random drops would begin for everyone.
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--config', 'PerSourceMaxStartups=5']);
    const port = demo.port;
    const before = await login(port);
    open.push(...(await flood(port, '127.0.0.2', 2000)));
    const held = open.filter((h) => h.served && !h.closed);
    expect(held).toHaveLength(5);
    expect(open.filter((h) => !h.served && h.closed)).toHaveLength(1995);
    expect(await exec(before, 'echo still here')).toBe('still here\n');
    const r = await sshFrom(port, '127.0.0.3', 'echo new login');
    expect(r.stdout.toString()).toBe('new login\n');
    before.end();
  });

  it('with the default MaxStartups 10:30:100, holds at most 100 unauthenticated connections and drops the rest', async () => {
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`]);
    const port = demo.port;
    const before = await login(port);
    open.push(...(await flood(port, '127.0.0.2', 2000)));
    const held = open.filter((h) => h.served && !h.closed).length;
    expect(held).toBeGreaterThanOrEqual(10);
    expect(held).toBeLessThanOrEqual(100);
    expect(await exec(before, 'echo still here')).toBe('still here\n');
    // Once the attacker lets go, new logins get through again.
    for (const h of open.splice(0)) h.socket.destroy();
    await expect.poll(async () => (await sshFrom(port, '127.0.0.3', 'echo back')).stdout.toString(), { timeout: 20_000 }).toBe('back\n');
    before.end();
  });

  it('with the default PerSourcePenalties, two malformed packets from a shared address do not lock it out', async () => {
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`]);
    const port = demo.port;
    // As OpenSSH 9.8, each costs `noauth` (1 s), far below the 15 s at which a source is refused.
    await malformed(port, '127.0.0.6', 2);
    const next = await hostile(port, '127.0.0.6');
    expect(next.served, 'the next connection from the same address is served').toBe(true);
    next.socket.destroy();
    expect((await sshFrom(port, '127.0.0.6', 'echo behind the same NAT')).stdout.toString()).toBe('behind the same NAT\n');
  });

  it.each([
    { tried: 'none', source: '127.0.0.7', refused: false },
    { tried: 'password', source: '127.0.0.8', refused: true },
  ])('charges a protocol violation after $tried as OpenSSH: noauth, or authfail once a method other than none was tried', async ({ tried, source, refused }) => {
    // authfail is raised past min so that a single one refuses the source, noauth stays 1 s.
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--config', 'PerSourcePenalties=authfail:20s']);
    const c = await RawClient.connect(demo.port, '127.0.0.1', source);
    await c.handshake();
    await c.serviceRequest();
    if (tried === 'none') {
      c.send(new Writer(MSG.USERAUTH_REQUEST).string(USER).string('ssh-connection').string('none').done());
      await c.expect(MSG.USERAUTH_FAILURE);
    } else expect(await c.password(USER, 'wrong')).toBe(false);
    c.corruptNextMac();
    c.send(new Writer(MSG.IGNORE).string('').done());
    expect((await c.readDisconnect()).reason).toBe(5);
    await c.closed;
    const next = await hostile(demo.port, source);
    next.socket.destroy();
    expect(next.served).toBe(!refused);
  });

  it('refuses a source that broke the protocol repeatedly once an operator configures protocol, and only that source', async () => {
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--config', 'PerSourcePenalties=protocol:10s']);
    const port = demo.port;
    await malformed(port, '127.0.0.4', 2);
    const refused = await hostile(port, '127.0.0.4');
    expect(refused.served, 'the penalised source is refused before the version line').toBe(false);
    expect(refused.closed).toBe(true);
    expect((await sshFrom(port, '127.0.0.5', 'echo unaffected')).stdout.toString()).toBe('unaffected\n');
  });
});
