/**
 * One conformance suite for every runtime the server runs on: the same checks, with Debian's OpenSSH client,
 * against each runtime's demo started by its own command (the demo contract: `--port 0`, `listening on
 * ADDR:PORT`). A runtime joins by adding a row to RUNTIMES.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUN, BUN_DEMO, DENO, DENO_DEMO, makeUserKey, NODE_DEMO, requirePrograms, run, sha256hex, SSH_BASE, ssh, startDemo, testData, type Demo } from '../helpers/demo.js';

interface RuntimeUnderTest {
  name: string;
  /** The program and arguments that start its demo, before the demo's own flags. */
  command: string[];
  /** Programs it needs besides Node. */
  requires: string[];
}

const RUNTIMES: RuntimeUnderTest[] = [
  { name: 'node', command: NODE_DEMO, requires: [] },
  { name: 'deno', command: DENO_DEMO, requires: [DENO] },
  { name: 'bun', command: BUN_DEMO, requires: [BUN] },
];

const USER = 'conform';
const PASSWORD = 'conformance pw';
const MiB = 1024 * 1024;
const key = makeUserKey();

describe.each(RUNTIMES)('$name', ({ command, requires }) => {
  let demo: Demo;
  beforeAll(async () => {
    requirePrograms(...requires);
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--authorized-keys', key.authorizedKeys, '--verbose'], {}, command);
  });
  afterAll(() => demo?.stop());

  const withKey = (commandLine: string, input?: Buffer, options: string[] = []) =>
    ssh(demo.port, { user: USER, keyFile: key.keyFile, command: commandLine, options, ...(input ? { input } : {}) });

  it('runs a command', async () => {
    const r = await withKey('echo conformance');
    expect(r.stdout.toString()).toBe('conformance\n');
    expect(r.code).toBe(0);
  });

  it('moves 16 MiB byte-exact both ways', async () => {
    const data = testData(16 * MiB, 7);
    const up = await withKey('sha256', data);
    expect(up.stdout.toString().trim()).toBe(sha256hex(data));
    const down = await withKey(`source ${16 * MiB}`);
    expect(down.stdout.length).toBe(16 * MiB);
    expect(sha256hex(down.stdout)).toBe(sha256hex(Buffer.from(Uint8Array.from({ length: 16 * MiB }, (_, i) => i % 251))));
  });

  it('runs an interactive shell on a pty', async () => {
    const r = await run('ssh', [...SSH_BASE, '-i', key.keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-tt', '-p', String(demo.port), `${USER}@127.0.0.1`], Buffer.from('pty\r\nexit 3\r\n'));
    expect(r.stdout.toString()).toMatch(/ \d+x\d+\r\n/);
    expect(r.code).toBe(3);
  });

  it('rekeys while data moves', async () => {
    const rekeys = () => (demo.stderr().match(/keys re-exchanged/g) ?? []).length;
    const before = rekeys();
    const data = testData(4 * MiB, 8);
    const r = await withKey('sha256', data, ['-o', 'RekeyLimit=256K']);
    expect(r.stdout.toString().trim()).toBe(sha256hex(data));
    await demo.settled();
    expect(rekeys() - before).toBeGreaterThan(4);
  });

  it('refuses a wrong password', async () => {
    const r = await ssh(demo.port, { user: USER, password: 'not the password', command: 'echo no', options: ['-o', 'NumberOfPasswordPrompts=1'] });
    expect(r.code, 'sshpass: the password was refused').toBe(5);
    expect(r.stdout.length).toBe(0);
  });
});
