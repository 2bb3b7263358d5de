/**
 * RFC 4253 §4.2 lets only the server send lines before its version: a client whose first line is not an
 * SSH version (an HTTP request, a TLS hello from a port scanner) is answered `Invalid SSH identification
 * string.` and its socket closed at once, as OpenSSH's sshd does, rather than held until the login grace
 * time runs out (a cheap way to fill MaxStartups).
 */

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHServer, type DisconnectedEvent } from '../../ts/node/index.js';

const GRACE_S = 20;
const server = new SSHServer({ localPort: 0, defaultTimeout: GRACE_S, config: { PerSourcePenaltyExemptList: '127.0.0.1' } });
server.generateHostKey();
let disconnected: (e: DisconnectedEvent) => void = () => {};
server.on('disconnected', (e) => disconnected(e));

let port = 0;
beforeAll(async () => {
  port = (await server.startListening()).port;
});
afterAll(() => server.shutdown(500));

/** Sends `bytes` on a fresh socket; resolves with everything received and how long the server took to close. */
function probe(bytes: string | Buffer): Promise<{ received: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1' });
    let sent = 0;
    socket.on('connect', () => {
      sent = performance.now();
      socket.write(bytes);
    });
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => resolve({ received: Buffer.concat(chunks), ms: performance.now() - sent }));
  });
}

describe('a first line that is not an SSH version', () => {
  it.each([
    ['an HTTP request', 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'],
    ['a TLS client hello, with no line end', Buffer.from('16030100a5010000a10303', 'hex')],
  ])('is answered "Invalid SSH identification string." and closed at once: %s', async (_, bytes) => {
    const ended = new Promise<DisconnectedEvent>((resolve) => (disconnected = resolve));
    const { received, ms } = await probe(bytes);
    const text = received.toString('latin1');
    expect(text.startsWith('SSH-2.0-'), 'our version line comes first').toBe(true);
    expect(text.endsWith('Invalid SSH identification string.\r\n'), text.slice(-60)).toBe(true);
    expect(ms, `closed after ${ms.toFixed(0)} ms, long before the ${GRACE_S} s login grace time`).toBeLessThan((GRACE_S * 1000) / 4);
    expect((await ended).statusCode).toBe(2);
  });
});
