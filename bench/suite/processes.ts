/**
 * What the benchmark suite needs of processes: starting them in process groups that are killed whatever ends the
 * run, reading CPU time and memory of a whole process tree from /proc, and running shell pipelines timed by bash.
 */

import { type ChildProcess, execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
if (!Number.isInteger(CLOCK_TICKS) || CLOCK_TICKS <= 0) throw new Error('getconf CLK_TCK gave no tick rate');

/** Process groups and temporary folders of this run, ended by the exit handler whatever state the run is in. */
const groups = new Set<number>();
const tempDirs = new Set<string>();

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

process.once('exit', () => {
  for (const pid of groups) signalGroup(pid, 'SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, stopping everything it started`);
    process.exit(130);
  });
}

/** A folder removed when the run ends. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Spawns `program` as the leader of a new process group, killed with its group when the run ends. */
export function spawnGroup(program: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(program, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...options, detached: true });
  const pid = child.pid;
  if (pid !== undefined) {
    groups.add(pid);
    child.once('exit', () => groups.delete(pid));
  }
  return child;
}

/** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader has exited and its group is killed. */
export async function stopGroup(child: ChildProcess, graceMs = 5000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    signalGroup(pid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }
  // The group may hold helpers (tsx's esbuild) or per-connection processes that outlive the leader.
  signalGroup(pid, 'SIGKILL');
  groups.delete(pid);
}

/** A TCP port free on 127.0.0.1 a moment ago, for a server that cannot pick its own (sshd). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime+stime, in ticks. */
  cpu: number;
  /** cutime+cstime: children the process has reaped, in ticks. */
  childrenCpu: number;
  comm: string;
}

function readProcStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // The command name sits in parentheses and may hold spaces; the fields after it start at field 3 (state).
    const close = stat.lastIndexOf(')');
    const f = stat.slice(close + 2).split(' ');
    out.push({
      pid: Number(entry),
      ppid: Number(f[1]),
      cpu: Number(f[11]) + Number(f[12]),
      childrenCpu: Number(f[13]) + Number(f[14]),
      comm: stat.slice(stat.indexOf('(') + 1, close),
    });
  }
  return out;
}

/** The process `root` and its live descendants (root first). */
function tree(root: number, stats = readProcStats()): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const self = stats.find((s) => s.pid === root);
  if (self === undefined) throw new Error(`process ${root} is gone`);
  const out: ProcStat[] = [];
  for (const queue = [self]; queue.length > 0; ) {
    const s = queue.pop()!;
    out.push(s);
    queue.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

/**
 * CPU seconds of a process tree: utime+stime of each live process plus its cutime+cstime, which holds every
 * child it has waited for, and theirs in turn (sshd waits for its per-connection processes, and they for
 * theirs). Exact only while no descendant is exiting: read it once the tree has settled (`settledTree`).
 */
export function treeCpuSeconds(root: number): number {
  return tree(root).reduce((sum, s) => sum + s.cpu + s.childrenCpu, 0) / CLOCK_TICKS;
}

/** Pids of the live descendants of `root`. */
export function descendants(root: number): number[] {
  return tree(root)
    .slice(1)
    .map((s) => s.pid);
}

/**
 * Resolves once `root` has no descendant beyond `idle` (per-connection processes gone and waited for), so that
 * `treeCpuSeconds` counts them whole. Rejects after `timeoutMs`.
 */
export async function settledTree(root: number, idle: number[], timeoutMs = 30_000): Promise<void> {
  for (const deadline = performance.now() + timeoutMs; ; ) {
    if (descendants(root).every((pid) => idle.includes(pid))) return;
    if (performance.now() > deadline) throw new Error(`process ${root}: per-connection processes still there after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface TreeMemory {
  /** Bytes summed over the tree, from smaps_rollup. */
  rss: number;
  private: number;
  pss: number;
  processes: number;
  /** Private bytes and process count by command name. */
  byCommand: Map<string, { private: number; processes: number }>;
}

/** Memory of a process tree: Rss, Private_Clean+Private_Dirty and Pss of each process, summed. */
export function treeMemory(root: number): TreeMemory {
  const total: TreeMemory = { rss: 0, private: 0, pss: 0, processes: 0, byCommand: new Map() };
  for (const s of tree(root)) {
    let rollup: string;
    try {
      rollup = readFileSync(`/proc/${s.pid}/smaps_rollup`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
    const own = kib('Private_Clean') + kib('Private_Dirty');
    total.rss += kib('Rss');
    total.private += own;
    total.pss += kib('Pss');
    total.processes++;
    const entry = total.byCommand.get(s.comm) ?? { private: 0, processes: 0 };
    total.byCommand.set(s.comm, { private: entry.private + own, processes: entry.processes + 1 });
  }
  return total;
}

export interface ScriptResult {
  stdout: string;
  stderr: string;
  wallS: number;
  /** CPU of the script's processes (the ssh client, head or wc), from bash's `times`. */
  clientCpuS: number;
}

/**
 * `times` prints the shell's own user/sys times and then those of its reaped children (ssh and head or wc).
 */
const TRAILER = `
rc=$?
times >&2
exit $rc`;
const TIMES_LINE = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/;

/** Runs a bash script in its own process group, killed as a group if it outlasts `timeoutMs`. */
export function runScript(what: string, script: string, args: string[], timeoutMs: number): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawnGroup('bash', ['-c', `set -o pipefail\n${script}${TRAILER}`, 'bench', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${what}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      const wallS = (performance.now() - t0) / 1000;
      clearTimeout(timer);
      const lines = stderr.trimEnd().split('\n');
      const times = lines.length >= 2 ? TIMES_LINE.exec(lines[lines.length - 1]!) : null;
      if (times !== null && TIMES_LINE.test(lines[lines.length - 2]!)) lines.splice(-2);
      stderr = lines.join('\n');
      if (timedOut) return reject(new Error(`${what}: timed out after ${timeoutMs / 1000} s\n${stderr}`));
      if (code !== 0) return reject(new Error(`${what}: exit code ${code}${signal ? `, signal ${signal}` : ''}\n${stderr}`));
      if (times === null) return reject(new Error(`${what}: no \`times\` output\n${stderr}`));
      const clientCpuS = Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]);
      resolve({ stdout, stderr, wallS, clientCpuS });
    });
  });
}
