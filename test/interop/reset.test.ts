/**
 * The reference's Reset with Debian's OpenSSH client: a server with host keys, host and core settings
 * changed and a session open is reset: the session is disconnected, listening stops, every setting reads
 * as on a new server, no host key is left; the event handlers stay, so with a new key it serves again.
 */

import { expect, it } from 'vitest';
import { ErrorCode, SSHServer } from '../../ts/node/index.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { run, SSH_BASE } from '../helpers/demo.js';

const { servers } = closeAfterEach();

/** Host settings and core settings, each changed below from its default. */
const CHANGED: Record<string, string> = {
  MaxConnections: '5',
  ConnectionBacklog: '100',
  AuthFailureDelay: '50',
  KeyboardInteractiveMessage: 'say the word',
  PerSourcePenalties: 'authfail:1s protocol:3s',
  PerSourcePenaltyExemptList: '127.0.0.1',
  SSHVersionPattern: '*OpenSSH*',
  AllowedClients: '127.0.0.1',
  BlockedClients: '10.0.0.0/8',
  TcpNoDelay: 'false',
  KeepAliveTime: '30000',
  UseIPv6: '2',
  MaxAuthAttempts: '2',
  SSHEncryptionAlgorithms: 'aes256-ctr',
  KeyRenegotiationInterval: '3600',
};

function ssh(port: number, command: string) {
  return run('sshpass', ['-p', 'pw', 'ssh', ...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-p', String(port), 'u@127.0.0.1', command]);
}

it('disconnects, stops listening and puts every setting and the host keys back to a new server’s, keeping the handlers', async () => {
  const defaults = Object.fromEntries(Object.keys(CHANGED).map((name) => [name, new SSHServer().config(name)]));
  const server = new SSHServer({ localHost: '::', localPort: 0 });
  servers.push(server);
  server.generateHostKey();
  for (const [name, value] of Object.entries(CHANGED)) server.config(`${name}=${value}`);
  for (const name of Object.keys(CHANGED)) expect(server.config(name), name).not.toBe(defaults[name]);
  server.on('userAuthRequest', (e) => (e.password === 'pw' ? e.accept() : e.reject()));
  const connected: number[] = [];
  server.on('connected', (e) => void connected.push(e.connectionId));
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec' || e.request.command === 'wait') return;
    await server.sendText(e.connectionId, e.channelId, 'served\n');
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  const { port } = await server.startListening();
  const waiting = ssh(port, 'wait');
  await expect.poll(() => server.channels.length).toBe(1);

  await server.reset();
  const ended = await waiting;
  expect(ended.code).toBe(255);
  expect(ended.stderr).toMatch(/server shutting down|Connection closed/);
  expect([server.listening, server.connections.size, server.hostPublicKeys]).toEqual([false, 0, []]);
  expect(Object.fromEntries(Object.keys(CHANGED).map((name) => [name, server.config(name)]))).toEqual(defaults);
  expect([server.localHost, server.localPort, server.connectionBacklog]).toEqual(['127.0.0.1', 22, 511]);
  await expect(server.startListening()).rejects.toMatchObject({ code: ErrorCode.NoHostKey });

  server.generateHostKey();
  server.localPort = 0;
  const again = await server.startListening();
  const r = await ssh(again.port, 'x');
  expect([r.code, r.stdout.toString()]).toEqual([0, 'served\n']);
  // Connection ids go on from before the reset.
  expect(connected).toHaveLength(2);
  expect(connected[1]).toBeGreaterThan(connected[0]!);
});
