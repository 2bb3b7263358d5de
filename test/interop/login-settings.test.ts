/**
 * Per-connection settings of the login: SSHVersionPattern (a client whose version line matches none of the
 * patterns is disconnected with reason 8, protocol version not supported; the default takes SSH 2.0 and 1.99
 * clients) and UserAuthBanner[id] (a banner for one client, during its login).
 */

import { expect, it } from 'vitest';
import { SSHServer, type DisconnectedEvent } from '../../ts/node/index.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { connect, exec } from '../helpers/ssh2.js';
import { run, SSH_BASE } from '../helpers/demo.js';

const { servers, clients } = closeAfterEach();

async function serve(pattern?: string) {
  const server = new SSHServer({ localPort: 0 });
  servers.push(server);
  server.generateHostKey();
  if (pattern !== undefined) server.config(`SSHVersionPattern=${pattern}`);
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === 'pw' ? e.accept() : e.reject()));
  server.on('channelRequested', async (e) => {
    await server.sendChannelData(e.connectionId, e.channelId, 'ran\n');
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  const disconnects: DisconnectedEvent[] = [];
  server.on('disconnected', (e) => void disconnects.push(e));
  const { port } = await server.startListening();
  return { server, port, disconnects };
}

it('the default takes SSH 2.0 clients and reads back as the reference has it', async () => {
  const { server, port } = await serve();
  expect(server.config('SSHVersionPattern')).toBe('*SSH-1.99-*,*SSH-2.0-*');
  const c = await connect(port, { username: 'u', password: 'pw' });
  clients.push(c);
  expect((await exec(c, 'x')).stdout.toString()).toBe('ran\n');
});

it('a client whose version matches no pattern is disconnected with reason 8; one that matches logs in', async () => {
  const { port, disconnects } = await serve('*SSH-2.0-OpenSSH_*');
  await expect(connect(port, { username: 'u', password: 'pw', readyTimeout: 5000 })).rejects.toThrow();
  await expect.poll(() => disconnects.map((d) => d.statusCode)).toEqual([8]);

  const r = await run('sshpass', ['-p', 'pw', 'ssh', ...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-p', String(port), 'u@127.0.0.1', 'x']);
  expect(r.stdout.toString()).toBe('ran\n');
});

it('UserAuthBanner[id] set in a userAuthRequest handler reaches that client before the answer; after login it is refused', async () => {
  const server = new SSHServer({ localPort: 0 });
  servers.push(server);
  server.generateHostKey();
  let afterLogin: unknown;
  server.on('userAuthRequest', (e) => {
    if (e.authMethod !== 'password') return e.reject();
    server.config(`UserAuthBanner[${e.connectionId}]=Welcome, ${e.user}`);
    e.accept();
  });
  server.on('channelRequested', async (e) => {
    try {
      server.config(`UserAuthBanner[${e.connectionId}]=too late`);
    } catch (err) {
      afterLogin = err;
    }
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  const { port } = await server.startListening();
  const banners: string[] = [];
  const c = await connect(port, { username: 'alice', password: 'pw' }, (client) => client.on('banner', (m: string) => void banners.push(m)));
  clients.push(c);
  await exec(c, 'x');
  expect(banners).toEqual(['Welcome, alice']);
  expect((afterLogin as { code?: number } | undefined)?.code).toBe(128);
});
