/**
 * Hostile SFTP: raw packets written into the demo's `sftp` subsystem through the ssh2 npm client's channel.
 * Malformed packets get BAD_MESSAGE, a 4 GiB or a zero length closes the channel, 2,000 opens get 1,024
 * handles and FAILURE for the rest, 10,000 pipelined requests are all answered; meanwhile another
 * connection's session keeps working and the demo logs no error.
 */

import { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SftpStatus } from '../../ts/sftp/codec.js';
import { startDemo, type Demo } from '../helpers/demo.js';
import { RawSftp } from '../helpers/sftp-raw.js';
import { connect, type Ssh2Client } from '../helpers/ssh2.js';

let demo: Demo;
const clients: Ssh2Client[] = [];
beforeAll(async () => {
  demo = await startDemo(['--user', 'u:hostile-pass', '--sftp-memory', '--verbose']);
});
afterAll(async () => {
  for (const c of clients) c.end();
  await demo.stop();
});

/** A fresh connection's `sftp` channel as a raw client, INIT done, and the channel's close. */
async function sftpChannel(): Promise<{ client: RawSftp; closed: Promise<void> }> {
  const c = await connect(demo.port, { username: 'u', password: 'hostile-pass' });
  clients.push(c);
  const stream = await new Promise<ClientChannel>((resolve, reject) => c.subsys('sftp', (err, s) => (err ? reject(err) : resolve(s))));
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  const web = Duplex.toWeb(stream) as unknown as { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> };
  const client = new RawSftp(web.readable, web.writable);
  await client.init();
  return { client, closed };
}

/** A session on another connection that must still work: write a file, read it back. */
async function stillWorks(): Promise<void> {
  const { client } = await sftpChannel();
  const name = `/check-${Math.random()}`;
  const opened = await client.send({ type: 'open', path: name, pflags: 0x0b, attrs: {} });
  expect(opened.type).toBe('handle');
  const handle = (opened as { handle: Uint8Array }).handle;
  expect(await client.send({ type: 'write', handle, offset: 0, data: new Uint8Array([1, 2, 3]) })).toMatchObject({ code: SftpStatus.Ok });
  expect(await client.send({ type: 'read', handle, offset: 0, length: 10 })).toMatchObject({ type: 'data', data: new Uint8Array([1, 2, 3]) });
  expect(await client.send({ type: 'close', handle })).toMatchObject({ code: SftpStatus.Ok });
}

describe('hostile SFTP packets through a real channel', () => {
  it('malformed requests with a readable id get BAD_MESSAGE and the session goes on', async () => {
    const { client } = await sftpChannel();
    const bodies = [
      [17, 0, 0, 0, 0, 0, 0, 0, 99], // STAT whose path runs past the packet
      [3, 0, 0, 0, 0, 0, 0, 0, 1, 0x61], // OPEN cut after its path
      [9, 0, 0, 0, 0, 0, 0, 0, 1, 0x61, 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], // SETSTAT with 2^32-1 extended attributes
      [77, 0, 0, 0, 0], // an unknown type
      [16, 0, 0, 0, 0, 0, 0, 0, 1, 0x61, 0], // REALPATH with a trailing byte
    ];
    for (const b of bodies) {
      const id = client.nextId++;
      const packet = Uint8Array.from([0, 0, 0, b.length, ...b]);
      packet.set([0, 0, 0, id], 5);
      const reply = client.reply(id);
      await client.write(packet);
      expect(await reply).toMatchObject({ type: 'status', code: SftpStatus.BadMessage });
    }
    expect(await client.send({ type: 'realpath', path: '.' })).toMatchObject({ type: 'name', names: [{ filename: '/' }] });
  });

  it.each([
    ['a 4 GiB length', [0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0, 1]],
    ['a length past 256 KiB', [0, 4, 0, 1, 3]],
    ['a zero length', [0, 0, 0, 0]],
  ])('%s closes the channel, and another connection\'s session keeps working', async (_, bytes) => {
    const { client, closed } = await sftpChannel();
    await client.write(Uint8Array.from(bytes));
    await closed;
    await stillWorks();
  });

  it('2,000 opens: 1,024 handles, FAILURE for the rest; closing one frees a handle', async () => {
    const { client } = await sftpChannel();
    const replies = await Promise.all(Array.from({ length: 2000 }, (_, i) => client.send({ type: 'open', path: `/h${i % 7}`, pflags: 0x0b, attrs: {} })));
    const handles = replies.filter((r) => r.type === 'handle') as { handle: Uint8Array }[];
    expect(handles.length).toBe(1024);
    expect(replies.filter((r) => r.type === 'status' && r.code === SftpStatus.Failure).length).toBe(976);
    expect(await client.send({ type: 'close', handle: handles[0]!.handle })).toMatchObject({ code: SftpStatus.Ok });
    expect((await client.send({ type: 'open', path: '/h0', pflags: 1, attrs: {} })).type).toBe('handle');
    await stillWorks();
  });

  it('10,000 pipelined requests, written at once, are all answered', async () => {
    const { client } = await sftpChannel();
    const replies = await Promise.all(Array.from({ length: 10_000 }, (_, i) => client.send(i % 3 ? { type: 'stat', path: '/' } : { type: 'lstat', path: '/missing' })));
    expect(replies.filter((r) => r.type === 'attrs').length).toBe(6666);
    expect(replies.filter((r) => r.type === 'status' && r.code === SftpStatus.NoSuchFile).length).toBe(3334);
    await stillWorks();
    expect(demo.stderr()).not.toMatch(/error|trap/i);
  });
});
