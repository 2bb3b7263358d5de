/**
 * Decodes the client core's event record stream (`ClientCore.drain_events`, encoded in
 * `wasm/boundary/src/client.rs`): a tag byte, then the fields in SSH wire types; a client is one connection,
 * so no connection id.
 */

import { RecordReader } from '../core/events.js';

export type ClientCoreEvent =
  | { type: 'log'; level: number; message: string }
  | { type: 'serverVersion'; version: string }
  | { type: 'keysExchanged'; kex: string; hostKey: string; cipherIn: string; cipherOut: string; macIn: string; macOut: string; strict: boolean; initial: boolean }
  | { type: 'hostKey'; algorithm: string; key: Uint8Array; fingerprint: string }
  | { type: 'banner'; message: string }
  | { type: 'authFailure'; methods: string[]; partialSuccess: boolean }
  | { type: 'authPrompt'; name: string; instruction: string; prompts: { prompt: string; echo: boolean }[] }
  | { type: 'authenticated' }
  | { type: 'channelOpened'; channel: number }
  | { type: 'channelOpenFailed'; channel: number; reason: number; description: string }
  | { type: 'channelRequestReply'; channel: number; request: string; success: boolean }
  | { type: 'channelData'; channel: number; stream: number; data: Uint8Array }
  | { type: 'channelEof'; channel: number }
  | { type: 'channelClosed'; channel: number }
  | { type: 'channelReadyToSend'; channel: number }
  | { type: 'exitStatus'; channel: number; status: number }
  | { type: 'exitSignal'; channel: number; signal: string; coreDumped: boolean; message: string }
  | { type: 'disconnected'; reason: number; description: string; byPeer: boolean };

/** Record tags in the order of `wasshd_boundary::client::tag`, from 1. */
const TAGS = [
  'log',
  'serverVersion',
  'keysExchanged',
  'hostKey',
  'banner',
  'authFailure',
  'authPrompt',
  'authenticated',
  'channelOpened',
  'channelOpenFailed',
  'channelRequestReply',
  'channelData',
  'channelEof',
  'channelClosed',
  'channelReadyToSend',
  'exitStatus',
  'exitSignal',
  'disconnected',
] as const satisfies readonly ClientCoreEvent['type'][];

export function decodeClientEvents(records: Uint8Array): ClientCoreEvent[] {
  const r = new RecordReader(records);
  const events: ClientCoreEvent[] = [];
  while (r.more()) {
    const tag = r.u8();
    const type = TAGS[tag - 1];
    if (type === undefined) throw new Error(`wasshd: unknown client event record ${tag}: the wasm module and the TypeScript host are out of step`);
    events.push(decodeFields(type, r));
  }
  return events;
}

function decodeFields(type: (typeof TAGS)[number], r: RecordReader): ClientCoreEvent {
  switch (type) {
    case 'log':
      return { type, level: r.u8(), message: r.text() };
    case 'serverVersion':
      return { type, version: r.text() };
    case 'keysExchanged':
      return { type, kex: r.text(), hostKey: r.text(), cipherIn: r.text(), cipherOut: r.text(), macIn: r.text(), macOut: r.text(), strict: r.bool(), initial: r.bool() };
    case 'hostKey':
      return { type, algorithm: r.text(), key: r.bytes_().slice(), fingerprint: r.text() };
    case 'banner':
      return { type, message: r.text() };
    case 'authFailure': {
      const list = r.text();
      return { type, methods: list === '' ? [] : list.split(','), partialSuccess: r.bool() };
    }
    case 'authPrompt': {
      const name = r.text();
      const instruction = r.text();
      const prompts = Array.from({ length: r.u32() }, () => ({ prompt: r.text(), echo: r.bool() }));
      return { type, name, instruction, prompts };
    }
    case 'authenticated':
      return { type };
    case 'channelOpenFailed':
      return { type, channel: r.u32(), reason: r.u32(), description: r.text() };
    case 'channelRequestReply':
      return { type, channel: r.u32(), request: r.text(), success: r.bool() };
    case 'channelData':
      // A view into the drained records, which the glue already copied out of wasm memory.
      return { type, channel: r.u32(), stream: r.u32(), data: r.bytes_() };
    case 'channelOpened':
    case 'channelEof':
    case 'channelClosed':
    case 'channelReadyToSend':
      return { type, channel: r.u32() };
    case 'exitStatus':
      return { type, channel: r.u32(), status: r.u32() };
    case 'exitSignal':
      return { type, channel: r.u32(), signal: r.text(), coreDumped: r.bool(), message: r.text() };
    case 'disconnected':
      return { type, reason: r.u32(), description: r.text(), byPeer: r.bool() };
  }
}
