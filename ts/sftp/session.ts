/**
 * One SFTP session: reads requests off a channel's readable, dispatches each as it arrives (a request does
 * not wait for the previous reply), and writes the replies to the channel's writable, whose writes wait for
 * the window. Limits hold before anything is allocated: a length past MAX_PACKET_LENGTH, a request before
 * INIT or an unreadable packet closes the session; a malformed request whose id is readable gets BAD_MESSAGE;
 * past `maxOutstanding` requests (or 16 MiB of data in flight) the session stops reading, so the channel
 * window closes; past `maxHandles` an open fails.
 */

import type { ChannelStreams } from '../channel-streams.js';
import {
  decodeRequest,
  encodeReply,
  encodeStatvfs,
  EXTENSIONS,
  MAX_DATA_LENGTH,
  MAX_PACKET_LENGTH,
  OpenFlag,
  SftpCodecError,
  SftpStatus,
  SftpWriter,
  type SftpAttrs,
  type SftpName,
  type SftpReply,
  type SftpRequest,
} from './codec.js';
import { S_IFDIR, S_IFLNK, S_IFMT, SftpError, type SftpFileSystem, type SftpOpenFlags } from './filesystem.js';
import { confine, joinPath, splitPath } from './paths.js';

/** What a session serves, and its bounds. */
export interface SftpSessionOptions {
  /** What the session serves; the client's paths are confined to its root. */
  fs: SftpFileSystem<any, any>;
  /** Refuse every change (PERMISSION_DENIED): opens for writing, removals, renames, links, setstat. Per session, so per user. */
  readOnly?: boolean;
  /** Open files and directories at once; beyond, an open fails (FAILURE). Default 1024. */
  maxHandles?: number;
  /** Requests being served at once; beyond, the session reads no more until one is answered. Default 256. */
  maxOutstanding?: number;
}

/** Data that requests in flight may hold (reads asked for, writes carried) before the session stops reading. */
const MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;
/** Replies up to this size are joined with their neighbours into one channel write (`send`). */
const COALESCE_BELOW = 4096;
/** Chunk copy-data moves at a time. */
const COPY_CHUNK = 64 * 1024;

interface Handle {
  kind: 'file' | 'dir';
  value: unknown;
  /** Operations on one handle run in the order they came (a CLOSE after the WRITEs before it). */
  tail: Promise<unknown>;
  /** Opened for writing: copy-data may write to it. */
  writable: boolean;
}

/** A request the session cannot serve, for reasons of the session's own (not the filesystem's). */
const refuse = (status: SftpStatus, message: string) => new SftpError(status, message);
const readOnlyError = () => refuse(SftpStatus.PermissionDenied, 'read-only session');

/** A handle's bytes as the key of the session's handle table; ours are short decimal numbers, so a long one is none. */
const handleKey = (raw: Uint8Array): string => (raw.length > 16 ? '' : String.fromCharCode(...raw));

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `ls -l`'s line for a READDIR entry, as OpenSSH's sftp-server writes it (OpenSSH's `ls -l` shows it as is). */
export function longname(filename: string, a: SftpAttrs): string {
  const mode = a.permissions ?? 0;
  const type = (mode & S_IFMT) === S_IFDIR ? 'd' : (mode & S_IFMT) === S_IFLNK ? 'l' : '-';
  const rwx = (bits: number, special: boolean, s: string) => `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? s : s.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  const perms = `${type}${rwx(mode >> 6, (mode & 0o4000) !== 0, 's')}${rwx(mode >> 3, (mode & 0o2000) !== 0, 's')}${rwx(mode, (mode & 0o1000) !== 0, 't')}`;
  const d = new Date((a.mtime ?? 0) * 1000);
  const recent = Math.abs(Date.now() - d.getTime()) < 182 * 86400 * 1000;
  const pad2 = (n: number) => String(n).padStart(2, '0');
  const when = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2)} ${recent ? `${pad2(d.getHours())}:${pad2(d.getMinutes())}` : ` ${d.getFullYear()}`}`;
  return `${perms}    1 ${String(a.uid ?? 0).padEnd(8)} ${String(a.gid ?? 0).padEnd(8)} ${String(a.size ?? 0).padStart(8)} ${when} ${filename}`;
}

function openFlags(pflags: number): SftpOpenFlags {
  return {
    read: (pflags & OpenFlag.Read) !== 0,
    write: (pflags & OpenFlag.Write) !== 0,
    append: (pflags & OpenFlag.Append) !== 0,
    create: (pflags & OpenFlag.Create) !== 0,
    truncate: (pflags & OpenFlag.Truncate) !== 0,
    exclusive: (pflags & OpenFlag.Exclusive) !== 0,
  };
}

/** Requests that change the filesystem, refused in a read-only session. */
const WRITES = new Set<SftpRequest['type']>(['write', 'setstat', 'lsetstat', 'fsetstat', 'mkdir', 'rmdir', 'remove', 'rename', 'posix-rename', 'hardlink', 'symlink', 'copy-data']);

/**
 * The channel's bytes as they came, cut into packets: a packet within one chunk is a view of it, one that
 * spans chunks is copied once into its own buffer (a packet is never copied twice, however it was split).
 */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Bytes of the first chunk already taken. */
  private offset = 0;
  length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first 4 bytes as a big-endian uint32; `length` must be at least 4. */
  peekU32(): number {
    const head = this.chunks[0]!;
    if (head.length - this.offset >= 4) return new DataView(head.buffer, head.byteOffset + this.offset, 4).getUint32(0);
    return new DataView(this.peek(4).buffer).getUint32(0);
  }

  private peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    for (let i = 0, from = this.offset; filled < n; i++, from = 0) {
      const piece = this.chunks[i]!.subarray(from, from + n - filled);
      out.set(piece, filled);
      filled += piece.length;
    }
    return out;
  }

  /** The first `n` bytes (at most `length`), removed from the queue. */
  take(n: number): Uint8Array {
    const head = this.chunks[0]!;
    let out: Uint8Array;
    if (head.length - this.offset >= n) out = head.subarray(this.offset, this.offset + n);
    else out = this.peek(n);
    this.length -= n;
    // Drops the chunks wholly taken; the rest of a partly taken one stays.
    let left = n + this.offset;
    while (this.chunks.length > 0 && left >= this.chunks[0]!.length) left -= this.chunks.shift()!.length;
    this.offset = left;
    return out;
  }
}

/** One SFTP session over a channel's streams; `serveSftp` makes and runs one. */
export class SftpSession {
  private readonly fs: SftpFileSystem<unknown, unknown>;
  private readonly readOnly: boolean;
  private readonly maxHandles: number;
  private readonly maxOutstanding: number;
  private readonly handles = new Map<string, Handle>();
  private nextHandle = 0;
  private outstanding = 0;
  private bytesInFlight = 0;
  /** Resolves the reader's wait for a free slot. */
  private slotFreed: (() => void) | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private initialized = false;
  private closed = false;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Replies waiting for the write under way (see `send`). */
  private readonly outbox: { packet: Uint8Array; resolve(): void; reject(e: unknown): void }[] = [];
  private flushing: Promise<void> | undefined;

  /** A session over `streams`, serving `options.fs`. */
  constructor(
    private readonly streams: ChannelStreams,
    options: SftpSessionOptions,
  ) {
    this.fs = options.fs;
    this.readOnly = options.readOnly ?? false;
    this.maxHandles = options.maxHandles ?? 1024;
    this.maxOutstanding = options.maxOutstanding ?? 256;
    this.writer = streams.writable.getWriter();
  }

  /** Serves until the client's EOF or close, or a packet that ends the session; then closes what is open. */
  async run(): Promise<void> {
    const reader = this.streams.readable.getReader();
    const input = new ByteQueue();
    try {
      for (;;) {
        while (!this.closed && input.length >= 4) {
          const length = input.peekU32();
          // Checked before waiting for (and so holding) the bytes it announces.
          if (length === 0 || length > MAX_PACKET_LENGTH) return await this.fail(reader);
          if (input.length < 4 + length) break;
          const body = input.take(4 + length).subarray(4);
          if (!this.admit(body)) return await this.fail(reader);
          await this.slot();
        }
        if (this.closed) return;
        const { value, done } = await reader.read();
        if (done) return;
        input.push(value);
      }
    } catch {
      // The channel closed under a read or a write: nothing is left to answer.
    } finally {
      this.closed = true;
      await Promise.all(this.inFlight);
      await this.closeAll();
      // EOF to the client, once every reply is out (after a failure the channel is closing already).
      await this.writer.close().catch(() => {});
    }
  }

  /** Ends the session for a packet it cannot take: the channel closes. */
  private async fail(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    this.closed = true;
    await reader.cancel().catch(() => {});
  }

  /** Waits while the requests in flight are at their limit. */
  private async slot(): Promise<void> {
    while (!this.closed && (this.outstanding >= this.maxOutstanding || this.bytesInFlight >= MAX_BYTES_IN_FLIGHT)) {
      await new Promise<void>((resolve) => (this.slotFreed = resolve));
    }
  }

  /** Takes one packet: false if it ends the session (INIT out of place, a request before INIT, no readable id). */
  private admit(body: Uint8Array): boolean {
    let request: SftpRequest;
    try {
      request = decodeRequest(body);
    } catch (e) {
      if (!(e instanceof SftpCodecError) || !this.initialized || body.length < 5 || body[0] === 1) return false;
      const id = new DataView(body.buffer, body.byteOffset + 1, 4).getUint32(0);
      this.track(0, Promise.resolve({ type: 'status', id, code: SftpStatus.BadMessage, message: e.message }));
      return true;
    }
    if (request.type === 'init') {
      if (this.initialized) return false;
      this.initialized = true;
      this.track(0, Promise.resolve({ type: 'version', version: 3, extensions: EXTENSIONS }));
      return true;
    }
    if (!this.initialized) return false;
    const bytes = request.type === 'read' ? Math.min(request.length, MAX_DATA_LENGTH) : request.type === 'write' ? request.data.length : 0;
    const id = request.id;
    this.track(
      bytes,
      this.serve(request).catch((e: unknown): SftpReply => {
        const error = e instanceof SftpError ? e : new SftpError(SftpStatus.Failure, 'Failure');
        return { type: 'status', id, code: error.status, message: error.message };
      }),
    );
    return true;
  }

  /** Counts a request in flight until its reply is written. */
  private track(bytes: number, reply: Promise<SftpReply>): void {
    this.outstanding++;
    this.bytesInFlight += bytes;
    const done: Promise<void> = reply
      .then((r) => this.send(encodeReply(r)))
      .catch(() => {
        // The channel is gone: stop reading, the rest is answered to nobody.
        this.closed = true;
      })
      .finally(() => {
        this.outstanding--;
        this.bytesInFlight -= bytes;
        this.inFlight.delete(done);
        this.slotFreed?.();
        this.slotFreed = undefined;
      });
    this.inFlight.add(done);
  }

  /**
   * Writes a reply. Replies that come while a write is under way wait and go out together, the small ones in
   * one channel message: a put's thousands of 28-byte statuses would otherwise cost a message (and a pass
   * through the core) each. Resolves once the reply is written.
   */
  private send(packet: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.outbox.push({ packet, resolve, reject });
      this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
    });
  }

  private async flush(): Promise<void> {
    while (this.outbox.length > 0) {
      // A large reply (DATA) goes as it is; a run of small ones after it, joined, in one write.
      let count = 1;
      let size = this.outbox[0]!.packet.length;
      if (size <= COALESCE_BELOW) {
        while (count < this.outbox.length && this.outbox[count]!.packet.length <= COALESCE_BELOW && size < COALESCE_BELOW * 16) size += this.outbox[count++]!.packet.length;
      }
      const batch = this.outbox.splice(0, count);
      let bytes = batch[0]!.packet;
      if (count > 1) {
        bytes = new Uint8Array(size);
        let at = 0;
        for (const { packet } of batch) {
          bytes.set(packet, at);
          at += packet.length;
        }
      }
      try {
        await this.writer.write(bytes);
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of [...batch, ...this.outbox.splice(0)]) b.reject(e);
      }
    }
  }

  private handle(raw: Uint8Array, kind: Handle['kind']): Handle {
    const h = this.handles.get(handleKey(raw));
    if (!h || h.kind !== kind) throw refuse(SftpStatus.Failure, 'invalid handle');
    return h;
  }

  /** Runs `op` on the handle after the operations on it that came before. */
  private on<T>(h: Handle, op: (value: any) => Promise<T>): Promise<T> {
    const result = h.tail.then(() => op(h.value));
    h.tail = result.catch(() => {});
    return result;
  }

  private newHandle(kind: Handle['kind'], value: unknown, writable: boolean): Uint8Array {
    const key = String(this.nextHandle++);
    this.handles.set(key, { kind, value, tail: Promise.resolve(), writable });
    return new TextEncoder().encode(key);
  }

  private async closeAll(): Promise<void> {
    const open = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(open.map((h) => this.on(h, (v) => (h.kind === 'file' ? this.fs.close(v) : this.fs.closedir(v))).catch(() => {})));
  }

  private ok(id: number): SftpReply {
    return { type: 'status', id, code: SftpStatus.Ok, message: 'Success' };
  }

  /** The canonical path of a client path; a missing last component is allowed, as OpenSSH's realpath does. */
  private async realpath(clientPath: string): Promise<string> {
    const path = confine(clientPath);
    try {
      return await this.fs.realpath(path);
    } catch (e) {
      if (!(e instanceof SftpError) || e.status !== SftpStatus.NoSuchFile || path === '/') throw e;
      const { parent, name } = splitPath(path);
      return joinPath(await this.fs.realpath(parent), name);
    }
  }

  private name(id: number, path: string): SftpReply {
    return { type: 'name', id, names: [{ filename: path, longname: path, attrs: {} }] };
  }

  private async serve(req: Exclude<SftpRequest, { type: 'init' }>): Promise<SftpReply> {
    const fs = this.fs;
    if (this.readOnly && WRITES.has(req.type)) throw readOnlyError();
    const { id } = req;
    switch (req.type) {
      case 'open': {
        const flags = openFlags(req.pflags);
        const writes = flags.write || flags.append || flags.create || flags.truncate;
        if (this.readOnly && writes) throw readOnlyError();
        if (this.handles.size >= this.maxHandles) throw refuse(SftpStatus.Failure, `too many open handles (${this.maxHandles})`);
        const file = await fs.open(confine(req.path), flags, req.attrs);
        // A close of the session while the open ran: the file would have no handle to close it by.
        if (this.closed || this.handles.size >= this.maxHandles) {
          await fs.close(file);
          throw refuse(SftpStatus.Failure, `too many open handles (${this.maxHandles})`);
        }
        return { type: 'handle', id, handle: this.newHandle('file', file, flags.write || flags.append) };
      }
      case 'opendir': {
        if (this.handles.size >= this.maxHandles) throw refuse(SftpStatus.Failure, `too many open handles (${this.maxHandles})`);
        const dir = await fs.opendir(confine(req.path));
        if (this.closed || this.handles.size >= this.maxHandles) {
          await fs.closedir(dir);
          throw refuse(SftpStatus.Failure, `too many open handles (${this.maxHandles})`);
        }
        return { type: 'handle', id, handle: this.newHandle('dir', dir, false) };
      }
      case 'close': {
        const key = handleKey(req.handle);
        const h = this.handles.get(key);
        if (!h) throw refuse(SftpStatus.Failure, 'invalid handle');
        this.handles.delete(key);
        await this.on(h, (v) => (h.kind === 'file' ? fs.close(v) : fs.closedir(v)));
        return this.ok(id);
      }
      case 'read': {
        const data = await this.on(this.handle(req.handle, 'file'), (f) => fs.read(f, req.offset, Math.min(req.length, MAX_DATA_LENGTH)));
        return data ? { type: 'data', id, data } : { type: 'status', id, code: SftpStatus.Eof, message: 'End of file' };
      }
      case 'write':
        await this.on(this.handle(req.handle, 'file'), (f) => fs.write(f, req.offset, req.data));
        return this.ok(id);
      case 'readdir': {
        const entries = await this.on(this.handle(req.handle, 'dir'), (d) => fs.readdir(d));
        if (!entries) return { type: 'status', id, code: SftpStatus.Eof, message: 'End of directory' };
        const names: SftpName[] = entries.map((e) => ({ filename: e.filename, longname: longname(e.filename, e.attrs), attrs: e.attrs }));
        return { type: 'name', id, names };
      }
      case 'fstat':
        return { type: 'attrs', id, attrs: await this.on(this.handle(req.handle, 'file'), (f) => fs.fstat(f)) };
      case 'fsetstat':
        await this.on(this.handle(req.handle, 'file'), (f) => fs.fsetstat(f, req.attrs));
        return this.ok(id);
      case 'fsync':
        await this.on(this.handle(req.handle, 'file'), (f) => fs.fsync(f));
        return this.ok(id);
      case 'stat':
        return { type: 'attrs', id, attrs: await fs.stat(confine(req.path)) };
      case 'lstat':
        return { type: 'attrs', id, attrs: await fs.lstat(confine(req.path)) };
      case 'setstat':
        await fs.setstat(confine(req.path), req.attrs);
        return this.ok(id);
      case 'lsetstat':
        await fs.lsetstat(confine(req.path), req.attrs);
        return this.ok(id);
      case 'mkdir':
        await fs.mkdir(confine(req.path), req.attrs);
        return this.ok(id);
      case 'rmdir':
        await fs.rmdir(confine(req.path));
        return this.ok(id);
      case 'remove':
        await fs.remove(confine(req.path));
        return this.ok(id);
      case 'rename':
        await fs.rename(confine(req.oldpath), confine(req.newpath));
        return this.ok(id);
      case 'posix-rename':
        await fs.posixRename(confine(req.oldpath), confine(req.newpath));
        return this.ok(id);
      case 'hardlink':
        await fs.hardlink(confine(req.oldpath), confine(req.newpath));
        return this.ok(id);
      case 'symlink':
        await fs.symlink(req.target, confine(req.linkpath));
        return this.ok(id);
      case 'readlink': {
        const target = await fs.readlink(confine(req.path));
        return { type: 'name', id, names: [{ filename: target, longname: target, attrs: {} }] };
      }
      case 'realpath':
        return this.name(id, await this.realpath(req.path));
      case 'expand-path': {
        // `~` and `~/x` are the home, the root; another user's home is not served.
        if (/^~[^/]/.test(req.path)) throw refuse(SftpStatus.NoSuchFile, 'no such user');
        return this.name(id, await this.realpath(req.path.replace(/^~/, '')));
      }
      case 'home-directory':
        return this.name(id, '/');
      case 'statvfs':
        return { type: 'extended-reply', id, data: encodeStatvfs(await fs.statvfs(confine(req.path))) };
      case 'fstatvfs':
        this.handle(req.handle, 'file');
        return { type: 'extended-reply', id, data: encodeStatvfs(await fs.statvfs('/')) };
      case 'limits': {
        const w = new SftpWriter(undefined).u64(MAX_PACKET_LENGTH).u64(MAX_DATA_LENGTH).u64(MAX_DATA_LENGTH).u64(this.maxHandles);
        return { type: 'extended-reply', id, data: w.fields() };
      }
      case 'users-groups-by-id': {
        // No user database: every name unknown, which the extension answers with empty strings.
        const w = new SftpWriter(undefined);
        const empty = (count: number) => new SftpWriter(undefined).raw(new Uint8Array(4 * count)).fields();
        w.bytes(empty(req.uids.length)).bytes(empty(req.gids.length));
        return { type: 'extended-reply', id, data: w.fields() };
      }
      case 'copy-data':
        await this.copyData(req);
        return this.ok(id);
      case 'extended':
        throw refuse(SftpStatus.OpUnsupported, `unsupported extension ${req.name}`);
    }
  }

  /** copy-data: `length` bytes (0: to the end) from one open file to another, server side. */
  private async copyData(req: Extract<SftpRequest, { type: 'copy-data' }>): Promise<void> {
    const from = this.handle(req.readHandle, 'file');
    const to = this.handle(req.writeHandle, 'file');
    if (!to.writable) throw refuse(SftpStatus.PermissionDenied, 'destination not open for writing');
    let copied = 0;
    while (req.length === 0 || copied < req.length) {
      const want = req.length === 0 ? COPY_CHUNK : Math.min(COPY_CHUNK, req.length - copied);
      const data = await this.on(from, (f) => this.fs.read(f, req.readOffset + copied, want));
      if (!data) break;
      await this.on(to, (f) => this.fs.write(f, req.writeOffset + copied, data));
      copied += data.length;
    }
  }
}
