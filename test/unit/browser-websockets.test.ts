/**
 * The standard-WebSocket transport (Deno's server sockets, a tab's client sockets) and the tab's side of the
 * relay (`serveRelay`), on a scripted WebSocket: what each does with every kind of message, early input,
 * write backpressure, pairing notices, and a relay that fails.
 */

import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { serveRelay } from '../../ts/browser/relay.js';
import { pairingNotice, parsePairing } from '../../ts/relay-protocol.js';
import type { Transport, TransportHandlers } from '../../ts/transport.js';
import { WebSocketTransport } from '../../ts/websocket-transport.js';

/** A WebSocket whose peer the test plays. */
class ScriptedSocket extends EventTarget {
  static readonly OPEN = 1;
  static made: ScriptedSocket[] = [];
  readyState = ScriptedSocket.OPEN;
  binaryType = 'blob';
  bufferedAmount = 0;
  closedWith: { code?: number; reason?: string } | undefined;
  constructor(readonly url = '') {
    super();
    ScriptedSocket.made.push(this);
  }
  send(data: Uint8Array): void {
    this.bufferedAmount += data.byteLength;
  }
  close(code?: number, reason?: string): void {
    this.closedWith ??= { code, reason };
    this.readyState = 3;
  }
  receive(data: ArrayBuffer | string): void {
    this.dispatchEvent(Object.assign(new Event('message'), { data }));
  }
  open(): void {
    this.dispatchEvent(new Event('open'));
  }
  closedByPeer(code: number): void {
    this.readyState = 3;
    this.dispatchEvent(Object.assign(new Event('close'), { code, reason: '' }));
  }
}

beforeEach(() => {
  ScriptedSocket.made = [];
  vi.stubGlobal('WebSocket', ScriptedSocket);
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill).buffer;
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function attached(transport: Transport) {
  // `closed` stays 'open' until the transport reports the end (with an error, or undefined).
  const seen: { data: number[]; drains: number; closed: Error | undefined | 'open' } = { data: [], drains: 0, closed: 'open' };
  const handlers: TransportHandlers = {
    data: (b) => seen.data.push(b.length),
    drain: () => seen.drains++,
    close: (e) => (seen.closed = e),
  };
  transport.attach(handlers);
  return seen;
}

function transportOn(socket: ScriptedSocket) {
  return new WebSocketTransport(socket as unknown as WebSocket, { remoteAddress: '192.0.2.1', remotePort: 5, maxMessageBytes: 1000 });
}

it('delivers what came before attach, in order, then the rest; the end after the data', async () => {
  const socket = new ScriptedSocket();
  const transport = transportOn(socket);
  expect(socket.binaryType).toBe('arraybuffer');
  socket.receive(bytes(3));
  socket.receive(bytes(4));
  const seen = attached(transport);
  socket.receive(bytes(5));
  expect(seen.data).toEqual([]);
  await tick();
  socket.receive(bytes(6));
  socket.closedByPeer(1000);
  await tick();
  expect(seen.data).toEqual([3, 4, 5, 6]);
  expect(seen.closed).toBeUndefined();
});

it('closes on a text message (1003) and on one over the maximum (1009), telling the server why', async () => {
  for (const [message, code] of [['hello', 1003], [bytes(1001), 1009]] as const) {
    const socket = new ScriptedSocket();
    const seen = attached(transportOn(socket));
    await tick();
    socket.receive(message);
    await tick();
    expect(socket.closedWith?.code).toBe(code);
    expect(seen.closed).toBeInstanceOf(Error);
  }
});

it('closes a peer that sends more than 320 KiB before the server takes the connection (1008)', () => {
  const socket = new ScriptedSocket();
  const transport = new WebSocketTransport(socket as unknown as WebSocket, { remoteAddress: 'x' });
  for (let i = 0; i < 320; i++) socket.receive(bytes(1024));
  expect(socket.closedWith).toBeUndefined();
  socket.receive(bytes(1));
  expect(socket.closedWith).toEqual({ code: 1008, reason: 'too much sent before the connection was admitted' });
  expect(transport.remotePort).toBe(0);
});

it('reports backpressure past 1 MiB buffered and drains once half of it has gone', async () => {
  const socket = new ScriptedSocket();
  const transport = transportOn(socket);
  const seen = attached(transport);
  expect(transport.write(new Uint8Array(1024 * 1024 - 1))).toBe(true);
  expect(transport.write(new Uint8Array(1))).toBe(false);
  socket.bufferedAmount = 600 * 1024;
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(seen.drains).toBe(0);
  socket.bufferedAmount = 512 * 1024;
  await vi.waitFor(() => expect(seen.drains).toBe(1));
});

it('parses the pairing notice it makes, and nothing else', () => {
  expect(parsePairing(pairingNotice({ address: '::ffff:127.0.0.1', port: 40000 }))).toEqual({ address: '::ffff:127.0.0.1', port: 40000 });
  for (const text of ['', 'hello', '{}', '{"client":{"address":1,"port":2}}', '{"client":{"address":"a","port":70000}}', `{"client":{"address":"${'a'.repeat(300)}","port":1}}`]) {
    expect(parsePairing(text), text).toBeUndefined();
  }
});

it('keeps one WebSocket waiting at the relay and hands each paired one to the server as that client', async () => {
  const accepted: Transport[] = [];
  serveRelay({ accept: async (t) => void accepted.push(t) }, 'ws://relay.test/tab');
  expect(ScriptedSocket.made.map((s) => s.url)).toEqual(['ws://relay.test/tab']);
  const [first] = ScriptedSocket.made as [ScriptedSocket];
  first.open();
  first.receive(pairingNotice({ address: '198.51.100.7', port: 2200 }));
  expect(accepted).toHaveLength(1);
  expect([accepted[0]!.remoteAddress, accepted[0]!.remotePort]).toEqual(['198.51.100.7', 2200]);
  // The next one waits for the next client.
  expect(ScriptedSocket.made).toHaveLength(2);
  // The client's bytes follow the notice on the same WebSocket.
  const seen = attached(accepted[0]!);
  await tick();
  first.receive(bytes(7));
  expect(seen.data).toEqual([7]);
});

it('tries a relay that fails again after a wait that doubles, and refuses what is not a pairing notice (1002)', () => {
  vi.useFakeTimers();
  const errors: string[] = [];
  const accepted: Transport[] = [];
  const relay = serveRelay({ accept: async (t) => void accepted.push(t) }, 'ws://relay.test/tab', { retryMs: 100, onError: (e) => errors.push(e.message) });
  ScriptedSocket.made[0]!.closedByPeer(1006);
  expect(errors).toEqual(['the relay at ws://relay.test/tab closed the waiting WebSocket (1006)']);
  vi.advanceTimersByTime(99);
  expect(ScriptedSocket.made).toHaveLength(1);
  vi.advanceTimersByTime(1);
  expect(ScriptedSocket.made).toHaveLength(2);
  ScriptedSocket.made[1]!.receive(bytes(3));
  expect(ScriptedSocket.made[1]!.closedWith).toEqual({ code: 1002, reason: 'expected a pairing notice' });
  expect(errors[1]).toBe('the relay at ws://relay.test/tab sent something other than a pairing notice');
  vi.advanceTimersByTime(199);
  expect(ScriptedSocket.made).toHaveLength(2);
  vi.advanceTimersByTime(1);
  expect(ScriptedSocket.made).toHaveLength(3);
  // Once a WebSocket opens, the wait starts over; close() ends the waiting one and opens no more.
  ScriptedSocket.made[2]!.open();
  ScriptedSocket.made[2]!.closedByPeer(1001);
  vi.advanceTimersByTime(100);
  expect(ScriptedSocket.made).toHaveLength(4);
  relay.close();
  expect(ScriptedSocket.made[3]!.closedWith).toEqual({ code: 1000, reason: undefined });
  ScriptedSocket.made[3]!.closedByPeer(1000);
  vi.advanceTimersByTime(60_000);
  expect(ScriptedSocket.made).toHaveLength(4);
  expect(accepted).toEqual([]);
});
