/**
 * The directory filesystem on Deno and Bun (their `node:fs/promises`): the demo's `--sftp-root` through
 * `npm run demo:deno` and `demo:bun`, 16 MiB put and got back byte-exact with OpenSSH's sftp, a listing, and
 * a symlink the host has inside the root that points out of it refused.
 */

import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUN, BUN_DEMO, DENO, DENO_DEMO, requirePrograms, sha256hex, testData } from '../helpers/demo.js';
import { sftpDemo } from '../helpers/sftp.js';

const SIZE = 16 * 1024 * 1024;

describe.each([
  ['Deno', DENO, DENO_DEMO],
  ['Bun', BUN, BUN_DEMO],
] as const)('SFTP from a directory on %s', (_, binary, command) => {
  it('puts and gets 16 MiB byte-exact, lists, and refuses a link out of the root', { timeout: 240_000 }, async () => {
    requirePrograms(binary);
    const s = await sftpDemo('root', [], [...command]);
    try {
      const local = mkdtempSync(join(tmpdir(), 'wasshd-sftp-local-'));
      const data = testData(SIZE, 161);
      writeFileSync(join(local, 'big'), data);
      const outside = mkdtempSync(join(tmpdir(), 'wasshd-sftp-outside-'));
      writeFileSync(join(outside, 'hidden-file'), 'secret\n');
      symlinkSync(join(outside, 'hidden-file'), join(s.root!, 'out'));

      const r = await s.batch(['put big', 'get big back', 'mkdir d', 'rename big d/big', 'ls -l d'], local);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toMatch(/^-rw-r--r-- .* 16777216 .* d\/big$/m);
      expect(sha256hex(readFileSync(join(local, 'back')))).toBe(sha256hex(data));
      expect(sha256hex(readFileSync(join(s.root!, 'd', 'big')))).toBe(sha256hex(data));

      const escape = await s.batch(['get out'], local);
      expect(escape.code).not.toBe(0);
      expect(escape.stderr).toMatch(/leads outside|Permission denied/);
    } finally {
      await s.demo.stop();
    }
  });
});
