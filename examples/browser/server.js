// An SSH server in a browser tab with wasshd, for a support engineer to reach while the tab is open: SSH
// clients connect to wasshd-ws-relay, which hands each to a WebSocket this page keeps open to it. The page shows
// a one-time password; `cat` copies its input back and any other command is echoed.
//
//   npx wasshd-ws-relay --origin http://localhost:8000 --ssh-port 2222 --ws-port 8022
//   python3 -m http.server 8000      # in the project folder, then open http://localhost:8000/examples/browser/
//   ssh -p 2222 support@localhost hello world          # prints: hello world
import { SSHServer, serveRelay } from 'wasshd';

const relay = new URLSearchParams(location.search).get('relay') ?? `ws://${location.hostname}:8022/tab`;
const user = 'support';
const password = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(12)))).replaceAll('+', '-').replaceAll('/', '_');

// Every character is compared whatever the first difference, so the time taken does not tell where it is.
function isPassword(text = '') {
  let diff = text.length ^ password.length;
  for (let i = 0; i < password.length; i++) diff |= password.charCodeAt(i) ^ text.charCodeAt(i);
  return diff === 0;
}

const show = (id, text) => (document.getElementById(id).textContent = text);
const log = (line) => (document.getElementById('log').textContent += `${line}\n`);

const server = await SSHServer.create();
// A fresh host key for every page load: the engineer checks it against the one shown here.
server.generateHostKey();

server.on('userAuthRequest', (e) => (e.user === user && e.authMethod === 'password' && isPassword(e.password) ? e.accept() : e.reject()));

const key = (e) => `${e.connectionId}/${e.channelId}`;
/** Channels running `cat`. */
const cats = new Set();
server.on('channelRequested', async (e) => {
  if (e.request.type !== 'exec') return;
  if (e.request.command === 'cat') return void cats.add(key(e));
  await server.sendText(e.connectionId, e.channelId, `${e.request.command}\n`);
  server.sendExitStatus(e.connectionId, e.channelId, 0);
  await server.closeChannel(e.connectionId, e.channelId);
});
// Awaiting each send holds the client's input back while it does not read its output.
server.on('channelDataIn', (e) => (e.stream === 0 && cats.has(key(e)) ? server.sendChannelData(e.connectionId, e.channelId, e.data) : undefined));
server.on('channelEOF', async (e) => {
  if (!cats.delete(key(e))) return;
  server.sendExitStatus(e.connectionId, e.channelId, 0);
  await server.closeChannel(e.connectionId, e.channelId);
});
server.on('channelClosed', (e) => cats.delete(key(e)));
server.on('connected', (e) => log(`[${e.connectionId}] connected from ${server.connections.get(e.connectionId)?.remoteHost}`));
server.on('disconnected', (e) => log(`[${e.connectionId}] disconnected: ${e.statusCode} ${e.description}`));

serveRelay(server, relay, { onError: (error) => log(error.message) });
show('relay', relay);
show('user', user);
show('password', password);
show('hostkey', server.hostPublicKeys[0]);
show('status', 'ready');
