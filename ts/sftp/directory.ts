/**
 * An SFTP filesystem over a directory of the host, through `node:fs/promises` (Node, Deno and Bun). The
 * library's confined paths map under the root; symlinks are the hazard left, a link made inside the root
 * that points out of it included: every path an operation follows is resolved with `realpath` and must lie
 * under the root's own real path, operations on a link itself resolve its directory that way, and files
 * open with `O_NOFOLLOW` so that a link swapped in at the last component after the check is not followed.
 */

import { constants, type Dir } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { SftpStatus, type SftpAttrs, type SftpStatvfs } from './codec.js';
import { failure, SftpError, type SftpDirEntry, type SftpFileSystem, type SftpOpenFlags } from './filesystem.js';
import { confine, splitPath } from './paths.js';

/** A file `DirectoryFileSystem` has open: the session keeps it behind the client's handle. */
export interface DirectoryFile {
  /** The open file. */
  handle: fs.FileHandle;
  /** Opened for appending: every write goes to the end. */
  append: boolean;
}

/** Entries a READDIR answers with at most, as OpenSSH's sftp-server (100). */
const READDIR_BATCH = 100;

/** What a Node system error means to the client. */
function statusOf(e: unknown): SftpError {
  if (e instanceof SftpError) return e;
  const code = (e as { code?: string }).code;
  const message = (e as Error).message ?? String(e);
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new SftpError(SftpStatus.NoSuchFile, 'No such file');
    case 'EACCES':
    case 'EPERM':
      return new SftpError(SftpStatus.PermissionDenied, 'Permission denied');
    case 'ELOOP':
      return new SftpError(SftpStatus.PermissionDenied, 'symbolic link refused');
    case 'ENOSYS':
    case 'ENOTSUP':
      return new SftpError(SftpStatus.OpUnsupported, 'Operation unsupported');
  }
  // The host's paths stay on the host: the code alone goes to the client.
  return new SftpError(SftpStatus.Failure, code ?? message);
}

/** Runs `op`, turning what it throws into the client's status. */
async function mapped<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw statusOf(e);
  }
}

const attrsOf = (s: import('node:fs').Stats): SftpAttrs => ({
  size: s.size,
  uid: s.uid,
  gid: s.gid,
  permissions: s.mode,
  atime: Math.floor(s.atimeMs / 1000),
  mtime: Math.floor(s.mtimeMs / 1000),
});

export class DirectoryFileSystem implements SftpFileSystem<DirectoryFile, Dir> {
  private readonly root: string;
  private rootReal: Promise<string> | undefined;

  /** `root`: the directory served; it must exist by the first request. */
  constructor(root: string) {
    this.root = resolve(root);
  }

  private realRoot(): Promise<string> {
    this.rootReal ??= fs.realpath(this.root);
    return this.rootReal;
  }

  /** `real` if it lies under the root; a path outside is reported as missing, telling the client nothing of it. */
  private async inside(real: string): Promise<string> {
    const root = await this.realRoot();
    if (real === root || real.startsWith(root.endsWith(sep) ? root : root + sep)) return real;
    throw new SftpError(SftpStatus.PermissionDenied, 'path leads outside the served directory');
  }

  /** The real path of `path`, every symlink followed, under the root. */
  private async followed(path: string): Promise<string> {
    return this.inside(await fs.realpath(join(await this.realRoot(), path)));
  }

  /** The real path of `path` whose directory is resolved and checked, its last component left as it is. */
  private async unfollowed(path: string): Promise<string> {
    const { parent, name } = splitPath(path);
    const dir = await this.followed(parent);
    return name === '' ? dir : join(dir, name);
  }

  /** The confined path of a real path under the root. */
  private async virtual(real: string): Promise<string> {
    return confine(relative(await this.realRoot(), real).split(sep).join('/'));
  }

  open(path: string, flags: SftpOpenFlags, attrs: SftpAttrs): Promise<DirectoryFile> {
    return mapped(async () => {
      let real: string;
      try {
        real = await this.followed(path);
      } catch (e) {
        if (!flags.create || (e as { code?: string }).code !== 'ENOENT') throw e;
        // A new file: its directory checked, the name itself created without following anything.
        real = await this.unfollowed(path);
      }
      let mode = constants.O_NOFOLLOW;
      mode |= flags.read && (flags.write || flags.append) ? constants.O_RDWR : flags.write || flags.append ? constants.O_WRONLY : constants.O_RDONLY;
      if (flags.create) mode |= constants.O_CREAT;
      if (flags.truncate) mode |= constants.O_TRUNC;
      if (flags.exclusive) mode |= constants.O_EXCL;
      const handle = await fs.open(real, mode, (attrs.permissions ?? 0o644) & 0o777);
      return { handle, append: flags.append };
    });
  }

  read(file: DirectoryFile, offset: number, length: number): Promise<Uint8Array | null> {
    return mapped(async () => {
      const buffer = new Uint8Array(length);
      let got = 0;
      // A short read before the end is not the end: read on until the request is filled or EOF.
      while (got < length) {
        const { bytesRead } = await file.handle.read(buffer, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === 0 ? null : buffer.subarray(0, got);
    });
  }

  write(file: DirectoryFile, offset: number, data: Uint8Array): Promise<void> {
    return mapped(async () => {
      const at = file.append ? (await file.handle.stat()).size : offset;
      let done = 0;
      while (done < data.length) done += (await file.handle.write(data, done, data.length - done, at + done)).bytesWritten;
    });
  }

  close(file: DirectoryFile): Promise<void> {
    return mapped(() => file.handle.close());
  }

  fstat(file: DirectoryFile): Promise<SftpAttrs> {
    return mapped(async () => attrsOf(await file.handle.stat()));
  }

  fsetstat(file: DirectoryFile, attrs: SftpAttrs): Promise<void> {
    return mapped(async () => {
      const h = file.handle;
      if (attrs.size !== undefined) await h.truncate(attrs.size);
      if (attrs.permissions !== undefined) await h.chmod(attrs.permissions & 0o7777);
      if (attrs.uid !== undefined && attrs.gid !== undefined) await h.chown(attrs.uid, attrs.gid);
      if (attrs.atime !== undefined && attrs.mtime !== undefined) await h.utimes(attrs.atime, attrs.mtime);
    });
  }

  fsync(file: DirectoryFile): Promise<void> {
    return mapped(() => file.handle.sync());
  }

  stat(path: string): Promise<SftpAttrs> {
    return mapped(async () => attrsOf(await fs.stat(await this.followed(path))));
  }

  lstat(path: string): Promise<SftpAttrs> {
    return mapped(async () => attrsOf(await fs.lstat(await this.unfollowed(path))));
  }

  setstat(path: string, attrs: SftpAttrs): Promise<void> {
    return mapped(async () => {
      const real = await this.followed(path);
      if (attrs.size !== undefined) {
        // Through a handle opened without following links: a path swapped for a link meanwhile is refused.
        const h = await fs.open(real, constants.O_WRONLY | constants.O_NOFOLLOW);
        await h.truncate(attrs.size).finally(() => h.close());
      }
      if (attrs.permissions !== undefined) await fs.chmod(real, attrs.permissions & 0o7777);
      if (attrs.uid !== undefined && attrs.gid !== undefined) await fs.chown(real, attrs.uid, attrs.gid);
      if (attrs.atime !== undefined && attrs.mtime !== undefined) await fs.utimes(real, attrs.atime, attrs.mtime);
    });
  }

  lsetstat(path: string, attrs: SftpAttrs): Promise<void> {
    return mapped(async () => {
      const real = await this.unfollowed(path);
      if (!(await fs.lstat(real)).isSymbolicLink()) return this.setstat(path, attrs);
      // A link's own mode cannot be set on Linux; its owner and times can.
      if (attrs.uid !== undefined && attrs.gid !== undefined) await fs.lchown(real, attrs.uid, attrs.gid);
      if (attrs.atime !== undefined && attrs.mtime !== undefined) await fs.lutimes(real, attrs.atime, attrs.mtime);
    });
  }

  opendir(path: string): Promise<Dir> {
    return mapped(async () => fs.opendir(await this.followed(path), { bufferSize: READDIR_BATCH }));
  }

  readdir(dir: Dir): Promise<SftpDirEntry[] | null> {
    return mapped(async () => {
      const entries: SftpDirEntry[] = [];
      while (entries.length < READDIR_BATCH) {
        const entry = await dir.read();
        if (!entry) break;
        // An entry removed since it was listed is skipped.
        const stats = await fs.lstat(join(dir.path, entry.name)).catch(() => undefined);
        if (stats) entries.push({ filename: entry.name, attrs: attrsOf(stats) });
      }
      return entries.length === 0 ? null : entries;
    });
  }

  closedir(dir: Dir): Promise<void> {
    return mapped(() => dir.close());
  }

  mkdir(path: string, attrs: SftpAttrs): Promise<void> {
    return mapped(async () => void (await fs.mkdir(await this.unfollowed(path), { mode: (attrs.permissions ?? 0o755) & 0o7777 })));
  }

  rmdir(path: string): Promise<void> {
    return mapped(async () => fs.rmdir(await this.unfollowed(path)));
  }

  remove(path: string): Promise<void> {
    return mapped(async () => fs.unlink(await this.unfollowed(path)));
  }

  rename(oldPath: string, newPath: string): Promise<void> {
    return mapped(async () => {
      const to = await this.unfollowed(newPath);
      if (await fs.lstat(to).then(() => true, () => false)) throw failure(`file exists: ${newPath}`);
      await fs.rename(await this.unfollowed(oldPath), to);
    });
  }

  posixRename(oldPath: string, newPath: string): Promise<void> {
    return mapped(async () => fs.rename(await this.unfollowed(oldPath), await this.unfollowed(newPath)));
  }

  realpath(path: string): Promise<string> {
    return mapped(async () => this.virtual(await this.followed(path)));
  }

  readlink(path: string): Promise<string> {
    return mapped(async () => {
      const target = await fs.readlink(await this.unfollowed(path));
      // A link the client made to an absolute path reads back as it wrote it.
      const root = await this.realRoot();
      return target.startsWith(root + sep) || target === root ? this.virtual(target) : target;
    });
  }

  symlink(target: string, linkPath: string): Promise<void> {
    return mapped(async () => {
      // The client's absolute paths are under the root: the link points where the client meant.
      const onDisk = target.startsWith('/') ? join(await this.realRoot(), confine(target)) : target;
      await fs.symlink(onDisk, await this.unfollowed(linkPath));
    });
  }

  hardlink(oldPath: string, newPath: string): Promise<void> {
    return mapped(async () => fs.link(await this.unfollowed(oldPath), await this.unfollowed(newPath)));
  }

  statvfs(path: string): Promise<SftpStatvfs> {
    return mapped(async () => {
      if (typeof fs.statfs !== 'function') throw new SftpError(SftpStatus.OpUnsupported, 'statvfs is not available on this runtime');
      const s = await fs.statfs(await this.followed(path));
      return { bsize: s.bsize, frsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, favail: s.ffree, fsid: 0, flag: 0, namemax: 255 };
    });
  }
}
