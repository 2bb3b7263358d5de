/**
 * A second SFTP client, paramiko's (PyPI, pinned in scripts/setup.sh), against the demo's `--sftp-root` and
 * `--sftp-memory`: 64 MiB put and got back byte-exact, a transfer resumed both ways, the everyday operations,
 * and the ways out of the root refused (test/helpers/paramiko_sftp.py runs the steps).
 */

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, sha256hex, startDemo, testData } from '../helpers/demo.js';

const root = new URL('../..', import.meta.url).pathname;
const PYTHON = join(root, '.tools/paramiko/bin/python');
const SCRIPT = join(root, 'test/helpers/paramiko_sftp.py');
const SIZE = 64 * 1024 * 1024;

describe.each(['root', 'memory'] as const)('paramiko SFTP against --sftp-%s', (mode) => {
  it('put and get byte-exact, resumed both ways, the everyday operations, no way out of the root', { timeout: 300_000 }, async () => {
    if (!existsSync(PYTHON)) throw new Error(`paramiko is missing at ${PYTHON}: run bash scripts/setup.sh`);
    const flags = mode === 'root' ? ['--sftp-root', mkdtempSync(join(tmpdir(), 'wasshd-sftp-root-'))] : ['--sftp-memory'];
    const demo = await startDemo(['--user', 'u:sftp-pass', ...flags]);
    try {
      const local = join(mkdtempSync(join(tmpdir(), 'wasshd-sftp-local-')), 'data');
      const data = testData(SIZE, 151);
      writeFileSync(local, data);

      const r = await run(PYTHON, [SCRIPT, String(demo.port), 'sftp-pass', local], undefined, 280_000);

      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout.toString());
      expect(out).toMatchObject({
        back: sha256hex(data),
        size: SIZE,
        resumed: sha256hex(data),
        readlink: 'dir/b',
        linked: 'hello\n',
        mode: '0o600',
        islink: true,
        listing: ['big', 'dir', 'link', 'resumed'],
        normalize: '/',
        after: ['big'],
        escape_listing: ['big', 'out', 'out2'],
      });
      expect(out.rename_existing).toMatch(/^OSError/);
      for (const step of ['dotdot', 'absolute', 'symlink_abs', 'symlink_rel']) expect(out[step], step).toMatch(/^(FileNotFoundError|PermissionError): /);
    } finally {
      await demo.stop();
    }
  });
});
