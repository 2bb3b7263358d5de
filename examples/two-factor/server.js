// A server that asks for two factors, as OpenSSH's `AuthenticationMethods publickey,password` does: a key
// listed in an authorized_keys file, and then the user's password. Either alone is refused; the core keeps
// the order and tells the client what may follow (partial success), so the handler below only checks each
// step. A shell or an exec then says who logged in and how. Build the package first (`npm run build`); in
// your own project, `npm install wasshd`.
//
//   AUTHORIZED_KEYS=~/.ssh/id_ed25519.pub PASSWORD=secret PORT=2222 node examples/two-factor/server.js
//   ssh -p 2222 -i ~/.ssh/id_ed25519 alice@127.0.0.1 whoami
//     # ssh -v shows: Authenticated using "publickey" with partial success; then it asks for the password.
//
// SSH_USER (default alice) is the user; AUTHENTICATION_METHODS, if set, replaces the chain by its OpenSSH
// spelling (`publickey,password publickey,keyboard-interactive`: a key, then either of two).
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AuthorizedKeys, SSHServer } from 'wasshd/node';

const { AUTHORIZED_KEYS, PASSWORD, SSH_USER = 'alice', AUTHENTICATION_METHODS } = process.env;
if (!AUTHORIZED_KEYS || !PASSWORD) throw new Error('set AUTHORIZED_KEYS to an authorized_keys file and PASSWORD to the password of ' + SSH_USER);

// The authorized_keys file, read as sshd reads it: a line's options (`from=`, `command=`, `restrict`...) are
// enforced by the server, and a line it cannot read stops the start with the file and line named.
const authorizedKeys = AuthorizedKeys.parse(readFileSync(AUTHORIZED_KEYS, 'utf8'), AUTHORIZED_KEYS);

// Compared in constant time, so that the time taken tells nothing about the password.
const digest = (text) => createHash('sha256').update(text).digest();
const isPassword = (text) => timingSafeEqual(digest(text), digest(PASSWORD));
/** A key's fingerprint as `ssh-keygen -l` prints it. */
const fingerprint = (blob) => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

const server = new SSHServer({
  localHost: '127.0.0.1',
  localPort: Number(process.env.PORT ?? 2222),
  // A key, then a password. Each inner list is one way in; the core refuses a method no list allows next.
  authenticationMethods: [['publickey', 'password']],
  // The file is this user's: a key found in it comes to the handler with its line (`e.authorizedKey`).
  authorizedKeys: (user) => (user === SSH_USER ? authorizedKeys : undefined),
});
// The same setting by the name sshd_config and the reference component use: handy when it comes from a
// configuration file. It replaces what the option set.
if (AUTHENTICATION_METHODS) server.config(`AuthenticationMethods=${AUTHENTICATION_METHODS}`);
console.log(`AuthenticationMethods ${server.config('AuthenticationMethods')}`);
// A fresh host key on every start: fine for an example; a real server loads its key (`hostKeys` option).
server.generateHostKey();

/** How each connection logged in, step by step, for its session to tell. */
const logins = new Map();

server.on('userAuthRequest', (e) => {
  // Each step is checked on its own; which steps a login needs, and in what order, is the core's business.
  // A key query (`signed` false) only asks whether the key would do: the answer that counts comes signed.
  const ok =
    e.user === SSH_USER &&
    ((e.authMethod === 'publickey' && e.authorizedKey !== undefined) || (e.authMethod === 'password' && isPassword(e.password)));
  if (!ok) return e.reject();
  if (e.authMethod === 'publickey' && e.publicKey.signed) {
    logins.set(e.connectionId, [...(logins.get(e.connectionId) ?? []), `publickey ${fingerprint(e.publicKey.blob)}`]);
  } else if (e.authMethod === 'password') {
    logins.set(e.connectionId, [...(logins.get(e.connectionId) ?? []), 'password']);
  }
  e.accept();
});
server.on('disconnected', (e) => logins.delete(e.connectionId));

server.on('channelRequested', async (e) => {
  if (e.request.type !== 'shell' && e.request.type !== 'exec') return;
  const user = server.connections.get(e.connectionId)?.user;
  // A shell gets a terminal, which wants CR LF at each line's end.
  const eol = e.request.type === 'shell' ? '\r\n' : '\n';
  await server.sendText(e.connectionId, e.channelId, `${user} logged in with ${logins.get(e.connectionId).join(', then ')}${eol}`);
  server.sendExitStatus(e.connectionId, e.channelId, 0);
  await server.closeChannel(e.connectionId, e.channelId);
});

const { host, port } = await server.startListening();
console.log(`listening on ${host}:${port}`);
