/**
 * OpenSSH's host-key rotation with Debian's OpenSSH client (`UpdateHostKeys=yes`): a server that will move to a
 * new key installs it with `next`; after a login the client, which trusts only the old key, asks for proof
 * that the server holds the new one and adds it to its known_hosts. The server then moves to the new key and
 * the same client connects with strict host-key checking, dropping the old key from its file as no longer
 * offered. A client that never learned the new key is refused by its own check, which shows the update is
 * what let the second connection in.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SSHServer } from '../../ts/node/index.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { run } from '../helpers/demo.js';

const { servers } = closeAfterEach();
const dir = mkdtempSync(join(tmpdir(), 'wasshd-rotation-'));

/** A new ed25519 key file made by ssh-keygen: the private file's text and the public key (`type base64`). */
function keygen(name: string): { file: string; pub: string } {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path]);
  return { file: readFileSync(path, 'utf8'), pub: readFileSync(`${path}.pub`, 'utf8').split(' ').slice(0, 2).join(' ') };
}

async function serve(kexKey: string, nextKey?: string): Promise<number> {
  const server = new SSHServer({ localPort: 0 });
  servers.push(server);
  server.addHostKey(kexKey);
  if (nextKey !== undefined) server.addHostKey(nextKey, { next: true });
  server.on('userAuthRequest', (e) => (e.password === 'pw' ? e.accept() : e.reject()));
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    // Long enough for the client's proof request to be answered before the session ends.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.sendText(e.connectionId, e.channelId, 'ok\n');
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  return (await server.startListening()).port;
}

/** `ssh` trusting only `knownHosts`, strictly, with host-key updates on. */
function ssh(port: number, knownHosts: string) {
  const options = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null'];
  options.push('-o', 'UpdateHostKeys=yes', '-o', 'CheckHostIP=no', '-o', 'HashKnownHosts=no', '-o', 'IdentityAgent=none', '-o', 'PubkeyAuthentication=no');
  return run('sshpass', ['-p', 'pw', 'ssh', ...options, '-p', String(port), 'u@127.0.0.1', 'echo']);
}

it('teaches OpenSSH the next host key, which then serves with strict checking, and the old key is dropped', async () => {
  const [old, next] = [keygen('old'), keygen('next')];
  const firstPort = await serve(old.file, next.file);
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${firstPort} ${old.pub}\n`);
  const stale = join(dir, 'known_hosts.stale');
  writeFileSync(stale, `[127.0.0.1]:${firstPort} ${old.pub}\n`);

  const first = await ssh(firstPort, knownHosts);
  expect(first.stdout.toString()).toBe('ok\n');
  const learned = readFileSync(knownHosts, 'utf8');
  expect(learned).toContain(old.pub);
  expect(learned).toContain(next.pub);

  // The server moves to the new key, on the same port as the clients know it by.
  await servers.pop()!.shutdown();
  const secondPort = await serve(next.file);
  const rename = (text: string) => text.replaceAll(`[127.0.0.1]:${firstPort}`, `[127.0.0.1]:${secondPort}`);
  writeFileSync(knownHosts, rename(learned));
  writeFileSync(stale, rename(readFileSync(stale, 'utf8')));

  const refused = await ssh(secondPort, stale);
  expect(refused.code).toBe(255);
  expect(refused.stderr.toString()).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);

  const second = await ssh(secondPort, knownHosts);
  expect(second.stdout.toString()).toBe('ok\n');
  const after = readFileSync(knownHosts, 'utf8');
  expect(after).toContain(next.pub);
  expect(after).not.toContain(old.pub);
});
