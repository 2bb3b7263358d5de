/**
 * The channel as web streams, against a stand-in for the server: the readable's unread bytes hold up the data
 * handler (and so the channel window) past the high-water mark and release it as they are read; EOF and
 * close end the readable; writes, close and abort become sends, EOF and the channel's close.
 */

import { describe, expect, it } from 'vitest';
import { channelStreams, type ChannelIO } from '../../ts/channel-streams.js';

function fakeIO(): ChannelIO & { sent: Uint8Array[]; calls: string[] } {
  const sent: Uint8Array[] = [];
  const calls: string[] = [];
  return {
    sent,
    calls,
    send: async (data) => void sent.push(data),
    sendEOF: async () => void calls.push('eof'),
    close: async () => void calls.push('close'),
  };
}

const settled = (p: Promise<void> | void): Promise<boolean> =>
  Promise.race([Promise.resolve(p).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20))]);

describe('channel streams', () => {
  it('hold the data handler once highWaterMark bytes wait unread, and release it as they are read', async () => {
    const { readable, sink } = channelStreams(fakeIO(), { highWaterMark: 100 });
    expect(await settled(sink.data(new Uint8Array(60)))).toBe(true);
    const held = sink.data(new Uint8Array(60));
    expect(await settled(held), 'past the mark: the window waits').toBe(false);
    const reader = readable.getReader();
    expect((await reader.read()).value?.length).toBe(60);
    expect(await settled(held), 'read: room again').toBe(true);
  });

  it('end the readable at EOF, after the data, and at a close without EOF', async () => {
    const a = channelStreams(fakeIO());
    void a.sink.data(Uint8Array.of(1, 2));
    a.sink.eof();
    const chunks: number[] = [];
    const reader = a.readable.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(...r.value);
    expect(chunks).toEqual([1, 2]);

    const b = channelStreams(fakeIO());
    b.sink.closed();
    expect(await b.readable.getReader().read()).toEqual({ done: true, value: undefined });
  });

  it('send what is written, EOF on close, and close the channel on abort, cancel or the signal', async () => {
    const io = fakeIO();
    const { writable } = channelStreams(io);
    const writer = writable.getWriter();
    await writer.write(Uint8Array.of(7));
    await writer.close();
    expect(io.sent).toEqual([Uint8Array.of(7)]);
    expect(io.calls).toEqual(['eof']);

    const aborted = fakeIO();
    await channelStreams(aborted).writable.abort();
    const cancelled = fakeIO();
    await channelStreams(cancelled).readable.cancel();
    const signalled = fakeIO();
    const controller = new AbortController();
    channelStreams(signalled, { signal: controller.signal });
    controller.abort();
    await Promise.resolve();
    expect([aborted.calls, cancelled.calls, signalled.calls]).toEqual([['close'], ['close'], ['close']]);
  });
});
