/**
 * The peer the benchmark suite (npm run bench) measures wasshd against: an SSH server built on the `ssh2` npm
 * package that offers the demo server's benchmark commands with the same semantics.
 *
 *   tsx bench/ssh2-peer.ts --port N --user NAME:PASSWORD --host-key FILE [--listen ADDR]
 *                          [--authorized-keys FILE] [--memory-probe] [--sftp-root DIR]
 *
 * Prints `listening on ADDR:PORT` once ready. Exec commands (no pty, bytes pass untouched):
 *   sink      reads stdin to EOF, prints the byte count and a newline, exits 0
 *   source N  writes exactly N bytes (byte i is i % 251, as in the demo shell), exits 0
 *   cat       copies stdin to stdout, exits 0
 *   true      exits 0
 *   sleep MS  waits MS milliseconds (at most 2^31-1), exits 0
 * Anything else prints a message on stderr and exits 127. Password authentication, and publickey for the keys of `--authorized-keys` (the
 * signature checked). `--memory-probe` (with node --expose-gc) answers SIGUSR2 as memory-probe.ts says. `--sftp-root DIR` serves subsystem
 * `sftp` from DIR with ssh2's own SFTP stream (bench/ssh2-sftp.ts).
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { ParsedKey, PublicKeyAuthContext, ServerChannel } from 'ssh2';
import { CommandLine } from '../ts/demo/cli.js';
import { serveSftpFrom } from './ssh2-sftp.js';
import { answerMemoryProbes } from './suite/memory-probe.js';

const { Server, utils } = ssh2;

declare module 'ssh2' {
  // In ssh2 (lib/server.js) but missing from @types/ssh2.
  interface Connection {
    setNoDelay(noDelay?: boolean): this;
  }
}

/** The ciphers and MAC the benchmark compares, all offered so that the client's `-c` and `-m` pick. */
const CIPHERS = ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com', 'aes128-ctr'] as const;
const MACS = ['hmac-sha2-256-etm@openssh.com'] as const;

/** As in the demo shell's `source`: 32 KiB writes, byte i of the stream is i % 251. */
const SOURCE_PERIOD = 251;
const SOURCE_CHUNK_BYTES = 32 * 1024;
const SOURCE_PATTERN = Buffer.alloc(SOURCE_CHUNK_BYTES + SOURCE_PERIOD);
for (let i = 0; i < SOURCE_PATTERN.length; i++) SOURCE_PATTERN[i] = i % SOURCE_PERIOD;

/** setTimeout fires at once for longer delays. */
const MAX_SLEEP_MS = 2 ** 31 - 1;

const USAGE = `usage: tsx bench/ssh2-peer.ts --port N --user NAME:PASSWORD --host-key FILE [--listen ADDR]
                              [--authorized-keys FILE] [--memory-probe] [--sftp-root DIR]`;

const cli: CommandLine = new CommandLine('ssh2 peer', USAGE);

interface Options {
  listen: string;
  port: number;
  user: string;
  password: string;
  hostKey: string;
  authorizedKeys: ParsedKey[];
  memoryProbe: boolean;
  sftpRoot: string | undefined;
}

function parseArgs(argv: string[]): Options {
  const values = cli.parse(argv, {
    listen: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    user: { type: 'string' },
    'host-key': { type: 'string' },
    'authorized-keys': { type: 'string' },
    'memory-probe': { type: 'boolean', default: false },
    'sftp-root': { type: 'string' },
  });
  const { listen, port, user, 'host-key': hostKey } = values;
  if (port === undefined || user === undefined || hostKey === undefined) cli.fail('--port, --user and --host-key are required');
  if (!/^\d+$/.test(port) || Number(port) > 65535) cli.fail(`bad port: ${port}`);
  const colon = user.indexOf(':');
  if (colon < 1) cli.fail(`--user wants NAME:PASSWORD, got ${user}`);
  const file = values['authorized-keys'];
  const authorizedKeys = file === undefined ? [] : readAuthorizedKeys(file);
  return { listen, port: Number(port), user: user.slice(0, colon), password: user.slice(colon + 1), hostKey, authorizedKeys, memoryProbe: values['memory-probe'], sftpRoot: values['sftp-root'] };
}

/** The keys of an authorized_keys file without options (what the benchmark writes). */
function readAuthorizedKeys(file: string): ParsedKey[] {
  const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
  return lines.map((line) => {
    const key = utils.parseKey(line);
    if (key instanceof Error) cli.fail(`${file}: ${key.message}`);
    return key;
  });
}

/** A key of `--authorized-keys`, and for a signed request, a valid signature by it. */
function keyAccepted(ctx: PublicKeyAuthContext): boolean {
  const key = options.authorizedKeys.find((k) => k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data));
  if (key === undefined) return false;
  // Without a signature the client only asks whether the key would do (answered with PK_OK).
  return ctx.signature === undefined || key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true;
}

/** Compares secrets in time independent of where they differ. */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Writes with backpressure: resolves once the channel will take more. */
function write(stream: ServerChannel, data: Buffer): Promise<void> {
  if (stream.write(data)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('drain', done);
      stream.off('close', closed);
      if (err) reject(err);
      else resolve();
    };
    const closed = () => done(new Error('channel closed while writing'));
    stream.on('drain', done);
    stream.on('close', closed);
  });
}

function finish(stream: ServerChannel, status: number): void {
  stream.exit(status);
  stream.end();
}

function sink(stream: ServerChannel): void {
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  stream.on('end', () => {
    stream.write(`${bytes}\n`);
    finish(stream, 0);
  });
}

async function source(stream: ServerChannel, total: number): Promise<void> {
  // Nothing arrives on stdin for source, but it must be drained for the channel to finish cleanly.
  stream.resume();
  for (let sent = 0; sent < total; ) {
    const size = Math.min(SOURCE_CHUNK_BYTES, total - sent);
    const phase = sent % SOURCE_PERIOD;
    // A copy each time, as the demo shell does: the stream may keep what it is handed.
    await write(stream, Buffer.from(SOURCE_PATTERN.subarray(phase, phase + size)));
    sent += size;
  }
  finish(stream, 0);
}

function cat(stream: ServerChannel): void {
  stream.on('data', (chunk: Buffer) => {
    if (!stream.write(chunk)) {
      stream.pause();
      stream.once('drain', () => stream.resume());
    }
  });
  stream.on('end', () => finish(stream, 0));
}

function run(stream: ServerChannel, command: string): void {
  const [name, ...args] = command.trim().split(/\s+/);
  if (name === 'sink' && args.length === 0) return sink(stream);
  if (name === 'cat' && args.length === 0) return cat(stream);
  if (name === 'true') {
    stream.resume();
    return finish(stream, 0);
  }
  if (name === 'sleep' && args.length === 1 && /^\d+$/.test(args[0]!) && Number(args[0]) <= MAX_SLEEP_MS) {
    stream.resume();
    const timer = setTimeout(() => finish(stream, 0), Number(args[0]));
    stream.on('close', () => clearTimeout(timer));
    return;
  }
  if (name === 'source' && args.length === 1 && /^\d+$/.test(args[0]!) && Number.isSafeInteger(Number(args[0]))) {
    source(stream, Number(args[0])).catch((err: Error) => {
      console.error(`ssh2 peer: source: ${err.message}`);
      stream.destroy();
    });
    return;
  }
  stream.resume();
  stream.stderr.write(`ssh2 peer: no such command: ${command}\n`);
  finish(stream, 127);
}

const options = parseArgs(process.argv.slice(2));
if (options.memoryProbe) answerMemoryProbes(() => 0);

const server = new Server(
  {
    hostKeys: [readFileSync(options.hostKey)],
    algorithms: { cipher: [...CIPHERS], hmac: [...MACS] },
  },
  (client) => {
    // As wasshd's Node adapter does: without it, small packets wait for delayed ACKs (40 ms a round trip).
    client.setNoDelay(true);
    client.on('authentication', (ctx) => {
      if (ctx.username === options.user) {
        if (ctx.method === 'password' && sameSecret(ctx.password, options.password)) return ctx.accept();
        if (ctx.method === 'publickey' && keyAccepted(ctx)) return ctx.accept();
      }
      ctx.reject(options.authorizedKeys.length > 0 ? ['publickey', 'password'] : ['password']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => run(accept(), info.command));
        const root = options.sftpRoot;
        if (root !== undefined) session.on('sftp', (accept) => serveSftpFrom(accept(), root));
      });
    });
    client.on('error', (err) => console.error(`ssh2 peer: client error: ${err.message}`));
  },
);

server.on('error', (err: Error) => {
  console.error(`ssh2 peer: ${err.message}`);
  process.exit(1);
});

server.listen(options.port, options.listen, () => {
  const { address, port } = server.address() as AddressInfo;
  console.log(`listening on ${address}:${port}`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close();
    process.exit(0);
  });
}
