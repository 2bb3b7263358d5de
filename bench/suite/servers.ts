/**
 * The servers the suite measures, started and stopped alike: wasshd's Node demo (variants with their own
 * `--config`, and with `--workers`), the `ssh2` npm server in bench/ssh2-peer.ts, and Debian's sshd run on a
 * port and config of its own, not as the system service. Every one listens on 127.0.0.1 only, takes the same
 * ed25519 user key and runs the same few commands (sshd's through the user's shell: see `Commands`).
 */

import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { descendants, freePort, ROOT, settledTree, spawnGroup, stopGroup, tempDir, treeCpuSeconds } from './processes.js';

export const SSHD = '/usr/sbin/sshd';
const READY_TIMEOUT_MS = 120_000;
const BENCH_USER = 'bench';

export type Kind = 'wasshd' | 'ssh2' | 'sshd';

export interface ServerSpec {
  /** Its name in the tables: `wasshd`, `wasshd (LABEL)` for a variant, `ssh2`, `sshd`. */
  label: string;
  kind: Kind;
  /** wasshd: `--config NAME=VALUE` settings of this variant. */
  config: string[];
}

/** The remote commands of a bulk transfer, a handshake and an idle session. */
export interface Commands {
  sink: string;
  source(bytes: number): string;
  true: string;
  /** Runs until the client closes the channel. */
  wait: string;
}

const DEMO_COMMANDS: Commands = { sink: 'sink', source: (n) => `source ${n}`, true: 'true', wait: 'sleep 2147483647' };
// sshd runs them with the user's shell (`bash -c`, its startup files skipped: see startSshd); `wc -c` counts what
// arrives, as the other servers' sink does. `wait` reads its stdin to the end, so that it ends with its connection:
// a command without a terminal gets no hangup, and `sleep` outlived sshd by the thousand.
const SHELL_COMMANDS: Commands = { sink: 'wc -c', source: (n) => `head -c ${n} /dev/zero`, true: 'true', wait: 'exec cat > /dev/null' };

/** What a Node server reports after a garbage collection (see memory-probe.ts). */
export interface ProbeReading {
  rss: number;
  heapUsed: number;
  external: number;
  wasm: number;
  /** V8's young generation as committed (empty after the collection), which RSS counts. */
  newSpace: number;
}

export interface Server {
  spec: ServerSpec;
  /** The process that listens (for sshd, the listener every connection forks from). */
  pid: number;
  port: number;
  user: string;
  commands: Commands;
  /** Its descendants while it serves no one: helpers such as tsx's esbuild, or --workers. */
  idle: number[];
  /** Resolves once every per-connection process has ended and been waited for. */
  settled(): Promise<void>;
  /** CPU seconds of its process tree so far; exact once `settled`. */
  cpu(): number;
  /** wasshd and ssh2 started with `probe`: garbage-collects and reads the process's memory. */
  probe?(): Promise<ProbeReading>;
  stop(): Promise<void>;
}

/** Keys every server and client of a run share: a host key, and a user key that each server authorizes. */
export interface Credentials {
  dir: string;
  hostKey: string;
  userKey: string;
  authorizedKeys: string;
  /** The demo wants a password for its users; nobody logs in with it. */
  password: string;
}

export function makeCredentials(): Credentials {
  const dir = tempDir('wasshd-bench-');
  const keygen = (file: string, comment: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  const userKey = join(dir, 'id_ed25519');
  keygen(hostKey, 'wasshd bench host');
  keygen(userKey, 'wasshd bench user');
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${userKey}.pub`));
  return { dir, hostKey, userKey, authorizedKeys, password: randomBytes(12).toString('base64url') };
}

export interface StartOptions {
  /** Limits raised so that this many connections fit (`MaxConnections` on wasshd). */
  connections: number;
  /** wasshd: `--workers N`; undefined for one process. */
  workers?: number;
  /** wasshd and ssh2: start with --expose-gc and answer memory probes (wasshd from bench/suite/wasshd-probe.ts). */
  probe?: boolean;
  /** sshd_config lines for this measure (its ciphers, MACs, key exchange). */
  sshdConfig?: string[];
  /** wasshd and ssh2: more flags of their command lines (`--sftp-root DIR`). */
  extraArgs?: string[];
}

export function startServer(spec: ServerSpec, keys: Credentials, options: StartOptions): Promise<Server> {
  if (spec.kind === 'sshd') return startSshd(spec, keys, options);
  const common = ['--port', '0', '--listen', '127.0.0.1', '--user', `${BENCH_USER}:${keys.password}`, '--host-key', keys.hostKey, '--authorized-keys', keys.authorizedKeys, ...(options.extraArgs ?? [])];
  const probing = options.probe === true;
  if (spec.kind === 'ssh2') return startNode(spec, 'bench/ssh2-peer.ts', [...common, ...(probing ? ['--memory-probe'] : [])], probing);
  const limits = [
    // Every connection comes from 127.0.0.1, and the handshake measure opens 16 at once.
    'PerSourcePenaltyExemptList=127.0.0.1',
    `MaxStartups=${Math.max(options.connections, 100)}`,
    `MaxConnections=${options.connections + 100}`,
  ];
  const entry = probing ? 'bench/suite/wasshd-probe.ts' : 'ts/demo/main.ts';
  const workers = options.workers === undefined ? [] : ['--workers', String(options.workers)];
  const config = [...limits, ...spec.config].flatMap((c) => ['--config', c]);
  return startNode(spec, entry, [...common, ...config, ...workers], probing);
}

/**
 * `node --import tsx SCRIPT ARGS` (with --expose-gc when `probing`, for memory probes), ready once it prints
 * `listening on`.
 */
function startNode(spec: ServerSpec, script: string, args: string[], probing: boolean): Promise<Server> {
  // node itself rather than `npx tsx`: then the pid we watch is the process that serves, not a launcher.
  const child = spawnGroup(process.execPath, [...(probing ? ['--expose-gc'] : []), '--import', 'tsx', script, ...args]);
  const stderrTail = tail(child, spec.label);
  const readings: Array<{ resolve(r: ProbeReading): void; reject(e: Error): void }> = [];
  child.once('exit', (code, signal) => {
    for (const r of readings.splice(0)) r.reject(new Error(`${spec.label} exited (code ${code}, signal ${signal}) before reporting its memory`));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no "listening on" line within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(new Error(`exited before listening (code ${code}, signal ${signal})\n${stderrTail().join('\n')}`));
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      void stopGroup(child);
      reject(new Error(`${spec.label}: ${err.message}`));
    };
    child.once('exit', onExit);
    // Keeps reading stdout after the line too, so a chatty server never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const memory = /^memory (\{.*\})$/.exec(line);
      if (memory !== null) return readings.shift()?.resolve(JSON.parse(memory[1]!) as ProbeReading);
      const m = /^listening on (\S+):(\d+)$/.exec(line);
      if (m === null) return;
      if (m[1] !== '127.0.0.1') return fail(new Error(`listening on ${m[1]}, not 127.0.0.1`));
      clearTimeout(timer);
      child.off('exit', onExit);
      const server = served(spec, child, Number(m[2]), BENCH_USER, DEMO_COMMANDS);
      if (probing) {
        server.probe = () =>
          new Promise((resolve, reject) => {
            readings.push({ resolve, reject });
            child.kill('SIGUSR2');
          });
      }
      resolve(server);
    });
  });
}

async function startSshd(spec: ServerSpec, keys: Credentials, options: StartOptions): Promise<Server> {
  const port = await freePort();
  const user = userInfo().username;
  // As root sshd separates privileges as Debian's service does, and wants the directory the service unit makes.
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  const config = join(keys.dir, `sshd_config.${port}`);
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${keys.hostKey}`,
      'HostKeyAlgorithms ssh-ed25519',
      'PidFile none',
      'UsePAM no',
      'StrictModes no',
      `AuthorizedKeysFile ${keys.authorizedKeys}`,
      `AllowUsers ${user}`,
      'PermitRootLogin prohibit-password',
      'AuthenticationMethods publickey',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      // Ready and done: nothing beyond what the measures use, nothing logged per connection.
      'PrintMotd no',
      'PrintLastLog no',
      'UseDNS no',
      'X11Forwarding no',
      'AllowTcpForwarding no',
      'AllowAgentForwarding no',
      'LogLevel ERROR',
      `MaxStartups ${Math.max(options.connections, 100)}`,
      // Debian's bash reads ~/.bashrc for every command sshd runs unless it is a nested shell: the user's
      // startup files are not sshd's cost.
      'SetEnv SHLVL=1',
      ...(options.sshdConfig ?? []),
      '',
    ].join('\n'),
  );
  const child = spawnGroup(SSHD, ['-D', '-e', '-f', config]);
  const stderrTail = tail(child, spec.label);
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`sshd exited (code ${code})\n${stderrTail().join('\n')}`))));
  // sshd prints nothing when ready at this log level: its version line on a connection says so.
  for (const deadline = performance.now() + READY_TIMEOUT_MS; !(await Promise.race([sshBanner(port), exited])); ) {
    if (performance.now() > deadline) {
      await stopGroup(child);
      throw new Error(`sshd: no answer on port ${port} within ${READY_TIMEOUT_MS / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  exited.catch(() => {}); // from here on, an exit shows as a failed measurement
  return served(spec, child, port, user, SHELL_COMMANDS);
}

/** Whether a server answers on `port` with an SSH version line. */
function sshBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('data', (d: Buffer) => {
      resolve(d.toString('latin1').startsWith('SSH-2.0-'));
      // A version line of its own first: sshd logs a connection that ends without one as an error.
      socket.end('SSH-2.0-wasshd-bench-probe\r\n');
    });
    socket.once('error', () => resolve(false));
  });
}

function served(spec: ServerSpec, child: ChildProcess, port: number, user: string, commands: Commands): Server {
  const pid = child.pid!;
  const idle = descendants(pid);
  return {
    spec,
    pid,
    port,
    user,
    commands,
    idle,
    settled: () => settledTree(pid, idle),
    cpu: () => treeCpuSeconds(pid),
    stop: () => stopGroup(child),
  };
}

/** Echoes the server's stderr with its label and keeps the last lines for an error message. */
function tail(child: ChildProcess, label: string): () => string[] {
  const lines: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    lines.push(line);
    if (lines.length > 20) lines.shift();
    console.error(`[${label}] ${line}`);
  });
  return () => lines;
}

/** The peers' versions, for the head of the report. */
export function peerVersions(): string[] {
  const ssh2 = JSON.parse(readFileSync(join(ROOT, 'node_modules/ssh2/package.json'), 'utf8')) as { version: string };
  const binding = existsSync(join(ROOT, 'node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node'));
  const sshd = existsSync(SSHD) ? spawnSync(SSHD, ['-V'], { encoding: 'utf8' }).stderr.trim() : 'not installed (bash scripts/setup.sh)';
  const ssh = spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim();
  const debian = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'openssh-server'], { encoding: 'utf8' }).stdout.trim();
  return [
    `node ${process.version}`,
    `ssh2 ${ssh2.version} (${binding ? 'its native crypto binding built' : 'no native crypto binding: JavaScript fallbacks'})`,
    `sshd: ${sshd}${debian ? ` (Debian openssh-server ${debian})` : ''}`,
    `ssh client: ${ssh}`,
  ];
}
