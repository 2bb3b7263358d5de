/**
 * Memory per idle connection: N authenticated connections, each with a session channel running a command that
 * waits, without a pty (`sleep` on every server: sshd's is a process, run by `bash -c` as every exec is), held
 * open by `ssh2` clients in a few child processes (bench/suite/idle-clients.ts) so that the clients
 * stay out of the server's figures. The server's process tree is read before and with the connections open:
 * Rss, Private (Clean+Dirty) and Pss from smaps_rollup, summed over the tree (sshd forks per connection, so its
 * figure is the memory of those processes). wasshd and ssh2 collect garbage first (node --expose-gc, on
 * SIGUSR2), and wasshd reports its JavaScript heap and wasm memory.
 */

import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Section } from './main.js';
import { spawnGroup, stopGroup, treeMemory, type TreeMemory } from './processes.js';
import { kib, ratio, table, type Target } from './report.js';
import { type Credentials, type ProbeReading, type Server, type ServerSpec, startServer } from './servers.js';

const TARGET_KIB = 16;
/** Descriptors a server needs besides one per connection. */
const SPARE_DESCRIPTORS = 200;
/** After the last connection opened: lets the servers finish what login left behind. */
const QUIET_MS = 2000;

export interface IdleOptions {
  connections: number;
  clientProcesses: number;
  /** Connections each client process opens at once. */
  concurrency: number;
  /** Seconds without traffic before the settled readings (0: none). */
  settleS: number;
}

interface Reading {
  tree: TreeMemory;
  probe: ProbeReading | undefined;
}

interface Measurement {
  spec: ServerSpec;
  before: Reading;
  after: Reading;
  /** The same two readings each after `settleS` without traffic, when V8 has had time to shrink its young generation. */
  settled: { before: Reading; after: Reading } | undefined;
  openS: number;
}

/** The soft limit on open files, which the servers and client processes inherit from this one. */
function openFileLimit(): number {
  const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return line?.[1] === undefined || line[1] === 'unlimited' ? Infinity : Number(line[1]);
}

async function read(server: Server): Promise<Reading> {
  const probe = await server.probe?.();
  return { tree: treeMemory(server.pid), probe };
}

/** A reading after `seconds` without traffic. */
async function readSettled(server: Server, seconds: number): Promise<Reading> {
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return read(server);
}

/** Starts the client processes; resolves once all report their connections open. */
async function openConnections(server: Server, keys: Credentials, o: IdleOptions): Promise<ChildProcess[]> {
  const children: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 0; i < o.clientProcesses; i++) {
    const count = Math.floor(o.connections / o.clientProcesses) + (i < o.connections % o.clientProcesses ? 1 : 0);
    const args = ['--port', String(server.port), '--user', server.user, '--key', keys.userKey, '--command', server.commands.wait, '--count', String(count), '--concurrency', String(o.concurrency)];
    const child = spawnGroup(process.execPath, ['--import', 'tsx', 'bench/suite/idle-clients.ts', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(child);
    ready.push(
      new Promise((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`${server.spec.label}: a client process exited (code ${code}) before the measure ended`)));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (line === `ready ${count}`) return resolve();
          console.error(`[${server.spec.label} clients] ${line}`);
          reject(new Error(`${server.spec.label}: client process: ${line}`));
        });
      }),
    );
  }
  try {
    await Promise.all(ready);
  } catch (e) {
    await Promise.all(children.map((c) => stopGroup(c)));
    throw e;
  }
  return children;
}

async function measure(spec: ServerSpec, keys: Credentials, o: IdleOptions): Promise<Measurement> {
  const server = await startServer(spec, keys, { connections: o.connections, probe: true });
  try {
    const before = await read(server);
    const beforeSettled = o.settleS > 0 ? await readSettled(server, o.settleS) : undefined;
    const t0 = performance.now();
    const clients = await openConnections(server, keys, o);
    const openS = (performance.now() - t0) / 1000;
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    const after = await read(server);
    const settled = beforeSettled && { before: beforeSettled, after: await readSettled(server, o.settleS) };
    if (clients.some((c) => c.exitCode !== null || c.signalCode !== null)) throw new Error(`${spec.label}: a client process ended while the connections were held`);
    const settledFigure = settled ? `, ${kib((settled.after.tree.rss - settled.before.tree.rss) / o.connections)} after ${o.settleS} s without traffic` : '';
    console.log(`  ${spec.label}: ${kib((after.tree.rss - before.tree.rss) / o.connections)} KiB RSS per connection${settledFigure}`);
    for (const c of clients) {
      c.removeAllListeners('exit');
      c.stdin!.end();
    }
    await Promise.all(clients.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.once('exit', resolve)))));
    return { spec, before, after, settled, openS };
  } finally {
    await server.stop();
  }
}

export async function idle(specs: ServerSpec[], keys: Credentials, o: IdleOptions): Promise<Section> {
  const limit = openFileLimit();
  if (limit < o.connections + SPARE_DESCRIPTORS) {
    throw new Error(`the open-file limit (${limit}) is below ${o.connections + SPARE_DESCRIPTORS}: raise it (ulimit -n) or pass a smaller --connections`);
  }
  const results: Measurement[] = [];
  for (const spec of specs) results.push(await measure(spec, keys, o));
  const n = o.connections;
  const per = (m: Measurement, field: 'rss' | 'private' | 'pss') => (m.after.tree[field] - m.before.tree[field]) / n;
  const settledRss = (m: Measurement) => (m.settled ? kib((m.settled.after.tree.rss - m.settled.before.tree.rss) / n) : '—');
  const probed = (m: Measurement, field: keyof ProbeReading) => (m.after.probe && m.before.probe ? kib((m.after.probe[field] - m.before.probe[field]) / n) : '—');
  const rows = results.map((m) => [
    m.spec.label,
    kib(per(m, 'rss')),
    settledRss(m),
    kib(per(m, 'private')),
    kib(per(m, 'pss')),
    probed(m, 'heapUsed'),
    m.spec.kind === 'wasshd' ? probed(m, 'wasm') : '—',
    probed(m, 'external'),
    probed(m, 'newSpace'),
    String(m.after.tree.processes - m.before.tree.processes),
    (n / m.openS).toFixed(0),
  ]);
  const settledRatio = (m: Measurement, peer: Measurement) =>
    m.settled && peer.settled ? ratio(m.settled.after.tree.rss - m.settled.before.tree.rss, peer.settled.after.tree.rss - peer.settled.before.tree.rss) : '';
  const ssh2 = results.find((m) => m.spec.kind === 'ssh2');
  const sshd = results.find((m) => m.spec.kind === 'sshd');
  const targets: Target[] = [];
  for (const m of results.filter((r) => r.spec.kind === 'wasshd')) {
    for (const peer of [ssh2, sshd]) if (peer) rows.push([`  ${m.spec.label} / ${peer.spec.label}`, ratio(per(m, 'rss'), per(peer, 'rss')), settledRatio(m, peer), ratio(per(m, 'private'), per(peer, 'private')), ratio(per(m, 'pss'), per(peer, 'pss')), '', '', '', '', '', '']);
    targets.push({
      name: `memory per idle connection with a session, ${m.spec.label} <= ${TARGET_KIB} KiB (N = ${n})`,
      met: per(m, 'rss') <= TARGET_KIB * 1024,
      figure: `${kib(per(m, 'rss'))} KiB RSS (heap ${probed(m, 'heapUsed')} KiB + wasm ${probed(m, 'wasm')} KiB; ${settledRss(m)} KiB after ${o.settleS} s without traffic)`,
    });
  }
  const notes = [
    'Per connection = (with N connections open − before) / N; heap, wasm and external from the server after a',
    'garbage collection. "processes" = processes the connections added to the server\'s tree. "young gen" = what V8\'s',
    'young generation grew by, empty after the collection: RSS counts it, though no connection holds it. "settled" = the',
    `same, both readings taken after ${o.settleS} s without traffic (and a collection), when V8 has shrunk its young generation`,
    'back; the target is judged on the first.',
  ];
  if (sshd) {
    const byCommand = [...sshd.after.tree.byCommand].map(([comm, { private: p, processes }]) => {
      const was = sshd.before.tree.byCommand.get(comm) ?? { private: 0, processes: 0 };
      return `${comm} ${((processes - was.processes) / n).toFixed(1)} processes, ${kib((p - was.private) / n)} KiB private`;
    });
    notes.push(`sshd forks per connection; its figure is the memory of those processes: per connection ${byCommand.join('; ')}.`);
  }
  return {
    title: `Idle connections: ${n}, each authenticated with a session channel (an exec that waits, no pty), ${o.clientProcesses} ssh2 client processes`,
    table: table(['server', 'RSS KiB/conn', 'settled RSS KiB/conn', 'private KiB/conn', 'PSS KiB/conn', 'JS heap KiB/conn', 'wasm KiB/conn', 'external KiB/conn', 'young gen KiB/conn', 'processes', 'opened/s'], rows),
    notes,
    targets,
  };
}
