/** What a test file opens and wants closed after each test, whether the test passed or not. */

import type { Socket } from 'node:net';
import { afterEach } from 'vitest';
import type { SSHServer } from '../../ts/node/index.js';
import type { Demo } from './demo.js';
import type { RawClient } from './raw-client.js';
import type { Ssh2Client } from './ssh2.js';

/** Lists to push onto; every entry is ended after each test of the calling file. */
export function closeAfterEach() {
  const open = {
    servers: [] as SSHServer[],
    demos: [] as Demo[],
    clients: [] as Ssh2Client[],
    rawClients: [] as RawClient[],
    sockets: [] as Socket[],
  };
  afterEach(async () => {
    for (const c of open.clients.splice(0)) c.end();
    for (const c of open.rawClients.splice(0)) c.destroy();
    for (const s of open.sockets.splice(0)) s.destroy();
    await Promise.all(open.servers.splice(0).map((s) => s.shutdown(500)));
    await Promise.all(open.demos.splice(0).map((d) => d.stop()));
  });
  return open;
}
