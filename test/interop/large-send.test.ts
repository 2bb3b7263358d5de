/**
 * One `sendChannelData` of a large buffer: the host hands the core a bounded piece per call, so the shared
 * wasm memory never holds the application's buffer (nor copies its rest again at every window refill).
 */

import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { SSHServer } from '../../ts/node/index.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { connect, exec } from '../helpers/ssh2.js';

const SIZE = 64 * 1024 * 1024;
const { servers, clients } = closeAfterEach();

it('sends 64 MiB given in one call byte-exact, without the wasm memory growing by more than 4 MiB', async () => {
  const server = new SSHServer({ localPort: 0 });
  servers.push(server);
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === 'pw' ? e.accept() : e.reject()));
  const payload = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i += 4096) payload[i] = (i / 4096) % 251;
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    await server.sendChannelData(e.connectionId, e.channelId, payload);
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  const { port } = await server.startListening();
  const client = await connect(port, { username: 'u', password: 'pw' });
  clients.push(client);
  const before = server.wasmMemoryBytes;

  const { stdout, code } = await exec(client, 'big');

  expect(code).toBe(0);
  expect(stdout.length).toBe(SIZE);
  expect(createHash('sha256').update(stdout).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
  expect(server.wasmMemoryBytes - before, 'growth of the wasm memory').toBeLessThan(4 * 1024 * 1024);
});
