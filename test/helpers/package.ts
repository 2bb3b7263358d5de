/** The built package in a project folder of its own, as `npm install wasshd` would leave it, and its examples run there. */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

/**
 * Builds the package into `node_modules/wasshd` of a fresh folder (its own build, apart from dist/, which other
 * test files rebuild) with the manifest's name, version, type, exports and bin; links its dependencies beside
 * it, and `links`, packages of this repository's node_modules the project itself uses; copies `examples`
 * (folders of examples/) to `examples/`. Returns the folder.
 */
export function installBuiltPackage({ links = [], examples = [] }: { links?: string[]; examples?: string[] } = {}): string {
  const app = mkdtempSync(join(tmpdir(), 'wasshd-app-'));
  const pkg = join(app, 'node_modules/wasshd');
  execFileSync(process.execPath, ['scripts/build.mjs', '--out', join(pkg, 'dist')], { cwd: root, stdio: 'ignore' });
  const { name, version, type, exports, bin, dependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name, version, type, exports, bin }));
  for (const dep of [...Object.keys(dependencies as object), ...links]) {
    mkdirSync(join(app, 'node_modules', dep, '..'), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), join(app, 'node_modules', dep));
  }
  for (const example of examples) cpSync(join(root, 'examples', example), join(app, 'examples', example), { recursive: true });
  return app;
}

export interface Running {
  child: ChildProcess;
  /** The port of its `listening on ADDR:PORT` line. */
  port: number;
  /** Everything it printed on stdout so far. */
  stdout(): string;
}

/**
 * Starts `node FILE` in `cwd` with `env` added, and resolves once it prints `listening on ADDR:PORT`; rejects
 * with what it printed on stderr if it exits first.
 */
export function startNodeProgram(cwd: string, file: string, env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [file], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`${file} exited with ${code} before listening:\n${err}`));
    child.once('exit', exited);
    child.stdout!.on('data', (d: Buffer) => {
      const before = out;
      out += d.toString();
      const port = /listening on [^ ]*:(\d+)/.exec(out)?.[1];
      if (port && !/listening on [^ ]*:(\d+)/.test(before)) {
        child.off('exit', exited);
        resolve({ child, port: Number(port), stdout: () => out });
      }
    });
  });
}
