/**
 * The Deno and Bun examples (examples/deno, examples/bun) against the built package installed the way a
 * project gets it (node_modules/wasshd with its package.json): `wasshd` resolves to each runtime's own entry
 * through the `exports` conditions, Deno type-checks the example against the package's types, and each
 * example serves Debian's OpenSSH client.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUN, DENO, requirePrograms, run, ssh } from '../helpers/demo.js';

const root = new URL('../..', import.meta.url).pathname;
const app = mkdtempSync(join(tmpdir(), 'wasshd-app-'));
const env = { ...process.env, DENO_NO_UPDATE_CHECK: '1' };

beforeAll(() => {
  const pkg = join(app, 'node_modules/wasshd');
  // Its own build, apart from dist/, which other test files rebuild.
  execFileSync(process.execPath, ['scripts/build.mjs', '--out', join(pkg, 'dist')], { cwd: root, stdio: 'ignore' });
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const { name, version, type, exports } = manifest;
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name, version, type, exports }));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module', dependencies: { wasshd: version } }));
  // Its dependency, as an install would have put it beside the package.
  cpSync(join(root, 'node_modules/cidr-block'), join(app, 'node_modules/cidr-block'), { recursive: true });
  for (const runtime of ['deno', 'bun']) {
    mkdirSync(join(app, runtime));
    copyFileSync(join(root, 'examples', runtime, 'server.ts'), join(app, runtime, 'server.ts'));
  }
}, 120_000);

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill();
});

/** Starts an example; resolves with its port and the password it printed. */
function startExample(command: string[]): Promise<{ port: number; password: string }> {
  const [program, ...args] = command as [string, ...string[]];
  const child = spawn(program, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`example exited with ${code}:\n${err}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const password = /password (\S+)/.exec(out)?.[1];
      const port = /listening on [^ ]*:(\d+)/.exec(out)?.[1];
      if (password && port) resolve({ port: Number(port), password });
    });
  });
}

it('lists an existing file for every export condition', () => {
  const { exports } = JSON.parse(readFileSync(join(app, 'node_modules/wasshd/package.json'), 'utf8')) as { exports: object };
  const targets: string[] = [];
  const collect = (node: unknown): void => void (typeof node === 'string' ? targets.push(node) : Object.values(node as object).forEach(collect));
  collect(exports);
  expect(targets.length).toBeGreaterThanOrEqual(12);
  for (const target of targets) expect(existsSync(join(app, 'node_modules/wasshd', target)), target).toBe(true);
});

const RUNTIMES = [
  {
    name: 'deno',
    program: DENO,
    /** Prints the runtime objects the package's root export offers. */
    entryCheck: [DENO, 'eval', "import('wasshd').then((m) => console.log(Object.keys(m).filter((k) => k.endsWith('Runtime'))))"],
    example: [DENO, 'run', '--allow-net', '--allow-read', 'deno/server.ts', '0'],
    entry: 'denoRuntime',
  },
  {
    name: 'bun',
    program: BUN,
    entryCheck: [BUN, '-e', "import('wasshd').then((m) => console.log(Object.keys(m).filter((k) => k.endsWith('Runtime'))))"],
    example: [BUN, 'bun/server.ts', '0'],
    entry: 'bunRuntime',
  },
];

describe.each(RUNTIMES)('$name', ({ program, entryCheck, example, entry }) => {
  it(`resolves wasshd to its own entry (${entry})`, () => {
    requirePrograms(program);
    const [command, ...args] = entryCheck as [string, ...string[]];
    expect(execFileSync(command, args, { cwd: app, env, encoding: 'utf8' })).toContain(entry);
  });

  it('runs the example: an OpenSSH exec echoes its command line', async () => {
    requirePrograms(program);
    const { port, password } = await startExample(example);
    const r = await ssh(port, { user: 'demo', password, command: 'hello from openssh' });
    expect(r.stdout.toString()).toBe('hello from openssh\n');
    expect(r.code).toBe(0);
    const refused = await ssh(port, { user: 'demo', password: 'not it', command: 'hello', options: ['-o', 'NumberOfPasswordPrompts=1'] });
    expect(refused.stderr).toContain('Permission denied');
    expect(refused.stdout.length).toBe(0);
  });
});

it('deno type-checks its example against the package types', async () => {
  requirePrograms(DENO);
  const r = await run(DENO, ['check', join(app, 'deno/server.ts')]);
  expect(r.stderr).not.toMatch(/error/i);
  expect(r.code).toBe(0);
});
