// A minimal SSH server on Node with wasshd: one user with a password, and an exec that echoes the command
// it is given. Build the package first (`npm run build`); in your own project, `npm install wasshd`.
//
//   PORT=2222 PASSWORD=secret node examples/node/server.js
//   ssh -p 2222 demo@127.0.0.1 hello world          # prints: hello world
import { createHash, timingSafeEqual } from 'node:crypto';
import { SSHServer } from 'wasshd/node';

const password = process.env.PASSWORD;
if (!password) throw new Error('set PASSWORD to the password of user demo');

// Compared in constant time, so that the time taken tells nothing about the password.
const digest = (text) => createHash('sha256').update(text).digest();
const isPassword = (text) => timingSafeEqual(digest(text), digest(password));

const server = new SSHServer({ localHost: '127.0.0.1', localPort: Number(process.env.PORT ?? 2222) });
// A fresh host key on every start: fine for a demo; a real server loads its key (`hostKeys` option).
server.generateHostKey();

server.on('userAuthRequest', (e) => {
  if (e.user === 'demo' && e.authMethod === 'password' && isPassword(e.password)) e.accept();
  else e.reject();
});

server.on('channelRequested', async (e) => {
  if (e.request.type !== 'exec') return;
  await server.sendText(e.connectionId, e.channelId, `${e.request.command}\n`);
  server.sendExitStatus(e.connectionId, e.channelId, 0);
  await server.closeChannel(e.connectionId, e.channelId);
});

const { host, port } = await server.startListening();
console.log(`listening on ${host}:${port}`);
