/**
 * The core through the WIT component (`npm run demo:component`) against the core through today's
 * wasm-bindgen glue (`npm start`), both on Node and driven by the real OpenSSH client in one run:
 *
 *   npm run bench:component -- [--size MIB] [--handshakes N] [--concurrency N] [--rounds N] [--ciphers a,b]
 *
 * Per round and server (the servers alternate, so drift in the machine's load hits both alike): N complete
 * connections (key exchange, publickey login, `exec exit 0`, close), `--concurrency` at a time, then SIZE MiB
 * up (`sink`) and down (`source N`) per cipher, byte counts checked. Reported: the median over the rounds of
 * handshakes per second and MiB/s (wall time), and of the server's CPU seconds (utime+stime of the server
 * process from /proc; the clients' CPU is not counted). Both servers listen on 127.0.0.1 and are killed at
 * the end, also on errors.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CommandLine } from '../ts/demo/cli.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const MIB = 1024 * 1024;
const USER = 'bench';
const SERVERS = [
  { name: 'glue', script: 'ts/demo/main.ts' },
  { name: 'component', script: 'ts/demo/component.ts' },
] as const;
type ServerName = (typeof SERVERS)[number]['name'];

const cli = new CommandLine(
  'bench:component',
  'usage: npm run bench:component -- [--size MIB] [--handshakes N] [--concurrency N] [--rounds N] [--ciphers a,b]',
);
const values = cli.parse(process.argv.slice(2), {
  size: { type: 'string', default: '64' },
  handshakes: { type: 'string', default: '100' },
  concurrency: { type: 'string', default: '4' },
  rounds: { type: 'string', default: '3' },
  ciphers: { type: 'string', default: 'chacha20-poly1305@openssh.com,aes128-gcm@openssh.com' },
});
const positive = (flag: string): number => {
  const v = values[flag as keyof typeof values] as string;
  if (!/^[1-9]\d*$/.test(v)) cli.fail(`--${flag} wants a positive integer, got ${v}`);
  return Number(v);
};
const options = {
  bytes: positive('size') * MIB,
  handshakes: positive('handshakes'),
  concurrency: positive('concurrency'),
  rounds: positive('rounds'),
  ciphers: values.ciphers.split(',').filter((c) => c !== ''),
};

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

interface Server {
  name: ServerName;
  child: ChildProcess;
  port: number;
}

const running: Server[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'wasshd-bench-component-'));

/** utime+stime of the server process itself, in seconds. */
function cpuSeconds(server: Server): number {
  const stat = readFileSync(`/proc/${server.child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** `node --import tsx SCRIPT` (the pid is the process that serves), resolved once it prints its port. */
function start(name: ServerName, script: string, args: string[]): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before listening:\n${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line);
      if (!m) return;
      const server = { name, child, port: Number(m[1]) };
      running.push(server);
      child.removeAllListeners('exit');
      resolve(server);
    });
  });
}

/** Runs a bash script; rejects with its stderr unless it exits 0. */
function bash(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -o pipefail\n${script}`, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`bash exited ${code}: ${stderr}`))));
  });
}

function sshArgs(server: Server, keyFile: string, cipher?: string): string[] {
  return [
    '-F', '/dev/null',
    ...(cipher ? ['-c', cipher] : []),
    '-i', keyFile,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', 'IdentityAgent=none',
    '-p', String(server.port),
    `${USER}@127.0.0.1`,
  ];
}

interface Measured {
  wallS: number;
  cpuS: number;
}

async function measure(server: Server, work: () => Promise<void>): Promise<Measured> {
  const cpu0 = cpuSeconds(server);
  const t0 = performance.now();
  await work();
  return { wallS: (performance.now() - t0) / 1000, cpuS: cpuSeconds(server) - cpu0 };
}

/** `count` whole connections, `concurrency` at a time. */
async function handshakes(server: Server, keyFile: string, count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await bash('ssh "$@" exit 0', sshArgs(server, keyFile));
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, count) }, worker));
}

async function transfer(server: Server, keyFile: string, cipher: string, direction: 'up' | 'down', bytes: number): Promise<void> {
  const script = direction === 'up' ? 'n=$1; shift\nhead -c "$n" /dev/zero | ssh "$@" sink' : 'n=$1; shift\nssh "$@" source "$n" | wc -c';
  const counted = (await bash(script, [String(bytes), ...sshArgs(server, keyFile, cipher)])).trim();
  if (counted !== String(bytes)) throw new Error(`${server.name} ${cipher} ${direction}: counted ${counted} bytes, not ${bytes}`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const hostKey = join(tmp, 'host_key');
  const userKey = join(tmp, 'user_key');
  for (const f of [hostKey, userKey]) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f], { stdio: 'ignore' });
  // The component has only the core's own crypto: the glue uses it too, so that only the boundaries differ.
  const args = ['--port', '0', '--host-key', hostKey, '--user', `${USER}:unused-${Math.random()}`, '--authorized-keys', `${userKey}.pub`, '--config', 'CryptoProvider=wasm'];
  const servers = await Promise.all(SERVERS.map((s) => start(s.name, s.script, args)));

  console.log(`wasshd: the WIT component against the wasm-bindgen glue, node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'})`);
  console.log(`  ${options.rounds} rounds of ${options.handshakes} connections (${options.concurrency} at a time) and ${options.bytes / MIB} MiB each way per cipher`);
  console.log(`  load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start`);

  // The JIT past its first tiers on both before anything is timed.
  for (const server of servers) {
    await handshakes(server, userKey, 8);
    for (const cipher of options.ciphers) {
      await transfer(server, userKey, cipher, 'up', 8 * MIB);
      await transfer(server, userKey, cipher, 'down', 8 * MIB);
    }
  }

  const results = new Map<string, Measured[]>();
  const record = (key: string, m: Measured) => results.set(key, [...(results.get(key) ?? []), m]);
  for (let round = 0; round < options.rounds; round++) {
    for (const server of servers) {
      record(`${server.name} handshakes`, await measure(server, () => handshakes(server, userKey, options.handshakes)));
      for (const cipher of options.ciphers) {
        for (const direction of ['up', 'down'] as const) {
          record(`${server.name} ${cipher} ${direction}`, await measure(server, () => transfer(server, userKey, cipher, direction, options.bytes)));
        }
      }
    }
    console.log(`  round ${round + 1} done`);
  }

  const of = (name: string, what: string) => results.get(`${name} ${what}`)!;
  const rows = [['', 'glue', 'component', 'component/glue']];
  const add = (label: string, what: string, value: (m: Measured) => number, digits: number) => {
    const [g, c] = [median(of('glue', what).map(value)), median(of('component', what).map(value))];
    rows.push([label, g.toFixed(digits), c.toFixed(digits), `${(c / g).toFixed(2)}x`]);
  };
  add('handshakes/s', 'handshakes', (m) => options.handshakes / m.wallS, 1);
  add('server CPU ms/handshake', 'handshakes', (m) => (1000 * m.cpuS) / options.handshakes, 2);
  for (const cipher of options.ciphers) {
    for (const direction of ['up', 'down'] as const) {
      add(`${cipher} ${direction} MiB/s`, `${cipher} ${direction}`, (m) => options.bytes / MIB / m.wallS, 1);
      add(`${cipher} ${direction} server CPU s`, `${cipher} ${direction}`, (m) => m.cpuS, 2);
    }
  }
  console.log();
  console.log(table(rows));
  console.log();
  console.log('Medians over the rounds. A handshake is a whole connection: key exchange, publickey login, exec, close.');
  console.log('Server CPU: utime+stime of the server process; the OpenSSH clients run on the same cores.');
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at end`);
}

function stopAll(): void {
  for (const s of running) s.child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}

process.once('exit', stopAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench:component: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
