/**
 * Debian's OpenSSH `sftp` (batch mode) against the demo's subsystem `sftp`, from a directory (`--sftp-root`)
 * and from memory (`--sftp-memory`): 64 MiB each way byte-exact, resumed transfers, the everyday commands,
 * the ways out of the root refused, and a read-only session refusing every change.
 */

import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256hex, testData } from '../helpers/demo.js';
import { sftpDemo, type SftpDemo } from '../helpers/sftp.js';

const BIG = 64 * 1024 * 1024;
const started: SftpDemo[] = [];
afterAll(async () => {
  for (const s of started) await s.demo.stop();
});

async function start(mode: 'root' | 'memory', extra: string[] = []): Promise<SftpDemo> {
  const s = await sftpDemo(mode, extra);
  started.push(s);
  return s;
}

/** A batch that must succeed: its output, and its errors shown if it did not. */
async function ok(s: SftpDemo, lines: string[], cwd?: string): Promise<string> {
  const r = await s.batch(lines, cwd);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.toString();
}

/** A batch of one command that must fail, with `message` on stderr. */
async function refused(s: SftpDemo, line: string, message: RegExp, cwd?: string): Promise<void> {
  const r = await s.batch([line], cwd);
  expect(r.code, `${line} should fail`).not.toBe(0);
  expect(r.stderr).toMatch(message);
}

describe.each(['root', 'memory'] as const)('OpenSSH sftp against --sftp-%s', (mode) => {
  it('puts and gets 64 MiB byte-exact, and resumes both ways (reget, reput)', { timeout: 300_000 }, async () => {
    const s = await start(mode);
    const local = mkdtempSync(join(tmpdir(), 'wasshd-sftp-local-'));
    const data = testData(BIG, 141);
    writeFileSync(join(local, 'big'), data);
    // Partial copies: a download that stopped at 5 MiB, an upload that stopped at 9 MiB.
    writeFileSync(join(local, 'partial'), data.subarray(0, 5 * 1024 * 1024));
    writeFileSync(join(local, 'head'), data.subarray(0, 9 * 1024 * 1024));

    await ok(s, ['put big big', 'get big back', 'get big partial', 'put head resumed'], local);
    expect(sha256hex(readFileSync(join(local, 'back')))).toBe(sha256hex(data));
    if (s.root) expect(sha256hex(readFileSync(join(s.root, 'big')))).toBe(sha256hex(data));

    writeFileSync(join(local, 'partial'), data.subarray(0, 5 * 1024 * 1024));
    await ok(s, ['reget big partial', 'reput big resumed', 'get resumed resumed-back'], local);
    expect(sha256hex(readFileSync(join(local, 'partial')))).toBe(sha256hex(data));
    expect(sha256hex(readFileSync(join(local, 'resumed-back')))).toBe(sha256hex(data));
  });

  it('ls -l, mkdir, rename, chmod, symlink, df, rm and rmdir', async () => {
    const s = await start(mode);
    const local = mkdtempSync(join(tmpdir(), 'wasshd-sftp-local-'));
    writeFileSync(join(local, 'hello'), 'hello sftp\n');

    const out = await ok(s, ['mkdir dir', 'put hello dir/a', 'rename dir/a dir/b', 'chmod 600 dir/b', 'symlink dir/b link', 'ls -l dir', 'ls -l', 'df', 'get link fetched'], local);
    expect(out).toMatch(/^-rw------- .* 11 .* dir\/b$/m);
    expect(out).toMatch(/^drwx.* dir$/m);
    expect(out).toMatch(/^lrwx.* link$/m);
    expect(out).toMatch(/Size\s+Used\s+Avail\s+\(root\)\s+%Capacity\n\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+%/);
    expect(readFileSync(join(local, 'fetched'), 'utf8')).toBe('hello sftp\n');

    await refused(s, 'rmdir dir', /Failure|not empty/);
    await refused(s, 'mkdir dir', /Failure/);
    await ok(s, ['rm link', 'rm dir/b', 'rmdir dir']);
    const after = await ok(s, ['ls -la']);
    expect(after).not.toMatch(/ dir$| link$/m);
    await refused(s, 'get dir/b', /not found|No such file/, local);
  });

  it('no path leaves the root: .., absolute paths, symlinks made by the client', async () => {
    const s = await start(mode);
    const local = mkdtempSync(join(tmpdir(), 'wasshd-sftp-local-'));
    for (const line of ['get ../../../../etc/passwd', 'get /etc/passwd', 'get /../../etc/hostname', 'ls /etc', 'cd ../../etc']) {
      await refused(s, line, /not found|No such file|Can't change directory/, local);
    }
    // `cd ..` at the root stays there, as at `/`.
    const listing = await ok(s, ['cd ../..', 'pwd', 'mkdir inside', 'cd /..', 'ls']);
    expect(listing).toMatch(/Remote working directory: \/\n/);
    expect(listing).toMatch(/inside/);
    for (const target of ['/etc/passwd', '../../../../../etc/passwd']) {
      await ok(s, [`symlink ${target} out`]);
      await refused(s, 'get out', /not found|No such file|Permission denied/, local);
      await ok(s, ['rm out']);
    }
  });

  it('with --sftp-read-only: reads work, every change is refused', async () => {
    const s = await start(mode, ['--sftp-read-only']);
    const local = mkdtempSync(join(tmpdir(), 'wasshd-sftp-local-'));
    writeFileSync(join(local, 'f'), 'data');
    if (s.root) writeFileSync(join(s.root, 'there'), 'served\n');
    for (const line of ['put f f', 'mkdir d', 'symlink a b', 'rm there', 'rmdir /', 'rename there else', 'chmod 600 there']) {
      await refused(s, line, /Permission denied|not found|No such file/, local);
    }
    await ok(s, ['ls -l', 'df']);
    if (s.root) {
      await ok(s, ['get there'], local);
      expect(readFileSync(join(local, 'there'), 'utf8')).toBe('served\n');
    }
  });
});

describe('OpenSSH sftp against --sftp-root: symlinks the host has inside the root', () => {
  it('a link inside the root to a file or a directory outside it is refused; one inside works', async () => {
    const s = await start('root');
    const outside = mkdtempSync(join(tmpdir(), 'wasshd-sftp-outside-'));
    writeFileSync(join(outside, 'hidden-file'), 'secret\n');
    mkdirSync(join(s.root!, 'sub'));
    writeFileSync(join(s.root!, 'sub', 'inner'), 'inner\n');
    symlinkSync(join(outside, 'hidden-file'), join(s.root!, 'to-secret'));
    symlinkSync(outside, join(s.root!, 'to-outside'));
    symlinkSync('../..', join(s.root!, 'sub', 'up'));
    symlinkSync('sub/inner', join(s.root!, 'to-inner'));
    const local = mkdtempSync(join(tmpdir(), 'wasshd-sftp-local-'));

    for (const line of ['get to-secret', 'get to-outside/hidden-file', 'cd to-outside', 'get sub/up/hidden-file', 'put /etc/hostname to-outside/planted', 'put /etc/hostname to-secret']) {
      await refused(s, line, /Permission denied|not found|No such file|Can't|leads outside/, local);
    }
    expect(readFileSync(join(outside, 'hidden-file'), 'utf8')).toBe('secret\n');
    expect(existsSync(join(outside, 'planted'))).toBe(false);
    // The link itself may be listed; nothing behind it is.
    expect(await ok(s, ['ls -l to-outside', 'ls to-outside/', 'ls -l'])).not.toMatch(/hidden-file/);
    await ok(s, ['get to-inner'], local);
    expect(readFileSync(join(local, 'to-inner'), 'utf8')).toBe('inner\n');
  });
});
