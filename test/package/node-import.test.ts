/**
 * The built package, imported by name from plain Node (no TypeScript loader), serves the real OpenSSH client;
 * so does the Node example, and the package installed from its tarball, whose wasshd-ws-proxy takes OpenSSH to
 * a WebSocket endpoint. One file, since each builds dist/ afresh.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSH_BASE, ssh, startDemo, type Demo } from '../helpers/demo.js';

const root = new URL('../..', import.meta.url).pathname;

const SERVER = `
import { SSHServer } from 'wasshd/node';
const server = new SSHServer({ localPort: 0 });
server.generateHostKey();
server.on('userAuthRequest', (e) => (e.password === 'pw' ? e.accept() : e.reject()));
server.on('channelRequested', async (e) => {
  if (e.request.type !== 'exec') return;
  await server.sendText(e.connectionId, e.channelId, 'plain node says ' + e.request.command + '\\n');
  server.sendExitStatus(e.connectionId, e.channelId, 0);
  await server.closeChannel(e.connectionId, e.channelId);
});
const { port } = await server.startListening();
console.log('listening on 127.0.0.1:' + port);
`;

beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'ignore' });
}, 120_000);

it('imports wasshd/node from dist and serves an exec', async () => {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SERVER], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const port = Number(/listening on [^:]+:(\d+)/.exec(line.toString())?.[1]);
    expect(port).toBeGreaterThan(0);
    const r = await ssh(port, { user: 'u', password: 'pw', command: 'hello' });
    expect(r.stdout.toString()).toBe('plain node says hello\n');
    expect(r.code).toBe(0);
  } finally {
    child.kill();
  }
});

/** Resolves with a server program's port once it prints `listening on ADDR:PORT`; `output()` is all it printed. */
function listening(child: ChildProcess): { port: Promise<number>; output: () => string } {
  let out = '';
  const port = new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited with ${code} before listening: ${out}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on [^ ]*:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  return { port, output: () => out };
}

it('runs the Node example (examples/node), which OpenSSH logs in to and runs an exec on', async () => {
  const child = spawn(process.execPath, ['examples/node/server.js'], { cwd: root, env: { ...process.env, PORT: '0', PASSWORD: 'example pw' }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await listening(child).port;
    const r = await ssh(port, { user: 'demo', password: 'example pw', command: 'hello from the example' });
    expect(r.stdout.toString()).toBe('hello from the example\n');
    expect(r.code).toBe(0);
    const refused = await ssh(port, { user: 'demo', password: 'wrong', command: 'x', options: ['-o', 'NumberOfPasswordPrompts=1'] });
    expect(refused.code).toBe(255);
    expect(refused.stderr).toContain('demo@127.0.0.1: Permission denied');
  } finally {
    child.kill();
  }
});

describe('installed from its tarball', () => {
  /** A project that installed wasshd, and nothing else (not uWebSockets.js, a development dependency here). */
  let app: string;
  beforeAll(async () => {
    const packed = mkdtempSync(join(tmpdir(), 'wasshd-pack-'));
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', packed], { cwd: root, stdio: 'ignore' });
    app = mkdtempSync(join(tmpdir(), 'wasshd-app-'));
    const tarball = join(packed, readdirSync(packed).find((f) => f.endsWith('.tgz'))!);
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app, stdio: 'ignore' });
  }, 120_000);

  it('serves TCP without uWebSockets.js installed, and startWebSocket says what it needs', async () => {
    const program = `${SERVER}
await server.startWebSocket({ port: 0 }).catch((e) => console.log('startWebSocket: ' + e.message));
`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], { cwd: app, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const server = listening(child);
      const r = await ssh(await server.port, { user: 'u', password: 'pw', command: 'hello' });
      expect(r.stdout.toString()).toBe('plain node says hello\n');
      if (!server.output().includes('startWebSocket: ')) await once(child.stdout!, 'data');
      expect(server.output()).toMatch(/startWebSocket: the WebSocket endpoint needs the uWebSockets\.js package, which could not be loaded \(.*\); install it: npm install uWebSockets\.js@/);
    } finally {
      child.kill();
    }
  });

  describe('npx wasshd-ws-proxy', () => {
    let demo: Demo;
    beforeAll(async () => {
      demo = await startDemo(['--ws-port', '0', '--user', 'u:pw']);
    });
    afterAll(() => demo?.stop());

    it('takes OpenSSH to a WebSocket endpoint, as the README says', async () => {
      const proxy = `ProxyCommand=npx wasshd-ws-proxy ws://127.0.0.1:${demo.wsPort}/ssh`;
      const child = spawn('sshpass', ['-p', 'pw', 'ssh', ...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-o', proxy, 'u@127.0.0.1', 'echo through npx'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const [code] = await once(child, 'close');
      expect(err).toBe('');
      expect(out).toBe('through npx\n');
      expect(code).toBe(0);
    });
  });
});
