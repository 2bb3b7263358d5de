/**
 * The connections' deadlines (one host timer for all), set from the core's: login grace time, idle timeout
 * and keepalives, each ending the connection with the reason a server should give.
 */

import { connect } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { DisconnectReason, SSHServer, type DisconnectedEvent } from '../../ts/node/index.js';
import { MSG, RawClient } from '../helpers/raw-client.js';

let server: SSHServer | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await server?.shutdown(100);
  server = undefined;
});

async function serve(config: Record<string, number>): Promise<{ port: number; disconnected: Promise<DisconnectedEvent> }> {
  server = new SSHServer({ localPort: 0, config });
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.password === 'pw' ? e.accept() : e.reject()));
  const disconnected = new Promise<DisconnectedEvent>((resolve) => server!.on('disconnected', resolve));
  const { port } = await server.startListening();
  return { port, disconnected };
}

async function loggedIn(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  await c.handshake();
  await c.serviceRequest();
  expect(await c.password('u', 'pw')).toBe(true);
  return c;
}

it('closes a connection that does not authenticate within the login grace time', async () => {
  const { port, disconnected } = await serve({ DefaultTimeout: 1 });
  // The grace time runs from the server's accept, which follows this moment: measured from here, however long the
  // handshake takes on a loaded machine, the time to the DISCONNECT is the whole grace time or more.
  const connecting = performance.now();
  const c = await RawClient.connect(port);
  clients.push(c);
  await c.handshake();
  const d = await c.readDisconnect();
  expect(d.reason).toBe(DisconnectReason.ByApplication);
  expect(d.description).toBe('login grace time exceeded');
  expect(performance.now() - connecting).toBeGreaterThan(990); // 1 s, less the clocks' millisecond rounding
  expect((await disconnected).description).toBe('login grace time exceeded');
});

it('closes an authenticated connection after the idle timeout', async () => {
  const { port, disconnected } = await serve({ DefaultIdleTimeout: 1 });
  const c = await loggedIn(port);
  const d = await c.readDisconnect();
  expect(d.reason).toBe(DisconnectReason.ByApplication);
  expect(d.description).toBe('idle timeout');
  expect((await disconnected).statusCode).toBe(DisconnectReason.ByApplication);
});

it('sends keepalives and gives up on a client that never answers', async () => {
  const { port, disconnected } = await serve({ SSHKeepAliveInterval: 1, SSHKeepAliveCountMax: 2 });
  const c = await loggedIn(port);
  const keepalives: string[] = [];
  for (;;) {
    const p = await c.readPacket();
    if (p[0] === MSG.DISCONNECT) {
      expect(p.readUInt32BE(1)).toBe(DisconnectReason.ConnectionLost);
      break;
    }
    expect(p[0]).toBe(MSG.GLOBAL_REQUEST);
    keepalives.push(p.subarray(5, 5 + p.readUInt32BE(1)).toString());
  }
  expect(keepalives).toEqual(['keepalive@openssh.com', 'keepalive@openssh.com']);
  expect((await disconnected).statusCode).toBe(DisconnectReason.ConnectionLost);
});

it('shutdown disconnects logged-in clients and resolves once they are gone', async () => {
  const { port, disconnected } = await serve({});
  const c = await loggedIn(port);
  const done = server!.shutdown(5000);
  const d = await c.readDisconnect();
  expect(d.reason).toBe(DisconnectReason.ByApplication);
  expect(d.description).toBe('server shutting down');
  await done;
  expect(server!.connections.size).toBe(0);
  expect((await disconnected).description).toBe('server shutting down');
  server = undefined;
});

it('cuts off a peer that keeps its side open after DISCONNECT', async () => {
  const { port, disconnected } = await serve({});
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('data', () => {}); // read and ignore everything, never end our side
  socket.write('SSH-1.5-old\r\n');
  expect((await disconnected).statusCode).toBe(DisconnectReason.ProtocolVersionNotSupported);
  const ended = performance.now();
  // The server forgets the connection only once its socket is closed: after the grace period, not before.
  while (server!.connections.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(performance.now() - ended).toBeGreaterThan(4000);
  socket.destroy();
});
