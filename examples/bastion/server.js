// A forwarding bastion (a jump host): clients log in with a key from an authorized_keys file and may open
// tunnels (`ssh -J`, `ssh -W`, `ssh -L`) to the targets of an allow-list, and to nothing else. It offers no
// shell, exec, pty or subsystem, and listens on nothing for clients (`ssh -R` is refused). Each tunnel is
// logged with who asked, where to, and the bytes each way when it closes. Build the package first
// (`npm run build`); in your own project, `npm install wasshd`.
//
//   AUTHORIZED_KEYS=~/.ssh/id_ed25519.pub ALLOW=10.0.0.5:22,db.internal:5432 PORT=2222 node examples/bastion/server.js
//   ssh -J jump@bastion.example:2222 admin@10.0.0.5       # through the bastion to 10.0.0.5:22
//
// Any user name is taken: the key is what counts. Targets are matched as written, `host:port`, and the
// bastion connects to exactly what matched, so a name on the list is looked up by the bastion's resolver.
import { readFileSync } from 'node:fs';
import { AuthorizedKeys, SSHServer } from 'wasshd/node';

const { AUTHORIZED_KEYS, ALLOW } = process.env;
if (!AUTHORIZED_KEYS || !ALLOW) throw new Error('set AUTHORIZED_KEYS to an authorized_keys file and ALLOW to the targets, host:port,host:port');

// IPv6 targets are written in brackets, as OpenSSH prints them: [2001:db8::5]:22.
const target = (address, port) => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);
const allowed = new Set(ALLOW.split(',').map((entry) => entry.trim()).filter(Boolean));

// The authorized_keys file, read as sshd reads it: a line's options are enforced by the server (`permitopen=`
// narrows that key's tunnels further, `from=` the addresses it may come from), and a line it cannot read
// stops the start with the file and line named.
const authorizedKeys = AuthorizedKeys.parse(readFileSync(AUTHORIZED_KEYS, 'utf8'), AUTHORIZED_KEYS);

// Keys only, the only method offered: no password to guess, so a scan finds nothing to try.
const server = new SSHServer({ localHost: '127.0.0.1', localPort: Number(process.env.PORT ?? 2222), authMethods: ['publickey'], authorizedKeys });
// A fresh host key on every start: fine for an example; a real bastion loads its key (`hostKeys` option),
// or every client would have to trust a new one.
server.generateHostKey();

const log = (connectionId, text) => console.log(`[${connectionId}] ${text}`);
const who = (connectionId) => server.connections.get(connectionId)?.user ?? '?';

server.on('connected', (e) => {
  const c = server.connections.get(e.connectionId);
  log(e.connectionId, `connected from ${c?.remoteHost}:${c?.remotePort}`);
});
server.on('disconnected', (e) => log(e.connectionId, `disconnected: ${e.description || 'closed'}`));

server.on('userAuthRequest', (e) => {
  if (e.authMethod === 'publickey' && e.authorizedKey !== undefined) e.accept();
  else e.reject();
});

// No sessions at all: refusing the channel refuses every shell, exec, pty and subsystem that would ride on it.
server.on('channelOpenRequest', (e) => {
  if (e.service === 'session') e.reject(1, 'this host only forwards: use it with ssh -J');
});

server.on('sshTunnelRequested', (e) => {
  const where = e.socketPath ?? target(e.address, e.port);
  // `local` is a client's direct-tcpip channel (-J, -W, -L) to a TCP target; `remote` (-R) would have the
  // bastion listen for the world, and a Unix socket path would reach the bastion's own files.
  if (e.direction === 'local' && e.socketPath === undefined && allowed.has(where)) {
    e.accept = true;
    log(e.connectionId, `${who(e.connectionId)}: tunnel to ${where}`);
  } else {
    e.reject(1, `${where} is not on this bastion's list`);
    log(e.connectionId, `${who(e.connectionId)}: refused ${e.direction} tunnel ${where}`);
  }
});
server.on('sshTunnelClosed', (e) => {
  log(e.connectionId, `${who(e.connectionId)}: tunnel to ${e.socketPath ?? target(e.address, e.port)} closed, ${e.bytesIn} bytes in, ${e.bytesOut} out`);
});

const { host, port } = await server.startListening();
console.log(`listening on ${host}:${port}`);
