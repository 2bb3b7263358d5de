/** WebSocket clients for the runtimes' SSH endpoints (the `ws` package), and ssh2 running over one. */

import ssh2, { type ConnectConfig } from 'ssh2';
import WebSocket, { createWebSocketStream, type ClientOptions } from 'ws';
import type { Ssh2Client } from './ssh2.js';

/**
 * Resolves once the WebSocket is open; rejects with `HTTP STATUS` (and `status`) if the server answers the
 * upgrade with anything else. `listen` runs before the socket opens, for a test that reads what the server
 * sends at once (it may come in the same read as the answer to the upgrade).
 */
export function openWebSocket(url: string, options: ClientOptions = {}, listen?: (ws: WebSocket) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    listen?.(ws);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_request, response) => {
      reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode }));
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/** The HTTP status with which the endpoint refuses to upgrade. */
export async function refusedStatus(url: string, options: ClientOptions = {}): Promise<number> {
  try {
    (await openWebSocket(url, options)).terminate();
  } catch (e) {
    const status = (e as { status?: number }).status;
    if (status !== undefined) return status;
    throw e;
  }
  throw new Error(`${url} upgraded a request it should have refused`);
}

/** Resolves with the close code and reason once the connection has closed. */
export function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/**
 * The ssh2 client over a new WebSocket to `url`: the SSH byte stream in binary messages. The stream is made
 * at once, before the socket opens: a server that sends its version as soon as it accepts can have that
 * message arrive in the same read as the upgrade's response, and a message with no listener yet is lost.
 */
export function sshOverWebSocket(url: string, config: Partial<ConnectConfig>, options: ClientOptions = {}): Promise<{ client: Ssh2Client; ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const sock = createWebSocketStream(ws);
    // The stream ends its readable side only when the server closes; the client hears of the close from this.
    ws.once('close', () => sock.destroy());
    ws.once('unexpected-response', (_request, response) => {
      reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode }));
      ws.terminate();
    });
    const c = new ssh2.Client();
    c.on('ready', () => resolve({ client: c, ws }));
    c.on('error', reject);
    c.on('close', () => ws.terminate());
    c.connect({ sock, readyTimeout: 20_000, ...config });
  });
}
