/**
 * The Node demo's `--workers N`: worker processes, each its own server, share one listening socket; the
 * output lines are those of one process, and SIGINT to the primary stops them all. Which worker holds a
 * connection is read from /proc: the worker's open sockets against the kernel's table of TCP connections.
 */

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { expect, it } from 'vitest';
import { closeAfterEach } from '../helpers/cleanup.js';
import { NODE_DEMO, startDemo, type Demo } from '../helpers/demo.js';
import { connect, exec, type Ssh2Client } from '../helpers/ssh2.js';

const USER = 'wren';
const PASSWORD = 'workers pw';

const { demos, clients } = closeAfterEach();

/** Live processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

/** Inodes of the server's ends of established TCP connections on 127.0.0.1:`port`. */
function acceptedSockets(port: number): Set<string> {
  const rows = readFileSync('/proc/net/tcp', 'utf8').trim().split('\n').slice(1);
  const inodes = new Set<string>();
  for (const row of rows) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    const f = row.trim().split(/\s+/);
    if (f[1] === `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}` && f[3] === '01') inodes.add(f[9]!);
  }
  return inodes;
}

/** How many of `sockets` the process holds open. */
function holding(pid: number, sockets: Set<string>): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode !== undefined && sockets.has(inode)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

async function demo(args: string[]): Promise<Demo> {
  const d = await startDemo(['--user', `${USER}:${PASSWORD}`, ...args]);
  demos.push(d);
  return d;
}

it('--workers 2 serves logins from two worker processes on one port, prints its lines once and stops on SIGINT', async () => {
  const d = await demo(['--workers', '2']);
  // The lines after `listening on`, which is all startDemo waits for.
  await expect.poll(() => d.stdout(), { timeout: 30_000 }).toMatch(/connect with: .*\n/);
  expect(d.stdout().match(/^listening on /gm)).toHaveLength(1);
  expect(d.stdout().match(/^connect with: /gm)).toHaveLength(1);
  expect(d.stdout().match(/^state directory: /gm)).toHaveLength(1);
  const workers = childrenOf(d.process.pid!).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ts/demo/main.ts'));
  expect(workers).toHaveLength(2);

  // Connections held open at once, so that the primary's round-robin reaches each worker.
  const held: Ssh2Client[] = [];
  const hostKeys = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const c = await connect(d.port, { username: USER, password: PASSWORD, hostVerifier: (key: Buffer) => hostKeys.add(key.toString('base64')).size > 0 });
    clients.push(c);
    held.push(c);
    const r = await exec(c, `echo login ${i}`);
    expect(r).toMatchObject({ code: 0, stdout: Buffer.from(`login ${i}\n`) });
  }
  const sockets = acceptedSockets(d.port);
  expect(sockets.size).toBe(4);
  const perWorker = workers.map((pid) => holding(pid, sockets));
  expect(perWorker.reduce((a, b) => a + b)).toBe(4);
  for (const n of perWorker) expect(n).toBeGreaterThan(0);
  // Both workers served the same host key: the primary made one and handed it on.
  expect(hostKeys.size).toBe(1);
  for (const c of held) c.end();

  const exited = new Promise<number | null>((resolve) => d.process.once('exit', (code) => resolve(code)));
  d.process.kill('SIGINT');
  expect(await exited).toBe(0);
  for (const pid of workers) expect(spawnSync('kill', ['-0', String(pid)]).status).not.toBe(0);
});

it('--workers wants a count and TCP only', async () => {
  for (const [args, message] of [
    [['--workers', '0'], '--workers wants a count from 1 to 256, got 0'],
    [['--workers', '2', '--ws-port', '0'], '--workers serves TCP only: not with --ws-port'],
  ] as const) {
    const r = spawnSync(NODE_DEMO[0]!, [...NODE_DEMO.slice(1), '--port', '0', ...args], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`wasshd demo: ${message}`);
  }
});
