/**
 * SFTP from the in-memory filesystem inside a Cloudflare Worker: the workerd demo's `--sftp-memory`, reached by
 * Debian's OpenSSH `sftp` through the `wasshd-ws-proxy` bridge, as the other runtimes' SFTP is tested over TCP.
 */

import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeUserKey, run, SSH_BASE, startDemo, testData, viaWebSocket, WORKERD_DEMO, type Demo } from '../helpers/demo.js';

let demo: Demo;
const { keyFile, authorizedKeys } = makeUserKey();
const local = mkdtempSync(join(tmpdir(), 'wasshd-workerd-sftp-'));

beforeAll(async () => {
  demo = await startDemo(['--ws-port', '0', '--user', 'u:unused-password', '--authorized-keys', authorizedKeys, '--sftp-memory'], {}, WORKERD_DEMO, { tcp: false });
}, 120_000);
afterAll(() => demo?.stop());

/** `sftp -b -` through the bridge to the Worker, run in `local`. */
function sftp(lines: string[]) {
  const args = [...SSH_BASE, ...viaWebSocket(demo.wsPort!), '-i', keyFile, '-o', 'IdentitiesOnly=yes', '-b', '-', 'u@workerd'];
  return run('sftp', args, Buffer.from([`lcd ${local}`, ...lines].join('\n') + '\n'));
}

it('puts and gets 4 MiB byte-exact, lists, renames and removes, all in the Worker’s memory', async () => {
  const data = testData(4 * 1024 * 1024, 5);
  writeFileSync(join(local, 'up.bin'), data);
  const r = await sftp(['mkdir box', 'put up.bin box/file.bin', 'rename box/file.bin box/moved.bin', 'ls -l box', 'get box/moved.bin down.bin', 'rm box/moved.bin', 'rmdir box', 'ls']);
  expect(r.code, r.stderr.toString()).toBe(0);
  expect(readFileSync(join(local, 'down.bin')).equals(data)).toBe(true);
  expect(r.stdout.toString()).toMatch(/-rw.* 4194304 .*moved\.bin/);
  // An escape through `..` stays inside the tree: it finds nothing outside to read.
  const escape = await sftp(['get ../../../../etc/passwd passwd']);
  expect(escape.code).not.toBe(0);
});

it('refuses --sftp-root: a Worker has no filesystem of its own', async () => {
  const r = await run(WORKERD_DEMO[0]!, [...WORKERD_DEMO.slice(1), '--ws-port', '0', '--sftp-root', tmpdir()]);
  expect(r.code).toBe(2);
  expect(r.stderr.toString()).toContain('--sftp-root: a Worker has no filesystem');
});
