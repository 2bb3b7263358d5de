/**
 * ReadyToSend with Debian's OpenSSH client reading slowly (its output piped to a reader that sleeps first):
 * a large send fills the client's 2 MiB window and waits; the channel's `readyToSend` is false meanwhile,
 * `channelReadyToSend` fires as the client's window reopens, and once everything is taken the channel is
 * ready again.
 */

import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { SSHServer } from '../../ts/node/index.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { requirePrograms, SSH_BASE } from '../helpers/demo.js';

const { servers } = closeAfterEach();
const SIZE = 8 * 1024 * 1024;

it('holds readyToSend false through a window stall, fires channelReadyToSend as the slow client reads, and is ready again after', async () => {
  requirePrograms('ssh', 'sshpass');
  const server = new SSHServer({ localPort: 0 });
  servers.push(server);
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.password === 'pw' ? e.accept() : e.reject()));
  const channel = () => server.channels[0]!;
  let readyEvents = 0;
  let readyDuringStall: boolean | undefined;
  let eventsDuringStall: number | undefined;
  let readyAfter: boolean | undefined;
  server.on('channelReadyToSend', () => void readyEvents++);
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    const sending = server.sendChannelData(e.connectionId, e.channelId, new Uint8Array(SIZE).fill(1));
    // The reader sleeps 2 s before reading anything: by then the window has long run dry.
    await new Promise((r) => setTimeout(r, 1000));
    readyDuringStall = channel().readyToSend;
    eventsDuringStall = readyEvents;
    await sending;
    readyAfter = channel().readyToSend;
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  const { port } = await server.startListening();

  const ssh = ['sshpass', '-p', 'pw', 'ssh', ...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-p', String(port), 'u@127.0.0.1', 'download'].map((a) => `'${a}'`).join(' ');
  const child = spawn('sh', ['-c', `${ssh} | (sleep 2; wc -c)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise((resolve) => child.on('close', resolve));

  expect([code, Number(out.trim())]).toEqual([0, SIZE]);
  expect([readyDuringStall, eventsDuringStall]).toEqual([false, 0]);
  expect(readyEvents).toBeGreaterThanOrEqual(1);
  expect(readyAfter).toBe(true);
});
