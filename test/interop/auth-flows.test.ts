/**
 * Authentication flows a library user builds from userAuthRequest, checked with the real OpenSSH client
 * against an in-process server: two-step authentication through partial success, the banner, and the
 * auth-failure delay.
 */

import { afterAll, beforeAll, expect, it } from 'vitest';
import { SSHServer, type UserAuthRequestEvent } from '../../ts/node/index.js';
import { makeUserKey, run } from '../helpers/demo.js';

const USER = 'erin';
const PASSWORD = 'second factor';
const key = makeUserKey();
const stranger = makeUserKey();
let server: SSHServer;
let port: number;

beforeAll(async () => {
  server = new SSHServer({ localPort: 0, config: { UserAuthBanner: 'wasshd test banner\n' } });
  server.generateHostKey();
  // Both a key from authorized_keys and the password are required, in either order, written the obvious
  // way: the core keeps which step passed, and answers a key query (no signature) with PK_OK only.
  server.on('userAuthRequest', (e) => {
    const keyOk = e.authMethod === 'publickey' && e.publicKey?.openssh === key.publicLine.split(' ').slice(0, 2).join(' ');
    const passwordOk = e.authMethod === 'password' && e.password === PASSWORD;
    if (e.user !== USER || (!keyOk && !passwordOk)) return e.reject();
    if (e.methodsPassed.length > 0) e.accept();
    else e.partialSuccess([keyOk ? 'password' : 'publickey']);
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

it('refuses a wrong password only after the auth-failure delay, and still takes the right one', async () => {
  server.config('AuthFailureDelay=200');
  const refusedAt = new Map<number, number>();
  const goneAt = new Map<number, number>();
  const goneWaiters = new Map<number, () => void>();
  const onAuth = (e: UserAuthRequestEvent) => void (e.password === 'not it' && refusedAt.set(e.connectionId, performance.now()));
  const onGone = (e: { connectionId: number }) => {
    goneAt.set(e.connectionId, performance.now());
    goneWaiters.get(e.connectionId)?.();
  };
  server.on('userAuthRequest', onAuth).on('disconnected', onGone);
  try {
    const wrong = await ssh(key.keyFile, 'not it', 'password');
    expect(wrong.code).toBe(255);
    expect(wrong.stderr).toContain('Permission denied');
    const right = await ssh(key.keyFile, PASSWORD, 'password,publickey');
    expect(right.stdout.toString()).toBe(`ran id as ${USER}\n`);
    expect(right.code).toBe(0);
    // A lower bound only: the client cannot give up before the refusal, which leaves at least 200 ms after
    // the request arrived (the handler ran just after that; half of it is margin for a busy machine).
    const [id, refused] = [...refusedAt][0]!;
    // The client has exited; the server learns of it from its socket, which a loaded machine may be slow to report.
    if (!goneAt.has(id)) await new Promise<void>((resolve) => goneWaiters.set(id, resolve));
    expect(goneAt.get(id)! - refused).toBeGreaterThan(100);
  } finally {
    server.off('userAuthRequest', onAuth).off('disconnected', onGone);
    server.config('AuthFailureDelay=5');
  }
});
