/**
 * A host in another language: the Python program (examples/wasmtime/wasshd_wasmtime.py) that embeds the component with
 * wasmtime, started as users start it (`npm run demo:wasmtime -- --port 0 --user NAME:PASSWORD`), with
 * Debian's OpenSSH client: exec of `echo` and of `cat` (1 MiB back byte-exact), exit statuses, a refused
 * password, and the core's timers driven by the host (a login grace time that ends a silent client).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrograms, ssh, testData } from '../helpers/demo.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const USER = 'py';
const PASSWORD = 'wasmtime pw';

interface PythonDemo {
  port: number;
  child: ChildProcess;
  stderr(): string;
}

const started: ChildProcess[] = [];

/** `npm run demo:wasmtime -- --port 0 ARGS`, resolved once it prints `listening on ADDR:PORT`. */
function startPythonDemo(args: string[]): Promise<PythonDemo> {
  requirePrograms(join(ROOT, '.tools/wasmtime/bin/python'), 'npm');
  // Its own process group: npm, the script and python stop together.
  const child = spawn('npm', ['run', '--silent', 'demo:wasmtime', '--', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the Python demo exited with ${code} before listening:\n${err}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening on 127\.0\.0\.1:(\d+)$/m.exec(out);
      if (!m) return;
      child.removeAllListeners('exit');
      resolve({ port: Number(m[1]), child, stderr: () => err });
    });
  });
}

afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
});

describe('the Python host on wasmtime', () => {
  let demo: PythonDemo;
  beforeAll(async () => {
    demo = await startPythonDemo(['--user', `${USER}:${PASSWORD}`, '--verbose']);
  });

  const run = (command: string, input?: Buffer, password = PASSWORD) =>
    ssh(demo.port, { user: USER, password, command, options: ['-o', 'NumberOfPasswordPrompts=1'], ...(input ? { input } : {}) });

  it('runs echo', async () => {
    const r = await run('echo hello   from python');
    expect(r.stdout.toString()).toBe('hello from python\n');
    expect(r.code).toBe(0);
  });

  it('runs cat: 1 MiB back byte-exact, then exit status 0 at EOF', async () => {
    const data = testData(1024 * 1024, 11);
    const r = await run('cat', data);
    expect(r.stdout.length).toBe(data.length);
    expect(r.stdout.equals(data)).toBe(true);
    expect(r.code).toBe(0);
  });

  it('answers an unknown command on stderr with exit status 127', async () => {
    const r = await run('frobnicate');
    expect(r.stderr).toContain('unknown command: frobnicate');
    expect(r.code).toBe(127);
  });

  it('refuses a wrong password', async () => {
    const r = await run('echo no', undefined, 'not the password');
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toContain('Permission denied (password)');
    expect(r.code).toBe(255);
  });
});

describe('the core timers on the Python host', () => {
  it('ends a client that never logs in after the login grace time', async () => {
    const demo = await startPythonDemo(['--user', `${USER}:${PASSWORD}`, '--config', 'LoginGraceTime=1']);
    const socket = connect(demo.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const connected = performance.now();
    // Nothing is sent: only the core's grace timer, run by the host, can end it.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('still open 10 s later: the host does not run the core timers')), 10_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    expect(received).toMatch(/^SSH-2\.0-wasshd/);
    expect(performance.now() - connected).toBeGreaterThanOrEqual(900);
  });
});
