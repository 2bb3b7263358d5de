/**
 * What the demos' command lines share (`npm start`, the Deno and Bun demos through run.ts, the workerd
 * launcher): the flags, the users, the authorized keys and the host keys kept in the state directory, with
 * the output lines the tests and the README rely on.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AuthorizedKeysError } from '../authorized-keys.js';
import { authorizedKeysOption, type AuthorizedKeysFile } from './serve.js';
import type { CommandLine } from './cli.js';
import { ErrorCode, SSHError } from '../errors.js';
import type { HostKeyFile } from '../settings.js';

/** More processes than a machine has cores only share them; the bound catches a typo. */
const MAX_WORKERS = 256;

export interface DemoFlags {
  listen: string;
  /** `--port`, if given. */
  port: number | undefined;
  /** The WebSocket endpoint's port, if any, and the origins it allows. */
  wsPort: number | undefined;
  wsOrigins: string[];
  hostKeyFiles: string[];
  /** `--host-key-passphrase`: opens the encrypted ones among them. */
  hostKeyPassphrase: string | undefined;
  /** User name to password. */
  users: Map<string, string>;
  authorizedKeysFile: string | undefined;
  config: string[];
  verbose: boolean;
  /** `--allow-forward`: local and remote forwarding on loopback TCP (no Unix sockets). */
  allowForward: boolean;
  /** `--workers N`, where the demo takes it (Node). */
  workers: number | undefined;
  /** `--sftp-root DIR` or `--sftp-memory`: subsystem `sftp` from that directory or an in-memory tree. */
  sftp: { root: string } | { memory: true } | undefined;
  /** `--sftp-read-only`: the SFTP sessions refuse every change. */
  sftpReadOnly: boolean;
}

/**
 * Parses and checks the flags every demo takes, and `--workers` where `withWorkers` says the runtime serves it;
 * a bad command line exits 2 through `cli`.
 */
export function parseDemoFlags(cli: CommandLine, argv: string[], { withWorkers = false } = {}): DemoFlags {
  const values = cli.parse(argv, {
    listen: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    'ws-port': { type: 'string' },
    'ws-origin': { type: 'string', multiple: true, default: [] },
    'host-key': { type: 'string', multiple: true, default: [] },
    'host-key-passphrase': { type: 'string' },
    user: { type: 'string', multiple: true, default: [] },
    'authorized-keys': { type: 'string' },
    'trusted-user-ca-keys': { type: 'string' },
    config: { type: 'string', multiple: true, default: [] },
    verbose: { type: 'boolean', default: false },
    'allow-forward': { type: 'boolean', default: false },
    workers: { type: 'string' },
    'sftp-root': { type: 'string' },
    'sftp-memory': { type: 'boolean', default: false },
    'sftp-read-only': { type: 'boolean', default: false },
  });
  const portOf = (text: string | undefined) => {
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text) || Number(text) > 65535) cli.fail(`bad port: ${text}`);
    return Number(text);
  };
  const wsPort = portOf(values['ws-port']);
  if (wsPort === undefined && values['ws-origin'].length > 0) cli.fail('--ws-origin needs --ws-port');
  const users = new Map<string, string>();
  for (const u of values.user) {
    const colon = u.indexOf(':');
    if (colon < 1) cli.fail(`--user wants NAME:PASSWORD, got ${u}`);
    users.set(u.slice(0, colon), u.slice(colon + 1));
  }
  const workers = values.workers;
  if (workers !== undefined && !withWorkers) cli.fail('--workers is for the Node demo only');
  if (workers !== undefined && (!/^\d+$/.test(workers) || Number(workers) < 1 || Number(workers) > MAX_WORKERS)) {
    cli.fail(`--workers wants a count from 1 to ${MAX_WORKERS}, got ${workers}`);
  }
  if (workers !== undefined && wsPort !== undefined) cli.fail('--workers serves TCP only: not with --ws-port');
  const sftpRoot = values['sftp-root'];
  if (sftpRoot !== undefined && values['sftp-memory']) cli.fail('--sftp-root and --sftp-memory exclude each other');
  const sftp = sftpRoot !== undefined ? { root: sftpRoot } : values['sftp-memory'] ? { memory: true as const } : undefined;
  if (sftp && workers !== undefined) cli.fail('--workers does not serve SFTP: each worker would hold its own in-memory tree');
  if (values['sftp-read-only'] && !sftp) cli.fail('--sftp-read-only needs --sftp-root or --sftp-memory');
  if (sftpRoot !== undefined && !existsSync(sftpRoot)) cli.fail(`--sftp-root: no directory ${sftpRoot}`);
  return {
    listen: values.listen,
    port: portOf(values.port),
    wsPort,
    wsOrigins: values['ws-origin'],
    hostKeyFiles: values['host-key'],
    hostKeyPassphrase: values['host-key-passphrase'],
    users,
    authorizedKeysFile: values['authorized-keys'],
    // The CA lines reach every runtime's server (workers and Workers too) as the setting that takes them.
    config: [...values.config, ...(values['trusted-user-ca-keys'] === undefined ? [] : [`TrustedUserCAKeys=${read(values['trusted-user-ca-keys'], '--trusted-user-ca-keys')}`])],
    verbose: values.verbose,
    allowForward: values['allow-forward'],
    workers: workers === undefined ? undefined : Number(workers),
    sftp,
    sftpReadOnly: values['sftp-read-only'],
  };
}

/** A problem with what the command line points to (not the command line itself): say so and exit 1. */
export function stop(message: string): never {
  console.error(`wasshd demo: ${message}`);
  process.exit(1);
}

/** A `--host-key` file as text: a binary one (PKCS#12, DER) in base64, which `addHostKey` takes as such and which travels to workers and Workers as text. */
function readKeyFile(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    return stop(`cannot read --host-key ${file}: ${(e as Error).message}`);
  }
  return bytes[0] === 0x30 ? bytes.toString('base64') : bytes.toString('utf8');
}

function read(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    return stop(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

/**
 * The authorized_keys file, read and checked here, before the demo listens: a line that cannot be read
 * stops it with the file and line, rather than the key being taken without a restriction its line asks for.
 */
export function authorizedKeysOf(path: string | undefined): AuthorizedKeysFile | undefined {
  if (path === undefined) return undefined;
  const file = { file: path, text: read(path, '--authorized-keys') };
  try {
    authorizedKeysOption(file);
  } catch (e) {
    if (e instanceof AuthorizedKeysError) return stop(e.message);
    throw e;
  }
  return file;
}

/**
 * Installs the host keys to serve: the files given, else the one kept in the state directory
 * (`$WASSHD_STATE_DIR`, default `./.wasshd`), which `generate` makes (and installs) the first time; the
 * directory is printed.
 */
export function installHostKeys(
  files: string[],
  passphrase: string | undefined,
  keys: { install(file: HostKeyFile): void; generate(): string },
): void {
  if (files.length > 0) {
    for (const file of files) {
      const key = readKeyFile(file);
      try {
        keys.install(passphrase === undefined ? key : { key, passphrase });
      } catch (e) {
        if (!(e instanceof SSHError)) throw e;
        // A key file that cannot be used (a passphrase missing or wrong, damage, a format not read) is a bad
        // command line: exit 2, as for a bad flag.
        if (e.code === ErrorCode.HostKeyPassphrase) {
          console.error(`wasshd demo: ${passphrase === undefined ? 'no --host-key-passphrase for the encrypted' : 'wrong --host-key-passphrase for'} host key ${file}`);
        } else console.error(`wasshd demo: host key ${file}: ${e.message.replace(/^host key: /, '')}`);
        process.exit(2);
      }
    }
    return;
  }
  const stateDir = resolve(process.env.WASSHD_STATE_DIR ?? '.wasshd');
  const keyFile = join(stateDir, 'ssh_host_ed25519_key');
  if (existsSync(keyFile)) keys.install(read(keyFile, 'the host key'));
  else {
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(keyFile, keys.generate(), { mode: 0o600 });
  }
  console.log(`state directory: ${stateDir}`);
}

/** Without `--user`, user `demo` with a random password, printed. */
export function withDemoUser(users: Map<string, string>): Map<string, string> {
  if (users.size === 0) {
    const password = randomBytes(9).toString('base64url');
    users.set('demo', password);
    console.log(`user demo, password ${password}`);
  }
  return users;
}
