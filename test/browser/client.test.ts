/**
 * The SSH client in a browser tab: the example page (examples/browser-client) in Debian's Chromium, importing the
 * built package by its `browser` export condition, speaks SSH over a WebSocket to the Node demo's WebSocket
 * endpoint: it checks the host key, logs in, runs `echo hello` and shows `hello`; a wrong password is shown
 * on the page with its message.
 */

import { spawnSync } from 'node:child_process';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, serveStatic } from '../helpers/browser.js';
import { startDemo, type Demo } from '../helpers/demo.js';
import { installBuiltPackage } from '../helpers/package.js';
import { fingerprintOf } from '../helpers/sshd.js';


let browser: Browser | undefined;
let site: Server | undefined;
let demo: Demo | undefined;
let origin: string;
let fingerprint: string;
/** Every URL a page requested, and what it threw. */
const requested: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  const app = installBuiltPackage({ examples: ['browser-client'] });
  const hostKey = join(app, 'host_ed25519');
  const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'demo host', '-f', hostKey]);
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
  fingerprint = fingerprintOf(`${hostKey}.pub`);
  const served = await serveStatic(app);
  site = served.server;
  origin = `http://127.0.0.1:${served.port}`;
  demo = await startDemo(['--user', 'alice:secret', '--host-key', hostKey, '--ws-port', '0', '--ws-origin', origin]);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
  site?.close();
});

/** Opens the example, fills in the form and submits it; resolves with the page once its status is final. */
async function runOnPage(password: string): Promise<Page> {
  const page = await browser!.newPage();
  page.on('request', (request) => requested.push(request.url()));
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(`${origin}/examples/browser-client/`);
  await page.fill('input[name=url]', `ws://127.0.0.1:${demo!.wsPort}/ssh`);
  await page.fill('input[name=user]', 'alice');
  await page.fill('input[name=password]', password);
  await page.fill('input[name=fingerprint]', fingerprint);
  await page.click('button[type=submit]');
  await page.waitForFunction(() => /^(exited|failed)/.test(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 });
  return page;
}

it('runs echo hello over a WebSocket to the server and shows hello, after showing the host key', async () => {
  const page = await runOnPage('secret');
  expect(await page.textContent('#error')).toBe('');
  expect(await page.textContent('#output')).toBe('hello\n');
  expect(await page.textContent('#status')).toBe('exited with 0');
  expect(await page.textContent('#hostkey')).toBe(fingerprint);
  expect(pageErrors).toEqual([]);
  // The page fetched the package's browser entry and its wasm, and nothing of another runtime's.
  const paths = requested.map((url) => new URL(url).pathname);
  expect(paths).toContain('/node_modules/wasshd/dist/ts/browser/index.js');
  expect(paths).toContain('/node_modules/wasshd/dist/wasm/pkg-client/wasshd_client_bg.wasm');
  // The client's module alone: the server's stays on the shelf.
  expect(paths.filter((p) => p.endsWith('/wasshd_wasm_bg.wasm'))).toEqual([]);
  expect(paths.filter((p) => /\/ts\/(node|deno|bun|workerd|component|demo)\//.test(p))).toEqual([]);
  await page.close();
});

it('shows a wrong password refused, with the message', async () => {
  const page = await runOnPage('wrong');
  expect(await page.textContent('#status')).toBe('failed');
  expect(await page.textContent('#error')).toBe('authentication failed for user "alice": the server refused the password (it takes password, publickey, keyboard-interactive)');
  expect(await page.textContent('#output')).toBe('');
  await page.close();
});
