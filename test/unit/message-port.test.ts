/**
 * The MessagePort transport (ts/browser/message-port.ts) on Node's MessageChannel, which has the browser's
 * API: bytes in order each way, what arrives before attach, the end as a close on both sides, and a peer
 * that breaks the contract. A whole SSH session over it runs in Chromium (test/browser/worker.test.ts).
 */

import { expect, it } from 'vitest';
import { MessagePortTransport } from '../../ts/browser/message-port.js';
import type { TransportHandlers } from '../../ts/transport.js';
import { MAX_EARLY_BYTES } from '../../ts/websocket-gate.js';

/** Handlers that record what a transport reports. */
function recorder() {
  const got = { data: [] as number[][], closed: [] as (Error | undefined)[] };
  const handlers: TransportHandlers = { data: (bytes) => got.data.push([...bytes]), drain: () => {}, close: (error) => got.closed.push(error) };
  return { got, handlers };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

it('carries bytes each way in order, keeps what came before attach, and reports the end on both sides', async () => {
  const { port1, port2 } = new MessageChannel();
  const a = new MessagePortTransport(port1);
  const b = new MessagePortTransport(port2, { remoteAddress: 'worker' });
  expect(b.remoteAddress).toBe('worker');
  const first = Uint8Array.of(1, 2, 3);
  expect(a.write(first)).toBe(true);
  expect([...first]).toEqual([1, 2, 3]); // the caller's buffer stays usable: a copy went
  a.write(Uint8Array.of(4));
  await settle();
  const ra = recorder();
  const rb = recorder();
  a.attach(ra.handlers);
  b.attach(rb.handlers);
  b.write(Uint8Array.of(9));
  await settle();
  expect(rb.got.data).toEqual([[1, 2, 3], [4]]);
  expect(ra.got.data).toEqual([[9]]);
  a.end();
  await settle();
  expect(ra.got.closed).toEqual([undefined]);
  expect(rb.got.closed).toEqual([undefined]);
  b.write(Uint8Array.of(5)); // after the end: dropped, not thrown
});

it('ends the stream with an error for a peer that posts something other than bytes', async () => {
  const { port1, port2 } = new MessageChannel();
  const t = new MessagePortTransport(port1);
  const { got, handlers } = recorder();
  t.attach(handlers);
  const heard: unknown[] = [];
  port2.onmessage = (e) => heard.push(e.data);
  port2.postMessage('hello');
  await settle();
  expect(got.closed).toHaveLength(1);
  expect(got.closed[0]?.message).toMatch(/something other than bytes/);
  expect(heard).toEqual([null]); // the peer is told the stream ended
  port2.close();
});

it('ends the stream when a peer sends more than the early bound before attach', async () => {
  const { port1, port2 } = new MessageChannel();
  const t = new MessagePortTransport(port1);
  port2.onmessage = () => {};
  port2.postMessage(new Uint8Array(MAX_EARLY_BYTES));
  port2.postMessage(new Uint8Array(1));
  await settle();
  const { got, handlers } = recorder();
  t.attach(handlers);
  await settle();
  expect(got.closed[0]?.message).toMatch(/too much data/);
  expect(got.data).toEqual([]);
  port2.close();
});
