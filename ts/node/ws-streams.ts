/**
 * A byte stream carried over a `ws` WebSocket in binary messages, with backpressure each way: what the
 * ProxyCommand bridge (ws-proxy.ts) and the relay for a browser tab (ws-relay.ts) both do.
 */

import type { Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';

/** Bytes sent and not yet handed to the WebSocket's socket before the input is paused. */
const HIGH_WATER_MARK = 1024 * 1024;

/** Sends what `input` reads to `ws`, one binary message a read; `input` waits while 1 MiB is unsent. */
export function sendReads(input: Readable, ws: WebSocket): void {
  let unsent = 0;
  input.on('data', (chunk: Buffer) => {
    unsent += chunk.length;
    ws.send(chunk, { binary: true }, () => {
      unsent -= chunk.length;
      if (unsent < HIGH_WATER_MARK / 2 && input.isPaused()) input.resume();
    });
    if (unsent >= HIGH_WATER_MARK) input.pause();
  });
}

/**
 * Writes the binary messages of `ws` to `output`; while `output` is full, `ws` is not read (its peer's sends
 * wait in its own buffers). A text message goes to `onText` instead.
 */
export function writeMessages(ws: WebSocket, output: Writable, onText: () => void): void {
  let waiting = false;
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) return onText();
    if (output.write(data) || waiting) return;
    waiting = true;
    ws.pause();
    output.once('drain', () => {
      waiting = false;
      ws.resume();
    });
  });
}
