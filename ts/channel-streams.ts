/**
 * A channel as a pair of web streams (`ReadableStream`, `WritableStream`, which every runtime the host targets
 * has): what the client sends, ending at its EOF, and what goes to it, whose close sends EOF. The readable's
 * queue is the channel window's backpressure: once it holds `highWaterMark` bytes nobody has read, the window
 * stays shut until they are. A write resolves once the core has taken the bytes, as `sendChannelData` does.
 */

import type { ChannelSink } from './connection.js';

/** What the streams need of the server for one channel. */
export interface ChannelIO {
  send(data: Uint8Array): Promise<void>;
  sendEOF(): Promise<void>;
  close(): Promise<void>;
}

/** `channelStreams`' options. */
export interface ChannelStreamOptions {
  /** Bytes the readable holds unread before the window waits for its reader. Default 256 KiB. */
  highWaterMark?: number;
  /** Aborting closes the channel. */
  signal?: AbortSignal;
}

/** A channel as web streams. */
export interface ChannelStreams {
  /** What the client sends on the data stream; it closes at the client's EOF. */
  readable: ReadableStream<Uint8Array>;
  /** What goes to the client; closing it sends EOF, aborting it closes the channel. */
  writable: WritableStream<Uint8Array>;
}

const DEFAULT_HIGH_WATER_MARK = 256 * 1024;

/** The streams, and the sink that takes the channel's side of them. */
export function channelStreams(io: ChannelIO, options: ChannelStreamOptions = {}): ChannelStreams & { sink: ChannelSink } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let ended = false;
  /** Resolves a data handler that waits for the reader to make room. */
  let room: (() => void) | undefined;
  const end = (): void => {
    if (ended) return;
    ended = true;
    controller.close();
    room?.();
  };
  const readable = new ReadableStream<Uint8Array>(
    {
      start: (c) => void (controller = c),
      pull: () => {
        room?.();
        room = undefined;
      },
      cancel: () => {
        ended = true;
        room?.();
        return io.close();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK }),
  );
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => io.send(chunk),
    close: () => io.sendEOF(),
    abort: () => io.close(),
  });
  const sink: ChannelSink = {
    internal: false,
    data(bytes) {
      if (ended) return;
      controller.enqueue(bytes);
      if ((controller.desiredSize ?? 0) > 0) return;
      return new Promise<void>((resolve) => (room = resolve));
    },
    eof: end,
    closed: end,
  };
  options.signal?.addEventListener('abort', () => void io.close().catch(() => {}), { once: true });
  return { readable, writable, sink };
}
