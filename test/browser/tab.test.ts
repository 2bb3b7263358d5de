/**
 * The server in a browser tab: the example page (examples/browser) in Debian's Chromium, importing the built
 * package by its `browser` export condition, and Debian's OpenSSH reaching it through the built
 * `wasshd-ws-relay`: exec, 4 MiB byte-exact both ways through `cat`, two clients at once, a wrong password.
 * Also: a page's code type-checks against the entry's types with the DOM library alone.
 */

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, serveStatic } from '../helpers/browser.js';
import { installBuiltPackage } from '../helpers/package.js';
import { requirePrograms, run, SSH_BASE, testData } from '../helpers/demo.js';

const root = new URL('../..', import.meta.url).pathname;
/** The project the built package is installed in (`installBuiltPackage`), and the package in it. */
let app: string;
let pkg: string;
const MiB = 1024 * 1024;

let browser: Browser | undefined;
let page: Page;
let site: Server | undefined;
let relay: ChildProcess | undefined;
let sshPort: number;
let password: string;
/** Every URL the page requested, and what it threw. */
const requested: string[] = [];
const pageErrors: string[] = [];

/** Starts the built relay; resolves with its SSH and WebSocket ports once it prints them. */
function startRelay(origin: string): Promise<{ ssh: number; ws: number }> {
  relay = spawn(process.execPath, [join(pkg, 'dist/ts/node/ws-relay.js'), '--origin', origin, '--ssh-port', '0', '--ws-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    relay!.once('exit', (code) => reject(new Error(`the relay exited with ${code}: ${out}`)));
    relay!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const ssh = /listening on [^ ]*:(\d+)/.exec(out)?.[1];
      const ws = /websocket on [^ ]*:(\d+)\/tab/.exec(out)?.[1];
      if (ssh && ws) resolve({ ssh: Number(ssh), ws: Number(ws) });
    });
  });
}

beforeAll(async () => {
  requirePrograms('ssh', 'sshpass');
  browser = await launchChromium();
  app = installBuiltPackage({ examples: ['browser'] });
  pkg = join(app, 'node_modules/wasshd');

  const served = await serveStatic(app);
  site = served.server;
  const origin = `http://127.0.0.1:${served.port}`;
  const ports = await startRelay(origin);
  sshPort = ports.ssh;
  page = await browser.newPage();
  page.on('request', (request) => requested.push(request.url()));
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // A module the page cannot load (a `node:` import, say) or an error it throws fails here rather than after a wait.
  const broken = new Promise<never>((_, reject) => {
    page.once('pageerror', (error) => reject(new Error(`the page failed: ${error.message}`)));
    page.once('requestfailed', (request) => reject(new Error(`the page could not load ${request.url()}: ${request.failure()?.errorText}`)));
  });
  // Handled by the race below, or of no interest once the page is ready.
  broken.catch(() => {});
  await page.goto(`${origin}/examples/browser/?relay=${encodeURIComponent(`ws://127.0.0.1:${ports.ws}/tab`)}`);
  const ready = page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 30_000 });
  ready.catch(() => {});
  await Promise.race([broken, ready]);
  password = (await page.textContent('#password')) ?? '';
}, 180_000);

afterAll(async () => {
  await browser?.close();
  relay?.kill();
  site?.close();
});

function ssh(command: string, { secret = password, input }: { secret?: string; input?: Buffer } = {}) {
  const args = [...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-p', String(sshPort), 'support@127.0.0.1', command];
  return run('sshpass', ['-p', secret, 'ssh', ...args], input);
}

it("resolves wasshd's browser condition to the file the page imports, and the page loads nothing from node:", () => {
  const resolve = (specifier: string) =>
    execFileSync(process.execPath, ['--conditions=browser', '--input-type=module', '-e', `console.log(import.meta.resolve('${specifier}'))`], { cwd: app }).toString().trim();
  const entry = join(pkg, 'dist/ts/browser/index.js');
  expect(resolve('wasshd')).toBe(pathToFileURL(entry).href);
  // The module the entry fetches by default is the one the package exports for bundlers.
  expect(resolve('wasshd/wasm')).toBe(pathToFileURL(join(pkg, 'dist/wasm/pkg/wasshd_wasm_bg.wasm')).href);
  expect(resolve('wasshd/wasm-client')).toBe(pathToFileURL(join(pkg, 'dist/wasm/pkg-client/wasshd_client_bg.wasm')).href);
  // The example's import map names the same file, from the root of the project that serves it.
  const importMap = /<script type="importmap">(.*?)<\/script>/s.exec(readFileSync(join(app, 'examples/browser/index.html'), 'utf8'))?.[1];
  expect((JSON.parse(importMap!) as { imports: Record<string, string> }).imports.wasshd).toBe(`/${entry.slice(app.length + 1)}`);

  expect(pageErrors).toEqual([]);
  const paths = requested.map((url) => (url.startsWith('http') ? new URL(url).pathname : url));
  expect(paths.filter((p) => !p.startsWith('/'))).toEqual([]);
  expect(paths).toContain('/node_modules/wasshd/dist/ts/browser/index.js');
  expect(paths).toContain('/node_modules/wasshd/dist/wasm/pkg/wasshd_wasm_bg.wasm');
  // No other runtime's entry came along with the shared host.
  expect(paths.filter((p) => /\/ts\/(node|deno|bun|workerd|component|demo)\//.test(p))).toEqual([]);
});

it("type-checks a page's use of the browser entry (server and client), resolved by its condition, with the DOM library and no Node types", () => {
  const dir = join(app, 'typed');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'page.ts'),
    `import { SSHClient, SSHServer, serveRelay, WebSocketTransport } from 'wasshd';
const server = await SSHServer.create({ wasm: new URL('core.wasm', location.href), localPort: 0 });
server.on('userAuthRequest', (e) => (e.password === 'pw' ? e.accept() : e.reject()));
serveRelay(server, 'wss://relay.example/tab', { onError: (e: Error) => console.warn(e.message) });
void server.accept(new WebSocketTransport(new WebSocket('wss://relay.example/other'), { remoteAddress: 'client' }));
const client = await SSHClient.connect({ url: 'wss://server.example/ssh', user: 'u', password: 'pw', verifyHostKey: (fp: string) => fp === 'SHA256:x' });
const shell = await client.shell({ cols: 80, rows: 24 });
shell.onData((data: Uint8Array) => console.log(data.length));
shell.resize(100, 30);
const { stdout, code }: { stdout: Uint8Array; code: number | null } = await client.exec('echo hello');
console.log(stdout, code, (await shell.exit).signal);
`,
  );
  const options = { strict: true, target: 'es2022', module: 'esnext', moduleResolution: 'bundler', customConditions: ['browser'], lib: ['es2022', 'dom'], types: [], noEmit: true };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['page.ts'] }));
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8' });
  expect(tsc.stdout + tsc.stderr).toBe('');
  expect(tsc.status).toBe(0);
});

it('runs an exec from OpenSSH through the relay, output exact', async () => {
  const r = await ssh('hello from a browser tab');
  expect(r.stderr).toBe('');
  expect(r.stdout.toString()).toBe('hello from a browser tab\n');
  expect(r.code).toBe(0);
});

it('carries 4 MiB byte-exact both ways through cat', async () => {
  const data = testData(4 * MiB, 21);
  const r = await ssh('cat', { input: data });
  expect(r.code).toBe(0);
  expect(r.stdout.length).toBe(data.length);
  expect(r.stdout.equals(data)).toBe(true);
});

it('serves two OpenSSH clients at once, each on a WebSocket of its own', async () => {
  const [a, b] = [testData(MiB, 22), testData(MiB, 23)];
  const before = await page.textContent('#log');
  const [ra, rb] = await Promise.all([ssh('cat', { input: a }), ssh('cat', { input: b })]);
  expect([ra.code, rb.code]).toEqual([0, 0]);
  expect(ra.stdout.equals(a)).toBe(true);
  expect(rb.stdout.equals(b)).toBe(true);
  // The relay told the tab where each client came from.
  const log = ((await page.textContent('#log')) ?? '').slice(before?.length ?? 0);
  expect(log.match(/connected from 127\.0\.0\.1/g)).toHaveLength(2);
});

// Last: a refused login may put the address under penalty for a few seconds.
it('refuses a wrong password', async () => {
  const r = await ssh('hello', { secret: `${password}x` });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/Permission denied/);
  expect(r.stdout.length).toBe(0);
});
