/**
 * The runtimes against each other, in one run: the demo on Node (as `npm start` runs it, through tsx), Deno and
 * Bun (as their npm scripts run them, without npm's own start-up).
 *
 *   npm run bench:runtimes -- [--rounds N] [--size MIB]
 *
 * Cold start, ROUNDS times per runtime, interleaved, of the demo and of a minimal server on the built package
 * (examples/deno, examples/bun and the same for Node; no TypeScript to compile at start): from spawning the
 * process to its `listening on` line, and to the first completed handshake (an ssh2 client connecting as soon as the line appears, through key exchange and
 * password authentication). Throughput, with every server up at once and the runtimes taking turns in each of
 * ROUNDS rounds: SIZE MiB up (`sha256`) and down (`source`), timed from the exec request to the channel's close
 * on an established ssh2 connection, over TCP and (Deno, Bun) over the WebSocket endpoint; then the same with
 * the OpenSSH client over TCP, timed as whole sessions (connection setup included). Byte counts and digests are
 * checked; medians are printed. Every connection uses chacha20-poly1305, OpenSSH's default.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import WebSocket, { createWebSocketStream } from 'ws';
import { CommandLine } from '../ts/demo/cli.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const MIB = 1024 * 1024;
const USER = 'bench';
const PASSWORD = 'bench pw';
const BIN = (name: string) => join(ROOT, 'node_modules/.bin', name);
/** OpenSSH's first choice, for ssh2 as well, so that every column runs the same cipher. */
const CIPHER = 'chacha20-poly1305@openssh.com';

/** examples/deno/server.ts for Node: the built package, a password made at start, port 0. */
const NODE_EXAMPLE = `
import { SSHServer } from 'wasshd';
const password = crypto.randomUUID();
const server = new SSHServer({ localPort: 0 });
server.generateHostKey();
server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.user === 'demo' && e.password === password ? e.accept() : e.reject()));
const { host, port } = await server.startListening();
console.log('user demo, password ' + password);
console.log('listening on ' + host + ':' + port);
`;

/** Each runtime's demo (TypeScript sources, as its npm script runs it) and its minimal server on the built package. */
const RUNTIMES = [
  {
    name: 'node',
    command: [process.execPath, '--import', 'tsx', 'ts/demo/main.ts'],
    example: [process.execPath, '--input-type=module', '-e', NODE_EXAMPLE],
    webSocket: false,
  },
  {
    name: 'deno',
    command: [BIN('deno'), 'run', '--sloppy-imports', '--allow-net', '--allow-read', '--allow-write', '--allow-env=WASSHD_STATE_DIR', 'ts/demo/deno.ts'],
    example: [BIN('deno'), 'run', '--allow-net', '--allow-read', 'examples/deno/server.ts', '0'],
    webSocket: true,
  },
  { name: 'bun', command: [BIN('bun'), 'ts/demo/bun.ts'], example: [BIN('bun'), 'examples/bun/server.ts', '0'], webSocket: true },
];

const cli: CommandLine = new CommandLine('bench:runtimes', 'usage: npm run bench:runtimes -- [--rounds N] [--size MIB]');
const values = cli.parse(process.argv.slice(2), { rounds: { type: 'string', default: '5' }, size: { type: 'string', default: '16' } });
const ROUNDS = Number(values.rounds);
const SIZE = Number(values.size) * MIB;
if (!(ROUNDS >= 1) || !(SIZE > 0)) cli.fail('--rounds and --size want positive numbers');

const work = mkdtempSync(join(tmpdir(), 'wasshd-bench-runtimes-'));
const hostKey = join(work, 'host_key');
spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill();
  rmSync(work, { recursive: true, force: true });
});

interface Server {
  child: ChildProcess;
  user: string;
  password: string;
  port: number;
  wsPort: number | undefined;
  /** Milliseconds from spawn to the `listening on` line. */
  listening: number;
  spawnedAt: number;
}

/** The demo's flags; a minimal server takes none. */
const demoFlags = (webSocket: boolean) => ['--port', '0', '--host-key', hostKey, '--user', `${USER}:${PASSWORD}`, '--config', 'PerSourcePenaltyExemptList=127.0.0.1', ...(webSocket ? ['--ws-port', '0'] : [])];

/** Starts a server; resolves once it listens, with the credentials it printed (the demo's by default). */
function start(command: string[], flags: string[], webSocket = false): Promise<Server> {
  const [program, ...args] = command as [string, ...string[]];
  const spawnedAt = performance.now();
  const child = spawn(program, [...args, ...flags], { cwd: ROOT, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  let listening = 0;
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${program} exited with ${code}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on [^ ]*:(\d+)/.exec(out);
      if (m && !listening) listening = performance.now() - spawnedAt;
      const ws = /websocket on [^ ]*:(\d+)/.exec(out);
      if (!m || (webSocket && !ws)) return;
      child.stdout!.removeAllListeners('data');
      child.removeAllListeners('exit');
      const printed = /user (\S+), password (\S+)/.exec(out);
      const [user, password] = printed ? [printed[1]!, printed[2]!] : [USER, PASSWORD];
      resolve({ child, user, password, port: Number(m[1]), wsPort: ws ? Number(ws[1]) : undefined, listening, spawnedAt });
    });
  });
}

function stop(server: Server): Promise<void> {
  return new Promise((done) => {
    if (server.child.exitCode !== null) return done();
    server.child.once('exit', () => done());
    server.child.kill('SIGTERM');
  });
}

type Client = InstanceType<typeof ssh2.Client>;

function connect(sock: NodeJS.ReadWriteStream, username = USER, password = PASSWORD): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('ready', () => resolve(c));
    c.on('error', reject);
    c.connect({ sock: sock as never, username, password, readyTimeout: 60_000, algorithms: { cipher: [CIPHER] } });
  });
}

const overTcp = (port: number, user?: string, password?: string) => connect(tcpConnect({ host: '127.0.0.1', port }), user, password);
const overWebSocket = (port: number) => connect(createWebSocketStream(new WebSocket(`ws://127.0.0.1:${port}/ssh`)));

/** Runs `command` with `input`; resolves with its output and the milliseconds from the request to the close. */
function timedExec(c: Client, command: string, input?: Buffer): Promise<{ out: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    c.exec(command, (err, stream) => {
      if (err) return reject(err);
      const out: Buffer[] = [];
      stream.on('data', (d: Buffer) => out.push(d));
      stream.stderr.resume();
      stream.on('close', () => resolve({ out: Buffer.concat(out), ms: performance.now() - t0 }));
      stream.end(input);
    });
  });
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mibps = (ms: number) => SIZE / MIB / (ms / 1000);

const upData = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i += 4) upData.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
const downDigest = sha256(Buffer.from(Uint8Array.from({ length: SIZE }, (_, i) => i % 251)));
const upFile = join(work, 'up.bin');
writeFileSync(upFile, upData);

type Figures = Record<'up' | 'down', number[]>;
const figures = (): Figures => ({ up: [], down: [] });

/** One transfer each way over an established connection, checked; the times go into `into`. */
async function transfer(c: Client, into: Figures): Promise<void> {
  const u = await timedExec(c, 'sha256', upData);
  if (u.out.toString().trim() !== sha256(upData)) throw new Error('upload digest differs');
  into.up.push(u.ms);
  const d = await timedExec(c, `source ${SIZE}`);
  if (d.out.length !== SIZE || sha256(d.out) !== downDigest) throw new Error('download differs');
  into.down.push(d.ms);
}

/** One whole OpenSSH session (setup included) each way, checked; the times go into `into`. */
function opensshTransfer(port: number, into: Figures): void {
  const base = ['-F', '/dev/null', '-c', CIPHER, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'PubkeyAuthentication=no', '-p', String(port), `${USER}@127.0.0.1`];
  const session = (command: string, input?: Buffer) => {
    const t0 = performance.now();
    const r = spawnSync('sshpass', ['-p', PASSWORD, 'ssh', ...base, command], { input: input ?? Buffer.alloc(0), maxBuffer: 2 * SIZE });
    return { out: r.stdout, ms: performance.now() - t0 };
  };
  const u = session('sha256', readFileSync(upFile));
  if (u.out.toString().trim() !== sha256(upData)) throw new Error('OpenSSH upload digest differs');
  into.up.push(u.ms);
  const d = session(`source ${SIZE}`);
  if (d.out.length !== SIZE || sha256(d.out) !== downDigest) throw new Error('OpenSSH download differs');
  into.down.push(d.ms);
}

interface ColdStart {
  listening: number[];
  handshake: number[];
}
const coldStart = (): ColdStart => ({ listening: [], handshake: [] });
const cold = new Map(RUNTIMES.map((r) => [r.name, { demo: coldStart(), example: coldStart() }]));

/** Starts a server, connects as soon as it listens, and records both times. */
async function measureStart(command: string[], flags: string[], into: ColdStart): Promise<void> {
  const server = await start(command, flags);
  const c = await overTcp(server.port, server.user, server.password);
  into.handshake.push(performance.now() - server.spawnedAt);
  into.listening.push(server.listening);
  c.end();
  await stop(server);
}

// The minimal servers import the built package (dist/), by name.
spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'ignore' });
for (let round = 0; round < ROUNDS; round++) {
  for (const r of RUNTIMES) {
    await measureStart(r.command, demoFlags(false), cold.get(r.name)!.demo);
    await measureStart(r.example, [], cold.get(r.name)!.example);
  }
}

// Throughput: every server up at once, the runtimes taking turns in each round, so that whatever else the
// machine does falls on all of them alike.
const running = [];
for (const r of RUNTIMES) {
  const server = await start(r.command, demoFlags(r.webSocket), r.webSocket);
  const tcp = await overTcp(server.port);
  const ws = server.wsPort === undefined ? undefined : await overWebSocket(server.wsPort);
  running.push({ r, server, tcp, ws, overTcp: figures(), overWs: figures(), openssh: figures() });
}
for (let round = 0; round < ROUNDS; round++) {
  for (const t of running) {
    await transfer(t.tcp, t.overTcp);
    if (t.ws) await transfer(t.ws, t.overWs);
    opensshTransfer(t.server.port, t.openssh);
  }
}
const rows: string[][] = [];
for (const t of running) {
  t.tcp.end();
  t.ws?.end();
  await stop(t.server);
  const c = cold.get(t.r.name)!;
  const f = (n: number) => n.toFixed(0);
  const rate = (x: Figures) => (x.up.length ? `${f(mibps(median(x.up)))} / ${f(mibps(median(x.down)))}` : '-');
  const ms = (x: ColdStart) => `${f(median(x.listening))} / ${f(median(x.handshake))}`;
  rows.push([t.r.name, ms(c.demo), ms(c.example), rate(t.overTcp), rate(t.overWs), rate(t.openssh)]);
}

const header = ['runtime', 'demo: listening / first handshake ms', 'minimal server on dist/: listening / first handshake ms', 'ssh2 TCP up/down MiB/s', 'ssh2 WebSocket up/down MiB/s', 'OpenSSH TCP up/down MiB/s (whole session)'];
console.log(`${ROUNDS} rounds, ${SIZE / MIB} MiB each way, medians; node ${process.version}, ${spawnSync(BIN('deno'), ['--version']).stdout.toString().split('\n')[0]}, bun ${spawnSync(BIN('bun'), ['--version']).stdout.toString().trim()}`);
console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
process.exit(0);
