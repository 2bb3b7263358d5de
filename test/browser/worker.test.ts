/**
 * The server inside the browser: examples/browser-worker, bundled with esbuild, in Debian's Chromium. The page
 * runs the server in a Web Worker and the client itself, over a MessageChannel (ts/browser/message-port.ts):
 * the host key checked, a password login, `echo` answered by the worker's exec handler, and 1 MiB through `cat`
 * byte-exact both ways; no WebSocket opened and nothing fetched but the page's own files.
 */

import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bundlePage } from '../../ts/demo/web/bundle.js';
import { launchChromium, serveFiles } from '../helpers/browser.js';

const example = 'examples/browser-worker';

let browser: Browser | undefined;
let site: Server | undefined;
let origin: string;
let served: string[];

beforeAll(async () => {
  browser = await launchChromium();
  const files = await bundlePage(
    `${example}/index.html`,
    { page: `${example}/page.js`, worker: `${example}/worker.js` },
    mkdtempSync(join(tmpdir(), 'wasshd-worker-page-')),
    { wasshd: './ts/browser/index.ts' },
  );
  served = [...files.keys()];
  const server = await serveFiles(files);
  site = server.server;
  origin = `http://127.0.0.1:${server.port}`;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  site?.close();
});

it('runs a session between the page and a server in its Worker, with no network', async () => {
  const page = await browser!.newPage();
  const requested: string[] = [];
  const sockets: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requested.push(new URL(request.url()).pathname));
  page.on('websocket', (ws) => sockets.push(ws.url()));
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => /^(done|failed)$/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });
  expect(await page.textContent('#error')).toBe('');
  expect(await page.textContent('#status')).toBe('done');
  expect(await page.textContent('#hostkey')).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  expect(await page.textContent('#echo')).toBe('hello from the worker');
  expect(await page.textContent('#cat')).toBe('1048576 bytes back, identical, exit 0');
  expect(errors).toEqual([]);
  expect(sockets).toEqual([]);
  // The page, its script, the worker's, the wasm module of each side's role and the key files' (the server
  // generates its host key): nothing else.
  expect(new Set(requested)).toEqual(
    new Set(['/', '/page.js', '/worker.js', '/wasm/pkg/wasshd_wasm_bg.wasm', '/wasm/pkg-client/wasshd_client_bg.wasm', '/wasm/pkg-keys/wasshd_keys_bg.wasm']),
  );
  expect(requested.every((path) => served.includes(path))).toBe(true);
  await page.close();
});
