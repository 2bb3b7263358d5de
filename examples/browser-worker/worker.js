// The server side of examples/browser-worker: an SSH server in a Web Worker, serving the page that started it
// over a MessagePort it sends. `cat` copies its input back; `echo WORDS` prints them.
import { MessagePortTransport, SSHServer } from 'wasshd';

// Listening before the first await: a message that arrives while the module is still compiling is kept.
const port = new Promise((resolve) => (self.onmessage = (e) => resolve(e.data)));

const server = await SSHServer.create();
server.generateHostKey();
// The page made the password, and sent it with the port.
const { port: pagePort, password } = await port;
server.on('userAuthRequest', (e) => (e.user === 'page' && e.authMethod === 'password' && e.password === password ? e.accept() : e.reject()));

/** Runs one command on its channel, then reports its status and closes the channel. */
async function run(c, ch, command) {
  let status = 0;
  if (command === 'cat') {
    const { readable, writable } = server.channelStreams(c, ch);
    await readable.pipeTo(writable);
  } else if (command.startsWith('echo ')) {
    await server.sendText(c, ch, `${command.slice(5)}\n`);
  } else {
    await server.sendChannelData(c, ch, `unknown command: ${command}\n`, 1);
    status = 127;
  }
  server.sendExitStatus(c, ch, status);
  await server.closeChannel(c, ch);
}

// Not awaited: the server holds the channel's later events (its data) until a handler's promise settles.
server.on('channelRequested', (e) => void (e.request.type === 'exec' && run(e.connectionId, e.channelId, e.request.command)));

void server.accept(new MessagePortTransport(pagePort, { remoteAddress: 'page' }));
self.postMessage({ fingerprint: server.hostKeyFingerprints()[0] });
