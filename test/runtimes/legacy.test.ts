/**
 * The legacy algorithms' module on Deno and Bun, which read and compile it when a setting first names one of
 * its algorithms: Blowfish and RC4 (which neither runtime's `node:crypto` serves, so the module does) with
 * AsyncSSH, 1 MiB through `cat` byte-exact, as test/interop/legacy-ciphers.test.ts does on Node.
 */

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUN, BUN_DEMO, DENO, DENO_DEMO, requirePrograms, run, startDemo } from '../helpers/demo.js';

const root = new URL('../..', import.meta.url).pathname;
const ASYNCSSH = join(root, '.tools/asyncssh/bin/python');
const ASYNCSSH_CLIENT = join(root, 'test/helpers/asyncssh-client.py');

describe.each([
  ['Deno', DENO, DENO_DEMO],
  ['Bun', BUN, BUN_DEMO],
] as const)('the legacy module on %s', (_, binary, command) => {
  it('serves blowfish-cbc and arcfour256 to AsyncSSH once configured', { timeout: 120_000 }, async () => {
    requirePrograms(binary, ASYNCSSH);
    const demo = await startDemo(['--user', 'old:old pw', '--config', 'SSHEncryptionAlgorithms=blowfish-cbc,arcfour256', '--verbose'], {}, command);
    try {
      for (const cipher of ['blowfish-cbc', 'arcfour256']) {
        const r = await run(ASYNCSSH, [ASYNCSSH_CLIENT, String(demo.port), 'old', 'old pw', 'curve25519-sha256', 'cat', cipher], undefined, 60_000);
        expect(r.stderr.toString()).toBe('');
        expect(r.stdout.toString()).toBe(`same ${1 << 20}\n`);
        await demo.settled();
        expect(demo.stderr()).toContain(`curve25519-sha256, ssh-ed25519, ${cipher}`);
      }
    } finally {
      await demo.stop();
    }
  });
});
