/**
 * X11 and agent forwarding requests (RFC 4254 §6.3.1, OpenSSH's `auth-agent-req@openssh.com`) reach the host as
 * channel requests it may accept or refuse, refused by default; with the `ssh2` client, which sends them
 * before its `exec`.
 */

import { expect, it } from 'vitest';
import { SSHServer } from '../../ts/node/index.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { connect } from '../helpers/ssh2.js';

const { servers, clients } = closeAfterEach();

async function serve(accept: (requestType: string) => boolean | undefined) {
  const server = new SSHServer({ localPort: 0 });
  servers.push(server);
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === 'pw' ? e.accept() : e.reject()));
  const asked: { requestType: string; accept: boolean }[] = [];
  server.on('channelRequest', (e) => {
    const decided = accept(e.requestType);
    if (decided !== undefined) e.accept = decided;
    asked.push({ requestType: e.requestType, accept: e.accept });
  });
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  const { port } = await server.startListening();
  return { port, asked };
}

/** Runs `true` with an X11 request first; resolves with ssh2's error, if it reported one. */
async function execWithX11(port: number): Promise<Error | undefined> {
  const c = await connect(port, { username: 'u', password: 'pw' });
  clients.push(c);
  return new Promise((resolve) =>
    c.exec('true', { x11: { single: true, screen: 0 } }, (err, stream) => {
      if (err) return resolve(err);
      stream.on('close', () => resolve(undefined));
      stream.resume();
    }),
  );
}

it('x11-req reaches the host, which refuses it by default: the client is told', async () => {
  const { port, asked } = await serve(() => undefined);
  const err = await execWithX11(port);
  expect(err?.message).toMatch(/X11/);
  expect(asked[0]).toEqual({ requestType: 'x11-req', accept: false });
});

it('a host that accepts x11-req gets the exec after it', async () => {
  const { port, asked } = await serve((type) => (type === 'x11-req' ? true : undefined));
  expect(await execWithX11(port)).toBeUndefined();
  expect(asked.map((a) => a.requestType)).toEqual(['x11-req', 'exec']);
});

it('auth-agent-req@openssh.com reaches the host as a request of its own', async () => {
  const { port, asked } = await serve(() => undefined);
  const c = await connect(port, { username: 'u', password: 'pw', agent: '/nonexistent/agent.sock', agentForward: true });
  clients.push(c);
  await new Promise<void>((resolve) =>
    c.exec('true', (err, stream) => {
      if (err) return resolve();
      stream.on('close', () => resolve());
      stream.resume();
    }),
  );
  expect(asked.map((a) => a.requestType)).toContain('auth-agent-req@openssh.com');
  expect(asked.find((a) => a.requestType === 'auth-agent-req@openssh.com')?.accept).toBe(false);
});
