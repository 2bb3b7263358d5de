/**
 * The web demo (`npm run demo:web`) in Debian's Chromium: the page and the WebSocket endpoint from one port;
 * the host key shown before the password goes; an xterm.js terminal on the demo shell, UTF-8 both ways, paste
 * and copy, the window's size through the pty (`stty size`); a wrong password, a refused host key and a lost
 * connection shown on the page; a pasted private key. Saves a screenshot of the logged-in page (to
 * $WEB_DEMO_SCREENSHOT, else a temporary folder) and prints the page's load-to-prompt time.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { startDemo, type Demo } from '../helpers/demo.js';
import { fingerprintOf } from '../helpers/sshd.js';

/** The web demo as users start it, its build steps included. */
const WEB_DEMO = ['npm', 'run', '--silent', 'demo:web', '--'];

const dir = mkdtempSync(join(tmpdir(), 'wasshd-web-demo-'));
const hostKey = join(dir, 'host_ed25519');
const userKey = join(dir, 'user_ed25519');
const screenshot = process.env.WEB_DEMO_SCREENSHOT ?? join(dir, 'web-demo.png');

let browser: Browser | undefined;
let demo: Demo | undefined;
let site: string;
let fingerprint: string;
const pageErrors: string[] = [];

function keygen(file: string, comment: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

beforeAll(async () => {
  browser = await launchChromium();
  keygen(hostKey, 'web demo host');
  keygen(userKey, 'web demo user');
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${userKey}.pub`));
  fingerprint = fingerprintOf(`${hostKey}.pub`);
  demo = await startDemo(['--user', 'alice:secret', '--host-key', hostKey, '--authorized-keys', join(dir, 'authorized_keys'), '--ws-port', '0'], {}, WEB_DEMO);
  // Printed just after the `websocket on` line startDemo waits for.
  site = await vi.waitFor(() => /^web on (\S+)$/m.exec(demo!.stdout())![1]!);
  expect(demo.stdout()).toContain(`host key ${fingerprint}\n`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

/**
 * A page of the demo, 1000 by 640, that records when the terminal first shows the prompt (ms since navigation
 * started) and each streaming compilation of a wasm module.
 */
async function openPage(): Promise<Page> {
  const page = await browser!.newPage({ viewport: { width: 1000, height: 640 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.addInitScript(() => {
    const seen = window as unknown as { promptAt?: number; streamed: number };
    seen.streamed = 0;
    const compile = WebAssembly.compileStreaming.bind(WebAssembly);
    WebAssembly.compileStreaming = (source) => {
      seen.streamed++;
      return compile(source);
    };
    new MutationObserver(() => {
      if (seen.promptAt === undefined && document.querySelector('.xterm-rows')?.textContent?.includes('@wasshd$')) seen.promptAt = performance.now();
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await page.goto(site);
  return page;
}

/** Fills in the form and connects; resolves once the host key is shown. */
async function connect(page: Page, fields: { user: string; password?: string; privateKey?: string }): Promise<void> {
  await page.fill('input[name=user]', fields.user);
  if (fields.password !== undefined) await page.fill('input[name=password]', fields.password);
  if (fields.privateKey !== undefined) {
    await page.click('summary');
    await page.fill('textarea[name=privateKey]', fields.privateKey);
  }
  await page.click('button[type=submit]');
  await page.waitForSelector('#hostkey:not([hidden])');
}

/** The terminal's lines, trailing blanks dropped. */
const screen = (page: Page): Promise<string[]> =>
  page.evaluate(() => Array.from(document.querySelectorAll('.xterm-rows > div')).map((row) => (row.textContent ?? '').trimEnd()));

/** expect.poll's default of 1 s is short for a page on a machine the whole suite loads. */
const POLL = { timeout: 20_000 };

/** Types `line` and Enter; resolves with the screen once `expected` shows as a line of its own after it. */
async function run(page: Page, line: string, expected: string | RegExp): Promise<string> {
  const before = (await screen(page)).filter((row) => row.endsWith(`$ ${line}`)).length;
  await page.keyboard.type(`${line}\n`);
  let output = '';
  await expect
    .poll(async () => {
      const rows = await screen(page);
      const at = rows.map((row, i) => (row.endsWith(`$ ${line}`) ? i : -1)).filter((i) => i >= 0)[before];
      output = at === undefined ? '' : (rows[at + 1] ?? '');
      return typeof expected === 'string' ? output === expected : expected.test(output);
    }, POLL)
    .toBe(true);
  return output;
}

/** Logs alice in with her password, trusting the host key; resolves once the prompt shows. */
async function logIn(page: Page): Promise<void> {
  await connect(page, { user: 'alice', password: 'secret' });
  await page.click('#trust');
  await page.waitForFunction(() => document.querySelector('.xterm-rows')?.textContent?.includes('alice@wasshd$'));
}

const size = async (page: Page) => (await page.textContent('#size'))!.split('×').map(Number) as [number, number];

it('shows the host key before logging in, then runs commands in a terminal that follows the window', async () => {
  const page = await openPage();
  await connect(page, { user: 'alice', password: 'secret' });
  expect(await page.textContent('#fingerprint')).toBe(fingerprint);
  expect(await page.textContent('#algorithm')).toBe('ssh-ed25519');
  expect(await page.isHidden('#terminal-view')).toBe(true);
  await page.click('#trust');
  await page.waitForFunction(() => document.querySelector('.xterm-rows')?.textContent?.includes('alice@wasshd$'));
  expect(await page.isHidden('#login-view')).toBe(true);
  expect(await page.textContent('#bar-fingerprint')).toBe(fingerprint);
  // The client's wasm came over the demo's port as application/wasm and was compiled as it streamed in.
  expect(await page.evaluate(() => (window as unknown as { streamed: number }).streamed)).toBe(1);

  await run(page, 'echo hello', 'hello');
  await run(page, 'echo grüße ✓ αβγ', 'grüße ✓ αβγ');
  const [cols, rows] = await size(page);
  expect(cols).toBeGreaterThan(80);
  await run(page, 'stty size', `${rows} ${cols}`);
  await page.screenshot({ path: screenshot });
  console.log(`web demo screenshot: ${screenshot}`);

  await page.setViewportSize({ width: 640, height: 400 });
  await expect.poll(async () => (await size(page))[0], POLL).toBeLessThan(cols);
  const [smallCols, smallRows] = await size(page);
  expect(smallRows).toBeLessThan(rows);
  await run(page, 'stty size', `${smallRows} ${smallCols}`);
  expect(await page.textContent('#error')).toBe('');
  expect(pageErrors).toEqual([]);
  await page.close();
});

it('pastes into the session and copies the selection out, through the clipboard', async () => {
  const page = await openPage();
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: site });
  await logIn(page);
  // What the browser does on Paste (Ctrl+Shift+V, the menu): a paste event on the terminal's input.
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.setData('text/plain', 'echo pasted ünïcode');
    document.querySelector('.xterm-helper-textarea')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  });
  await expect.poll(async () => (await screen(page)).some((row) => row.endsWith('$ echo pasted ünïcode')), POLL).toBe(true);
  await page.keyboard.press('Enter');
  await expect.poll(async () => (await screen(page)).includes('pasted ünïcode'), POLL).toBe(true);
  // Double-click selects the word; Ctrl+Shift+C puts it on the clipboard.
  const row = (await screen(page)).indexOf('pasted ünïcode');
  const box = (await page.locator('.xterm-rows > div').nth(row).boundingBox())!;
  await page.mouse.dblclick(box.x + 5, box.y + box.height / 2);
  await page.keyboard.press('Control+Shift+C');
  await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), POLL).toBe('pasted');
  await page.close();
});

it('logs in with a pasted private key', async () => {
  const page = await openPage();
  await connect(page, { user: 'alice', privateKey: readFileSync(userKey, 'utf8') });
  await page.click('#trust');
  await page.waitForFunction(() => document.querySelector('.xterm-rows')?.textContent?.includes('alice@wasshd$'));
  await run(page, 'whoami', 'alice');
  await page.close();
});

it('shows a wrong password refused, and a host key not trusted, on the page', async () => {
  const page = await openPage();
  await connect(page, { user: 'alice', password: 'wrong' });
  await page.click('#trust');
  await page.waitForFunction(() => document.getElementById('error')?.textContent);
  expect(await page.textContent('#error')).toBe('authentication failed for user "alice": the server refused the password (it takes password, publickey, keyboard-interactive)');
  expect(await page.isVisible('#login-view')).toBe(true);
  expect(await page.isHidden('#terminal-view')).toBe(true);

  await connect(page, { user: 'alice', password: 'secret' });
  expect(await page.textContent('#error')).toBe('');
  await page.click('#distrust');
  await page.waitForFunction(() => document.getElementById('error')?.textContent);
  expect(await page.textContent('#error')).toBe(`host key ${fingerprint} (ssh-ed25519) was not accepted by verifyHostKey`);
  await page.close();
});

it('measures the time from navigation to the prompt', async () => {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const page = await openPage();
    await logIn(page);
    await page.waitForFunction(() => (window as unknown as { promptAt?: number }).promptAt !== undefined);
    times.push(await page.evaluate(() => (window as unknown as { promptAt: number }).promptAt));
    await page.close();
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  console.log(`web demo load-to-prompt: median ${median.toFixed(0)} ms of ${times.map((t) => t.toFixed(0)).join(', ')} ms (form filled and host key trusted by the test)`);
  expect(median).toBeLessThan(10_000);
});

it('shows a lost connection on the page (the server stops)', async () => {
  const page = await openPage();
  await logIn(page);
  await demo!.stop();
  await page.waitForFunction(() => document.getElementById('session-status')?.textContent === 'connection lost');
  expect(await page.textContent('#error')).toMatch(/^connection lost|^the server closed the connection/);
  expect(await page.isVisible('#again')).toBe(true);
  await page.close();
});
