/**
 * The filesystem an SFTP session serves, as the host implements it: every operation async, every path one the
 * library has already confined (paths.ts: absolute, normalised, no `.` or `..`, rooted at the filesystem's own
 * root), every failure an `SftpError` carrying the SFTP status the client sees.
 */

import { SftpStatus, type SftpAttrs, type SftpStatvfs } from './codec.js';

export { SftpStatus, type SftpAttrs, type SftpStatvfs } from './codec.js';

/** A failure the client is told about: its SFTP status code and a message. */
export class SftpError extends Error {
  constructor(
    /** What the client is told. */
    readonly status: SftpStatus,
    message: string,
  ) {
    super(message);
  }
}

/** How a file is opened: SSH_FXF_* (codec.ts `OpenFlag`) decoded. */
export interface SftpOpenFlags {
  /** For reading. */
  read: boolean;
  /** For writing. */
  write: boolean;
  /** Writes go to the end. */
  append: boolean;
  /** Made if missing. */
  create: boolean;
  /** Emptied if there. */
  truncate: boolean;
  /** With `create`: fail if the file exists. */
  exclusive: boolean;
}

/** A directory entry: its name and its attributes (of the entry itself, not of a symlink's target). */
export interface SftpDirEntry {
  /** The entry's name in its directory. */
  filename: string;
  /** The entry's attributes. */
  attrs: SftpAttrs;
}

/**
 * What an SFTP session needs of a filesystem. `F` and `D` are the implementation's open file and directory;
 * the session keeps them behind the handles it gives the client. Paths are the library's confined paths
 * (`/`, `/a/b`): an implementation maps them under its root and must keep symlinks from leading out of it.
 */
export interface SftpFileSystem<F = unknown, D = unknown> {
  /** Opens (or with `flags.create` makes, with `attrs`) a file. */
  open(path: string, flags: SftpOpenFlags, attrs: SftpAttrs): Promise<F>;
  /** Up to `length` bytes at `offset`; fewer only at the end of the file; `null` at or past it. */
  read(file: F, offset: number, length: number): Promise<Uint8Array | null>;
  /** Writes `data` at `offset` (at the end, for a file opened with `append`). */
  write(file: F, offset: number, data: Uint8Array): Promise<void>;
  /** Closes an open file. */
  close(file: F): Promise<void>;
  /** An open file's attributes. */
  fstat(file: F): Promise<SftpAttrs>;
  /** Sets an open file's attributes: those given (size truncates or extends). */
  fsetstat(file: F, attrs: SftpAttrs): Promise<void>;
  /** Writes an open file's data to storage (`fsync@openssh.com`). */
  fsync(file: F): Promise<void>;
  /** Follows symlinks. */
  stat(path: string): Promise<SftpAttrs>;
  /** Does not follow a symlink at the last component. */
  lstat(path: string): Promise<SftpAttrs>;
  /** Sets a path's attributes: those given, following symlinks. */
  setstat(path: string, attrs: SftpAttrs): Promise<void>;
  /** setstat without following a symlink at the last component. */
  lsetstat(path: string, attrs: SftpAttrs): Promise<void>;
  /** Opens a directory for reading its entries. */
  opendir(path: string): Promise<D>;
  /** The next entries (`.` and `..` among the first); `null` once they are all read. */
  readdir(dir: D): Promise<SftpDirEntry[] | null>;
  /** Closes an open directory. */
  closedir(dir: D): Promise<void>;
  /** Makes a directory. */
  mkdir(path: string, attrs: SftpAttrs): Promise<void>;
  /** Removes an empty directory. */
  rmdir(path: string): Promise<void>;
  /** Removes a file or a symlink. */
  remove(path: string): Promise<void>;
  /** SFTP v3 rename: fails if `newPath` exists. */
  rename(oldPath: string, newPath: string): Promise<void>;
  /** POSIX rename: replaces `newPath`. */
  posixRename(oldPath: string, newPath: string): Promise<void>;
  /** The canonical path (symlinks resolved), as a confined path. */
  realpath(path: string): Promise<string>;
  /** A symlink's target, as it was made. */
  readlink(path: string): Promise<string>;
  /** A symlink at `linkPath` whose content is `target`, as the client gave it. */
  symlink(target: string, linkPath: string): Promise<void>;
  /** A second name for a file (`hardlink@openssh.com`). */
  hardlink(oldPath: string, newPath: string): Promise<void>;
  /** The filesystem's figures (`statvfs@openssh.com`, `df`). */
  statvfs(path: string): Promise<SftpStatvfs>;
}

/** File type bits of `st_mode`, as SFTP v3 carries them in `permissions`. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export const notFound = (path: string): SftpError => new SftpError(SftpStatus.NoSuchFile, `no such file: ${path}`);
export const failure = (message: string): SftpError => new SftpError(SftpStatus.Failure, message);
