/**
 * The demo's `--authorized-keys` reads the file with the library's parser before it listens: a line it
 * cannot read stops it at start, naming the file and line, instead of its key being taken without the
 * restriction the line asks for (what the options do once read: authorized-keys-options.test.ts).
 */

import { writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { makeUserKey, startDemo } from '../helpers/demo.js';

const USER = 'dora';

/** An authorized_keys file of `lines` after a comment line, so the first of them is line 2. */
function authorizedKeys(lines: string[]): string {
  const file = `${makeUserKey().authorizedKeys}.test`;
  writeFileSync(file, ['# keys for the test', ...lines, ''].join('\n'));
  return file;
}

it.each([
  ['from="host.example.com"', 'from="host\\.example\\.com": "host\\.example\\.com" is not an address, a CIDR range or a pattern with \\* or \\? \\(host names are not looked up\\)'],
  ['no-pty,bogus', 'unknown option bogus'],
])('a %s line stops the demo at start with an error naming the file and line', async (options, message) => {
  const key = makeUserKey();
  const file = authorizedKeys([`${options} ${key.publicLine}`]);
  const started = startDemo(['--user', `${USER}:pw`, '--authorized-keys', file]);
  void started.then((d) => d.stop(), () => {}); // a demo that started anyway is not left running
  await expect(started).rejects.toThrow(new RegExp(`exited with 1 before listening:\\nwasshd demo: ${file}:2: ${message}`));
});
