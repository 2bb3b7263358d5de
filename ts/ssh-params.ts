/**
 * The reference's payload helpers: `setSSHParam` appends a field to a payload being built for
 * `sendSSHPacket`; `getSSHParam` and `getSSHParamBytes` read one out of a received payload, by the name of a
 * well-known channel request field or by a `%` list of field types. Field types, with the text a value is
 * given or read as: `s` a string (UTF-8 text), `sb` a string (hex), `m` an mpint (decimal), `i` a uint32, `l`
 * a uint64, `b` a byte, `f` a boolean (`true`/`false`); integers may be written in hex with `0x`.
 */

import type { ChannelRequestInfo } from './events.js';
import { ErrorCode, SSHError } from './errors.js';

/** A payload field's type, as the module comment lists them. */
export type SSHParamType = 's' | 'sb' | 'm' | 'i' | 'l' | 'b' | 'f';

const utf8 = new TextEncoder();

const invalid = (message: string) => new SSHError(ErrorCode.InvalidArgument, message);

/** A non-negative integer from decimal or `0x` hex text, below 2^`bits` if given. */
function integer(text: string, bits?: number): bigint {
  let n: bigint;
  try {
    n = BigInt(text.trim());
  } catch {
    throw invalid(`not an integer: ${text}`);
  }
  if (n < 0n || (bits !== undefined && n >= 1n << BigInt(bits))) throw invalid(`${text} does not fit ${bits ?? 'an unsigned'} bits`);
  return n;
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
}

function unhex(text: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw invalid(`not hex: ${text}`);
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function be(n: bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

function sshString(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  out.set(be(BigInt(bytes.length), 4));
  out.set(bytes, 4);
  return out;
}

/** RFC 4251 §5 mpint of a non-negative number: big-endian, with a zero byte when the top bit is set. */
function mpint(n: bigint): Uint8Array {
  if (n === 0n) return sshString(new Uint8Array(0));
  const digits = n.toString(16);
  const magnitude = unhex(digits.length % 2 ? `0${digits}` : digits);
  return sshString(magnitude[0]! & 0x80 ? Uint8Array.of(0, ...magnitude) : magnitude);
}

/** `payload` with one field appended. */
export function setSSHParam(payload: Uint8Array, fieldType: SSHParamType, fieldValue: string): Uint8Array {
  const field = ((): Uint8Array => {
    switch (fieldType) {
      case 's':
        return sshString(utf8.encode(fieldValue));
      case 'sb':
        return sshString(unhex(fieldValue));
      case 'm':
        return mpint(integer(fieldValue));
      case 'i':
        return be(integer(fieldValue, 32), 4);
      case 'l':
        return be(integer(fieldValue, 64), 8);
      case 'b':
        return be(integer(fieldValue, 8), 1);
      case 'f':
        if (fieldValue !== 'true' && fieldValue !== 'false') throw invalid(`not true or false: ${fieldValue}`);
        return Uint8Array.of(fieldValue === 'true' ? 1 : 0);
      default:
        throw invalid(`unknown field type ${String(fieldType)}`);
    }
  })();
  const out = new Uint8Array(payload.length + field.length);
  out.set(payload);
  out.set(field, payload.length);
  return out;
}

/** The fields of a channel request payload, in order, after its message type and by request type. */
const CHANNEL_REQUEST_HEAD: [string, SSHParamType][] = [
  ['ChannelId', 'i'],
  ['RequestType', 's'],
  ['WantsReply', 'f'],
];
const CHANNEL_REQUEST_FIELDS: Record<string, [string, SSHParamType][]> = {
  'pty-req': [
    ['TerminalType', 's'],
    ['TerminalWidthCharacters', 'i'],
    ['TerminalHeightRows', 'i'],
    ['TerminalWidthPixels', 'i'],
    ['TerminalHeightPixels', 'i'],
    ['TerminalModes', 'sb'],
  ],
  'x11-req': [
    ['SingleConnection', 'f'],
    ['X11AuthProtocol', 's'],
    ['X11AuthCookie', 's'],
    ['X11ScreenNumber', 'i'],
  ],
  env: [
    ['VariableName', 's'],
    ['VariableValue', 's'],
  ],
  exec: [['Command', 's']],
  subsystem: [['Subsystem', 's']],
  'xon-xoff': [['ClientCanDo', 'f']],
  signal: [['SignalName', 's']],
};

/** Reads fields of `types` in order; returns the last as raw bytes and its text. */
function readFields(payload: Uint8Array, types: SSHParamType[]): { bytes: Uint8Array; text: string } {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 0;
  let last: { bytes: Uint8Array; text: string } | undefined;
  const need = (n: number) => {
    if (at + n > payload.length) throw invalid('the payload ends before the field');
  };
  for (const type of types) {
    const start = at;
    switch (type) {
      case 's':
      case 'sb':
      case 'm': {
        need(4);
        const len = view.getUint32(at);
        need(4 + len);
        const body = payload.subarray(at + 4, at + 4 + len);
        at += 4 + len;
        const text = type === 's' ? new TextDecoder().decode(body) : type === 'sb' ? hex(body) : BigInt(len === 0 ? 0 : `0x${hex(body)}`).toString();
        last = { bytes: body, text };
        continue;
      }
      case 'i':
        need(4);
        at += 4;
        last = { bytes: payload.subarray(start, at), text: String(view.getUint32(start)) };
        continue;
      case 'l':
        need(8);
        at += 8;
        last = { bytes: payload.subarray(start, at), text: view.getBigUint64(start).toString() };
        continue;
      case 'b':
        need(1);
        at += 1;
        last = { bytes: payload.subarray(start, at), text: String(payload[start]) };
        continue;
      case 'f':
        need(1);
        at += 1;
        last = { bytes: payload.subarray(start, at), text: payload[start] ? 'true' : 'false' };
        continue;
      default:
        throw invalid(`unknown field type ${String(type)}`);
    }
  }
  if (!last) throw invalid('no field named');
  return last;
}

/** The field types up to `field`: a `%` list as given, or a well-known channel request field's place. */
function fieldPath(payload: Uint8Array, field: string): SSHParamType[] {
  if (field.startsWith('%')) return field.slice(1).split(',').map((t) => t.trim() as SSHParamType);
  const head = CHANNEL_REQUEST_HEAD.findIndex(([name]) => name === field);
  if (head >= 0) return CHANNEL_REQUEST_HEAD.slice(0, head + 1).map(([, t]) => t);
  const requestType = readFields(payload, ['i', 's']).text;
  const fields = CHANNEL_REQUEST_FIELDS[requestType] ?? [];
  const at = fields.findIndex(([name]) => name === field);
  if (at < 0) throw invalid(`no field ${field} in a ${requestType} request`);
  return [...CHANNEL_REQUEST_HEAD.map(([, t]) => t), ...fields.slice(0, at + 1).map(([, t]) => t)];
}

/**
 * A channel request as a payload the getters read (the reference hands such payloads to its events): the
 * channel, the request type and reply flag, then the request's own fields.
 */
export function channelRequestPayload(channelId: number, wantReply: boolean, request: ChannelRequestInfo): Uint8Array {
  let p = setSSHParam(setSSHParam(setSSHParam(new Uint8Array(0), 'i', String(channelId)), 's', request.type === 'other' ? request.name : request.type), 'f', String(wantReply));
  const add = (type: SSHParamType, value: string) => (p = setSSHParam(p, type, value));
  switch (request.type) {
    case 'pty-req':
      add('s', request.term);
      for (const n of [request.cols, request.rows, request.widthPx, request.heightPx]) add('i', String(n));
      add('sb', hex(request.modes));
      break;
    case 'env':
      add('s', request.name);
      add('s', request.value);
      break;
    case 'exec':
      add('sb', hex(request.commandBytes));
      break;
    case 'subsystem':
      add('s', request.name);
      break;
    case 'window-change':
      for (const n of [request.cols, request.rows, request.widthPx, request.heightPx]) add('i', String(n));
      break;
    case 'signal':
      add('s', request.name);
      break;
    case 'other': {
      const out = new Uint8Array(p.length + request.data.length);
      out.set(p);
      out.set(request.data, p.length);
      p = out;
      break;
    }
    case 'shell':
      break;
  }
  return p;
}

/** A field of a payload as text, encoded as `setSSHParam` takes it. */
export function getSSHParam(payload: Uint8Array, field: string): string {
  return readFields(payload, fieldPath(payload, field)).text;
}

/** A field of a payload as its raw bytes (a string's content, an integer's big-endian bytes). */
export function getSSHParamBytes(payload: Uint8Array, field: string): Uint8Array {
  return readFields(payload, fieldPath(payload, field)).bytes.slice();
}
