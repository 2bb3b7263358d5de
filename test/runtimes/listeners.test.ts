/**
 * The Deno and Bun listeners keep the contract's `close`: `stopListening` stops accepting on TCP and on the
 * WebSocket endpoint, and the connections already open go on. Deno's HTTP server would close its WebSockets
 * with it, so there the endpoint refuses new upgrades (503) until the open ones have ended, then closes.
 */

import { describe, expect, it } from 'vitest';
import { WATCHED_PASSWORD, WATCHED_USER } from '../fixtures/watched-server.js';
import { requirePrograms } from '../helpers/demo.js';
import { connect, exec } from '../helpers/ssh2.js';
import { startWatched, WATCHED } from '../helpers/watched.js';
import { openWebSocket, sshOverWebSocket } from '../helpers/websocket.js';

const credentials = { username: WATCHED_USER, password: WATCHED_PASSWORD };

/** Resolves once `check` holds, looking every 50 ms. */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
}

const refused = (url: string) =>
  openWebSocket(url).then(
    (ws) => (ws.terminate(), false),
    (e: { code?: string }) => e.code === 'ECONNREFUSED',
  );

describe.each([
  { name: 'deno', command: WATCHED.deno, whileOpen: { status: 503 } },
  { name: 'bun', command: WATCHED.bun, whileOpen: { code: 'ECONNREFUSED' } },
])('$name', ({ command, whileOpen }) => {
  it('stops accepting on TCP and WebSocket while the open connections go on', async () => {
    requirePrograms(command[0]!);
    const server = await startWatched(command);
    try {
      const overTcp = await connect(server.tcpPort, credentials);
      const { client: overWs } = await sshOverWebSocket(`ws://127.0.0.1:${server.wsPort}/ssh`, credentials);
      await server.stopListening();
      await expect(connect(server.tcpPort, credentials)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      const url = `ws://127.0.0.1:${server.wsPort}/ssh`;
      await expect(openWebSocket(url)).rejects.toMatchObject(whileOpen);
      for (const client of [overTcp, overWs]) {
        const r = await exec(client, 'echo still here');
        expect(r.stdout.toString()).toBe('still here\n');
        client.end();
      }
      // Once the open connections have ended, nothing listens on the endpoint's port.
      await until(() => refused(url));
    } finally {
      await server.stop();
    }
  });
});
