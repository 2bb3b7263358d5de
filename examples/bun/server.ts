/**
 * A minimal SSH server on Bun: user `demo` with a password made at start (printed), and an exec that
 * echoes its command line back.
 *
 *   bun examples/bun/server.ts [PORT]
 *   ssh -p PORT demo@127.0.0.1 hello world
 *
 * `wasshd` resolves to the package's Deno and Bun builds through its `exports` conditions: in a project
 * after `npm install wasshd`, and in this repository after `npm run build`.
 */

import { SSHServer } from 'wasshd';

const password = crypto.randomUUID();
const server = new SSHServer({ localPort: Number(Bun.argv[2] ?? 2222) });
// A new host key at every start; a real server loads its own with addHostKey(text).
server.generateHostKey();

server.on('userAuthRequest', (e) => {
  if (e.authMethod === 'password' && e.user === 'demo' && e.password === password) e.accept();
  else e.reject();
});

server.on('channelRequested', async (e) => {
  if (e.request.type !== 'exec') return;
  await server.sendText(e.connectionId, e.channelId, `${e.request.command}\n`);
  server.sendExitStatus(e.connectionId, e.channelId, 0);
  await server.closeChannel(e.connectionId, e.channelId);
});

const { host, port } = await server.startListening();
console.log(`user demo, password ${password}`);
console.log(`listening on ${host}:${port}`);
