/** Debian's OpenSSH `sftp -b` against a demo serving subsystem `sftp` (`--sftp-root`, `--sftp-memory`). */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeUserKey, run, SSH_BASE, startDemo, type Demo, type Run } from './demo.js';

export interface SftpDemo {
  demo: Demo;
  keyFile: string;
  /** The served directory (`--sftp-root`), or undefined for `--sftp-memory`. */
  root: string | undefined;
  /** Runs `sftp -b -` with these batch lines (a failing line ends the batch, as sftp does). */
  batch(lines: string[], cwd?: string): Promise<Run>;
}

/** Starts the demo serving SFTP from a fresh temporary directory or from memory, `extra` flags after. */
export async function sftpDemo(mode: 'root' | 'memory', extra: string[] = [], command?: string[]): Promise<SftpDemo> {
  const { keyFile, authorizedKeys } = makeUserKey();
  const root = mode === 'root' ? mkdtempSync(join(tmpdir(), 'wasshd-sftp-root-')) : undefined;
  const flags = root ? ['--sftp-root', root] : ['--sftp-memory'];
  const demo = await startDemo(['--user', 'u:unused-password', '--authorized-keys', authorizedKeys, ...flags, ...extra], {}, command);
  const batch = (lines: string[], cwd?: string) =>
    sftpBatch(demo.port, keyFile, lines, cwd);
  return { demo, keyFile, root, batch };
}

/** `sftp -b -` as user `u` with the key, the batch on stdin, run from `cwd` (where `get` and `put` find local files). */
export function sftpBatch(port: number, keyFile: string, lines: string[], cwd = tmpdir()): Promise<Run> {
  const args = [...SSH_BASE, '-i', keyFile, '-o', 'IdentitiesOnly=yes', '-P', String(port), '-b', '-', 'u@127.0.0.1'];
  // sftp resolves local paths against its working directory: `lcd` first, so every batch starts in `cwd`.
  return run('sftp', args, Buffer.from([`lcd ${cwd}`, ...lines].join('\n') + '\n'), 300_000);
}
