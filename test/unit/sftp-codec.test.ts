/** The SFTP codec: every request and reply round-trips; truncated, trailing and oversized fields are refused. */

import { describe, expect, it } from 'vitest';
import { decodeReply, decodeRequest, encodeReply, encodeRequest, encodeStatvfs, EXTENSIONS, SftpCodecError, SftpStatus, type SftpReply, type SftpRequest } from '../../ts/sftp/codec.js';

const handle = new Uint8Array([1, 2, 3]);
const attrs = { size: 2 ** 40, uid: 1000, gid: 100, permissions: 0o100644, atime: 1, mtime: 2, extended: [['x@y', new Uint8Array([9])]] as [string, Uint8Array][] };

const REQUESTS: SftpRequest[] = [
  { type: 'init', version: 3, extensions: [['a', 'b']] },
  { type: 'open', id: 1, path: '/a', pflags: 0x1a, attrs },
  { type: 'close', id: 2, handle },
  { type: 'read', id: 3, handle, offset: 2 ** 33, length: 32768 },
  { type: 'write', id: 4, handle, offset: 7, data: new Uint8Array([5, 6]) },
  { type: 'lstat', id: 5, path: 'x' },
  { type: 'fstat', id: 6, handle },
  { type: 'setstat', id: 7, path: 'p', attrs: { permissions: 0o600 } },
  { type: 'fsetstat', id: 8, handle, attrs: { size: 0 } },
  { type: 'opendir', id: 9, path: '.' },
  { type: 'readdir', id: 10, handle },
  { type: 'remove', id: 11, path: 'f' },
  { type: 'mkdir', id: 12, path: 'd', attrs: {} },
  { type: 'rmdir', id: 13, path: 'd' },
  { type: 'realpath', id: 14, path: '..' },
  { type: 'stat', id: 15, path: 's' },
  { type: 'rename', id: 16, oldpath: 'a', newpath: 'b' },
  { type: 'readlink', id: 17, path: 'l' },
  { type: 'symlink', id: 18, target: 't', linkpath: 'l' },
  { type: 'posix-rename', id: 19, oldpath: 'a', newpath: 'b' },
  { type: 'statvfs', id: 20, path: '/' },
  { type: 'fstatvfs', id: 21, handle },
  { type: 'hardlink', id: 22, oldpath: 'a', newpath: 'b' },
  { type: 'fsync', id: 23, handle },
  { type: 'lsetstat', id: 24, path: 'l', attrs: { atime: 5, mtime: 6 } },
  { type: 'limits', id: 25 },
  { type: 'expand-path', id: 26, path: '~/x' },
  { type: 'copy-data', id: 27, readHandle: handle, readOffset: 1, length: 0, writeHandle: new Uint8Array([4]), writeOffset: 9 },
  { type: 'home-directory', id: 28, path: 'u' },
  { type: 'users-groups-by-id', id: 29, uids: [0, 1000], gids: [5] },
  { type: 'extended', id: 30, name: 'unknown@example.com' },
];

const REPLIES: SftpReply[] = [
  { type: 'version', version: 3, extensions: EXTENSIONS },
  { type: 'status', id: 1, code: SftpStatus.NoSuchFile, message: 'no' },
  { type: 'handle', id: 2, handle },
  { type: 'data', id: 3, data: new Uint8Array(1000).fill(7) },
  { type: 'name', id: 4, names: [{ filename: 'a', longname: '-rw-r--r-- a', attrs }] },
  { type: 'attrs', id: 5, attrs: {} },
  { type: 'extended-reply', id: 6, data: encodeStatvfs({ bsize: 1, frsize: 2, blocks: 3, bfree: 4, bavail: 5, files: 6, ffree: 7, favail: 8, fsid: 9, flag: 10, namemax: 255 }) },
];

/** The body of an encoded packet, checking its length prefix. */
function body(packet: Uint8Array): Uint8Array {
  expect(new DataView(packet.buffer, packet.byteOffset).getUint32(0)).toBe(packet.length - 4);
  return packet.subarray(4);
}

describe('SFTP codec', () => {
  it.each(REQUESTS.map((r) => [r.type, r] as const))('request %s round-trips', (_, request) => {
    expect(decodeRequest(body(encodeRequest(request)))).toEqual(request);
  });

  it.each(REPLIES.map((r) => [r.type, r] as const))('reply %s round-trips', (_, reply) => {
    expect(decodeReply(body(encodeReply(reply)))).toEqual(reply);
  });

  it('every truncation of every request is refused, never read past its end', () => {
    for (const request of REQUESTS) {
      const full = body(encodeRequest(request));
      // An INIT may end after any extension pair; the unknown extension's fields are skipped.
      if (request.type === 'init' || request.type === 'extended') continue;
      for (let n = 0; n < full.length; n++) expect(() => decodeRequest(full.subarray(0, n)), `${request.type} cut at ${n}`).toThrow(SftpCodecError);
    }
  });

  it('refuses trailing bytes, an unknown type, a huge extended-attribute count, a uint64 past 2^53, NUL in a path', () => {
    const withTrailer = (r: SftpRequest) => {
      const b = body(encodeRequest(r));
      return Uint8Array.of(...b, 0);
    };
    expect(() => decodeRequest(withTrailer({ type: 'stat', id: 1, path: 'a' }))).toThrow(/trailing/);
    expect(() => decodeRequest(Uint8Array.of(99, 0, 0, 0, 1))).toThrow(/unknown packet type/);
    // SETSTAT with flags EXTENDED and a count of 2^32-1 in a 20-byte packet.
    expect(() => decodeRequest(Uint8Array.of(9, 0, 0, 0, 1, 0, 0, 0, 1, 0x61, 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff))).toThrow(/extended attributes/);
    expect(() => decodeRequest(Uint8Array.of(5, 0, 0, 0, 1, 0, 0, 0, 1, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1))).toThrow(/out of range/);
    expect(() => decodeRequest(body(encodeRequest({ type: 'stat', id: 1, path: 'a\0b' })))).toThrow(/NUL/);
    // A string whose length is past the packet: refused before any copy.
    expect(() => decodeRequest(Uint8Array.of(17, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff))).toThrow(/truncated/);
  });
});
