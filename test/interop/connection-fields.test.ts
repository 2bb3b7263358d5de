/**
 * The reference's Connections and Channels fields (a connection's negotiated algorithms, bytes each way and
 * idle time; a channel's bytes each way) as an OpenSSH session leaves them, and its channel framing
 * (ChangeRecordLength, ChannelEOL with MaxChannelLength) on what OpenSSH sends.
 */

import { expect, it } from 'vitest';
import { SSHServer, type SSHChannel, type SSHConnection } from '../../ts/node/index.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { run, SSH_BASE, testData } from '../helpers/demo.js';

const { servers } = closeAfterEach();

it('report the negotiated algorithms, the bytes each way and the idle time', async () => {
  const server = new SSHServer({ localPort: 0 });
  servers.push(server);
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === 'pw' ? e.accept() : e.reject()));
  let seen: { conn: SSHConnection; channel: SSHChannel; idle: number; bytesReceived: number; bytesSent: number } | undefined;
  const reply = new Uint8Array(300_000).fill(7);
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    await server.sendChannelData(e.connectionId, e.channelId, reply);
  });
  server.on('channelEOF', async (e) => {
    const conn = server.connections.get(e.connectionId)!;
    const channel = server.channels.find((c) => c.connectionId === e.connectionId && c.channelId === e.channelId)!;
    await new Promise((r) => setTimeout(r, 150));
    seen = { conn, channel, idle: conn.idleMs, bytesReceived: channel.bytesReceived, bytesSent: channel.bytesSent };
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  const { port } = await server.startListening();
  const input = testData(200_000, 5);

  const r = await run('sshpass', ['-p', 'pw', 'ssh', ...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-c', 'aes128-ctr', '-m', 'hmac-sha2-256-etm@openssh.com', '-p', String(port), 'u@127.0.0.1', 'x'], input);

  expect(r.code).toBe(0);
  expect(r.stdout.length).toBe(reply.length);
  const { conn, channel, idle, bytesReceived, bytesSent } = seen!;
  expect(conn.algorithms).toEqual({
    kex: 'sntrup761x25519-sha512',
    hostKey: 'ssh-ed25519',
    cipherIn: 'aes128-ctr',
    cipherOut: 'aes128-ctr',
    macIn: 'hmac-sha2-256-etm@openssh.com',
    macOut: 'hmac-sha2-256-etm@openssh.com',
  });
  expect([channel.service, bytesReceived, bytesSent]).toEqual(['session', input.length, reply.length]);
  // The packets carry more than the data.
  expect(conn.bytesReceived).toBeGreaterThan(input.length);
  expect(conn.bytesSent).toBeGreaterThan(reply.length);
  expect(idle).toBeGreaterThanOrEqual(100);
  expect(idle).toBeLessThan(5_000);
});

it('changeRecordLength and setChannelEOL cut what OpenSSH sends into records and lines, switched inside channelDataIn', async () => {
  const server = new SSHServer({ localPort: 0 });
  servers.push(server);
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === 'pw' ? e.accept() : e.reject()));
  const pieces: [string, boolean | undefined][] = [];
  server.on('channelRequested', (e) => {
    if (e.request.type === 'exec') server.changeRecordLength(e.connectionId, e.channelId, 5);
  });
  server.on('channelDataIn', (e) => {
    pieces.push([new TextDecoder().decode(e.data), e.eolFound]);
    // After the first record, lines.
    if (pieces.length === 1) server.setChannelEOL(e.connectionId, e.channelId, '\n', 8);
  });
  server.on('channelEOF', async (e) => {
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  const { port } = await server.startListening();

  const r = await run('sshpass', ['-p', 'pw', 'ssh', ...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-p', String(port), 'u@127.0.0.1', 'x'], Buffer.from('HEAD:first\nsecond line\nend'));

  expect(r.code).toBe(0);
  expect(pieces).toEqual([
    ['HEAD:', undefined],
    ['first', true],
    ['second l', false],
    ['ine', true],
    ['end', false],
  ]);
});
