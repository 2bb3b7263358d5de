#!/usr/bin/env node
/**
 * wasshd-ws-proxy: OpenSSH's ProxyCommand for SSH over WebSocket. Standard input goes to the endpoint in binary
 * messages and the endpoint's messages to standard output, with backpressure both ways, so that
 *
 *   ssh -o ProxyCommand='npx wasshd-ws-proxy ws://HOST:PORT/ssh' user@host
 *
 * reaches any wasshd WebSocket endpoint (Node, Deno, Bun, workerd). On the `ws` package, so it runs on Node 20,
 * which has no WebSocket client of its own. Exits 0 when the endpoint closes normally or standard input ends,
 * 1 when the endpoint cannot be reached, refuses the upgrade or closes abnormally, 2 on a bad command line.
 */

import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { sendReads, writeMessages } from './ws-streams.js';

const USAGE = `usage: wasshd-ws-proxy [--origin ORIGIN] ws://HOST:PORT/PATH
  Carries standard input and output over a WebSocket to a wasshd endpoint, for OpenSSH:
    ssh -o ProxyCommand='npx wasshd-ws-proxy ws://HOST:PORT/ssh' user@host
  --origin ORIGIN   send this Origin header (for endpoints with an allow-list)`;

function fail(message: string, code = 1): never {
  process.stderr.write(`wasshd-ws-proxy: ${message}\n`);
  process.exit(code);
}

function commandLine() {
  try {
    return parseArgs({ options: { origin: { type: 'string' }, help: { type: 'boolean' } }, allowPositionals: true });
  } catch (e) {
    return fail(`${(e as Error).message}\n${USAGE}`, 2);
  }
}
const args = commandLine();
if (args.values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const url = args.positionals[0];
if (args.positionals.length !== 1 || !url || !/^wss?:\/\//.test(url)) fail(`want one ws:// or wss:// URL\n${USAGE}`, 2);

const ws = new WebSocket(url, { perMessageDeflate: false, ...(args.values.origin ? { origin: args.values.origin } : {}) });
const stdin = process.stdin;
const stdout = process.stdout;

let finished = false;
/** Ends the process, once what was written to standard output is flushed; the first reason given is the one. */
function finish(code: number, message?: string): void {
  if (finished) return;
  finished = true;
  if (message) process.stderr.write(`wasshd-ws-proxy: ${message}\n`);
  process.exitCode = code;
  stdin.destroy();
  if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
}

ws.on('unexpected-response', (request, response) => {
  request.destroy();
  finish(1, `${url}: the endpoint refused the WebSocket upgrade: HTTP ${response.statusCode} ${response.statusMessage ?? ''}`.trimEnd());
});

ws.on('error', (e) => finish(1, `${url}: ${e.message}`));

ws.on('open', () => {
  sendReads(stdin, ws);
  // The client is done (ssh closes its end when the session ends): a close frame after what is queued.
  stdin.on('end', () => ws.close(1000));
});

// While the client does not read, neither does the bridge read the endpoint.
writeMessages(ws, stdout, () => {
  ws.close(1003, 'binary messages only');
  finish(1, `${url}: the endpoint sent a text message; SSH over WebSocket is binary only`);
});

ws.on('close', (code, reason) => {
  if (code === 1000 || code === 1005) return finish(0);
  const why = code === 1006 ? 'the connection was lost without a close frame (1006)' : `${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}`;
  finish(1, `${url}: the endpoint closed the connection: ${why}`);
});

// The client went away: nothing more to carry.
stdout.on('error', () => finish(0));
