/**
 * `SSHClient` from the Deno and Bun entries (`test/fixtures/client-runtime.ts`, run by each runtime) against the
 * Node demo: the host key shown is the demo's, `echo` runs, and 1 MiB comes back byte-exact through `cat`.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUN, DENO, requirePrograms, startDemo, type Demo } from '../helpers/demo.js';
import { fingerprintOf } from '../helpers/sshd.js';

const USER = 'dora';
const PASSWORD = 'runtime client pw';
let demo: Demo;
let fingerprint: string;

beforeAll(async () => {
  const hostKey = join(mkdtempSync(join(tmpdir(), 'wasshd-client-runtimes-')), 'host_ed25519');
  const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'demo host', '-f', hostKey]);
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
  fingerprint = fingerprintOf(`${hostKey}.pub`);
  demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--host-key', hostKey]);
});
afterAll(() => demo?.stop());

describe.each([
  { entry: 'deno', command: [DENO, 'run', '--sloppy-imports', '--allow-net', '--allow-read', '--allow-env', 'test/fixtures/client-runtime.ts'] },
  { entry: 'bun', command: [BUN, 'test/fixtures/client-runtime.ts'] },
])('the $entry entry', ({ entry, command }) => {
  it('logs in to the demo after showing its host key, runs echo, and moves 1 MiB through cat byte-exact', () => {
    requirePrograms(command[0]!);
    const run = spawnSync(command[0]!, command.slice(1), {
      env: { ...process.env, ENTRY: entry, PORT: String(demo.port), USER, PASSWORD, DENO_NO_UPDATE_CHECK: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as { echo: string; code: number; catBytes: number; same: boolean; fingerprint: string };
    expect(result).toEqual({ echo: 'from the client\n', code: 0, catBytes: 1 << 20, same: true, fingerprint });
  });
});
