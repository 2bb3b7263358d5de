#!/usr/bin/env node
/**
 * wasshd-ws-relay: lets SSH clients reach a wasshd server running in a browser tab, which can accept no
 * connections itself. The relay listens on TCP for SSH clients and on WebSocket for the tab, which keeps one
 * WebSocket waiting (`serveRelay` in wasshd's browser entry). Each SSH client takes one waiting WebSocket: the
 * relay tells the tab who the client is (ts/relay-protocol.ts), then carries the SSH byte stream both ways in
 * binary messages, with backpressure both ways. It sees only encrypted bytes; the tab's host key is what an
 * SSH client must check.
 *
 *   npx wasshd-ws-relay --origin https://support.example --ssh-port 2222 --ws-port 8022
 *
 * Bounds: only pages from the `--origin`s may connect (a request without an Origin header is refused too: only
 * browser tabs are expected); at most `--max-waiting` WebSockets wait at once (more are answered 503); at most
 * `--max-clients` SSH clients are served or waiting at once (more are dropped); a client waits at most
 * `--wait` seconds for a WebSocket; a message over 1 MiB closes its connection (1009), and so does a text
 * message once paired (1003) or anything a WebSocket sends before it is paired (1008).
 */

import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';
import { pairingNotice } from '../relay-protocol.js';
import { CloseCode, DEFAULT_MAX_MESSAGE_BYTES } from '../websocket-gate.js';
import { sendReads, writeMessages } from './ws-streams.js';

const USAGE = `usage: wasshd-ws-relay --origin ORIGIN [--origin ORIGIN...] [options]
  Pairs SSH clients (TCP) with WebSockets a browser tab running a wasshd server opens (serveRelay).
  --origin ORIGIN       the page's origin, e.g. https://support.example (required; repeat for more)
  --host HOST           address to listen on (default 127.0.0.1)
  --ssh-port PORT       TCP port for SSH clients (default 2222; 0 picks one)
  --ws-port PORT        WebSocket port for the tab (default 8022; 0 picks one)
  --path PATH           the WebSocket endpoint's path (default /tab)
  --max-waiting N       WebSockets waiting for a client at once (default 8)
  --max-clients N       SSH clients served or waiting at once (default 64)
  --wait SECONDS        how long a client waits for a WebSocket (default 10)`;

function fail(message: string): never {
  process.stderr.write(`wasshd-ws-relay: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function commandLine() {
  try {
    return parseArgs({
      options: {
        origin: { type: 'string', multiple: true },
        host: { type: 'string', default: '127.0.0.1' },
        'ssh-port': { type: 'string', default: '2222' },
        'ws-port': { type: 'string', default: '8022' },
        path: { type: 'string', default: '/tab' },
        'max-waiting': { type: 'string', default: '8' },
        'max-clients': { type: 'string', default: '64' },
        wait: { type: 'string', default: '10' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (e) {
    return fail((e as Error).message);
  }
}

function integer(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) fail(`--${name} wants a whole number from ${min} to ${max}`);
  return n;
}

const args = commandLine();
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const origins = args.origin ?? fail('--origin is required: the origin of the page that runs the server');
const sshPort = integer('ssh-port', args['ssh-port'], 0, 65535);
const wsPort = integer('ws-port', args['ws-port'], 0, 65535);
const maxWaiting = integer('max-waiting', args['max-waiting'], 1, 10_000);
const maxClients = integer('max-clients', args['max-clients'], 1, 100_000);
const waitMs = integer('wait', args.wait, 1, 3600) * 1000;

/** The tab's WebSockets waiting for a client, oldest first, each with what takes its waiting listeners off. */
const waiting: { ws: WebSocket; stopWaiting: () => void }[] = [];
/** SSH clients waiting for a WebSocket, first come first served, with the timer that gives up on each. */
const queued: { socket: Socket; timer: ReturnType<typeof setTimeout> }[] = [];
let clients = 0;

function tabArrived(ws: WebSocket): void {
  ws.on('error', () => ws.terminate());
  const next = queued.shift();
  if (next) {
    clearTimeout(next.timer);
    return pair(next.socket, ws);
  }
  const unpaired = () => ws.close(CloseCode.PolicyViolation, 'nothing to carry before pairing');
  const entry = {
    ws,
    stopWaiting: () => {
      ws.off('message', unpaired);
      ws.off('close', leave);
    },
  };
  function leave(): void {
    waiting.splice(waiting.indexOf(entry), 1);
  }
  waiting.push(entry);
  ws.on('message', unpaired);
  ws.on('close', leave);
}

function clientArrived(socket: Socket): void {
  socket.on('error', () => socket.destroy());
  if (clients >= maxClients) return void socket.destroy();
  clients++;
  socket.once('close', () => clients--);
  const tab = waiting.shift();
  if (tab) {
    tab.stopWaiting();
    return pair(socket, tab.ws);
  }
  const entry = { socket, timer: setTimeout(() => socket.destroy(), waitMs) };
  queued.push(entry);
  socket.once('close', () => {
    clearTimeout(entry.timer);
    const i = queued.indexOf(entry);
    if (i >= 0) queued.splice(i, 1);
  });
}

function pair(socket: Socket, ws: WebSocket): void {
  ws.send(pairingNotice({ address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }));

  // While the client does not read, neither does the relay read the tab, whose sends then wait in the browser.
  writeMessages(ws, socket, () => {
    ws.close(CloseCode.UnsupportedData, 'binary messages only');
    socket.destroy();
  });
  ws.on('close', () => socket.end());
  ws.on('error', () => socket.destroy());

  sendReads(socket, ws);
  // The close frame follows what is queued.
  socket.on('end', () => ws.close(CloseCode.Normal));
  socket.on('close', () => ws.close(CloseCode.Normal));
  socket.on('error', () => ws.terminate());
  socket.setNoDelay(true);
  socket.resume();
}

function refuseUpgrade(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

const wss = new WebSocketServer({ noServer: true, maxPayload: DEFAULT_MAX_MESSAGE_BYTES, perMessageDeflate: false });
const web = createHttpServer((_request, response) => response.writeHead(426, { Upgrade: 'websocket' }).end('WebSocket only\n'));
web.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
  socket.on('error', () => socket.destroy());
  if (new URL(request.url ?? '/', 'http://relay').pathname !== args.path) return refuseUpgrade(socket, '404 Not Found');
  if (!origins.includes(request.headers.origin ?? '')) return refuseUpgrade(socket, '403 Forbidden');
  if (waiting.length >= maxWaiting) return refuseUpgrade(socket, '503 Service Unavailable');
  wss.handleUpgrade(request, socket, head, tabArrived);
});

// Paused until paired: what a client sends meanwhile waits in its socket.
const ssh = createTcpServer({ pauseOnConnect: true }, clientArrived);

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve) => {
    server.once('error', (e) => {
      process.stderr.write(`wasshd-ws-relay: cannot listen on ${args.host}:${port}: ${e.message}\n`);
      process.exit(1);
    });
    server.listen(port, args.host, () => resolve((server.address() as AddressInfo).port));
  });
}

const [boundSsh, boundWs] = [await listen(ssh, sshPort), await listen(web, wsPort)];
process.stdout.write(`listening on ${args.host}:${boundSsh}\nwebsocket on ${args.host}:${boundWs}${args.path}\n`);
