/**
 * Decodes the core's event record stream (`Core.drain_events`, encoded in `wasm/src/lib.rs`). Each
 * record is a tag byte, the connection id, then fields in SSH wire types.
 */

import type { AuthMethodName, ChannelRequestInfo } from '../events.js';

export type CoreEvent =
  | { type: 'log'; conn: number; level: number; message: string }
  | { type: 'clientVersion'; conn: number; version: string }
  | { type: 'keysExchanged'; conn: number; kex: string; hostKey: string; cipherIn: string; cipherOut: string; macIn: string; macOut: string; strict: boolean; initial: boolean }
  | { type: 'serviceRequest'; conn: number; service: string }
  | { type: 'authRequest'; conn: number; user: string; service: string; method: AuthMethodName; passed: AuthMethodName[]; password?: string; publicKey?: { algorithm: string; blob: Uint8Array; signed: boolean; certificate?: CoreCertificate }; submethods?: string; responses?: string[] }
  | { type: 'authenticated'; conn: number; user: string; method: string }
  | { type: 'channelOpenRequest'; conn: number; channel: number; kind: string; data: Uint8Array }
  | { type: 'channelRequest'; conn: number; channel: number; wantReply: boolean; request: ChannelRequestInfo }
  | { type: 'channelData'; conn: number; channel: number; stream: number; data: Uint8Array }
  | { type: 'channelEof'; conn: number; channel: number }
  | { type: 'channelClosed'; conn: number; channel: number }
  | { type: 'channelReadyToSend'; conn: number; channel: number }
  | { type: 'disconnected'; conn: number; reason: number; description: string; byPeer: boolean }
  | { type: 'globalRequest'; conn: number; name: string; wantReply: boolean; data: Uint8Array }
  | { type: 'channelOpenConfirmed'; conn: number; channel: number }
  | { type: 'channelOpenFailed'; conn: number; channel: number; reason: number; description: string };

/** A user certificate whose structure and CA signature the core checked (times in seconds since the epoch). */
export interface CoreCertificate {
  serial: bigint;
  type: 'user' | 'host';
  keyId: string;
  principals: string[];
  validAfter: number;
  validBefore: number;
  criticalOptions: [name: string, value: string][];
  extensions: [name: string, data: Uint8Array][];
  caKey: Uint8Array;
  key: Uint8Array;
}

const utf8 = new TextDecoder();

/**
 * Protocol names (algorithms, channel types) as one string each, however many connections hold them: each
 * connection keeps its algorithms' and channels'. Bounded, since a client may name anything.
 */
const names = new Map<string, string>();
const MAX_NAMES = 256;
const MAX_NAME_LENGTH = 64;

/** Reads the records' fields (SSH wire types); both roles' decoders use it. */
export class RecordReader {
  private pos = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  more(): boolean {
    return this.pos < this.bytes.length;
  }
  u8(): number {
    return this.view.getUint8(this.pos++);
  }
  bool(): boolean {
    return this.u8() !== 0;
  }
  u32(): number {
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  bytes_(): Uint8Array {
    const len = this.u32();
    const out = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  text(): string {
    return utf8.decode(this.bytes_());
  }
  /** A protocol name: `text`, shared with every earlier record that had it. */
  name(): string {
    const text = this.text();
    const known = names.get(text);
    if (known !== undefined) return known;
    if (names.size < MAX_NAMES && text.length <= MAX_NAME_LENGTH) names.set(text, text);
    return text;
  }
  u64(): bigint {
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }
}

/** The certificate fields of a publickey record (`encode_certificate` in wasm/boundary). */
function decodeCertificate(r: RecordReader): CoreCertificate {
  const serial = r.u64();
  const type = r.u32() === 1 ? 'user' : 'host';
  const keyId = r.text();
  const principals = Array.from({ length: r.u32() }, () => r.text());
  const validAfter = Number(r.u64());
  const validBefore = Number(r.u64());
  const criticalOptions = Array.from({ length: r.u32() }, (): [string, string] => [r.text(), r.text()]);
  const extensions = Array.from({ length: r.u32() }, (): [string, Uint8Array] => [r.text(), r.bytes_().slice()]);
  return { serial, type, keyId, principals, validAfter, validBefore, criticalOptions, extensions, caKey: r.bytes_().slice(), key: r.bytes_().slice() };
}

export function decodeEvents(records: Uint8Array): CoreEvent[] {
  const r = new RecordReader(records);
  const events: CoreEvent[] = [];
  while (r.more()) {
    const tag = r.u8();
    const conn = r.u32();
    switch (tag) {
      case 1:
        events.push({ type: 'log', conn, level: r.u8(), message: r.text() });
        break;
      case 2:
        events.push({ type: 'clientVersion', conn, version: r.text() });
        break;
      case 3:
        events.push({ type: 'keysExchanged', conn, kex: r.name(), hostKey: r.name(), cipherIn: r.name(), cipherOut: r.name(), macIn: r.name(), macOut: r.name(), strict: r.bool(), initial: r.bool() });
        break;
      case 4:
        events.push({ type: 'serviceRequest', conn, service: r.text() });
        break;
      case 5: {
        const user = r.text();
        const service = r.text();
        const method = r.text() as AuthMethodName;
        const list = r.text();
        const passed = (list === '' ? [] : list.split(',')) as AuthMethodName[];
        const event: CoreEvent & { type: 'authRequest' } = { type: 'authRequest', conn, user, service, method, passed };
        if (method === 'password') event.password = r.text();
        else if (method === 'publickey') {
          event.publicKey = { algorithm: r.text(), blob: r.bytes_().slice(), signed: r.bool() };
          if (r.bool()) event.publicKey.certificate = decodeCertificate(r);
        }
        else if (method === 'keyboard-interactive') {
          event.submethods = r.text();
          const n = r.u32();
          if (n !== 0xffffffff) event.responses = Array.from({ length: n }, () => r.text());
        }
        events.push(event);
        break;
      }
      case 6:
        events.push({ type: 'authenticated', conn, user: r.text(), method: r.text() });
        break;
      case 7:
        events.push({ type: 'channelOpenRequest', conn, channel: r.u32(), kind: r.name(), data: r.bytes_().slice() });
        break;
      case 8: {
        const channel = r.u32();
        const wantReply = r.bool();
        events.push({ type: 'channelRequest', conn, channel, wantReply, request: decodeRequest(r.text(), r) });
        break;
      }
      case 9:
        // A view into the drained record buffer, which wasm-bindgen already copied out of wasm memory.
        events.push({ type: 'channelData', conn, channel: r.u32(), stream: r.u32(), data: r.bytes_() });
        break;
      case 10:
        events.push({ type: 'channelEof', conn, channel: r.u32() });
        break;
      case 11:
        events.push({ type: 'channelClosed', conn, channel: r.u32() });
        break;
      case 12:
        events.push({ type: 'channelReadyToSend', conn, channel: r.u32() });
        break;
      case 13:
        events.push({ type: 'disconnected', conn, reason: r.u32(), description: r.text(), byPeer: r.bool() });
        break;
      case 14:
        events.push({ type: 'globalRequest', conn, name: r.text(), wantReply: r.bool(), data: r.bytes_().slice() });
        break;
      case 15:
        events.push({ type: 'channelOpenConfirmed', conn, channel: r.u32() });
        break;
      case 16:
        events.push({ type: 'channelOpenFailed', conn, channel: r.u32(), reason: r.u32(), description: r.text() });
        break;
      default:
        throw new Error(`wasshd: unknown core event record ${tag}: the wasm module and the TypeScript host are out of step`);
    }
  }
  return events;
}

function decodeRequest(name: string, r: RecordReader): ChannelRequestInfo {
  switch (name) {
    case 'pty-req':
      return { type: 'pty-req', term: r.text(), cols: r.u32(), rows: r.u32(), widthPx: r.u32(), heightPx: r.u32(), modes: r.bytes_().slice() };
    case 'env':
      return { type: 'env', name: r.text(), value: r.text() };
    case 'shell':
      return { type: 'shell' };
    case 'exec': {
      const commandBytes = r.bytes_().slice();
      return { type: 'exec', command: utf8.decode(commandBytes), commandBytes };
    }
    case 'subsystem':
      return { type: 'subsystem', name: r.text() };
    case 'window-change':
      return { type: 'window-change', cols: r.u32(), rows: r.u32(), widthPx: r.u32(), heightPx: r.u32() };
    case 'signal':
      return { type: 'signal', name: r.text() };
    default:
      return { type: 'other', name, data: r.bytes_().slice() };
  }
}
