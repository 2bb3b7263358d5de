/**
 * Fuzz seeds from real OpenSSH sessions. Runs the demo server at LogLevel 3 with nothing masked and the real
 * `ssh` through a TCP proxy, one session per way of using it (each authentication method, exec, shell with a
 * pty, subsystem, refused forwarding, every cipher and MAC), and writes under SEEDS_DIR:
 *  - handshake_raw/openssh-NAME: the client's bytes up to its NEWKEYS (version line, KEXINIT, KEX_ECDH_INIT);
 *  - conn_raw/openssh-NAME: the same stream in one read; packet/openssh-NAME: its packets, to open in the clear;
 *  - handshake/openssh-NAME: what the server decrypted after NEWKEYS (its `packet in:` dumps), as the
 *    `[u16 length][payload]` items of the handshake target behind the flags byte of the negotiated suite;
 *  - parsers/openssh-*: the client's version line, KEXINIT, KEX_ECDH_INIT and authentication and channel
 *    messages, behind the byte that selects their decoder; keys/openssh-*: ssh-keygen keys.
 *
 * Usage: npx tsx scripts/fuzz-seeds.ts SEEDS_DIR (scripts/fuzz-seeds.sh runs it after the Rust-made seeds).
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeUserKey, ssh, startDemo, type SshOptions } from '../test/helpers/demo.js';

const USER = 'fuzz';
const PASSWORD = 'pw'; // the password the handshake target's host accepts
const NEWKEYS = 21;
/** Decoder selectors of the parsers target (its first input byte). */
const PARSER = { kexinit: 0, ident: 1, userauth: 2, infoResponse: 3, channelRequest: 4, channelOpen: 5, ecdhInit: 8 } as const;
/** The selector for each client message type that has a decoder of its own. */
const PARSED: Record<number, number> = { 20: PARSER.kexinit, 30: PARSER.ecdhInit, 50: PARSER.userauth, 90: PARSER.channelOpen, 98: PARSER.channelRequest };
/** The suites in the order of `wasshd_fuzz::suites()`: the flags byte of a handshake seed names one by index. */
const SUITES: [string, string][] = [
  ['chacha20-poly1305@openssh.com', ''],
  ['aes128-gcm@openssh.com', ''],
  ['aes256-gcm@openssh.com', ''],
  ...['aes128-ctr', 'aes192-ctr', 'aes256-ctr'].flatMap((c) =>
    ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'].map((m): [string, string] => [c, m]),
  ),
];
/** Flags bits 4-5: the server runs StrictKex::Enabled, as the demo does. OpenSSH asks for strict kex and EXT_INFO. */
const SERVER_STRICT_ENABLED = 0x10;

const out = process.argv[2];
if (!out) {
  console.error('usage: npx tsx scripts/fuzz-seeds.ts SEEDS_DIR');
  process.exit(2);
}

function seed(target: string, name: string, data: Buffer): void {
  mkdirSync(join(out!, target), { recursive: true });
  writeFileSync(join(out!, target, name), data);
}

const short = (data: Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 12);

/** A proxy to `port` that keeps what each client sent, in connection order. */
async function proxy(port: number): Promise<{ server: Server; port: number; streams: Buffer[][] }> {
  const streams: Buffer[][] = [];
  const server = createServer((client) => {
    const sent: Buffer[] = [];
    streams.push(sent);
    const upstream = createConnection({ host: '127.0.0.1', port });
    client.on('data', (d: Buffer) => sent.push(Buffer.from(d)));
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, streams };
}

/** The version line and the plaintext packets up to and including the client's NEWKEYS. */
function untilNewKeys(stream: Buffer): { version: Buffer; packets: Buffer } {
  const lineEnd = stream.indexOf(0x0a) + 1;
  let at = lineEnd;
  while (at + 6 <= stream.length) {
    const type = stream[at + 5];
    at += 4 + stream.readUInt32BE(at);
    if (type === NEWKEYS) break;
  }
  return { version: stream.subarray(0, lineEnd), packets: stream.subarray(lineEnd, Math.min(at, stream.length)) };
}

interface Dump {
  type: number;
  payload: Buffer;
}

/** The demo's `packet in:` lines and negotiated cipher for connection `id`. */
function serverView(log: string, id: number): { inbound: Dump[]; cipher: string; mac: string } {
  const inbound: Dump[] = [];
  let cipher = '';
  let mac = '';
  for (const line of log.split('\n')) {
    if (!line.startsWith(`[${id}] (`)) continue;
    const packet = /\(3\) packet in: type=(\d+) len=\d+ ([0-9a-f]+)$/.exec(line);
    if (packet) inbound.push({ type: Number(packet[1]), payload: Buffer.from(packet[2]!, 'hex') });
    const negotiated = /\(2\) negotiated \S+ \S+ (\S+) (\S+)$/.exec(line);
    if (negotiated && !cipher) [cipher, mac] = [negotiated[1]!, negotiated[2]!];
  }
  return { inbound, cipher, mac };
}

function handshakeSeed(inbound: Dump[], cipher: string, mac: string): Buffer {
  const suite = SUITES.findIndex(([c, m]) => c === cipher && (m === '' || m === mac));
  const parts: Buffer[] = [Buffer.from([SERVER_STRICT_ENABLED | Math.max(suite, 0)])];
  const afterKex = inbound.slice(inbound.findIndex((d) => d.type === NEWKEYS) + 1);
  // Key exchange messages would only put the fuzz client and server out of step.
  for (const { payload } of afterKex.filter((d) => d.type < 20 || d.type > 49)) {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(payload.length);
    parts.push(length, payload);
  }
  return Buffer.concat(parts);
}

const key = makeUserKey();
const demo = await startDemo([
  '--user',
  `${USER}:${PASSWORD}`,
  '--authorized-keys',
  key.authorizedKeys,
  '--verbose',
  '--config',
  'LogLevel=3',
  '--config',
  'MaskSensitiveData=False',
]);
const relay = await proxy(demo.port);

const password = (preferred = 'password'): Partial<SshOptions> => ({ password: PASSWORD, options: ['-o', `PreferredAuthentications=${preferred}`] });
const sessions: [string, Partial<SshOptions> & { command: string }][] = [
  ['password-exec', { ...password(), command: 'echo hi' }],
  ['keyboard-interactive-exec', { ...password('keyboard-interactive'), command: 'echo kbd' }],
  ['publickey-exec', { keyFile: key.keyFile, command: 'whoami' }],
  ['cat-stdin', { ...password(), command: 'cat', input: Buffer.alloc(3000, 'data ') }],
  ['pty-shell-env', { password: PASSWORD, options: ['-tt', '-o', 'SetEnv=FUZZ=1', '-o', 'PreferredAuthentications=password'], command: '', input: Buffer.from('env\nexit 3\n') }],
  ['subsystem', { password: PASSWORD, options: ['-s', '-o', 'PreferredAuthentications=password'], command: 'echo', input: Buffer.from('ping') }],
  ['refused-forward', { password: PASSWORD, options: ['-o', 'ExitOnForwardFailure=yes', '-R', '127.0.0.1:0:127.0.0.1:9', '-o', 'PreferredAuthentications=password'], command: 'echo fwd' }],
  ...SUITES.map(([cipher, mac]): [string, Partial<SshOptions> & { command: string }] => [
    `cipher-${cipher}${mac ? `-${mac}` : ''}`.replace(/@openssh\.com/g, ''),
    { password: PASSWORD, options: ['-c', cipher, ...(mac ? ['-m', mac] : []), '-o', 'PreferredAuthentications=password'], command: 'echo suite' },
  ]),
];

try {
  for (const [index, [name, options]] of sessions.entries()) {
    const run = await ssh(relay.port, { user: USER, ...options });
    await demo.settled();
    // Sessions run one at a time: the demo's n-th connection is the proxy's n-th.
    const ids = [...demo.stderr().matchAll(/^\[(\d+)\] connected from/gm)].map((m) => Number(m[1]));
    const { inbound, cipher, mac } = serverView(demo.stderr(), ids[index] ?? -1);
    const stream = Buffer.concat(relay.streams[index] ?? []);
    if (inbound.length === 0 || stream.length === 0) {
      throw new Error(`${name}: no packet dumps or no bytes captured (ssh exit ${run.code}: ${run.stderr}); is wasm/pkg current?`);
    }
    const { version, packets } = untilNewKeys(stream);
    const raw = Buffer.concat([version, packets]);
    seed('handshake_raw', `openssh-${name}`, raw);
    seed('conn_raw', `openssh-${name}`, Buffer.concat([Buffer.from([0]), raw]));
    seed('packet', `openssh-${name}`, Buffer.concat([Buffer.from([0, 0]), packets]));
    seed('handshake', `openssh-${name}`, handshakeSeed(inbound, cipher, mac));
    seed('parsers', `openssh-ident-${short(version)}`, Buffer.concat([Buffer.from([PARSER.ident]), version]));
    for (const { type, payload } of inbound) {
      const selector = PARSED[type];
      if (selector !== undefined) seed('parsers', `openssh-${type}-${short(payload)}`, Buffer.concat([Buffer.from([selector]), payload]));
      if (type === 61) {
        const count = Math.min(payload.readUInt32BE(1), 255);
        seed('parsers', `openssh-61-${short(payload)}`, Buffer.concat([Buffer.from([PARSER.infoResponse, count]), payload]));
      }
    }
    console.log(`${name}: ${raw.length} bytes before NEWKEYS, ${inbound.length} packets in, ${cipher} ${mac}`);
  }
} finally {
  relay.server.close();
  await demo.stop();
}

// Keys as ssh-keygen writes them: the ed25519 file the core reads, and key types it refuses.
const dir = mkdtempSync(join(tmpdir(), 'wasshd-fuzz-keys-'));
for (const [type, bits] of [
  ['ed25519', []],
  ['rsa', ['-b', '1024']],
  ['ecdsa', ['-b', '256']],
] as const) {
  const file = join(dir, type);
  const made = spawnSync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-C', `fuzz ${type}`, '-f', file]);
  if (made.status !== 0) throw new Error(`ssh-keygen -t ${type}: ${made.stderr}`);
  seed('keys', `openssh-${type}-private`, Buffer.concat([Buffer.from([0]), readFileSync(file)]));
  const blob = Buffer.from(readFileSync(`${file}.pub`, 'utf8').split(' ')[1]!, 'base64');
  seed('keys', `openssh-${type}-public`, Buffer.concat([Buffer.from([2]), blob]));
}
