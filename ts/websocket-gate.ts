/**
 * What the WebSocket endpoints share: what one answers before upgrading a request, for runtimes whose servers
 * hand it a standard `Request` (Deno, Bun, workerd): the contract's path and Origin checks (ts/transport.ts);
 * and the close codes, default message size and early-input bound of every endpoint.
 */

import type { StaticFile, WebSocketListenOptions } from './transport.js';

/** The headers a served file goes with: never sniffed as another type, and checked again before reuse. */
export function fileHeaders(file: StaticFile): Record<string, string> {
  return { 'content-type': file.type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
}

/** The file `files` holds for a GET or HEAD (upper or lower case) of `path`, if any. */
export function servedFile(options: Pick<WebSocketListenOptions, 'path' | 'files'>, method: string, path: string): StaticFile | undefined {
  const m = method.toUpperCase();
  return path !== options.path && (m === 'GET' || m === 'HEAD') ? options.files?.get(path) : undefined;
}

/**
 * The response refusing `request`, or undefined if it may be upgraded: a file of `files` on its path, 404 on
 * another path, 403 from an origin the allow-list does not name, 426 for a plain HTTP request. A request without
 * an `Origin` header does not come from a browser page (whose requests always carry one), so the list does not
 * apply to it: such a client can claim any origin anyway, and the SSH layer authenticates it like any other.
 */
export function upgradeRefusal(request: Request, options: Pick<WebSocketListenOptions, 'path' | 'allowedOrigins' | 'files'>): Response | undefined {
  const path = new URL(request.url).pathname;
  const file = servedFile(options, request.method, path);
  if (file) return new Response(request.method === 'HEAD' ? null : (file.body as Uint8Array<ArrayBuffer>), { headers: fileHeaders(file) });
  if (path !== options.path) return new Response('not found\n', { status: 404 });
  const origin = request.headers.get('origin');
  if (origin !== null && options.allowedOrigins && !options.allowedOrigins.includes(origin)) {
    return new Response('origin not allowed\n', { status: 403 });
  }
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    return new Response('this endpoint speaks SSH over WebSocket only\n', { status: 426, headers: { upgrade: 'websocket' } });
  }
  return undefined;
}

/** Close codes (RFC 6455 §7.4.1) the endpoints send. */
export const CloseCode = {
  Normal: 1000,
  /** The peer broke the protocol spoken over the WebSocket (a relay's pairing notice). */
  ProtocolError: 1002,
  /** A text message: the stream is binary only. */
  UnsupportedData: 1003,
  /** Too much sent before the server took the connection. */
  PolicyViolation: 1008,
  /** A message over the endpoint's maximum. */
  MessageTooBig: 1009,
  /** The server could not carry the stream on (a dropped send). */
  InternalError: 1011,
} as const;

/**
 * Bytes a client may send before the server has taken its connection (its `connectionRequest` handlers may
 * take a while): what the server itself lets an unauthenticated client have queued.
 */
export const MAX_EARLY_BYTES = 320 * 1024;

/** The default largest message: more than any SSH packet, and a socket read's worth of them. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
