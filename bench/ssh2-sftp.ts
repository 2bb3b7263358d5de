/**
 * The ssh2 npm server's SFTP for the benchmark peer (bench/ssh2-peer.ts `--sftp-root DIR`): its `SFTP` stream
 * answering what OpenSSH's `sftp get` and `put` send, from files under DIR, with Node's `fs` as a host
 * written on ssh2 would. For measuring only: paths are joined to DIR after a lexical `..` clamp.
 */

import { close, fstat, open, read, stat, write, type Stats } from 'node:fs';
import { posix } from 'node:path';
import ssh2, { type Attributes, type SFTPWrapper } from 'ssh2';

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;

const attrsOf = (s: Stats): Attributes => ({ mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, atime: Math.floor(s.atimeMs / 1000), mtime: Math.floor(s.mtimeMs / 1000) });

/** Serves one SFTP session from `root`. */
export function serveSftpFrom(sftp: SFTPWrapper, root: string): void {
  const handles = new Map<string, number>();
  let next = 0;
  const local = (path: string) => posix.join(root, posix.normalize(`/${path}`));
  const fd = (handle: Buffer) => handles.get(handle.toString());
  const fail = (id: number, err: NodeJS.ErrnoException | null) => sftp.status(id, err?.code === 'ENOENT' ? STATUS_CODE.NO_SUCH_FILE : STATUS_CODE.FAILURE);

  // The client's EOF ends the session: ssh2 leaves closing the channel to the host.
  sftp.on('end', () => sftp.end());
  sftp.on('REALPATH', (id, path) => {
    const p = posix.normalize(`/${path}`);
    sftp.name(id, [{ filename: p, longname: p, attrs: {} as Attributes }]);
  });
  for (const event of ['STAT', 'LSTAT'] as const) {
    sftp.on(event, (id: number, path: string) => stat(local(path), (err, s) => (err ? fail(id, err) : sftp.attrs(id, attrsOf(s)))));
  }
  sftp.on('FSTAT', (id, handle) => {
    const f = fd(handle);
    if (f === undefined) return sftp.status(id, STATUS_CODE.FAILURE);
    fstat(f, (err, s) => (err ? fail(id, err) : sftp.attrs(id, attrsOf(s))));
  });
  sftp.on('OPEN', (id, path, flags) => {
    const mode = flags & OPEN_MODE.WRITE ? (flags & OPEN_MODE.READ ? 'r+' : 'w') : 'r';
    // OpenSSH's put asks for WRITE|CREAT|TRUNC: 'w' does all three.
    open(local(path), mode, (err, f) => {
      if (err) return fail(id, err);
      const key = String(next++);
      handles.set(key, f);
      sftp.handle(id, Buffer.from(key));
    });
  });
  sftp.on('READ', (id, handle, offset, length) => {
    const f = fd(handle);
    if (f === undefined) return sftp.status(id, STATUS_CODE.FAILURE);
    const buf = Buffer.allocUnsafe(length);
    read(f, buf, 0, length, offset, (err, n) => (err ? fail(id, err) : n === 0 ? sftp.status(id, STATUS_CODE.EOF) : sftp.data(id, buf.subarray(0, n))));
  });
  sftp.on('WRITE', (id, handle, offset, data) => {
    const f = fd(handle);
    if (f === undefined) return sftp.status(id, STATUS_CODE.FAILURE);
    write(f, data, 0, data.length, offset, (err) => (err ? fail(id, err) : sftp.status(id, STATUS_CODE.OK)));
  });
  sftp.on('CLOSE', (id, handle) => {
    const f = fd(handle);
    if (f === undefined) return sftp.status(id, STATUS_CODE.FAILURE);
    handles.delete(handle.toString());
    close(f, (err) => (err ? fail(id, err) : sftp.status(id, STATUS_CODE.OK)));
  });
  for (const event of ['SETSTAT', 'FSETSTAT'] as const) sftp.on(event, (id: number) => sftp.status(id, STATUS_CODE.OK));
  for (const event of ['OPENDIR', 'READDIR', 'REMOVE', 'RMDIR', 'MKDIR', 'RENAME', 'READLINK', 'SYMLINK'] as const) {
    sftp.on(event, (id: number) => sftp.status(id, STATUS_CODE.OP_UNSUPPORTED));
  }
}
