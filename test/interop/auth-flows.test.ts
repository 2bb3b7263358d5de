/**
 * Authentication flows a library user builds from userAuthRequest, checked with the real OpenSSH client
 * against an in-process server: two-step authentication through partial success, and the banner.
 */

import { afterAll, beforeAll, expect, it } from 'vitest';
import { SSHServer, type AuthMethodName } from '../../ts/node/index.js';
import { makeUserKey, run } from '../helpers/demo.js';

const USER = 'erin';
const PASSWORD = 'second factor';
const key = makeUserKey();
const stranger = makeUserKey();
let server: SSHServer;
let port: number;
/** Methods each connection has passed so far. */
const passed = new Map<number, Set<AuthMethodName>>();

beforeAll(async () => {
  server = new SSHServer({ localPort: 0, config: { UserAuthBanner: 'wasshd test banner\n' } });
  server.generateHostKey();
  // Both a key from authorized_keys and the password are required, in either order.
  server.on('userAuthRequest', (e) => {
    const done = passed.get(e.connectionId) ?? new Set();
    passed.set(e.connectionId, done);
    let ok = false;
    if (e.user === USER && e.authMethod === 'publickey' && e.publicKey?.openssh === key.publicLine.split(' ').slice(0, 2).join(' ')) {
      if (!e.publicKey.signed) return e.accept(); // "this key would do": PK_OK
      ok = true;
    }
    if (e.user === USER && e.authMethod === 'password' && e.password === PASSWORD) ok = true;
    if (!ok) return e.reject({ methods: [...(['publickey', 'password'] as const)].filter((m) => !done.has(m)) });
    done.add(e.authMethod);
    if (done.has('publickey') && done.has('password')) e.accept();
    else e.partialSuccess(done.has('publickey') ? ['password'] : ['publickey']);
  });
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    await server.sendText(e.connectionId, e.channelId, `ran ${e.request.command} as ${server.connections.get(e.connectionId)?.user}\n`);
    await server.sendEOF(e.connectionId, e.channelId);
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  ({ port } = await server.startListening());
});
afterAll(() => server?.shutdown(500));

/** OpenSSH with this test's own options (LogLevel=DEBUG1 so the banner and partial successes are printed). */
function ssh(keyFile: string, password: string | undefined, methods: string) {
  const args = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=DEBUG1', '-o', 'IdentityAgent=none'];
  args.push('-i', keyFile, '-o', 'IdentitiesOnly=yes', '-o', `PreferredAuthentications=${methods}`, '-o', 'NumberOfPasswordPrompts=1', '-p', String(port), `${USER}@127.0.0.1`, 'id');
  return password === undefined ? run('ssh', ['-o', 'BatchMode=yes', ...args]) : run('sshpass', ['-p', password, 'ssh', ...args]);
}

it('needs the key and the password: the key step ends in partial success', async () => {
  const r = await ssh(key.keyFile, PASSWORD, 'publickey,password');
  expect(r.stdout.toString()).toBe(`ran id as ${USER}\n`);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('wasshd test banner');
  expect(r.stderr).toContain('Authenticated using "publickey" with partial success.');
});

it('also works password first', async () => {
  const r = await ssh(key.keyFile, PASSWORD, 'password,publickey');
  expect(r.stdout.toString()).toBe(`ran id as ${USER}\n`);
  expect(r.stderr).toContain('Authenticated using "password" with partial success.');
});

it('refuses the key alone, and the password with a stranger key', async () => {
  const keyOnly = await ssh(key.keyFile, undefined, 'publickey,password');
  expect(keyOnly.code).toBe(255);
  expect(keyOnly.stdout.length).toBe(0);
  const wrongKey = await ssh(stranger.keyFile, PASSWORD, 'publickey,password');
  expect(wrongKey.code).not.toBe(0);
  expect(wrongKey.stdout.length).toBe(0);
});
