/**
 * Cold start and throughput of the demo Worker on a local workerd, with the ssh2 client over WebSocket, and
 * the Node demo over TCP with the same client in the same run for a ratio.
 *
 *   npm run bench:workerd -- [--runs N] [--size MIB]
 *
 * Cold start, the median of N fresh workerd processes on the bundled demo Worker: `listen` (spawn to workerd's
 * socket listening), `handshake` (spawn to the first client's key exchange done: the isolate's first request
 * makes the server and its wasm instance) and `login`; then `demo:workerd` as a user runs it (spawn to its
 * `websocket on` line: tsx, the esbuild bundle, workerd and the first request). Throughput: SIZE MiB up
 * (`sink`) and down (`source N`) on one connection, with the server's CPU (utime+stime of workerd, or of the
 * Node process, from /proc) per GiB, and per login (LOGINS logins one after another on a warm server).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type ConnectConfig } from 'ssh2';
import WebSocket, { createWebSocketStream } from 'ws';
import { CommandLine } from '../ts/demo/cli.js';
import { bundleWorker, startWorkerd, workerdConfig } from '../ts/demo/workerd-build.js';
import type { DemoSettings } from '../ts/demo/serve.js';
import { SSHServer as NodeServer } from '../ts/node/index.js';

const { Client } = ssh2;
type Ssh2Client = InstanceType<typeof Client>;
const ROOT = new URL('..', import.meta.url).pathname;
const MIB = 1024 * 1024;
const USER = 'bench';
const PASSWORD = 'bench pw';
const LOGINS = 50;

const cli: CommandLine = new CommandLine('bench', 'usage: npm run bench:workerd -- [--runs N] [--size MIB]');
const values = cli.parse(process.argv.slice(2), { runs: { type: 'string', default: '5' }, size: { type: 'string', default: '16' } });
const runs = Number(values.runs);
const sizeMiB = Number(values.size);
if (!(runs >= 1) || !(sizeMiB >= 1)) cli.fail('--runs and --size want positive numbers');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** utime+stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function connect(config: Partial<ConnectConfig>, onHandshake?: () => void): Promise<Ssh2Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    if (onHandshake) c.once('handshake', onHandshake);
    c.on('ready', () => resolve(c));
    c.on('error', reject);
    c.connect({ username: USER, password: PASSWORD, readyTimeout: 30_000, ...config });
  });
}

function overWebSocket(url: string, onHandshake?: () => void): Promise<Ssh2Client> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      const sock = createWebSocketStream(ws);
      ws.once('close', () => sock.destroy());
      connect({ sock }, onHandshake).then(resolve, reject);
    });
  });
}

/** Runs `command` with `input` and resolves with how many bytes came back. */
function run(c: Ssh2Client, command: string, input?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, stream) => {
      if (err) return reject(err);
      let n = 0;
      stream.on('data', (d: Buffer) => (n += d.length));
      stream.stderr.resume();
      stream.on('close', () => resolve(n));
      stream.end(input);
    });
  });
}

interface Throughput {
  up: number;
  down: number;
  upCpuPerGiB: number;
  downCpuPerGiB: number;
}

async function throughput(c: Ssh2Client, serverPid: number): Promise<Throughput> {
  const bytes = sizeMiB * MIB;
  const data = Buffer.alloc(bytes, 7);
  await run(c, 'sink', Buffer.alloc(MIB)); // warm-up
  const measure = async (command: string, input?: Buffer) => {
    const cpu0 = cpuSeconds(serverPid);
    const t0 = process.hrtime.bigint();
    const out = await run(c, command, input);
    const seconds = ms(t0) / 1000;
    return { mibps: sizeMiB / seconds, cpuPerGiB: ((cpuSeconds(serverPid) - cpu0) * 1024) / sizeMiB, out };
  };
  const up = await measure('sink', data);
  const down = await measure(`source ${bytes}`);
  if (down.out !== bytes) throw new Error(`source returned ${down.out} bytes, not ${bytes}`);
  return { up: up.mibps, down: down.mibps, upCpuPerGiB: up.cpuPerGiB, downCpuPerGiB: down.cpuPerGiB };
}

const stateDir = mkdtempSync(join(tmpdir(), 'wasshd-bench-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
});

const hostKey = new NodeServer().generateHostKey();
const settings: DemoSettings = { hostKeys: [hostKey], users: [[USER, PASSWORD]], config: [], verbose: false };
const buildDir = join(stateDir, 'worker');
await bundleWorker(join(ROOT, 'ts/demo/workerd-worker.ts'), buildDir);
writeFileSync(join(buildDir, 'config.capnp'), workerdConfig({ fromEnvironment: { WASSHD_DEMO: 'WASSHD_DEMO' } }));
const env = { ...process.env, WASSHD_DEMO: JSON.stringify(settings) };

const cold = { listen: [] as number[], handshake: [] as number[], login: [] as number[], demo: [] as number[] };
let workerdThroughput: Throughput | undefined;
let cpuPerLogin = 0;
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  const w = await startWorkerd(join(buildDir, 'config.capnp'), '127.0.0.1', 0, env);
  children.push(w.child);
  cold.listen.push(ms(t0));
  const c = await overWebSocket(`ws://127.0.0.1:${w.port}/ssh`, () => cold.handshake.push(ms(t0)));
  cold.login.push(ms(t0));
  if (i === runs - 1) {
    workerdThroughput = await throughput(c, w.child.pid!);
    const cpu0 = cpuSeconds(w.child.pid!);
    for (let n = 0; n < LOGINS; n++) (await overWebSocket(`ws://127.0.0.1:${w.port}/ssh`)).end();
    cpuPerLogin = ((cpuSeconds(w.child.pid!) - cpu0) * 1000) / LOGINS;
  }
  c.end();
  w.child.kill('SIGKILL');
}

for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  const demo = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'ts/demo/workerd.ts'), '--ws-port', '0', '--user', `${USER}:${PASSWORD}`], {
    env: { ...process.env, WASSHD_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(demo);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    demo.once('exit', (code) => reject(new Error(`demo:workerd exited with ${code}`)));
    demo.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/websocket on /.test(out)) resolve();
    });
  });
  cold.demo.push(ms(t0));
  await new Promise((resolve) => {
    demo.removeAllListeners('exit');
    demo.once('exit', resolve);
    demo.kill('SIGTERM');
  });
}

// The Node demo over TCP, same client, for a ratio.
const node = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'ts/demo/main.ts'), '--port', '0', '--user', `${USER}:${PASSWORD}`], {
  env: { ...process.env, WASSHD_STATE_DIR: stateDir },
  stdio: ['ignore', 'pipe', 'inherit'],
});
children.push(node);
const nodePort = await new Promise<number>((resolve) => {
  let out = '';
  node.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /listening on [^ ]*:(\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
});
const nc = await connect({ host: '127.0.0.1', port: nodePort });
const nodeThroughput = await throughput(nc, node.pid!);
nc.end();

const f = (x: number) => x.toFixed(0);
console.log(`cold start, median of ${runs} (ms): workerd listening ${f(median(cold.listen))}, first handshake ${f(median(cold.handshake))}, first login ${f(median(cold.login))}; npm run demo:workerd to "websocket on" ${f(median(cold.demo))}`);
const row = (name: string, t: Throughput) =>
  `${name.padEnd(22)} up ${t.up.toFixed(1).padStart(6)} MiB/s (${t.upCpuPerGiB.toFixed(1)} CPU s/GiB)   down ${t.down.toFixed(1).padStart(6)} MiB/s (${t.downCpuPerGiB.toFixed(1)} CPU s/GiB)`;
console.log(`workerd CPU per login (key exchange, password, session close): ${cpuPerLogin.toFixed(1)} ms`);
console.log(`throughput, ${sizeMiB} MiB each way, ssh2 client:`);
console.log(row('workerd, WebSocket', workerdThroughput!));
console.log(row('Node, TCP', nodeThroughput));
console.log(`workerd/Node: up ${(workerdThroughput!.up / nodeThroughput.up).toFixed(2)}, down ${(workerdThroughput!.down / nodeThroughput.down).toFixed(2)}`);
process.exit(0);
