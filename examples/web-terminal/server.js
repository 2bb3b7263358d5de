// A web terminal: one port serves a page and SSH over WebSocket, and the page speaks SSH itself (wasshd's
// browser client, xterm.js for the terminal), so the password and the session are encrypted end to end between
// the tab and this server. The page's modules are served as they are, unbundled, and found through its import
// map. The shell is a toy that echoes each line typed and says when the window changes size. Build the package
// first (`npm run build`); in your own project, `npm install wasshd @xterm/xterm @xterm/addon-fit` and
// uWebSockets.js as the README says.
//
//   PASSWORD=secret PORT=8080 node examples/web-terminal/server.js
//   # open http://127.0.0.1:8080/, log in as demo, and compare the host key the page shows with the one printed
//
// SSH_USER (default demo) is the user; HOST_KEY a private key file to keep the host key across restarts.
// Anywhere but on your own machine, serve it behind TLS (https, wss) and pass `allowedOrigins` to startWebSocket.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SSHServer } from 'wasshd/node';

const { PASSWORD, SSH_USER = 'demo', HOST_KEY } = process.env;
if (!PASSWORD) throw new Error(`set PASSWORD to the password of user ${SSH_USER}`);

// ---- the page and the modules it imports, by URL path ----

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  // A page compiles the wasm as it streams in only when it comes with this type.
  '.wasm': 'application/wasm',
};
const files = new Map();
const serve = (path, file) => files.set(path, { type: TYPES[extname(file)], body: readFileSync(file) });
/** A package's file on disk, found as Node finds its imports. */
const resolved = (specifier) => fileURLToPath(import.meta.resolve(specifier));

const here = dirname(fileURLToPath(import.meta.url));
serve('/', join(here, 'index.html'));
serve('/terminal.js', join(here, 'terminal.js'));
serve('/xterm/xterm.mjs', resolved('@xterm/xterm/lib/xterm.mjs'));
serve('/xterm/xterm.css', resolved('@xterm/xterm/css/xterm.css'));
serve('/xterm/addon-fit.mjs', resolved('@xterm/addon-fit/lib/addon-fit.mjs'));
// wasshd's browser entry and what it imports: the package's compiled modules, the glue of its wasm modules
// (server, client, key files, legacy algorithms), and the client's wasm (the page connects with a password: it serves nothing and
// reads no key file), at the same places relative to each other: the entry finds the wasm by import.meta.url.
const wasshd = join(dirname(resolved('wasshd/browser')), '../..');
for (const file of readdirSync(wasshd, { recursive: true })) {
  if (/^(ts\/.*|wasm\/pkg(-client|-keys|-legacy)?\/[^/]+)\.js$|^wasm\/pkg-client\/.*\.wasm$/.test(file)) serve(`/wasshd/${file}`, join(wasshd, file));
}
// Its one dependency in a page (the server side of the entry reads address lists with it), installed beside it.
const cidrBlock = dirname(resolved('cidr-block'));
for (const file of readdirSync(cidrBlock)) if (file.endsWith('.js')) serve(`/cidr-block/${file}`, join(cidrBlock, file));

// ---- the SSH server ----

// Compared in constant time, so that the time taken tells nothing about the password.
const digest = (text) => createHash('sha256').update(text).digest();
const isPassword = (text) => timingSafeEqual(digest(text), digest(PASSWORD));

// Passwords only: the page asks for nothing else.
const server = new SSHServer({ localHost: '127.0.0.1', authMethods: ['password'], ...(HOST_KEY ? { hostKeys: [readFileSync(HOST_KEY, 'utf8')] } : {}) });
if (!HOST_KEY) server.generateHostKey();

server.on('userAuthRequest', (e) => {
  if (e.user === SSH_USER && e.authMethod === 'password' && isPassword(e.password)) e.accept();
  else e.reject();
});

// A shell, nothing else: an exec or a subsystem is refused.
server.on('channelRequest', (e) => {
  if (e.requestType === 'exec' || e.requestType === 'subsystem') e.accept = false;
});

/** Each shell's line typed so far, and its decoder (a character may come in two pieces), by connection and channel. */
const shells = new Map();
const key = (e) => `${e.connectionId}/${e.channelId}`;
const PROMPT = '$ ';

server.on('channelRequested', async (e) => {
  const send = (text) => server.sendText(e.connectionId, e.channelId, text);
  if (e.request.type === 'shell') {
    shells.set(key(e), { line: '', decoder: new TextDecoder() });
    const user = server.connections.get(e.connectionId)?.user;
    await send(`Hello ${user}. This shell echoes each line; Ctrl-D ends it.\r\n${PROMPT}`);
  } else if (e.request.type === 'window-change' && shells.has(key(e))) {
    await send(`\r\n[window ${e.request.cols}x${e.request.rows}]\r\n${PROMPT}${shells.get(key(e)).line}`);
  }
});

// The client's terminal is raw: every key arrives as typed, and nothing shows unless the server sends it back.
server.on('channelDataIn', async (e) => {
  const shell = shells.get(key(e));
  if (!shell) return;
  let out = '';
  for (const char of shell.decoder.decode(e.data, { stream: true })) {
    if (char === '\r') {
      out += `\r\necho: ${shell.line}\r\n${PROMPT}`;
      shell.line = '';
    } else if (char === '\x7f') {
      // Backspace: the last character typed, if any, off the line and the screen.
      if (shell.line) out += '\b \b';
      shell.line = [...shell.line].slice(0, -1).join('');
    } else if (char === '\x03') {
      out += `^C\r\n${PROMPT}`;
      shell.line = '';
    } else if (char === '\x04' && shell.line === '') {
      shells.delete(key(e));
      await server.sendText(e.connectionId, e.channelId, `${out}\r\nbye\r\n`);
      server.sendExitStatus(e.connectionId, e.channelId, 0);
      return server.closeChannel(e.connectionId, e.channelId);
    } else if (char >= ' ') {
      out += char;
      shell.line += char;
    }
  }
  await server.sendText(e.connectionId, e.channelId, out);
});
server.on('channelClosed', (e) => shells.delete(key(e)));

const { host, port } = await server.startWebSocket({ port: Number(process.env.PORT ?? 8080), files });
for (const fingerprint of server.hostKeyFingerprints()) console.log(`host key ${fingerprint}`);
console.log(`listening on http://${host}:${port}/`);
