/** SSH clients over a WebSocket endpoint: the `ssh2` client on the `ws` package's stream, as a browser bridge would carry it. */

import ssh2, { type ConnectConfig } from 'ssh2';
import WebSocket, { createWebSocketStream, type ClientOptions } from 'ws';
import type { Ssh2Client } from './ssh2.js';

const { Client } = ssh2;

/**
 * Opens a WebSocket; rejects with the HTTP status if the server answers the upgrade with anything else.
 * `listen` runs before the socket opens, for a test that reads what the server sends at once.
 */
export function openWebSocket(url: string, options: ClientOptions = {}, listen?: (ws: WebSocket) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    listen?.(ws);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/** Resolves with the close code and reason the server sent. */
export function closedWith(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Logs in with ssh2 over a WebSocket to `url` (binary messages carry the SSH byte stream). */
export function connectOverWebSocket(url: string, config: Partial<ConnectConfig>, options: ClientOptions = {}): Promise<Ssh2Client> {
  const ws = new WebSocket(url, options);
  // The stream listens from the start: the server's version line may arrive with its answer to the upgrade.
  const sock = createWebSocketStream(ws);
  // The stream only ends its readable side when the server closes; the client hears of the close from this.
  ws.once('close', () => sock.destroy());
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${res.statusCode}`));
      ws.terminate();
    });
    const c = new Client();
    c.on('ready', () => resolve(c));
    c.on('error', reject);
    c.on('close', () => ws.terminate());
    c.connect({ sock, readyTimeout: 20_000, ...config });
  });
}
