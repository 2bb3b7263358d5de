/**
 * Bulk-transfer throughput of the wasshd demo server against an `ssh2` npm server (bench/ssh2-peer.ts), both
 * driven by the real OpenSSH client, measured in one run so the figures are comparable.
 *
 *   npm run bench -- [--size MIB] [--only wasshd|ssh2] [--ciphers a,b] [--timeout SECONDS]
 *                    [--wasshd-config NAME=VALUE]...
 *
 * For each cipher and server: one `source 0` session (warms the server up and measures session setup), a small
 * warm-up transfer each way, then `sink` fed SIZE MiB of zeros ("up") and `source SIZE MiB` ("down"). Byte counts
 * are checked exactly. Wall time covers the whole ssh session (setup included; see the "setup s" column); server CPU is
 * utime+stime of the server's process tree from /proc, client CPU is what bash's `times` reports for the pipeline
 * (ssh, sshpass, head or wc). Both servers listen on 127.0.0.1 only and are killed at the end, also on errors.
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CommandLine } from '../ts/demo/cli.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const WASM_FILE = join(ROOT, 'wasm/pkg/wasshd_wasm_bg.wasm');
const DEFAULT_CIPHERS = ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com'];
const SERVER_NAMES = ['wasshd', 'ssh2'] as const;
type ServerName = (typeof SERVER_NAMES)[number];
type Direction = 'up' | 'down';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const WARMUP_BYTES = 8 * MIB;
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 5_000;
const USER = 'bench';

const USAGE = `usage: npm run bench -- [--size MIB] [--only wasshd|ssh2] [--ciphers a,b] [--timeout SECONDS]
                       [--wasshd-config NAME=VALUE]...`;

const cli: CommandLine = new CommandLine('bench', USAGE);

interface Options {
  sizeMiB: number;
  servers: ServerName[];
  ciphers: string[];
  timeoutMs: number;
  wasshdConfig: string[];
}

function parseArgs(argv: string[]): Options {
  const values = cli.parse(argv, {
    size: { type: 'string', default: '512' },
    only: { type: 'string' },
    ciphers: { type: 'string', default: DEFAULT_CIPHERS.join(',') },
    timeout: { type: 'string', default: '600' },
    'wasshd-config': { type: 'string', multiple: true, default: [] },
  });
  const positive = (flag: string, v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) cli.fail(`--${flag} wants a positive integer, got ${v}`);
    return n;
  };
  if (values.only !== undefined && !(SERVER_NAMES as readonly string[]).includes(values.only)) cli.fail(`--only wants wasshd or ssh2, got ${values.only}`);
  const ciphers = values.ciphers.split(',').filter((c) => c !== '');
  if (ciphers.length === 0) cli.fail('--ciphers wants a comma-separated list');
  return {
    sizeMiB: positive('size', values.size),
    servers: values.only === undefined ? [...SERVER_NAMES] : [values.only as ServerName],
    ciphers,
    timeoutMs: positive('timeout', values.timeout) * 1000,
    wasshdConfig: values['wasshd-config'],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Servers

interface RunningServer {
  name: ServerName;
  child: ChildProcess;
  pid: number;
  port: number;
  exited: Promise<void>;
}

/** Every server started and temp dir made, so that the exit handlers can reach them whatever state `main` is in. */
const started = new Set<RunningServer>();
const tempDirs = new Set<string>();
/** Process groups of transfers under way. */
const transfers = new Set<number>();

/** Starts `node --import tsx SCRIPT ARGS` in its own process group and resolves once it prints `listening on`. */
function startServer(name: ServerName, script: string, args: string[]): Promise<RunningServer> {
  // node itself rather than `npx tsx`: then the pid we watch is the process that serves, not a launcher.
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) return Promise.reject(new Error(`${name}: could not spawn ${script}`));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
    console.error(`[${name}] ${line}`);
  });
  const server: RunningServer = { name, child, pid, port: 0, exited };
  started.add(server);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${name}: no "listening on" line within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      done(new Error(`${name}: exited before listening (code ${code}, signal ${signal})\n${stderrTail.join('\n')}`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(server);
    };
    child.once('exit', onExit);
    // Keeps reading stdout after the line too, so a chatty server never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^listening on (\S+):(\d+)$/.exec(line);
      if (m === null || server.port !== 0) return;
      if (m[1] !== '127.0.0.1') return done(new Error(`${name}: listening on ${m[1]}, not 127.0.0.1`));
      server.port = Number(m[2]);
      done();
    });
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

async function stopServer(server: RunningServer): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    signalGroup(server.pid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS)));
    if (await Promise.race([server.exited.then(() => false), timedOut])) signalGroup(server.pid, 'SIGKILL');
    clearTimeout(timer);
  }
  // The group may hold helpers (tsx's esbuild) that outlive the server.
  signalGroup(server.pid, 'SIGKILL');
  started.delete(server);
}

// ---------------------------------------------------------------------------------------------------------------
// CPU accounting from /proc

/** [pid, ppid, utime+stime, cutime+cstime] of every process, in clock ticks. */
function readProcStats(): Array<[number, number, number, number]> {
  const out: Array<[number, number, number, number]> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // The command name sits in parentheses and may hold spaces; the fields after it start at field 3 (state).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push([Number(entry), Number(f[1]), Number(f[11]) + Number(f[12]), Number(f[13]) + Number(f[14])]);
  }
  return out;
}

/**
 * CPU ticks of a process and its descendants: utime+stime of each live one, plus the root's cutime+cstime
 * (descendants it has already reaped).
 */
function treeCpuTicks(rootPid: number): number {
  const stats = readProcStats();
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of stats) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const byPid = new Map(stats.map((s) => [s[0], s]));
  const root = byPid.get(rootPid);
  if (root === undefined) throw new Error(`server process ${rootPid} is gone`);
  let ticks = root[3];
  for (const queue = [rootPid]; queue.length > 0; ) {
    const pid = queue.pop()!;
    ticks += byPid.get(pid)?.[2] ?? 0;
    queue.push(...(children.get(pid) ?? []));
  }
  return ticks;
}

// ---------------------------------------------------------------------------------------------------------------
// Transfers

interface ShellResult {
  stdout: string;
  stderr: string;
  wallS: number;
  clientCpuS: number;
}

/**
 * `times` prints the shell's own user/sys times and then those of its reaped children (head or wc, sshpass and,
 * through sshpass, ssh).
 */
const TRAILER = `
rc=$?
times >&2
exit $rc`;
const TIMES_LINE = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/;

/** Runs a bash script in its own process group, killed as a group if it outlasts `timeoutMs`. */
function runScript(what: string, script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('bash', ['-c', `set -o pipefail\n${script}${TRAILER}`, 'bench', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env,
    });
    const pid = child.pid;
    if (pid !== undefined) transfers.add(pid);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) signalGroup(pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      if (pid !== undefined) transfers.delete(pid);
      reject(new Error(`${what}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      const wallS = (performance.now() - t0) / 1000;
      clearTimeout(timer);
      if (pid !== undefined) transfers.delete(pid);
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

const SCRIPTS: Record<Direction, string> = {
  // $1 = byte count, the rest = the ssh command line up to the host.
  up: 'n=$1; shift\nhead -c "$n" /dev/zero | sshpass -e ssh "$@" sink',
  down: 'n=$1; shift\nsshpass -e ssh "$@" source "$n" | wc -c',
};

interface Measurement {
  server: ServerName;
  cipher: string;
  direction: Direction;
  wallS: number;
  serverCpuS: number;
  clientCpuS: number;
}

class Bench {
  readonly clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

  constructor(
    private readonly password: string,
    private readonly timeoutMs: number,
  ) {
    if (!Number.isInteger(this.clockTicks) || this.clockTicks <= 0) throw new Error('getconf CLK_TCK gave no tick rate');
  }

  private sshArgs(server: RunningServer, cipher: string): string[] {
    return [
      '-F', '/dev/null', // no user or system config: the same client settings everywhere
      '-c', cipher,
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'LogLevel=ERROR',
      '-o', 'PreferredAuthentications=password',
      '-o', 'PubkeyAuthentication=no',
      '-o', 'IdentityAgent=none',
      '-o', 'ConnectTimeout=30',
      '-p', String(server.port),
      `${USER}@127.0.0.1`,
    ];
  }

  /** One transfer of `bytes`, its byte count checked exactly. */
  async transfer(server: RunningServer, cipher: string, direction: Direction, bytes: number): Promise<Measurement> {
    const what = `${server.name} ${cipher} ${direction} ${bytes} bytes`;
    const env = { ...process.env, SSHPASS: this.password };
    const cpu0 = treeCpuTicks(server.pid);
    const r = await runScript(what, SCRIPTS[direction], [String(bytes), ...this.sshArgs(server, cipher)], env, this.timeoutMs);
    const cpu1 = treeCpuTicks(server.pid);
    const counted = r.stdout.trim();
    if (counted !== String(bytes)) {
      const side = direction === 'up' ? 'sink printed' : 'received';
      throw new Error(`${what}: ${side} ${JSON.stringify(counted)}, expected exactly ${bytes}\n${r.stderr}`);
    }
    if (r.stderr.trim() !== '') console.error(`[${what}] ${r.stderr.trim()}`);
    return {
      server: server.name,
      cipher,
      direction,
      wallS: r.wallS,
      serverCpuS: (cpu1 - cpu0) / this.clockTicks,
      clientCpuS: r.clientCpuS,
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report

function table(rows: string[][], rightAligned: Set<number>): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

function report(results: Measurement[], sizeMiB: number, ciphers: string[], setup: Map<string, number>): string {
  const bytes = sizeMiB * MIB;
  const mibPerS = (m: Measurement) => sizeMiB / m.wallS;
  const cpuPerGiB = (s: number) => (s * GIB) / bytes;
  const rows: string[][] = [['server', 'cipher', 'dir', 'MiB/s', 'server CPU s/GiB', 'server busy', 'client CPU s/GiB', 'wall s', 'setup s']];
  for (const cipher of ciphers) {
    for (const direction of ['up', 'down'] as const) {
      const pair = results.filter((m) => m.cipher === cipher && m.direction === direction);
      for (const m of pair) {
        rows.push([
          m.server,
          cipher,
          direction,
          mibPerS(m).toFixed(1),
          cpuPerGiB(m.serverCpuS).toFixed(2),
          // Near 100% of one core: the server is CPU-bound (its protocol work runs on one thread).
          `${((100 * m.serverCpuS) / m.wallS).toFixed(0)}%`,
          cpuPerGiB(m.clientCpuS).toFixed(2),
          m.wallS.toFixed(2),
          (setup.get(`${m.server} ${cipher}`) ?? NaN).toFixed(2),
        ]);
      }
      const w = pair.find((m) => m.server === 'wasshd');
      const s = pair.find((m) => m.server === 'ssh2');
      if (w && s) {
        const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
        rows.push(['  wasshd/ssh2', '', '', ratio(mibPerS(w), mibPerS(s)), ratio(w.serverCpuS, s.serverCpuS), '', ratio(w.clientCpuS, s.clientCpuS), '', '']);
      }
    }
  }
  return table(rows, new Set([3, 4, 5, 6, 7, 8]));
}

function describeMachine(): string {
  // `ssh -V` prints on stderr.
  const ssh = spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr?.trim() || 'ssh: unknown version';
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `node ${process.version}, ${ssh}, ${availableParallelism()} cores (${cpu})`;
}

/** Other work on the machine skews wall times most; the load average says how much there was. */
function describeLoad(): string {
  return `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const bytes = options.sizeMiB * MIB;
  const tmp = mkdtempSync(join(tmpdir(), 'wasshd-bench-'));
  tempDirs.add(tmp);
  try {
    const hostKey = join(tmp, 'ssh_host_ed25519_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'wasshd bench', '-f', hostKey], { stdio: 'ignore' });
    const password = randomBytes(12).toString('base64url');
    const common = ['--port', '0', '--listen', '127.0.0.1', '--user', `${USER}:${password}`, '--host-key', hostKey];
    const scripts: Record<ServerName, [string, string[]]> = {
      wasshd: ['ts/demo/main.ts', [...common, ...options.wasshdConfig.flatMap((c) => ['--config', c])]],
      ssh2: ['bench/ssh2-peer.ts', common],
    };
    const servers = await Promise.all(options.servers.map((name) => startServer(name, ...scripts[name])));

    console.log(`wasshd throughput benchmark: ${options.sizeMiB} MiB each way, ${describeMachine()}`);
    console.log(`  ${describeLoad()} at start`);
    for (const s of servers) console.log(`  ${s.name}: pid ${s.pid}, port ${s.port}`);

    const bench = new Bench(password, options.timeoutMs);
    const results: Measurement[] = [];
    const setup = new Map<string, number>();
    // Servers alternate within each cipher, so slow drift in the machine's load hits both alike.
    for (const cipher of options.ciphers) {
      for (const server of servers) {
        // An empty session measures setup (kex, auth, channel) and, with the warm-up transfers, gets the
        // server's JIT past its first tiers before anything is timed.
        setup.set(`${server.name} ${cipher}`, (await bench.transfer(server, cipher, 'down', 0)).wallS);
        await bench.transfer(server, cipher, 'up', Math.min(WARMUP_BYTES, bytes));
        await bench.transfer(server, cipher, 'down', Math.min(WARMUP_BYTES, bytes));
        for (const direction of ['up', 'down'] as const) {
          const m = await bench.transfer(server, cipher, direction, bytes);
          results.push(m);
          console.log(`  ${m.server} ${m.cipher} ${m.direction}: ${(options.sizeMiB / m.wallS).toFixed(1)} MiB/s`);
        }
      }
    }

    console.log();
    console.log(report(results, options.sizeMiB, options.ciphers, setup));
    console.log();
    console.log('MiB/s = size / wall time of the whole ssh session; "setup s" = wall time of an empty session (source 0).');
    console.log('server CPU = utime+stime of the server process tree, "server busy" = that CPU time / wall time (100% = one');
    console.log('core); client CPU = ssh + sshpass + head/wc. Other load on the machine lowers MiB/s more than CPU s/GiB.');
    let wasmSize: string;
    try {
      wasmSize = `${statSync(WASM_FILE).size} bytes`;
    } catch {
      wasmSize = 'missing';
    }
    console.log(`wasm module ${WASM_FILE}: ${wasmSize}`);
    console.log(`${describeLoad()} at end`);
  } finally {
    await Promise.all([...started].map(stopServer));
    rmSync(tmp, { recursive: true, force: true });
    tempDirs.delete(tmp);
  }
}

// Whatever ends this process, the servers go with it.
process.once('exit', () => {
  for (const pid of transfers) signalGroup(pid, 'SIGKILL');
  for (const s of started) signalGroup(s.pid, 'SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, stopping the servers`);
    process.exit(130);
  });
}

main().catch((err: unknown) => {
  console.error(`bench: FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
