/**
 * The SFTP v3 wire codec (draft-ietf-secsh-filexfer-02 §3-§7, with OpenSSH's extensions from its PROTOCOL
 * file): packets as records named after the draft, a reader whose every read is checked against what is left,
 * and the limits a packet must keep before anything is allocated for it.
 */

/** The largest packet body (type, id and payload) either side sends or takes: OpenSSH's SFTP_MAX_MSG_LENGTH. */
export const MAX_PACKET_LENGTH = 256 * 1024;
/** The most a READ returns and a WRITE carries: room for the header within the packet limit, as OpenSSH. */
export const MAX_DATA_LENGTH = MAX_PACKET_LENGTH - 1024;
/** A path longer than this is refused (a Linux PATH_MAX is 4096; the packet limit would allow 256 KiB). */
export const MAX_PATH_LENGTH = 4096;

/** Packet types (§3). */
export const enum Fxp {
  Init = 1,
  Version = 2,
  Open = 3,
  Close = 4,
  Read = 5,
  Write = 6,
  Lstat = 7,
  Fstat = 8,
  Setstat = 9,
  Fsetstat = 10,
  Opendir = 11,
  Readdir = 12,
  Remove = 13,
  Mkdir = 14,
  Rmdir = 15,
  Realpath = 16,
  Stat = 17,
  Rename = 18,
  Readlink = 19,
  Symlink = 20,
  Status = 101,
  Handle = 102,
  Data = 103,
  Name = 104,
  Attrs = 105,
  Extended = 200,
  ExtendedReply = 201,
}

/** Status codes (§7). */
export enum SftpStatus {
  /** Done. */
  Ok = 0,
  /** Nothing more to read, or no more directory entries. */
  Eof = 1,
  /** No file or directory by that name. */
  NoSuchFile = 2,
  /** Not allowed (read-only, outside the root, a drop box's rule). */
  PermissionDenied = 3,
  /** Failed for another reason; the message says which. */
  Failure = 4,
  /** The request could not be read. */
  BadMessage = 5,
  /** A client-side status: no connection. */
  NoConnection = 6,
  /** A client-side status: the connection was lost. */
  ConnectionLost = 7,
  /** The filesystem does not do that. */
  OpUnsupported = 8,
}

/** SSH_FXF_* open flags (§6.3). */
export const OpenFlag = { Read: 1, Write: 2, Append: 4, Create: 8, Truncate: 0x10, Exclusive: 0x20 } as const;

const ATTR_SIZE = 1;
const ATTR_UIDGID = 2;
const ATTR_PERMISSIONS = 4;
const ATTR_ACMODTIME = 8;
const ATTR_EXTENDED = 0x80000000;

/** File attributes (§5): each field present only if the sender set it. Times are seconds since the epoch. */
export interface SftpAttrs {
  /** Bytes. */
  size?: number;
  /** Owner's user id. */
  uid?: number;
  /** Owner's group id. */
  gid?: number;
  /** `st_mode`: permission bits and, from a server, the file type bits. */
  permissions?: number;
  /** Last access, seconds since the epoch. */
  atime?: number;
  /** Last modification, seconds since the epoch. */
  mtime?: number;
  /** Extended attributes as name and value pairs; taken from a client and ignored. */
  extended?: [string, Uint8Array][];
}

/** One entry of a NAME reply. */
export interface SftpName {
  filename: string;
  /** `ls -l` style line; OpenSSH's `ls -l` prints it as it is. */
  longname: string;
  attrs: SftpAttrs;
}

/** What `statvfs@openssh.com` answers: the fields of POSIX statvfs. */
export interface SftpStatvfs {
  /** Block size. */
  bsize: number;
  /** Fundamental block size, the unit of the block counts. */
  frsize: number;
  /** Blocks in all. */
  blocks: number;
  /** Free blocks. */
  bfree: number;
  /** Free blocks for unprivileged users. */
  bavail: number;
  /** Inodes in all. */
  files: number;
  /** Free inodes. */
  ffree: number;
  /** Free inodes for unprivileged users. */
  favail: number;
  /** Filesystem id. */
  fsid: number;
  /** `ST_RDONLY` (1), `ST_NOSUID` (2). */
  flag: number;
  /** Longest file name. */
  namemax: number;
}

/** The client sent something this codec cannot read: the packet is answered with BAD_MESSAGE or ends the session. */
export class SftpCodecError extends Error {}

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** A cursor over one packet whose every read checks what is left first. */
export class SftpReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(n: number): void {
    if (n > this.remaining) throw new SftpCodecError(`truncated packet: ${n} bytes wanted, ${this.remaining} left`);
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.offset++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  /** A uint64 as a number: a value past 2^53 is no offset or size a host can hold. */
  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.offset);
    this.offset += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SftpCodecError(`uint64 ${v} out of range`);
    return Number(v);
  }

  /** A string's bytes, as a view into the packet (no copy). */
  bytesField(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  string(): string {
    return utf8.decode(this.bytesField());
  }

  /** A path: UTF-8 without NUL, at most MAX_PATH_LENGTH bytes. */
  path(): string {
    const raw = this.bytesField();
    if (raw.length > MAX_PATH_LENGTH) throw new SftpCodecError(`path of ${raw.length} bytes`);
    if (raw.includes(0)) throw new SftpCodecError('NUL in a path');
    return utf8.decode(raw);
  }

  attrs(): SftpAttrs {
    const flags = this.u32();
    const a: SftpAttrs = {};
    if (flags & ATTR_SIZE) a.size = this.u64();
    if (flags & ATTR_UIDGID) {
      a.uid = this.u32();
      a.gid = this.u32();
    }
    if (flags & ATTR_PERMISSIONS) a.permissions = this.u32();
    if (flags & ATTR_ACMODTIME) {
      a.atime = this.u32();
      a.mtime = this.u32();
    }
    if (flags & ATTR_EXTENDED) {
      const count = this.u32();
      // Each pair takes at least 8 bytes: a count the packet cannot hold is refused before the loop.
      if (count * 8 > this.remaining) throw new SftpCodecError(`${count} extended attributes in ${this.remaining} bytes`);
      a.extended = [];
      for (let i = 0; i < count; i++) a.extended.push([this.string(), this.bytesField()]);
    }
    return a;
  }

  skipRest(): void {
    this.offset = this.bytes.length;
  }

  /** Refuses trailing bytes: a packet is exactly its fields. */
  end(): void {
    if (this.remaining !== 0) throw new SftpCodecError(`${this.remaining} trailing bytes`);
  }
}

/** Builds one packet: its length prefix is filled in by `finish`. */
export class SftpWriter {
  private buf: Uint8Array;
  private view: DataView;
  private length = 4;

  /** `type` starts a packet; without it, the writer builds fields to embed in one. */
  constructor(type?: number, capacity = 64) {
    this.buf = new Uint8Array(Math.max(capacity, 16));
    this.view = new DataView(this.buf.buffer);
    if (type !== undefined) this.u8(type);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.length++] = v;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.view.setUint32(this.length, v >>> 0);
    this.length += 4;
    return this;
  }

  u64(v: number): this {
    this.room(8);
    this.view.setBigUint64(this.length, BigInt(Math.max(0, Math.trunc(v))));
    this.length += 8;
    return this;
  }

  bytes(v: Uint8Array): this {
    this.u32(v.length);
    return this.raw(v);
  }

  /** Bytes as they are, without a length. */
  raw(v: Uint8Array): this {
    this.room(v.length);
    this.buf.set(v, this.length);
    this.length += v.length;
    return this;
  }

  string(v: string): this {
    return this.bytes(utf8Encoder.encode(v));
  }

  attrs(a: SftpAttrs): this {
    const flags =
      (a.size !== undefined ? ATTR_SIZE : 0) |
      (a.uid !== undefined && a.gid !== undefined ? ATTR_UIDGID : 0) |
      (a.permissions !== undefined ? ATTR_PERMISSIONS : 0) |
      (a.atime !== undefined && a.mtime !== undefined ? ATTR_ACMODTIME : 0) |
      (a.extended && a.extended.length > 0 ? ATTR_EXTENDED : 0);
    this.u32(flags);
    if (flags & ATTR_SIZE) this.u64(a.size!);
    if (flags & ATTR_UIDGID) this.u32(a.uid!).u32(a.gid!);
    if (flags & ATTR_PERMISSIONS) this.u32(a.permissions!);
    if (flags & ATTR_ACMODTIME) this.u32(a.atime!).u32(a.mtime!);
    if (flags & ATTR_EXTENDED) {
      this.u32(a.extended!.length);
      for (const [name, value] of a.extended!) this.string(name).bytes(value);
    }
    return this;
  }

  /** The packet with its length prefix. */
  finish(): Uint8Array {
    this.view.setUint32(0, this.length - 4);
    return this.buf.subarray(0, this.length);
  }

  /** What was written, without the length prefix (fields to embed). */
  fields(): Uint8Array {
    return this.buf.subarray(4, this.length);
  }
}

/** The extensions this server announces in VERSION, with their versions (OpenSSH's PROTOCOL file). */
export const EXTENSIONS: readonly [string, string][] = [
  ['posix-rename@openssh.com', '1'],
  ['statvfs@openssh.com', '2'],
  ['fstatvfs@openssh.com', '2'],
  ['hardlink@openssh.com', '1'],
  ['fsync@openssh.com', '1'],
  ['lsetstat@openssh.com', '1'],
  ['limits@openssh.com', '1'],
  ['expand-path@openssh.com', '1'],
  ['copy-data', '1'],
  ['home-directory', '1'],
  ['users-groups-by-id@openssh.com', '1'],
];

/** Every request a client sends, by the draft's and OpenSSH's names. */
export type SftpRequest =
  | { type: 'init'; version: number; extensions: [string, string][] }
  | { type: 'open'; id: number; path: string; pflags: number; attrs: SftpAttrs }
  | { type: 'close' | 'fstat' | 'readdir' | 'fsync'; id: number; handle: Uint8Array }
  | { type: 'fstatvfs'; id: number; handle: Uint8Array }
  | { type: 'read'; id: number; handle: Uint8Array; offset: number; length: number }
  | { type: 'write'; id: number; handle: Uint8Array; offset: number; data: Uint8Array }
  | { type: 'lstat' | 'stat' | 'opendir' | 'remove' | 'rmdir' | 'realpath' | 'readlink' | 'statvfs' | 'expand-path' | 'home-directory'; id: number; path: string }
  | { type: 'setstat' | 'lsetstat' | 'mkdir'; id: number; path: string; attrs: SftpAttrs }
  | { type: 'fsetstat'; id: number; handle: Uint8Array; attrs: SftpAttrs }
  | { type: 'rename' | 'posix-rename' | 'hardlink'; id: number; oldpath: string; newpath: string }
  /** OpenSSH's argument order (its PROTOCOL §4.1): the link's target first, then the link's own path. */
  | { type: 'symlink'; id: number; target: string; linkpath: string }
  | { type: 'limits'; id: number }
  | { type: 'copy-data'; id: number; readHandle: Uint8Array; readOffset: number; length: number; writeHandle: Uint8Array; writeOffset: number }
  | { type: 'users-groups-by-id'; id: number; uids: number[]; gids: number[] }
  /** An EXTENDED request this server does not know: answered OP_UNSUPPORTED. */
  | { type: 'extended'; id: number; name: string };

const PATH_REQUESTS = { [Fxp.Lstat]: 'lstat', [Fxp.Stat]: 'stat', [Fxp.Opendir]: 'opendir', [Fxp.Remove]: 'remove', [Fxp.Rmdir]: 'rmdir', [Fxp.Realpath]: 'realpath', [Fxp.Readlink]: 'readlink' } as const;
const HANDLE_REQUESTS = { [Fxp.Close]: 'close', [Fxp.Fstat]: 'fstat', [Fxp.Readdir]: 'readdir' } as const;
const EXTENDED_PATH = { 'statvfs@openssh.com': 'statvfs', 'expand-path@openssh.com': 'expand-path', 'home-directory': 'home-directory' } as const;
const EXTENDED_HANDLE = { 'fstatvfs@openssh.com': 'fstatvfs', 'fsync@openssh.com': 'fsync' } as const;
const EXTENDED_TWO_PATHS = { 'posix-rename@openssh.com': 'posix-rename', 'hardlink@openssh.com': 'hardlink' } as const;

/** Packed uint32s (users-groups-by-id's id lists). */
function u32List(bytes: Uint8Array): number[] {
  if (bytes.length % 4 !== 0) throw new SftpCodecError(`id list of ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 4 }, (_, i) => view.getUint32(i * 4));
}

/** INIT's and VERSION's fields: a version, then extension name and data pairs to the end of the packet. */
function versionFields(r: SftpReader): { version: number; extensions: [string, string][] } {
  const version = r.u32();
  const extensions: [string, string][] = [];
  while (r.remaining > 0) extensions.push([r.string(), r.string()]);
  return { version, extensions };
}

/**
 * Decodes one packet body (type, id, fields; no length prefix). Throws SftpCodecError on anything malformed
 * (the caller reads the id itself, to answer BAD_MESSAGE to it).
 */
export function decodeRequest(body: Uint8Array): SftpRequest {
  const r = new SftpReader(body);
  const type = r.u8();
  if (type === Fxp.Init) return { type: 'init', ...versionFields(r) };
  const id = r.u32();
  const req = decodeFields(type, id, r);
  r.end();
  return req;
}

function decodeFields(type: number, id: number, r: SftpReader): SftpRequest {
  if (type in PATH_REQUESTS) return { type: PATH_REQUESTS[type as keyof typeof PATH_REQUESTS], id, path: r.path() };
  if (type in HANDLE_REQUESTS) return { type: HANDLE_REQUESTS[type as keyof typeof HANDLE_REQUESTS], id, handle: r.bytesField() };
  switch (type) {
    case Fxp.Open:
      return { type: 'open', id, path: r.path(), pflags: r.u32(), attrs: r.attrs() };
    case Fxp.Read:
      return { type: 'read', id, handle: r.bytesField(), offset: r.u64(), length: r.u32() };
    case Fxp.Write:
      return { type: 'write', id, handle: r.bytesField(), offset: r.u64(), data: r.bytesField() };
    case Fxp.Setstat:
      return { type: 'setstat', id, path: r.path(), attrs: r.attrs() };
    case Fxp.Mkdir:
      return { type: 'mkdir', id, path: r.path(), attrs: r.attrs() };
    case Fxp.Fsetstat:
      return { type: 'fsetstat', id, handle: r.bytesField(), attrs: r.attrs() };
    case Fxp.Rename:
      return { type: 'rename', id, oldpath: r.path(), newpath: r.path() };
    case Fxp.Symlink:
      return { type: 'symlink', id, target: r.path(), linkpath: r.path() };
    case Fxp.Extended:
      return decodeExtended(id, r);
  }
  throw new SftpCodecError(`unknown packet type ${type}`);
}

function decodeExtended(id: number, r: SftpReader): SftpRequest {
  const name = r.string();
  if (name in EXTENDED_PATH) return { type: EXTENDED_PATH[name as keyof typeof EXTENDED_PATH], id, path: r.path() };
  if (name in EXTENDED_HANDLE) return { type: EXTENDED_HANDLE[name as keyof typeof EXTENDED_HANDLE], id, handle: r.bytesField() };
  if (name in EXTENDED_TWO_PATHS) return { type: EXTENDED_TWO_PATHS[name as keyof typeof EXTENDED_TWO_PATHS], id, oldpath: r.path(), newpath: r.path() };
  switch (name) {
    case 'lsetstat@openssh.com':
      return { type: 'lsetstat', id, path: r.path(), attrs: r.attrs() };
    case 'limits@openssh.com':
      return { type: 'limits', id };
    case 'copy-data':
      return { type: 'copy-data', id, readHandle: r.bytesField(), readOffset: r.u64(), length: r.u64(), writeHandle: r.bytesField(), writeOffset: r.u64() };
    case 'users-groups-by-id@openssh.com':
      return { type: 'users-groups-by-id', id, uids: u32List(r.bytesField()), gids: u32List(r.bytesField()) };
  }
  // An unknown extension's fields are its own: skip them.
  r.skipRest();
  return { type: 'extended', id, name };
}

/** Encodes a request as a client sends it (the tests' clients; the inverse of `decodeRequest`). */
export function encodeRequest(req: SftpRequest): Uint8Array {
  if (req.type === 'init') {
    const w = new SftpWriter(Fxp.Init).u32(req.version);
    for (const [name, data] of req.extensions) w.string(name).string(data);
    return w.finish();
  }
  const extended = (name: string) => new SftpWriter(Fxp.Extended).u32(req.id).string(name);
  const plain = (type: Fxp) => new SftpWriter(type, 64).u32(req.id);
  const pathType = Object.entries(PATH_REQUESTS).find(([, t]) => t === req.type);
  const handleType = Object.entries(HANDLE_REQUESTS).find(([, t]) => t === req.type);
  const extName = (table: Record<string, string>) => Object.entries(table).find(([, t]) => t === req.type)?.[0];
  switch (req.type) {
    case 'open':
      return plain(Fxp.Open).string(req.path).u32(req.pflags).attrs(req.attrs).finish();
    case 'read':
      return plain(Fxp.Read).bytes(req.handle).u64(req.offset).u32(req.length).finish();
    case 'write':
      return new SftpWriter(Fxp.Write, req.data.length + 64).u32(req.id).bytes(req.handle).u64(req.offset).bytes(req.data).finish();
    case 'setstat':
      return plain(Fxp.Setstat).string(req.path).attrs(req.attrs).finish();
    case 'mkdir':
      return plain(Fxp.Mkdir).string(req.path).attrs(req.attrs).finish();
    case 'fsetstat':
      return plain(Fxp.Fsetstat).bytes(req.handle).attrs(req.attrs).finish();
    case 'rename':
      return plain(Fxp.Rename).string(req.oldpath).string(req.newpath).finish();
    case 'symlink':
      return plain(Fxp.Symlink).string(req.target).string(req.linkpath).finish();
    case 'lsetstat':
      return extended('lsetstat@openssh.com').string(req.path).attrs(req.attrs).finish();
    case 'limits':
      return extended('limits@openssh.com').finish();
    case 'copy-data':
      return extended('copy-data').bytes(req.readHandle).u64(req.readOffset).u64(req.length).bytes(req.writeHandle).u64(req.writeOffset).finish();
    case 'users-groups-by-id': {
      const pack = (ids: number[]) => {
        const out = new Uint8Array(ids.length * 4);
        ids.forEach((v, i) => new DataView(out.buffer).setUint32(i * 4, v));
        return out;
      };
      return extended('users-groups-by-id@openssh.com').bytes(pack(req.uids)).bytes(pack(req.gids)).finish();
    }
    case 'extended':
      return extended(req.name).string('').finish();
  }
  if (pathType) return plain(Number(pathType[0])).string((req as { path: string }).path).finish();
  if (handleType) return plain(Number(handleType[0])).bytes((req as { handle: Uint8Array }).handle).finish();
  const pathExt = extName(EXTENDED_PATH);
  if (pathExt) return extended(pathExt).string((req as { path: string }).path).finish();
  const handleExt = extName(EXTENDED_HANDLE);
  if (handleExt) return extended(handleExt).bytes((req as { handle: Uint8Array }).handle).finish();
  const twoPaths = extName(EXTENDED_TWO_PATHS)!;
  const { oldpath, newpath } = req as { oldpath: string; newpath: string };
  return extended(twoPaths).string(oldpath).string(newpath).finish();
}

/** Every reply a server sends. */
export type SftpReply =
  | { type: 'version'; version: number; extensions: readonly [string, string][] }
  | { type: 'status'; id: number; code: SftpStatus; message: string }
  | { type: 'handle'; id: number; handle: Uint8Array }
  | { type: 'data'; id: number; data: Uint8Array }
  | { type: 'name'; id: number; names: SftpName[] }
  | { type: 'attrs'; id: number; attrs: SftpAttrs }
  /** EXTENDED_REPLY: the extension's own fields, encoded by the caller. */
  | { type: 'extended-reply'; id: number; data: Uint8Array };

export function encodeReply(reply: SftpReply): Uint8Array {
  switch (reply.type) {
    case 'version': {
      const w = new SftpWriter(Fxp.Version, 512).u32(reply.version);
      for (const [name, data] of reply.extensions) w.string(name).string(data);
      return w.finish();
    }
    case 'status':
      return new SftpWriter(Fxp.Status).u32(reply.id).u32(reply.code).string(reply.message).string('').finish();
    case 'handle':
      return new SftpWriter(Fxp.Handle).u32(reply.id).bytes(reply.handle).finish();
    case 'data':
      return new SftpWriter(Fxp.Data, reply.data.length + 16).u32(reply.id).bytes(reply.data).finish();
    case 'name': {
      const w = new SftpWriter(Fxp.Name, 256).u32(reply.id).u32(reply.names.length);
      for (const n of reply.names) w.string(n.filename).string(n.longname).attrs(n.attrs);
      return w.finish();
    }
    case 'attrs':
      return new SftpWriter(Fxp.Attrs).u32(reply.id).attrs(reply.attrs).finish();
    case 'extended-reply':
      return new SftpWriter(Fxp.ExtendedReply, reply.data.length + 16).u32(reply.id).raw(reply.data).finish();
  }
}

/** Decodes a reply body (no length prefix): the tests' clients read the server's answers with it. */
export function decodeReply(body: Uint8Array): SftpReply {
  const r = new SftpReader(body);
  const type = r.u8();
  if (type === Fxp.Version) return { type: 'version', ...versionFields(r) };
  const id = r.u32();
  let reply: SftpReply;
  switch (type) {
    case Fxp.Status: {
      const code = r.u32() as SftpStatus;
      // v3 servers before draft-02's message field end here.
      const message = r.remaining > 0 ? r.string() : '';
      if (r.remaining > 0) r.string();
      reply = { type: 'status', id, code, message };
      break;
    }
    case Fxp.Handle:
      reply = { type: 'handle', id, handle: r.bytesField().slice() };
      break;
    case Fxp.Data:
      reply = { type: 'data', id, data: r.bytesField().slice() };
      break;
    case Fxp.Name: {
      const count = r.u32();
      if (count * 12 > r.remaining) throw new SftpCodecError(`${count} names in ${r.remaining} bytes`);
      const names: SftpName[] = [];
      for (let i = 0; i < count; i++) names.push({ filename: r.string(), longname: r.string(), attrs: r.attrs() });
      reply = { type: 'name', id, names };
      break;
    }
    case Fxp.Attrs:
      reply = { type: 'attrs', id, attrs: r.attrs() };
      break;
    case Fxp.ExtendedReply:
      return { type: 'extended-reply', id, data: body.slice(5) };
    default:
      throw new SftpCodecError(`unknown reply type ${type}`);
  }
  r.end();
  return reply;
}

/** statvfs@openssh.com's reply fields (PROTOCOL §4.4), in its order. */
export function encodeStatvfs(s: SftpStatvfs): Uint8Array {
  const w = new SftpWriter(undefined, 96);
  for (const v of [s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.fsid, s.flag, s.namemax]) w.u64(v);
  return w.fields();
}
