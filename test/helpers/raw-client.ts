/**
 * A minimal, scriptable SSH-2 client for tests that need to reach a protocol state and then misbehave.
 * node:net and node:crypto only, one algorithm per category: curve25519-sha256, ssh-ed25519, aes128-ctr,
 * hmac-sha2-256, no compression (optionally strict kex). It verifies the server's host key signature and
 * keeps real sequence numbers, so anything it sends is well-formed unless a test asks otherwise:
 * `send` seals any payload, `sendRaw` writes bytes as they are, `corruptNextMac` flips one MAC bit.
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  timingSafeEqual,
  verify,
  type Cipher,
  type Decipher,
} from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** RFC 4250 §4.1 message numbers used here. */
export const MSG = {
  DISCONNECT: 1,
  IGNORE: 2,
  UNIMPLEMENTED: 3,
  DEBUG: 4,
  SERVICE_REQUEST: 5,
  SERVICE_ACCEPT: 6,
  KEXINIT: 20,
  NEWKEYS: 21,
  KEX_ECDH_INIT: 30,
  KEX_ECDH_REPLY: 31,
  USERAUTH_REQUEST: 50,
  USERAUTH_FAILURE: 51,
  USERAUTH_SUCCESS: 52,
  USERAUTH_BANNER: 53,
  GLOBAL_REQUEST: 80,
  REQUEST_SUCCESS: 81,
  REQUEST_FAILURE: 82,
  CHANNEL_OPEN: 90,
  CHANNEL_OPEN_CONFIRMATION: 91,
  CHANNEL_OPEN_FAILURE: 92,
  CHANNEL_WINDOW_ADJUST: 93,
  CHANNEL_DATA: 94,
  CHANNEL_EXTENDED_DATA: 95,
  CHANNEL_EOF: 96,
  CHANNEL_CLOSE: 97,
  CHANNEL_REQUEST: 98,
  CHANNEL_SUCCESS: 99,
  CHANNEL_FAILURE: 100,
} as const;

const STRICT_C = 'kex-strict-c-v00@openssh.com';
const STRICT_S = 'kex-strict-s-v00@openssh.com';
const MAX_PACKET = 256 * 1024;

/** The global request naming the server's host keys after a login, which a client that keeps no known hosts passes over. */
const HOST_KEYS_ANNOUNCEMENT = 'hostkeys-00@openssh.com';
const isHostKeysAnnouncement = (payload: Buffer): boolean =>
  payload[0] === MSG.GLOBAL_REQUEST && payload.subarray(5, 5 + HOST_KEYS_ANNOUNCEMENT.length).toString() === HOST_KEYS_ANNOUNCEMENT;
const MAC_LEN = 32;

// ---- wire encoding (RFC 4251 §5) --------------------------------------------------------------------

export class Writer {
  private readonly parts: Buffer[] = [];
  constructor(type?: number) {
    if (type !== undefined) this.u8(type);
  }
  u8(n: number): this {
    this.parts.push(Buffer.from([n]));
    return this;
  }
  u32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    this.parts.push(b);
    return this;
  }
  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }
  string(s: string | Uint8Array): this {
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s);
    this.u32(b.length);
    this.parts.push(b);
    return this;
  }
  /** An unsigned big-endian integer as mpint: no leading zeros, a zero byte if the top bit is set. */
  mpint(unsigned: Uint8Array): this {
    let i = 0;
    while (i < unsigned.length && unsigned[i] === 0) i++;
    const digits = Buffer.from(unsigned.subarray(i));
    return this.string(digits.length > 0 && digits[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), digits]) : digits);
  }
  raw(b: Uint8Array): this {
    this.parts.push(Buffer.from(b));
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bool(): boolean {
    return this.u8() !== 0;
  }
  string(): Buffer {
    const len = this.u32();
    this.need(len);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  text(): string {
    return this.string().toString('utf8');
  }
  rest(): Buffer {
    const out = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return out;
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error(`truncated message: need ${n} bytes at offset ${this.pos} of ${this.buf.length}`);
  }
}

// ---- errors -----------------------------------------------------------------------------------------

export interface Disconnect {
  reason: number;
  description: string;
}

/** The server sent SSH_MSG_DISCONNECT where the script expected something else. */
export class DisconnectError extends Error implements Disconnect {
  constructor(
    readonly reason: number,
    readonly description: string,
  ) {
    super(`server disconnected: reason ${reason}: ${description}`);
    this.name = 'DisconnectError';
  }
}

export function decodeDisconnect(payload: Buffer): Disconnect {
  const r = new Reader(payload);
  if (r.u8() !== MSG.DISCONNECT) throw new Error(`message ${payload[0]} is not DISCONNECT`);
  return { reason: r.u32(), description: r.text() };
}

// ---- the client -------------------------------------------------------------------------------------

interface Direction<C> {
  cipher: C;
  macKey: Buffer;
}

export interface Session {
  /** Our channel number. */
  local: number;
  /** The server's channel number. */
  remote: number;
  /** Bytes the server lets us send before it adjusts the window. */
  window: number;
  maxPacket: number;
}

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exitStatus: number | undefined;
}

export class RawClient {
  /** The server's identification line, without CR LF. */
  serverVersion = '';
  clientVersion = '';
  /** The server's host key blob (RFC 4253 §6.6), checked against its signature of H. */
  hostKey: Buffer | undefined;
  sessionId: Buffer | undefined;
  /** Both sides offered strict kex (sequence numbers reset at NEWKEYS). */
  strictKex = false;
  /** Sequence number the next packet we send will carry. */
  sendSeq = 0;
  /** Sequence number the next packet we receive will carry. */
  recvSeq = 0;
  /** Resolves when the socket has closed, whoever closed it. */
  readonly closed: Promise<void>;
  /** Our TCP port: the server sees it as the connection's remote port. */
  readonly localPort: number;

  private input: Buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;
  private tx: Direction<Cipher> | undefined;
  private rx: Direction<Decipher> | undefined;
  private corruptMac = false;
  private nextChannel = 0;

  private constructor(private readonly socket: Socket) {
    this.localPort = socket.localPort ?? 0;
    socket.on('data', (d: Buffer) => {
      this.input = this.input.length === 0 ? d : Buffer.concat([this.input, d]);
      this.notify();
    });
    socket.on('error', () => {}); // a reset after the server's DISCONNECT is an ordinary end here
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.notify();
        resolve();
      }),
    );
  }

  /** `localAddress`: the loopback address to connect from (Linux routes all of 127/8 to lo). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, noDelay: true, ...(localAddress ? { localAddress } : {}) });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }


  /** Sends a DISCONNECT (if the socket is still open) and closes our side. */
  disconnect(reason = 11, description = 'bye'): void {
    if (!this.ended && this.socket.writable) this.send(new Writer(MSG.DISCONNECT).u32(reason).string(description).string('').done());
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Stops reading from the socket (a client that does not read what the server sends), and starts again. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** Bytes written to the socket so far. */
  get sentBytes(): number {
    return this.socket.bytesWritten;
  }

  /** The socket refused more (`write` returned false) and has not drained since: the server is not reading. */
  get writeBlocked(): boolean {
    return this.socket.writableNeedDrain;
  }

  // ---- bytes --------------------------------------------------------------------------------------

  /** Writes bytes exactly as given. */
  sendRaw(bytes: Uint8Array | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async fill(n: number): Promise<void> {
    while (this.input.length < n) {
      if (this.ended) throw new Error(`connection closed with ${this.input.length} of ${n} expected bytes`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private async take(n: number): Promise<Buffer> {
    await this.fill(n);
    const out = this.input.subarray(0, n);
    this.input = this.input.subarray(n);
    return out;
  }

  // ---- identification (RFC 4253 §4.2) ---------------------------------------------------------------

  sendVersion(line = 'SSH-2.0-wasshd_raw_client'): void {
    this.clientVersion = line;
    this.sendRaw(`${line}\r\n`);
  }

  /** Reads lines until the server's `SSH-` line. */
  async readVersion(): Promise<string> {
    for (;;) {
      let nl: number;
      while ((nl = this.input.indexOf(0x0a)) < 0) await this.fill(this.input.length + 1);
      const line = (await this.take(nl + 1)).toString('latin1').replace(/\r?\n$/, '');
      if (line.startsWith('SSH-')) return (this.serverVersion = line);
    }
  }

  // ---- binary packets (RFC 4253 §6) -----------------------------------------------------------------

  /** The MAC of the next packet we send will have one bit flipped. */
  corruptNextMac(): void {
    this.corruptMac = true;
  }

  /** Seals a payload with the current keys and sends it; returns the sequence number it used. */
  send(payload: Uint8Array): number {
    const block = this.tx ? 16 : 8;
    let padding = block - ((5 + payload.length) % block);
    if (padding < 4) padding += block;
    const packet = new Writer()
      .u32(1 + payload.length + padding)
      .u8(padding)
      .raw(payload)
      .raw(randomBytes(padding))
      .done();
    const seq = this.sendSeq;
    this.sendSeq = (seq + 1) >>> 0;
    if (!this.tx) {
      this.socket.write(packet);
      return seq;
    }
    const mac = createHmac('sha256', this.tx.macKey).update(new Writer().u32(seq).done()).update(packet).digest();
    if (this.corruptMac) {
      this.corruptMac = false;
      mac[mac.length - 1]! ^= 0x01;
    }
    this.socket.write(Buffer.concat([this.tx.cipher.update(packet), mac]));
    return seq;
  }

  /** Reads the next packet and returns its payload; throws if the socket closes first or the MAC is wrong. */
  async readPacket(): Promise<Buffer> {
    const block = this.rx ? 16 : 8;
    let head = await this.take(block);
    if (this.rx) head = this.rx.cipher.update(head);
    const len = head.readUInt32BE(0);
    if (len < 5 || len > MAX_PACKET || (len + 4) % block !== 0) throw new Error(`server sent bad packet length ${len}`);
    let body = await this.take(len + 4 - block);
    if (this.rx) body = this.rx.cipher.update(body);
    const packet = Buffer.concat([head, body]);
    if (this.rx) {
      const mac = await this.take(MAC_LEN);
      const want = createHmac('sha256', this.rx.macKey).update(new Writer().u32(this.recvSeq).done()).update(packet).digest();
      if (!timingSafeEqual(mac, want)) throw new Error(`bad MAC on server packet ${this.recvSeq}`);
    }
    this.recvSeq = (this.recvSeq + 1) >>> 0;
    const padding = packet[4]!;
    if (padding < 4 || 5 + padding >= packet.length) throw new Error(`server sent bad padding length ${padding}`);
    return packet.subarray(5, packet.length - padding);
  }

  /**
   * Reads packets until the server's DISCONNECT; `skipped` lists the message numbers that came before it.
   * Throws if the socket closes without one.
   */
  async readDisconnect(): Promise<Disconnect & { skipped: number[] }> {
    const skipped: number[] = [];
    for (;;) {
      const payload = await this.readPacket();
      if (payload[0] === MSG.DISCONNECT) return { ...decodeDisconnect(payload), skipped };
      skipped.push(payload[0]!);
    }
  }

  /**
   * Reads the next packet of one of `types`, passing over IGNORE, DEBUG and USERAUTH_BANNER. A DISCONNECT
   * throws DisconnectError; any other message throws.
   */
  async expect(...types: number[]): Promise<{ type: number; r: Reader }> {
    for (;;) {
      const payload = await this.readPacket();
      const type = payload[0]!;
      if (types.includes(type)) {
        const r = new Reader(payload);
        r.u8();
        return { type, r };
      }
      if (type === MSG.DISCONNECT) {
        const d = decodeDisconnect(payload);
        throw new DisconnectError(d.reason, d.description);
      }
      if (isHostKeysAnnouncement(payload) && !types.includes(MSG.GLOBAL_REQUEST)) continue;
      if (type !== MSG.IGNORE && type !== MSG.DEBUG && type !== MSG.USERAUTH_BANNER) throw new Error(`expected message ${types.join(' or ')}, got ${type}`);
    }
  }

  // ---- key exchange (RFC 4253 §7-8, RFC 8731) -------------------------------------------------------

  /** Version exchange and key exchange: afterwards every packet is encrypted. */
  async handshake(options: { version?: string; strict?: boolean } = {}): Promise<void> {
    this.sendVersion(options.version);
    await this.readVersion();
    await this.kex(options);
  }

  async kex({ strict = true }: { strict?: boolean } = {}): Promise<void> {
    const ours = new Writer(MSG.KEXINIT)
      .raw(randomBytes(16))
      .string(strict ? `curve25519-sha256,${STRICT_C}` : 'curve25519-sha256')
      .string('ssh-ed25519')
      .string('aes128-ctr')
      .string('aes128-ctr')
      .string('hmac-sha2-256')
      .string('hmac-sha2-256')
      .string('none')
      .string('none')
      .string('')
      .string('')
      .bool(false)
      .u32(0)
      .done();
    this.send(ours);

    const theirs = await this.expect(MSG.KEXINIT);
    const serverKexinit = Buffer.concat([Buffer.from([MSG.KEXINIT]), theirs.r.rest()]);
    const lists = new Reader(serverKexinit.subarray(17));
    const offered = Array.from({ length: 10 }, () => lists.text().split(','));
    const want = ['curve25519-sha256', 'ssh-ed25519', 'aes128-ctr', 'aes128-ctr', 'hmac-sha2-256', 'hmac-sha2-256', 'none', 'none'];
    want.forEach((name, i) => {
      if (!offered[i]!.includes(name)) throw new Error(`server does not offer ${name}: ${offered[i]!.join(',')}`);
    });
    this.strictKex = strict && offered[0]!.includes(STRICT_S);

    const ephemeral = generateKeyPairSync('x25519');
    const qc = Buffer.from(ephemeral.publicKey.export({ format: 'jwk' }).x!, 'base64url');
    this.send(new Writer(MSG.KEX_ECDH_INIT).string(qc).done());

    const { r } = await this.expect(MSG.KEX_ECDH_REPLY);
    const hostKey = Buffer.from(r.string());
    const qs = Buffer.from(r.string());
    const signature = new Reader(r.string());
    if (qs.length !== 32) throw new Error(`server ephemeral key is ${qs.length} bytes`);
    const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: okpKey('X25519', qs) });
    if (shared.every((b) => b === 0)) throw new Error('all-zero shared secret');
    const k = new Writer().mpint(shared).done();
    const h = createHash('sha256')
      .update(
        new Writer()
          .string(this.clientVersion)
          .string(this.serverVersion)
          .string(ours)
          .string(serverKexinit)
          .string(hostKey)
          .string(qc)
          .string(qs)
          .raw(k)
          .done(),
      )
      .digest();

    const key = new Reader(hostKey);
    const sigAlg = signature.text();
    if (key.text() !== 'ssh-ed25519' || sigAlg !== 'ssh-ed25519') throw new Error(`unexpected host key or signature type ${sigAlg}`);
    if (!verify(null, h, okpKey('Ed25519', key.string()), signature.string())) throw new Error('host key signature over H does not verify');
    this.hostKey = hostKey;
    const sessionId = (this.sessionId ??= h);

    // RFC 4253 §7.2: HASH(K || H || letter || session_id); SHA-256 gives the 32 bytes we need at most.
    const derive = (letter: string, n: number) =>
      createHash('sha256').update(k).update(h).update(letter).update(sessionId).digest().subarray(0, n);

    await this.expect(MSG.NEWKEYS);
    this.rx = { cipher: createDecipheriv('aes-128-ctr', derive('D', 16), derive('B', 16)), macKey: derive('F', 32) };
    if (this.strictKex) this.recvSeq = 0;

    this.send(Buffer.from([MSG.NEWKEYS]));
    this.tx = { cipher: createCipheriv('aes-128-ctr', derive('C', 16), derive('A', 16)), macKey: derive('E', 32) };
    if (this.strictKex) this.sendSeq = 0;
  }

  // ---- authentication and channels (RFC 4252, RFC 4254) ----------------------------------------------

  async serviceRequest(service = 'ssh-userauth'): Promise<void> {
    this.send(new Writer(MSG.SERVICE_REQUEST).string(service).done());
    const { r } = await this.expect(MSG.SERVICE_ACCEPT);
    if (r.text() !== service) throw new Error('SERVICE_ACCEPT names another service');
  }

  /** One password attempt; true on USERAUTH_SUCCESS, false on USERAUTH_FAILURE. */
  async password(user: string, password: string): Promise<boolean> {
    this.send(new Writer(MSG.USERAUTH_REQUEST).string(user).string('ssh-connection').string('password').bool(false).string(password).done());
    const { type } = await this.expect(MSG.USERAUTH_SUCCESS, MSG.USERAUTH_FAILURE);
    if (type !== MSG.USERAUTH_SUCCESS) return false;
    // The server names its host keys next (OpenSSH's hostkeys-00@openssh.com, no reply wanted).
    const { r } = await this.expect(MSG.GLOBAL_REQUEST);
    if (r.text() !== HOST_KEYS_ANNOUNCEMENT || r.bool()) throw new Error('expected the host keys announcement after USERAUTH_SUCCESS');
    return true;
  }

  /** Sends CHANNEL_OPEN "session" (the payload the server will judge). */
  sendSessionOpen(window = 16 * 1024 * 1024, maxPacket = 32 * 1024): number {
    const local = this.nextChannel++;
    this.send(new Writer(MSG.CHANNEL_OPEN).string('session').u32(local).u32(window).u32(maxPacket).done());
    return local;
  }

  async openSession(): Promise<Session> {
    const local = this.sendSessionOpen();
    const { type, r } = await this.expect(MSG.CHANNEL_OPEN_CONFIRMATION, MSG.CHANNEL_OPEN_FAILURE);
    if (r.u32() !== local) throw new Error('channel open reply for another channel');
    if (type === MSG.CHANNEL_OPEN_FAILURE) throw new Error(`session refused: reason ${r.u32()}: ${r.text()}`);
    return { local, remote: r.u32(), window: r.u32(), maxPacket: r.u32() };
  }

  /**
   * Runs a command: sends `stdin` (which must fit the window the server gave) and EOF, then collects
   * output until the server closes the channel. Our window is large enough not to need adjusting.
   */
  async exec(session: Session, command: string, stdin: Uint8Array = new Uint8Array(0)): Promise<ExecResult> {
    this.send(new Writer(MSG.CHANNEL_REQUEST).u32(session.remote).string('exec').bool(true).string(command).done());
    for (;;) {
      const { type, r } = await this.expect(MSG.CHANNEL_SUCCESS, MSG.CHANNEL_FAILURE, MSG.CHANNEL_WINDOW_ADJUST);
      if (r.u32() !== session.local) throw new Error(`message ${type} for another channel`);
      if (type === MSG.CHANNEL_FAILURE) throw new Error(`exec ${command} refused`);
      if (type === MSG.CHANNEL_SUCCESS) break;
      session.window += r.u32();
    }
    if (stdin.length > session.window) throw new Error(`stdin (${stdin.length} bytes) exceeds the channel window (${session.window})`);
    for (let at = 0; at < stdin.length; at += session.maxPacket) {
      this.send(new Writer(MSG.CHANNEL_DATA).u32(session.remote).string(stdin.subarray(at, at + session.maxPacket)).done());
    }
    this.send(new Writer(MSG.CHANNEL_EOF).u32(session.remote).done());
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let exitStatus: number | undefined;
    for (;;) {
      const { type, r } = await this.expect(
        MSG.CHANNEL_DATA,
        MSG.CHANNEL_EXTENDED_DATA,
        MSG.CHANNEL_WINDOW_ADJUST,
        MSG.CHANNEL_EOF,
        MSG.CHANNEL_REQUEST,
        MSG.CHANNEL_CLOSE,
      );
      if (r.u32() !== session.local) throw new Error(`message ${type} for another channel`);
      if (type === MSG.CHANNEL_DATA) stdout.push(Buffer.from(r.string()));
      else if (type === MSG.CHANNEL_EXTENDED_DATA && r.u32() === 1) stderr.push(Buffer.from(r.string()));
      else if (type === MSG.CHANNEL_REQUEST && r.text() === 'exit-status' && !r.bool()) exitStatus = r.u32();
      else if (type === MSG.CHANNEL_CLOSE) {
        this.send(new Writer(MSG.CHANNEL_CLOSE).u32(session.remote).done());
        return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), exitStatus };
      }
    }
  }
}

/** A raw 32-byte X25519 or Ed25519 public key as a KeyObject. */
function okpKey(crv: 'X25519' | 'Ed25519', raw: Uint8Array) {
  return createPublicKey({ key: { kty: 'OKP', crv, x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}
