/**
 * An SFTP filesystem held in memory: directories, files, symlinks and hard links, on every runtime (workerd
 * and browsers too). Symlinks resolve inside the tree, an absolute target from its root, so none leads out
 * of it. `maxBytes` bounds the file data a client may store.
 */

import { SftpStatus, type SftpAttrs, type SftpStatvfs } from './codec.js';
import { failure, notFound, S_IFDIR, S_IFLNK, S_IFREG, SftpError, type SftpDirEntry, type SftpFileSystem, type SftpOpenFlags } from './filesystem.js';
import { confine, joinPath } from './paths.js';

interface NodeBase {
  /** Permission bits (no type bits). */
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
}
interface FileNode extends NodeBase {
  kind: 'file';
  data: Uint8Array;
  size: number;
  /** Directory entries naming it (hard links). */
  links: number;
}
interface DirNode extends NodeBase {
  kind: 'dir';
  entries: Map<string, MemoryNode>;
}
interface LinkNode extends NodeBase {
  kind: 'link';
  target: string;
}
type MemoryNode = FileNode | DirNode | LinkNode;

/** A file `MemoryFileSystem` has open: the session keeps it behind the client's handle. */
export interface MemoryFile {
  /** @internal */
  node: FileNode;
  /** @internal */
  flags: SftpOpenFlags;
}

/** A directory `MemoryFileSystem` has open. */
export interface MemoryDir {
  /** @internal */
  entries: SftpDirEntry[];
  /** @internal */
  done: boolean;
}

/** `MemoryFileSystem`'s options. */
export interface MemoryFileSystemOptions {
  /** The most file data the tree holds, all files together. Default 256 MiB. */
  maxBytes?: number;
  /** Owner of every file. Default 0. */
  uid?: number;
  /** Group of every file. Default 0. */
  gid?: number;
}

/** Symlinks followed in one lookup before giving up, as Linux's ELOOP. */
const MAX_LINK_HOPS = 40;
const BLOCK = 4096;
const MAX_NAME = 255;

const now = (): number => Math.floor(Date.now() / 1000);
const typeBits = { file: S_IFREG, dir: S_IFDIR, link: S_IFLNK } as const;

export class MemoryFileSystem implements SftpFileSystem<MemoryFile, MemoryDir> {
  private readonly root: DirNode;
  private readonly maxBytes: number;
  private used = 0;
  private readonly uid: number;
  private readonly gid: number;

  constructor(options: MemoryFileSystemOptions = {}) {
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.uid = options.uid ?? 0;
    this.gid = options.gid ?? 0;
    this.root = this.node({ kind: 'dir', entries: new Map() }, 0o755);
  }

  private node<N extends Omit<MemoryNode, keyof NodeBase>>(fields: N, mode: number): N & NodeBase {
    const t = now();
    return { ...fields, mode: mode & 0o7777, uid: this.uid, gid: this.gid, atime: t, mtime: t };
  }

  /**
   * The node at `path` and the directory holding it, following symlinks on the way (and at the last
   * component if `follow`). `missingOk`: a missing last component gives `node` undefined, its parent found.
   */
  private lookup(path: string, follow: boolean, missingOk = false): { parent: DirNode; name: string; node: MemoryNode | undefined; path: string } {
    let pending = path.split('/').filter((p) => p !== '');
    let dir = this.root;
    let here = '/';
    let hops = 0;
    if (pending.length === 0) return { parent: this.root, name: '', node: this.root, path: '/' };
    for (;;) {
      const name = pending.shift()!;
      const last = pending.length === 0;
      const node = dir.entries.get(name);
      if (node?.kind === 'link' && (!last || follow)) {
        if (++hops > MAX_LINK_HOPS) throw failure(`too many levels of symbolic links: ${path}`);
        const target = confine(node.target.startsWith('/') ? node.target : joinPath(here, node.target));
        pending = [...target.split('/').filter((p) => p !== ''), ...pending];
        dir = this.root;
        here = '/';
        if (pending.length === 0) return { parent: this.root, name: '', node: this.root, path: '/' };
        continue;
      }
      if (last) {
        if (!node && !missingOk) throw notFound(path);
        return { parent: dir, name, node, path: joinPath(here, name) };
      }
      if (!node) throw notFound(path);
      if (node.kind !== 'dir') throw new SftpError(SftpStatus.NoSuchFile, `not a directory: ${joinPath(here, name)}`);
      dir = node;
      here = joinPath(here, name);
    }
  }

  private attrsOf(node: MemoryNode): SftpAttrs {
    const size = node.kind === 'file' ? node.size : node.kind === 'link' ? node.target.length : BLOCK;
    return { size, uid: node.uid, gid: node.gid, permissions: typeBits[node.kind] | node.mode, atime: node.atime, mtime: node.mtime };
  }

  private resize(node: FileNode, size: number): void {
    const grow = size - node.size;
    if (grow > 0 && this.used + grow > this.maxBytes) throw failure(`no space left: the in-memory filesystem holds at most ${this.maxBytes} bytes`);
    if (size > node.data.length) {
      const data = new Uint8Array(Math.max(size, Math.min(node.data.length * 2, size + 64 * 1024 * 1024)));
      data.set(node.data.subarray(0, node.size));
      node.data = data;
    } else if (size < node.size) node.data.fill(0, size, node.size);
    this.used += grow;
    node.size = size;
  }

  private apply(node: MemoryNode, attrs: SftpAttrs): void {
    if (attrs.size !== undefined) {
      if (node.kind !== 'file') throw failure('not a regular file');
      this.resize(node, attrs.size);
    }
    if (attrs.permissions !== undefined) node.mode = attrs.permissions & 0o7777;
    if (attrs.uid !== undefined && attrs.gid !== undefined) Object.assign(node, { uid: attrs.uid, gid: attrs.gid });
    if (attrs.atime !== undefined && attrs.mtime !== undefined) Object.assign(node, { atime: attrs.atime, mtime: attrs.mtime });
  }

  /** A new entry's directory and name: the parent must exist and the name be free. */
  private create(path: string): { parent: DirNode; name: string } {
    const { parent, name, node } = this.lookup(path, false, true);
    if (name === '') throw failure('the root exists');
    if (node) throw failure(`file exists: ${path}`);
    if (name.length > MAX_NAME) throw failure('file name too long');
    return { parent, name };
  }

  private unlinkFile(node: MemoryNode): void {
    if (node.kind === 'file' && --node.links === 0) this.used -= node.size;
  }

  async open(path: string, flags: SftpOpenFlags, attrs: SftpAttrs): Promise<MemoryFile> {
    const found = this.lookup(path, true, flags.create);
    let node = found.node;
    if (node && flags.create && flags.exclusive) throw failure(`file exists: ${path}`);
    if (!node) {
      const { parent, name } = this.create(found.path);
      node = this.node({ kind: 'file', data: new Uint8Array(0), size: 0, links: 1 }, attrs.permissions ?? 0o644);
      parent.entries.set(name, node);
    }
    if (node.kind !== 'file') throw failure(`not a regular file: ${path}`);
    if (flags.truncate && flags.write) this.resize(node, 0);
    return { node, flags };
  }

  async read(file: MemoryFile, offset: number, length: number): Promise<Uint8Array | null> {
    if (!file.flags.read) throw new SftpError(SftpStatus.PermissionDenied, 'file not open for reading');
    if (offset >= file.node.size) return null;
    file.node.atime = now();
    return file.node.data.slice(offset, Math.min(file.node.size, offset + length));
  }

  async write(file: MemoryFile, offset: number, data: Uint8Array): Promise<void> {
    if (!file.flags.write && !file.flags.append) throw new SftpError(SftpStatus.PermissionDenied, 'file not open for writing');
    const node = file.node;
    const at = file.flags.append ? node.size : offset;
    if (at + data.length > node.size) this.resize(node, at + data.length);
    node.data.set(data, at);
    node.mtime = now();
  }

  async close(): Promise<void> {}

  async fstat(file: MemoryFile): Promise<SftpAttrs> {
    return this.attrsOf(file.node);
  }

  async fsetstat(file: MemoryFile, attrs: SftpAttrs): Promise<void> {
    this.apply(file.node, attrs);
  }

  async fsync(): Promise<void> {}

  async stat(path: string): Promise<SftpAttrs> {
    return this.attrsOf(this.lookup(path, true).node!);
  }

  async lstat(path: string): Promise<SftpAttrs> {
    return this.attrsOf(this.lookup(path, false).node!);
  }

  async setstat(path: string, attrs: SftpAttrs): Promise<void> {
    this.apply(this.lookup(path, true).node!, attrs);
  }

  async lsetstat(path: string, attrs: SftpAttrs): Promise<void> {
    this.apply(this.lookup(path, false).node!, attrs);
  }

  async opendir(path: string): Promise<MemoryDir> {
    const node = this.lookup(path, true).node!;
    if (node.kind !== 'dir') throw failure(`not a directory: ${path}`);
    const entries: SftpDirEntry[] = [
      { filename: '.', attrs: this.attrsOf(node) },
      { filename: '..', attrs: this.attrsOf(node) },
      ...[...node.entries].map(([filename, n]) => ({ filename, attrs: this.attrsOf(n) })),
    ];
    return { entries, done: false };
  }

  async readdir(dir: MemoryDir): Promise<SftpDirEntry[] | null> {
    if (dir.done) return null;
    dir.done = true;
    return dir.entries;
  }

  async closedir(): Promise<void> {}

  async mkdir(path: string, attrs: SftpAttrs): Promise<void> {
    const { parent, name } = this.create(path);
    parent.entries.set(name, this.node({ kind: 'dir', entries: new Map() }, attrs.permissions ?? 0o755));
  }

  async rmdir(path: string): Promise<void> {
    const { parent, name, node } = this.lookup(path, false);
    if (node === this.root) throw failure('cannot remove the root');
    if (node!.kind !== 'dir') throw failure(`not a directory: ${path}`);
    if (node!.entries.size > 0) throw failure(`directory not empty: ${path}`);
    parent.entries.delete(name);
  }

  async remove(path: string): Promise<void> {
    const { parent, name, node } = this.lookup(path, false);
    if (node!.kind === 'dir') throw failure(`is a directory: ${path}`);
    parent.entries.delete(name);
    this.unlinkFile(node!);
  }

  async rename(oldPath: string, newPath: string): Promise<void> {
    if (this.lookup(newPath, false, true).node) throw failure(`file exists: ${newPath}`);
    return this.posixRename(oldPath, newPath);
  }

  async posixRename(oldPath: string, newPath: string): Promise<void> {
    const from = this.lookup(oldPath, false);
    if (from.node === this.root) throw failure('cannot rename the root');
    const to = this.lookup(newPath, false, true);
    if (to.name === '') throw failure('cannot replace the root');
    if (from.node === to.node) return;
    // A directory moved into itself would leave the tree.
    if (from.node!.kind === 'dir' && (to.path === from.path || to.path.startsWith(`${from.path}/`))) throw failure('cannot move a directory into itself');
    if (to.node?.kind === 'dir' && (from.node!.kind !== 'dir' || to.node.entries.size > 0)) throw failure(`cannot replace directory ${newPath}`);
    if (to.node && to.node.kind !== 'dir' && from.node!.kind === 'dir') throw failure(`not a directory: ${newPath}`);
    if (to.name.length > MAX_NAME) throw failure('file name too long');
    from.parent.entries.delete(from.name);
    if (to.node) this.unlinkFile(to.node);
    to.parent.entries.set(to.name, from.node!);
  }

  async realpath(path: string): Promise<string> {
    return this.lookup(path, true).path;
  }

  async readlink(path: string): Promise<string> {
    const node = this.lookup(path, false).node!;
    if (node.kind !== 'link') throw failure(`not a symbolic link: ${path}`);
    return node.target;
  }

  async symlink(target: string, linkPath: string): Promise<void> {
    const { parent, name } = this.create(linkPath);
    parent.entries.set(name, this.node({ kind: 'link', target }, 0o777));
  }

  async hardlink(oldPath: string, newPath: string): Promise<void> {
    const node = this.lookup(oldPath, false).node!;
    if (node.kind === 'dir') throw new SftpError(SftpStatus.PermissionDenied, 'hard links to directories are not allowed');
    const { parent, name } = this.create(newPath);
    if (node.kind === 'file') node.links++;
    parent.entries.set(name, node);
  }

  async statvfs(): Promise<SftpStatvfs> {
    const blocks = Math.ceil(this.maxBytes / BLOCK);
    const free = blocks - Math.ceil(this.used / BLOCK);
    return { bsize: BLOCK, frsize: BLOCK, blocks, bfree: free, bavail: free, files: 0, ffree: 0, favail: 0, fsid: 0, flag: 0, namemax: MAX_NAME };
  }
}
