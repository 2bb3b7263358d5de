/**
 * The demo's `--authorized-keys` enforces no key option yet, so a line that asks for one it would not honour
 * stops the demo at start, naming the file and line, instead of letting its key in unrestricted: a `from=`
 * line would log in from anywhere, and a `cert-authority` line would let the CA's own key log in as a user.
 * Lines without options, or with options that only forbid what the demo never offers, still work with the
 * real OpenSSH client.
 */

import { writeFileSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { makeUserKey, ssh, startDemo, type Demo } from '../helpers/demo.js';

const USER = 'dora';
let demo: Demo | undefined;
afterEach(async () => {
  await demo?.stop();
  demo = undefined;
});

/** An authorized_keys file of `lines` after a comment line, so the first of them is line 2. */
function authorizedKeys(lines: string[]): string {
  const file = `${makeUserKey().authorizedKeys}.test`;
  writeFileSync(file, ['# keys for the test', ...lines, ''].join('\n'));
  return file;
}

it.each([
  ['from="10.9.9.9"', 'option from="10\\.9\\.9\\.9" is not enforced by the demo yet'],
  ['cert-authority', "cert-authority: certificates are not supported yet, and a CA's own key is not a user key"],
])('a %s line stops the demo at start with an error naming the file and line', async (options, message) => {
  const key = makeUserKey();
  const file = authorizedKeys([`${options} ${key.publicLine}`]);
  const started = startDemo(['--user', `${USER}:pw`, '--authorized-keys', file]);
  void started.then((d) => d.stop(), () => {}); // a demo that started anyway is not left running
  await expect(started).rejects.toThrow(new RegExp(`exited with 1 before listening:\\nwasshd demo: ${file}:2: ${message}`));
});

it('a plain line, and one with options that only forbid what the demo never offers, still log in with OpenSSH', async () => {
  const plain = makeUserKey();
  const restricted = makeUserKey();
  const file = authorizedKeys([plain.publicLine, `no-port-forwarding,no-agent-forwarding,No-X11-Forwarding,no-user-rc ${restricted.publicLine}`]);
  demo = await startDemo(['--user', `${USER}:pw`, '--authorized-keys', file]);
  for (const key of [plain, restricted]) {
    const r = await ssh(demo.port, { user: USER, keyFile: key.keyFile, command: 'whoami' });
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toBe(`${USER}\n`);
  }
});
