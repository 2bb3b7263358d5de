/**
 * Debian's Chromium driven by playwright-core (`npx playwright install` cannot download a browser here), and
 * what serves a page to it. scripts/setup.sh installs both; a test that needs one fails at once, naming it.
 */

import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import type { Browser } from 'playwright-core';
import { mediaType, type ServedFile } from '../../ts/demo/web/bundle.js';
import { requirePrograms, SETUP_COMMAND } from './demo.js';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Starts Chromium (`executablePath`) through playwright-core (`playwright`, the package to import). */
export async function launchChromium(executablePath = CHROMIUM, playwright = 'playwright-core'): Promise<Browser> {
  requirePrograms(executablePath);
  let driver: typeof import('playwright-core');
  try {
    driver = (await import(playwright)) as typeof import('playwright-core');
  } catch {
    throw new Error(`${playwright} is not installed: run ${SETUP_COMMAND}`);
  }
  return driver.chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
}

/** Serves the files under `dir` on 127.0.0.1 (a folder's `index.html` for the folder); resolves with the server and its port. */
export function serveStatic(dir: string): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    let path = normalize(join(dir, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(dir)) return void response.writeHead(403).end();
    try {
      if (statSync(path).isDirectory()) path = join(path, 'index.html');
      statSync(path);
    } catch {
      return void response.writeHead(404).end();
    }
    response.writeHead(200, { 'content-type': mediaType(path) });
    createReadStream(path).pipe(response);
  });
  return listen(server);
}

/** Serves `files` (URL path to file, as ts/demo/web/bundle.ts lists a page's) on 127.0.0.1, GET only. */
export function serveFiles(files: ReadonlyMap<string, ServedFile>): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const served = files.get(new URL(request.url ?? '/', 'http://x').pathname);
    if (!served || request.method !== 'GET') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': served.type });
    createReadStream(served.file).pipe(response);
  });
  return listen(server);
}

function listen(server: Server): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })));
}
