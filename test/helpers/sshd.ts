/**
 * Debian's OpenSSH `sshd` for a test of its own: a free loopback port, a config file, a host key from
 * `ssh-keygen` and the given authorized key, all in a temporary directory (never the system service).
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { requirePrograms } from './demo.js';

const SSHD = '/usr/sbin/sshd';

export interface Sshd {
  port: number;
  dir: string;
  /** `ssh-keygen -lf` of the host key: its `SHA256:` fingerprint. */
  fingerprint: string;
  stop(): Promise<void>;
}

/** `SHA256:...` of a public key file, as `ssh-keygen -l` prints it. */
export function fingerprintOf(publicKeyFile: string): string {
  const r = spawnSync('ssh-keygen', ['-lf', publicKeyFile], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen -lf failed: ${r.stderr}`);
  return r.stdout.split(' ')[1]!;
}

/** An sshd that takes `authorizedKey` (a public key line) for the current user, publickey only. */
export async function startSshd(authorizedKey: string): Promise<Sshd> {
  requirePrograms(SSHD, 'ssh-keygen');
  const dir = mkdtempSync(join(tmpdir(), 'wasshd-sshd-'));
  const hostKey = join(dir, 'host_ed25519');
  const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test host', '-f', hostKey]);
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
  writeFileSync(join(dir, 'authorized_keys'), `${authorizedKey}\n`);
  // As root sshd separates privileges and wants the directory Debian's service unit would make.
  mkdirSync('/run/sshd', { recursive: true });
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    'PidFile none',
    'UsePAM no',
    'StrictModes no',
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `AllowUsers ${userInfo().username}`,
    'PermitRootLogin prohibit-password',
    'AuthenticationMethods publickey',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    'LogLevel ERROR',
  ];
  writeFileSync(join(dir, 'sshd_config'), `${config.join('\n')}\n`);
  const child = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await listening(child, port, () => stderr);
  return {
    port,
    dir,
    fingerprint: fingerprintOf(`${hostKey}.pub`),
    stop: () =>
      new Promise<void>((done) => {
        const finish = () => {
          rmSync(dir, { recursive: true, force: true });
          done();
        };
        if (child.exitCode !== null) return finish();
        child.once('exit', finish);
        child.kill('SIGTERM');
      }),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `port` takes connections; rejects if sshd exits first or takes too long. */
async function listening(child: ChildProcess, port: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited (${child.exitCode}) before listening:\n${stderr()}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on port ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
