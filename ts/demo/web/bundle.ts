/**
 * Bundles a page's scripts with esbuild (their CSS imports into a stylesheet beside each) and lists what a
 * server must serve for the page: the HTML at `/`, the bundles at the top level, and every wasm module the
 * bundled code finds with `new URL('….wasm', import.meta.url)` (the package's browser entry does), at the URL
 * that expression gives when the code runs from a bundle. The list is written beside the bundles
 * (`files.json`), for a server started later.
 */

import { build, type BuildOptions } from 'esbuild';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';

const root = new URL('../../..', import.meta.url).pathname;

/** A file to serve: where it is on disk and its media type. */
export interface ServedFile {
  file: string;
  type: string;
}

const TYPES: Record<string, string | undefined> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  // What streaming compilation requires.
  '.wasm': 'application/wasm',
};

/** The media type a server sends `path` with. */
export const mediaType = (path: string): string => TYPES[extname(path)] ?? 'application/octet-stream';

/** `new URL('x.wasm', import.meta.url)` in a source, with the relative path captured. */
const WASM_URL = /new URL\(\s*['"]([^'"]+\.wasm)['"]\s*,\s*import\.meta\.url\s*\)/g;

/** The list `bundlePage` wrote into `outDir`. */
const MANIFEST = 'files.json';

/**
 * Bundles `entries` (output name to source file, e.g. `{ page: 'ts/demo/web/page.ts' }`) into `outDir` and
 * returns the files to serve, by URL path. `alias` maps package names to files (an example's `wasshd` to
 * the source of its browser entry).
 */
export async function bundlePage(html: string, entries: Record<string, string>, outDir: string, alias: BuildOptions['alias'] = {}): Promise<Map<string, ServedFile>> {
  const result = await build({
    alias,
    absWorkingDir: root,
    entryPoints: entries,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    outdir: outDir,
    metafile: true,
    logLevel: 'warning',
  });
  const served = (file: string): ServedFile => ({ file, type: mediaType(file) });
  const files = new Map([['/', served(resolve(root, html))]]);
  for (const output of Object.keys(result.metafile.outputs)) files.set(`/${output.slice(output.lastIndexOf('/') + 1)}`, served(resolve(root, output)));
  const bundleUrl = new URL('/bundle.js', 'http://page.invalid');
  for (const input of Object.keys(result.metafile.inputs)) {
    if (!/\.[cm]?[jt]s$/.test(input)) continue;
    for (const [, path] of readFileSync(resolve(root, input), 'utf8').matchAll(WASM_URL)) {
      const file = resolve(root, dirname(input), path!);
      if (!existsSync(file)) throw new Error(`${input} loads ${path}, which is not built: run npm run build:wasm`);
      files.set(new URL(path!, bundleUrl).pathname, served(file));
    }
  }
  writeFileSync(join(outDir, MANIFEST), JSON.stringify(Object.fromEntries(files), null, 1));
  return files;
}

/** What `bundlePage` wrote into `outDir`, or undefined if it has not run there. */
export function readManifest(outDir: string): Map<string, ServedFile> | undefined {
  const path = join(outDir, MANIFEST);
  if (!existsSync(path)) return undefined;
  return new Map(Object.entries(JSON.parse(readFileSync(path, 'utf8')) as Record<string, ServedFile>));
}
