/**
 * The SFTP session and the in-memory filesystem, over a pair of in-memory streams: pipelining, the limits
 * (outstanding requests, handles, packet length), malformed packets, read-only, and the memory tree's own
 * rules (symlinks stay inside it, v3 and POSIX rename, hard links, its byte limit).
 */

import { describe, expect, it } from 'vitest';
import { encodeRequest, SftpStatus } from '../../ts/sftp/codec.js';
import { SftpError } from '../../ts/sftp/filesystem.js';
import { MemoryFileSystem } from '../../ts/sftp/memory.js';
import { SftpSession, type SftpSessionOptions } from '../../ts/sftp/session.js';
import { RawSftp } from '../helpers/sftp-raw.js';

const RW = { read: true, write: true, append: false, create: true, truncate: false, exclusive: false };
const enc = (s: string) => new TextEncoder().encode(s);

/** A session over in-memory streams and a raw client on the other end, INIT done. */
async function session(options: Partial<SftpSessionOptions> = {}, init = true) {
  const toServer = new TransformStream<Uint8Array, Uint8Array>();
  const toClient = new TransformStream<Uint8Array, Uint8Array>();
  const fs = options.fs ?? new MemoryFileSystem();
  const running = new SftpSession({ readable: toServer.readable, writable: toClient.writable }, { ...options, fs }).run();
  const client = new RawSftp(toClient.readable, toServer.writable);
  if (init) await client.init();
  return { client, running, fs };
}

const status = (code: SftpStatus) => expect.objectContaining({ type: 'status', code });

describe('MemoryFileSystem', () => {
  it('keeps symlinks inside its tree, absolute or relative, and stops at a loop', async () => {
    const fs = new MemoryFileSystem();
    await fs.mkdir('/etc', {});
    const f = await fs.open('/etc/passwd', RW, {});
    await fs.write(f, 0, enc('inside'));
    await fs.symlink('/../../etc/passwd', '/abs');
    await fs.mkdir('/d', {});
    await fs.symlink('../../../../etc/passwd', '/d/rel');
    expect(await fs.realpath('/abs')).toBe('/etc/passwd');
    expect(await fs.realpath('/d/rel')).toBe('/etc/passwd');
    expect(new TextDecoder().decode((await fs.read(await fs.open('/d/rel', { ...RW, create: false }, {}), 0, 100))!)).toBe('inside');
    await fs.symlink('/loop', '/loop');
    await expect(fs.stat('/loop')).rejects.toThrow(/too many levels/);
    expect((await fs.lstat('/loop')).permissions! & 0o170000).toBe(0o120000);
  });

  it('v3 rename refuses an existing target, POSIX rename replaces it; hard links share data; no directory moves into itself', async () => {
    const fs = new MemoryFileSystem();
    for (const [name, text] of [['/a', 'A'], ['/b', 'B']]) await fs.write(await fs.open(name!, RW, {}), 0, enc(text!));
    await expect(fs.rename('/a', '/b')).rejects.toThrow(/exists/);
    await fs.posixRename('/a', '/b');
    await expect(fs.stat('/a')).rejects.toMatchObject({ status: SftpStatus.NoSuchFile });
    await fs.hardlink('/b', '/c');
    await fs.write(await fs.open('/c', RW, {}), 1, enc('!'));
    expect(new TextDecoder().decode((await fs.read(await fs.open('/b', RW, {}), 0, 10))!)).toBe('A!');
    await fs.mkdir('/d', {});
    await expect(fs.posixRename('/d', '/d/e')).rejects.toThrow(/into itself/);
    await expect(fs.rmdir('/')).rejects.toThrow(SftpError);
  });

  it('holds at most maxBytes, and frees what is removed', async () => {
    const fs = new MemoryFileSystem({ maxBytes: 10_000 });
    const f = await fs.open('/f', RW, {});
    await fs.write(f, 0, new Uint8Array(9000));
    await expect(fs.write(await fs.open('/g', RW, {}), 0, new Uint8Array(2000))).rejects.toThrow(/no space/);
    await fs.remove('/f');
    await fs.write(await fs.open('/g', RW, {}), 0, new Uint8Array(2000));
    expect((await fs.statvfs()).bfree).toBeGreaterThan(0);
  });
});

describe('SftpSession', () => {
  it('answers 10,000 pipelined requests, every one', async () => {
    const { client } = await session();
    const replies = await Promise.all(Array.from({ length: 10_000 }, (_, i) => client.send({ type: i % 2 ? 'stat' : 'realpath', path: '/' })));
    expect(replies.filter((r) => r.type === 'attrs').length).toBe(5000);
    expect(replies.filter((r) => r.type === 'name').length).toBe(5000);
  });

  it('reads packets split anywhere across the channel\'s chunks, a byte at a time included', async () => {
    const { client } = await session();
    const writes = Array.from({ length: 40 }, (_, i) => ({ id: 1000 + i, packet: encodeRequest({ type: 'realpath', id: 1000 + i, path: `/d${i}/..` }) }));
    const replies = writes.map((w) => client.reply(w.id));
    const stream = Uint8Array.from(writes.flatMap((w) => [...w.packet]));
    for (let at = 0, step = 1; at < stream.length; at += step, step = (step % 7) + 1) await client.write(stream.slice(at, at + step));
    expect((await Promise.all(replies)).every((r) => r.type === 'name' && r.names[0]!.filename === '/')).toBe(true);
  });

  it('serves at most maxOutstanding requests at once, reading on as they finish', async () => {
    const fs = new MemoryFileSystem();
    let inside = 0;
    let most = 0;
    const release: (() => void)[] = [];
    fs.stat = async () => {
      most = Math.max(most, ++inside);
      await new Promise<void>((r) => release.push(r));
      inside--;
      return {};
    };
    const { client } = await session({ fs, maxOutstanding: 16 });
    const replies = Promise.all(Array.from({ length: 100 }, () => client.send({ type: 'stat', path: '/' })));
    await new Promise((r) => setTimeout(r, 50));
    expect(inside).toBe(16);
    const drain = setInterval(() => release.splice(0).forEach((r) => r()), 1);
    expect((await replies).length).toBe(100);
    clearInterval(drain);
    expect(most).toBe(16);
  });

  it('refuses opens past maxHandles with FAILURE, and takes them again once one is closed', async () => {
    const { client } = await session({ maxHandles: 1024 });
    const replies = await Promise.all(Array.from({ length: 2000 }, (_, i) => client.send({ type: 'open', path: `/f${i % 10}`, pflags: 0x0b, attrs: {} })));
    const handles = replies.filter((r) => r.type === 'handle');
    expect(handles.length).toBe(1024);
    expect(replies.filter((r) => r.type === 'status' && r.code === SftpStatus.Failure && /too many open handles/.test(r.message)).length).toBe(976);
    expect(await client.send({ type: 'close', handle: (handles[0] as { handle: Uint8Array }).handle })).toEqual(status(SftpStatus.Ok));
    expect((await client.send({ type: 'opendir', path: '/' })).type).toBe('handle');
  });

  it('answers a malformed request with BAD_MESSAGE and goes on; an unknown extension with OP_UNSUPPORTED', async () => {
    const { client } = await session();
    const id = client.nextId++;
    const reply = client.reply(id);
    // STAT whose path length runs past the packet.
    await client.write(Uint8Array.of(0, 0, 0, 9, 17, 0, 0, 0, id, 0, 0, 0, 50));
    expect(await reply).toEqual(status(SftpStatus.BadMessage));
    expect(await client.send({ type: 'extended', name: 'nope@example.com' })).toEqual(status(SftpStatus.OpUnsupported));
    expect((await client.send({ type: 'realpath', path: '../..' }))).toMatchObject({ type: 'name', names: [{ filename: '/' }] });
  });

  it.each([
    ['a length of 4 GiB', Uint8Array.of(0xff, 0xff, 0xff, 0xff, 3)],
    ['a length past 256 KiB', Uint8Array.of(0, 4, 0, 1, 3)],
    ['a zero length', Uint8Array.of(0, 0, 0, 0)],
    ['a second INIT', Uint8Array.of(0, 0, 0, 5, 1, 0, 0, 0, 3)],
    ['a packet too short for its id', Uint8Array.of(0, 0, 0, 2, 17, 0)],
  ])('ends the session on %s', async (_, bytes) => {
    const { client, running } = await session();
    await client.write(bytes);
    await running;
    await client.ended;
  });

  it('ends the session on a request before INIT', async () => {
    const { client, running } = await session({}, false);
    void client.send({ type: 'stat', path: '/' });
    await running;
  });

  it('read-only: reads and lists, refuses every change with PERMISSION_DENIED', async () => {
    const fs = new MemoryFileSystem();
    await fs.write(await fs.open('/f', RW, {}), 0, enc('data'));
    const { client } = await session({ fs, readOnly: true });
    const opened = await client.send({ type: 'open', path: '/f', pflags: 1, attrs: {} });
    expect(opened.type).toBe('handle');
    const handle = (opened as { handle: Uint8Array }).handle;
    expect(await client.send({ type: 'read', handle, offset: 0, length: 10 })).toMatchObject({ type: 'data', data: enc('data') });
    for (const req of [
      { type: 'open', path: '/f', pflags: 2, attrs: {} },
      { type: 'open', path: '/g', pflags: 0x09, attrs: {} },
      { type: 'write', handle, offset: 0, data: enc('x') },
      { type: 'mkdir', path: '/d', attrs: {} },
      { type: 'remove', path: '/f' },
      { type: 'posix-rename', oldpath: '/f', newpath: '/g' },
      { type: 'setstat', path: '/f', attrs: { permissions: 0 } },
      { type: 'symlink', target: '/f', linkpath: '/l' },
    ] as const) {
      expect(await client.send(req), req.type).toEqual(status(SftpStatus.PermissionDenied));
    }
    expect(await fs.stat('/f')).toMatchObject({ size: 4 });
  });

  it('serves the extensions: limits, statvfs, copy-data, hardlink, home-directory, expand-path, users-groups-by-id', async () => {
    const { client, fs } = await session();
    await (fs as MemoryFileSystem).write(await (fs as MemoryFileSystem).open('/src', RW, {}), 0, enc('0123456789'));
    expect(await client.send({ type: 'limits' })).toMatchObject({ type: 'extended-reply' });
    expect(((await client.send({ type: 'statvfs', path: '/' })) as { data: Uint8Array }).data.length).toBe(88);
    const from = (await client.send({ type: 'open', path: '/src', pflags: 1, attrs: {} })) as { handle: Uint8Array };
    const to = (await client.send({ type: 'open', path: '/dst', pflags: 0x0b, attrs: {} })) as { handle: Uint8Array };
    expect(await client.send({ type: 'copy-data', readHandle: from.handle, readOffset: 2, length: 0, writeHandle: to.handle, writeOffset: 0 })).toEqual(status(SftpStatus.Ok));
    expect(await client.send({ type: 'read', handle: to.handle, offset: 0, length: 100 })).toMatchObject({ data: enc('23456789') });
    expect(await client.send({ type: 'hardlink', oldpath: '/src', newpath: '/hard' })).toEqual(status(SftpStatus.Ok));
    expect(await client.send({ type: 'home-directory', path: 'u' })).toMatchObject({ names: [{ filename: '/' }] });
    expect(await client.send({ type: 'expand-path', path: '~/src' })).toMatchObject({ names: [{ filename: '/src' }] });
    expect(await client.send({ type: 'expand-path', path: '~root/x' })).toEqual(status(SftpStatus.NoSuchFile));
    const ids = (await client.send({ type: 'users-groups-by-id', uids: [0, 1], gids: [0] })) as { data: Uint8Array };
    expect([...ids.data]).toEqual([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
  });
});
