/**
 * A client program the tests need that is not installed fails the test that needs it at once, with a
 * message naming the program and the setup command, not after a timeout or with a bare ENOENT. Each case
 * runs the shared helpers with a PATH that lacks the program; the 5 s limits stand for "at once".
 */

import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { makeUserKey, requirePrograms, run, ssh } from '../helpers/demo.js';

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

/** A directory holding only links to `programs` (as found on the real PATH), to use as PATH. */
function pathWith(...programs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'wasshd-path-'));
  for (const program of programs) {
    const real = (savedPath ?? '').split(delimiter).map((d) => join(d, program)).find((p) => existsSync(p));
    if (!real) throw new Error(`${program} is needed to build this test's PATH`);
    symlinkSync(real, join(dir, program));
  }
  return dir;
}

it('names ssh and the setup command when ssh is missing', async () => {
  process.env.PATH = pathWith();
  await expect(run('ssh', ['-V'])).rejects.toThrow(/^ssh is not installed \(not on PATH\): run bash scripts\/setup\.sh$/);
  // Through the OpenSSH helper with a key: it runs ssh itself.
  await expect(ssh(1, { user: 'u', keyFile: '/nonexistent', command: 'true' })).rejects.toThrow(/^ssh is not installed/);
}, 5_000);

it('names sshpass when it is missing, and ssh when only sshpass is there', async () => {
  process.env.PATH = pathWith('ssh');
  await expect(ssh(1, { user: 'u', password: 'pw', command: 'true' })).rejects.toThrow(/^sshpass is not installed.*run bash scripts\/setup\.sh$/);
  process.env.PATH = pathWith('sshpass');
  await expect(ssh(1, { user: 'u', password: 'pw', command: 'true' })).rejects.toThrow(/^ssh is not installed.*run bash scripts\/setup\.sh$/);
}, 5_000);

it('names ssh-keygen when making a user key without it', () => {
  process.env.PATH = pathWith('ssh', 'sshpass');
  expect(() => makeUserKey()).toThrow(/^ssh-keygen is not installed.*run bash scripts\/setup\.sh$/);
}, 5_000);

it('names a program given by path, such as the ssh-audit venv', () => {
  expect(() => requirePrograms('/nonexistent/.tools/ssh-audit/bin/ssh-audit')).toThrow(/^\/nonexistent\/\.tools\/ssh-audit\/bin\/ssh-audit is not installed: run bash scripts\/setup\.sh$/);
});

it('names Chromium and playwright-core when the browser tests lack them', async () => {
  await expect(launchChromium('/nonexistent/chromium')).rejects.toThrow(/^\/nonexistent\/chromium is not installed: run bash scripts\/setup\.sh$/);
  await expect(launchChromium(undefined, 'playwright-core-absent')).rejects.toThrow(/^playwright-core-absent is not installed: run bash scripts\/setup\.sh$/);
}, 5_000);

it('finds the programs that are installed, on PATH or by path', () => {
  expect(() => requirePrograms('ssh', 'sshpass', 'ssh-keygen', process.execPath)).not.toThrow();
  process.env.PATH = pathWith('ssh');
  expect(() => requirePrograms('ssh')).not.toThrow();
});
