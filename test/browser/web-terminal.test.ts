/**
 * The web terminal example (examples/web-terminal) on the built package, installed in a project of its own
 * with uWebSockets.js and xterm.js, in Debian's Chromium: one port serves the page, its unbundled modules and
 * SSH over WebSocket; the page asks about the host key the server printed, logs in, and runs the echoing
 * shell in xterm.js: typing, the echo, a resize reaching the server, Ctrl-D; a wrong password and a host key
 * not trusted shown on the page.
 */

import type { Browser, Dialog, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { installBuiltPackage, startNodeProgram, type Running } from '../helpers/package.js';

let browser: Browser | undefined;
let server: Running | undefined;
let site: string;
let fingerprint: string;
/** Every URL a page requested, and what it threw. */
const requested: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  const app = installBuiltPackage({ links: ['uWebSockets.js', '@xterm/xterm', '@xterm/addon-fit'], examples: ['web-terminal'] });
  server = await startNodeProgram(app, 'examples/web-terminal/server.js', { PORT: '0', PASSWORD: 'secret' });
  site = /listening on (\S+)/.exec(server.stdout())![1]!;
  fingerprint = /^host key (SHA256:\S+)$/m.exec(server.stdout())![1]!;
}, 180_000);

afterAll(async () => {
  await browser?.close();
  server?.child.kill();
});

/**
 * Opens the page, logs in with `password` and answers the host key question with `trust` (after checking it
 * names the key the server printed); resolves with the page once it shows a terminal or a status.
 */
async function logIn(password: string, trust = true): Promise<Page> {
  const page = await browser!.newPage({ viewport: { width: 900, height: 600 } });
  page.on('request', (request) => requested.push(request.url()));
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const asked: string[] = [];
  page.on('dialog', (dialog: Dialog) => {
    asked.push(dialog.message());
    void (trust ? dialog.accept() : dialog.dismiss());
  });
  await page.goto(site);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForFunction(() => document.querySelector('.xterm-rows')?.textContent?.includes('$') || /:/.test(document.getElementById('status')!.textContent!));
  expect(asked).toEqual([`The server's host key is ${fingerprint}.\nIs it the one the server printed?`]);
  return page;
}

/** Waits until the terminal's screen shows `text`. */
async function screenShows(page: Page, text: string): Promise<void> {
  await page.waitForFunction((t) => document.querySelector('.xterm-rows')?.textContent?.includes(t), text, { timeout: 20_000 });
}

it('logs in, echoes what is typed, tells the server of a resize, and ends at Ctrl-D', async () => {
  const page = await logIn('secret');
  await screenShows(page, 'Hello demo. This shell echoes each line; Ctrl-D ends it.');
  expect(await page.textContent('#status')).toBe(`demo@${new URL(site).host}`);
  // UTF-8 both ways, and a typo taken back.
  await page.keyboard.type('hello, wörlx');
  await page.keyboard.press('Backspace');
  await page.keyboard.type('d');
  await page.keyboard.press('Enter');
  await screenShows(page, 'echo: hello, wörld');

  const before = await page.textContent('#size');
  await page.setViewportSize({ width: 600, height: 400 });
  await page.waitForFunction((size) => document.getElementById('size')!.textContent !== size, before);
  const after = (await page.textContent('#size'))!;
  expect(after).toMatch(/^\d+x\d+$/);
  await screenShows(page, `[window ${after}]`);

  await page.keyboard.press('Control+D');
  await page.waitForFunction(() => document.getElementById('status')!.textContent === 'session ended, exit status 0');
  await screenShows(page, 'bye');
  expect(pageErrors).toEqual([]);
  // Everything came from the server's own port, the client's wasm and no server's among it.
  const paths = requested.map((url) => new URL(url));
  expect(paths.filter((url) => url.origin !== new URL(site).origin)).toEqual([]);
  expect(paths.map((url) => url.pathname)).toContain('/wasshd/wasm/pkg-client/wasshd_client_bg.wasm');
  expect(paths.map((url) => url.pathname)).toContain('/xterm/xterm.mjs');
  expect(paths.filter((url) => url.pathname.endsWith('/wasshd_wasm_bg.wasm'))).toEqual([]);
  await page.close();
});

it('shows a wrong password refused', async () => {
  const page = await logIn('wrong');
  await page.waitForFunction(() => document.getElementById('status')!.textContent!.startsWith('authentication failed'));
  expect(await page.textContent('#status')).toBe('authentication failed for user "demo": the server refused the password (it takes password)');
  expect(await page.isHidden('#terminal')).toBe(true);
  await page.close();
});

it('logs in to nothing when the host key is not trusted', async () => {
  const page = await logIn('secret', false);
  await page.waitForFunction(() => document.getElementById('status')!.textContent!.startsWith('host key'));
  expect(await page.textContent('#status')).toBe(`host key ${fingerprint} (ssh-ed25519) was not accepted by verifyHostKey`);
  expect(await page.isHidden('#terminal')).toBe(true);
  await page.close();
});
