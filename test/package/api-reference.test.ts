/**
 * The API reference (`npm run docs`, TypeDoc over every runtime entry): it builds with no warning, so every
 * export is documented and every `{@link}` resolves, and no link between its pages is broken. A deliberately
 * undocumented export shows the check catches one.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

/** Runs TypeDoc with the project's options plus `args`; its output without colours. */
function typedoc(args: string[], cwd = root): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [join(root, 'node_modules/typedoc/bin/typedoc'), ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: run.status, output: `${run.stdout}${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '') };
}

function htmlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.html'))
    .map((f) => join(dir, f));
}

it('builds the reference of every entry with every export documented and no broken link', () => {
  const out = mkdtempSync(join(tmpdir(), 'wasshd-docs-'));
  const run = typedoc(['--out', out]);
  expect(run.output).not.toMatch(/\[warning\]|\[error\]/);
  expect(run.status).toBe(0);

  const pages = htmlFiles(out);
  for (const entry of ['node', 'deno', 'bun', 'workerd', 'browser']) expect(existsSync(join(out, 'modules', `${entry}.html`))).toBe(true);
  expect(readFileSync(join(out, 'classes', 'node.SSHServer.html'), 'utf8')).toContain('addHostKey');

  const ids = new Map<string, Set<string>>();
  const idsOf = (file: string): Set<string> => {
    let found = ids.get(file);
    if (!found) {
      found = new Set([...readFileSync(file, 'utf8').matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!));
      ids.set(file, found);
    }
    return found;
  };
  const broken: string[] = [];
  let links = 0;
  for (const page of pages) {
    for (const [, href] of readFileSync(page, 'utf8').matchAll(/\shref="([^"]*)"/g)) {
      if (/^(https?:|mailto:|data:)/.test(href!)) continue;
      links++;
      const [path, anchor] = href!.split('#') as [string, string | undefined];
      const target = path === '' ? page : resolve(dirname(page), decodeURIComponent(path));
      if (!existsSync(target)) broken.push(`${page}: ${href}`);
      else if (anchor && target.endsWith('.html') && !idsOf(target).has(decodeURIComponent(anchor))) broken.push(`${page}: ${href} (no such anchor)`);
    }
  }
  expect(links).toBeGreaterThan(1000);
  expect(broken).toEqual([]);
}, 120_000);

it('fails on an undocumented export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasshd-docs-check-'));
  writeFileSync(join(dir, 'entry.ts'), '/** Documented. */\nexport const documented = 1;\nexport function undocumented(): void {}\n');
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'es2022', module: 'nodenext' }, files: ['entry.ts'] }));
  const options = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'typedoc.json'), JSON.stringify({ ...options, entryPoints: ['entry.ts'], tsconfig: 'tsconfig.json', out: 'out' }));
  const run = typedoc(['--options', 'typedoc.json'], dir);
  expect(run.output).toMatch(/undocumented \(CallSignature\).*does not have any documentation/);
  expect(run.status).not.toBe(0);
}, 60_000);
