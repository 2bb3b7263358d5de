/**
 * The tab's side of `wasshd-ws-relay` (the protocol is in ts/relay-protocol.ts): keeps one WebSocket to the
 * relay waiting for an SSH client; when the relay pairs it with one, hands it to the server as that client's
 * connection and opens the next. A relay that cannot be reached, or that closes the waiting WebSocket, is
 * tried again after a wait that doubles up to 30 s.
 */

import { parsePairing } from '../relay-protocol.js';
import type { TransportAcceptor } from '../transport.js';
import { CloseCode } from '../websocket-gate.js';
import { WebSocketTransport } from '../websocket-transport.js';

/** `serveRelay`'s options. */
export interface RelayOptions {
  /** Largest message accepted from the relay; a larger one closes that connection (1009). Default 1 MiB. */
  maxMessageBytes?: number;
  /** The first wait, in milliseconds, before trying the relay again; it doubles up to 30 s. Default 1000. */
  retryMs?: number;
  /** Told each time a waiting WebSocket fails (the relay unreachable, refusing, gone); trying goes on. */
  onError?: (error: Error) => void;
}

/** A relay being served by `serveRelay`. */
export interface ServedRelay {
  /** Stops waiting for clients (the waiting WebSocket is closed); connections already paired go on. */
  close(): void;
}

const MAX_RETRY_MS = 30_000;

/** Serves the SSH clients `wasshd-ws-relay` at `url` (`wss://relay.example/tab`) pairs with this tab. */
export function serveRelay(server: TransportAcceptor, url: string | URL, options: RelayOptions = {}): ServedRelay {
  const firstRetry = options.retryMs ?? 1000;
  let retry = firstRetry;
  let stopped = false;
  let waiting: WebSocket | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const failed = (error: Error) => {
    waiting = undefined;
    if (stopped) return;
    options.onError?.(error);
    timer = setTimeout(wait, retry);
    retry = Math.min(retry * 2, MAX_RETRY_MS);
  };

  function wait(): void {
    const ws = new WebSocket(url);
    waiting = ws;
    ws.binaryType = 'arraybuffer';
    const opened = () => (retry = firstRetry);
    const closed = (e: CloseEvent) => failed(new Error(`the relay at ${url} closed the waiting WebSocket (${e.code}${e.reason ? ` ${e.reason}` : ''})`));
    const paired = (e: MessageEvent) => {
      ws.removeEventListener('message', paired);
      ws.removeEventListener('close', closed);
      const client = typeof e.data === 'string' ? parsePairing(e.data) : undefined;
      if (!client) {
        ws.close(CloseCode.ProtocolError, 'expected a pairing notice');
        return failed(new Error(`the relay at ${url} sent something other than a pairing notice`));
      }
      waiting = undefined;
      const transport = new WebSocketTransport(ws, {
        remoteAddress: client.address,
        remotePort: client.port,
        ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
      });
      void server.accept(transport);
      if (!stopped) wait();
    };
    ws.addEventListener('open', opened);
    ws.addEventListener('message', paired);
    ws.addEventListener('close', closed);
  }

  wait();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      waiting?.close(CloseCode.Normal);
    },
  };
}
