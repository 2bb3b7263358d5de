// An SFTP drop box: each user uploads files into a folder of their own and can do nothing else there: no
// listing, no downloads, no deletions, no overwriting what is already there. The folders live under DROP_DIR
// on the host; a user never sees another's, nor anything outside their own, however the paths are written
// (the library confines every path to the root it is given, symlinks included). The users and their
// passwords come from a file of `name:password` lines. Build the package first (`npm run build`); in your own
// project, `npm install wasshd`.
//
//   DROP_DIR=/srv/drop USERS=/etc/dropbox-users PORT=2222 node examples/sftp-drop-box/server.js
//   sftp -P 2222 alice@127.0.0.1    # then: put report.pdf
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirectoryFileSystem, SftpError, SftpStatus, serveSftp, SSHServer } from 'wasshd/node';

const { DROP_DIR, USERS } = process.env;
if (!DROP_DIR || !USERS) throw new Error('set DROP_DIR to the folder the uploads go to and USERS to a file of name:password lines');

/** name to password; names are kept to letters, digits, `.`, `-` and `_`, since each is a folder's name. */
const users = new Map(
  readFileSync(USERS, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const at = line.indexOf(':');
      const name = line.slice(0, at);
      if (at < 1 || !/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) throw new Error(`${USERS}: bad line ${JSON.stringify(line)}`);
      return [name, line.slice(at + 1)];
    }),
);

// Compared in constant time, so that the time taken tells nothing about the password.
const digest = (text) => createHash('sha256').update(text).digest();
const samePassword = (a, b) => timingSafeEqual(digest(a), digest(b));

const denied = (what) => () => Promise.reject(new SftpError(SftpStatus.PermissionDenied, `a drop box does not ${what}`));

/**
 * A user's folder, upload only: a file may be created and written once (the client's `put`), and `stat` and
 * `realpath` answer so that clients find their way; everything that would read, list or change what is
 * there is refused. The directory filesystem underneath keeps every path inside the folder.
 */
class DropBox {
  constructor(folder) {
    this.files = new DirectoryFileSystem(folder);
  }
  open(path, flags, attrs) {
    if (flags.read || !flags.create) return denied('read or change files')();
    // One upload never replaces another: a name already there is refused, and the open is exclusive in case
    // one appears meanwhile.
    const create = () => this.files.open(path, { ...flags, truncate: false, exclusive: true }, { ...attrs, permissions: 0o600 });
    return this.files.lstat(path).then(denied('overwrite files'), create);
  }
}

// Passed on: what writes the upload, and what lets a client find its way.
for (const name of ['write', 'close', 'fstat', 'fsync', 'stat', 'lstat', 'realpath', 'statvfs']) {
  DropBox.prototype[name] = function (...args) {
    return this.files[name](...args);
  };
}
// OpenSSH's `put` sets the file's times and mode once written: taken, and ignored.
for (const name of ['fsetstat', 'setstat', 'lsetstat']) DropBox.prototype[name] = () => Promise.resolve();
// Refused: everything that would read, list or change what is there.
for (const [name, what] of [
  ['read', 'read files'],
  ['opendir', 'list folders'],
  ['readdir', 'list folders'],
  ['closedir', 'list folders'],
  ['mkdir', 'make folders'],
  ['rmdir', 'remove folders'],
  ['remove', 'remove files'],
  ['rename', 'rename files'],
  ['posixRename', 'rename files'],
  ['readlink', 'follow links'],
  ['symlink', 'make links'],
  ['hardlink', 'make links'],
]) {
  DropBox.prototype[name] = denied(what);
}

const server = new SSHServer({ localHost: '127.0.0.1', localPort: Number(process.env.PORT ?? 2222), authMethods: ['password'] });
// A fresh host key on every start: fine for an example; a real server loads its key (`hostKeys` option).
server.generateHostKey();

server.on('userAuthRequest', (e) => {
  const password = users.get(e.user);
  if (e.authMethod === 'password' && password !== undefined && samePassword(e.password, password)) e.accept();
  else e.reject();
});

// Sessions may run the `sftp` subsystem and nothing else: no shell, no commands, no pty.
server.on('channelRequest', (e) => {
  if (e.request.type !== 'subsystem' || e.request.name !== 'sftp') e.accept = false;
});
server.on('channelRequested', (e) => {
  if (e.request.type !== 'subsystem') return;
  const user = server.connections.get(e.connectionId).user;
  const folder = join(DROP_DIR, user);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  console.log(`${user} connected`);
  void serveSftp(server, e.connectionId, e.channelId, { fs: new DropBox(folder) });
});

const { host, port } = await server.startListening();
console.log(`listening on ${host}:${port}`);
