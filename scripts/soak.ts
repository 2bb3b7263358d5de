/**
 * Soak run: many short sessions, then many GiB through few long ones, checking that nothing is lost and that
 * the server returns to where it started (no connections, channels, timers or memory left behind).
 *
 *   npm run soak -- [--cycles N] [--gib N] [--concurrency N]      (or npx tsx scripts/soak.ts ...)
 *
 * It re-runs itself under node with NODE_FLAGS: gc() exposed, and a fixed young generation, which V8 otherwise
 * grows and shrinks with the allocation rate, moving rss by 20-30 MiB with nothing retained.
 *
 * The server runs in this process (`SSHServer` from ts/node with its own small handlers) so its state can be
 * read directly; the clients run in a child process (this file with --client) so their sockets, timers and
 * heap do not count as the server's. Phases:
 *   warm-up  2,000 cycles, then a short transfer on every stream: the baseline must already hold what both
 *            workloads need at their peak (wasm memory only grows; rss settles only after some thousand cycles,
 *            once V8 has touched all of its young generation);
 *   cycles   connect, authenticate, `echo TOKEN`, close, CONCURRENCY at a time with the ssh2 client, every
 *            100th with OpenSSH's ssh through sshpass; output and exit status checked each time;
 *   data     GIB GiB each way through 8 connections at once (one of them compressed with zlib@openssh.com),
 *            one exec channel each carrying both directions;
 *            the streams draw chunks from one budget per direction, so fast ones carry more and all end together;
 *            sha256 of each direction taken by sender and receiver; KeyRenegotiationThreshold is 64 MiB so the
 *            server rekeys every connection many times. ssh2 fixes its own receive window (2 MiB, 32 KiB
 *            packets), so window changes come from the server's ChannelWindowSize (set per connection) and
 *            from either side pausing its reads, which drains the other side's window to zero.
 * Exits 1 on any failed cycle, lost or altered byte, connection, channel or timer left over, or retained
 * memory (the JS heap in use, the wasm memory, Buffers) more than 5 % above the baseline. rss is printed but
 * not judged: it moves by tens of MiB both ways with what the allocators keep mapped, with nothing retained.
 */

import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const SCRIPT = fileURLToPath(import.meta.url);
const NODE_FLAGS = ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16'];
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const USER = 'soak';
const WARMUP_CYCLES = 2000;
const WARMUP_BYTES_PER_STREAM = 72 * MiB; // past the rekey threshold, so warm-up rekeys too
const OPENSSH_EVERY = 100;
const STREAMS = 8;
const REKEY_THRESHOLD = 64 * MiB;
/** Per-connection ChannelWindowSize, in turn: from two packets' worth to well above the default 2 MiB. */
const WINDOWS = [64 * 1024, 256 * 1024, 2 * MiB, 16 * MiB];
/** [cipher, mac] per stream, in turn: AEAD ciphers need no MAC. */
const SUITES: [string, string | undefined][] = [
  ['chacha20-poly1305@openssh.com', undefined],
  ['aes128-gcm@openssh.com', undefined],
  ['aes128-ctr', 'hmac-sha2-256-etm@openssh.com'],
  ['chacha20-poly1305@openssh.com', undefined],
  ['aes256-gcm@openssh.com', undefined],
  ['aes256-ctr', 'hmac-sha2-512'],
];
/** Write sizes in turn, odd ones included, so packets are split and joined, and rekeys start, at changing places. */
const CHUNKS = [262144, 17, 65543, 1048573, 32768, 4093];
/** Every this many bytes read, a reader that paces itself stops for PAUSE_MS. */
const PAUSE_EVERY = 48 * MiB;
const PAUSE_MS = 30;
const CYCLE_TIMEOUT_MS = 60_000;
const STALL_TIMEOUT_MS = 120_000;
const SETTLE_TIMEOUT_MS = 30_000;
const MEMORY_LIMIT_PCT = 5;

interface StreamPlan {
  id: number;
  cipher: string;
  mac: string | undefined;
  /** zlib@openssh.com on this connection (one stream in eight: deflating random data is slow). */
  compress: boolean;
  window: number;
  /** The client pauses its reads now and then (the server's send window drains). */
  clientPauses: boolean;
  /** The server's data handler pauses now and then (the client's send window drains). */
  serverPauses: boolean;
}

interface Digest {
  bytes: number;
  sha256: string;
}

interface ClientStreamResult {
  id: number;
  sent: Digest;
  received: Digest;
  exitCode: number | null;
  /** From the channel open to the connection's close. */
  seconds: number;
  error?: string;
}

interface CycleResults {
  ssh2: number;
  openssh: number;
  failures: string[];
}

type ToClient =
  | { kind: 'cycles'; port: number; password: string; first: number; count: number; concurrency: number }
  | { kind: 'data'; port: number; password: string; plans: StreamPlan[]; bytesEachWay: number }
  | { kind: 'windowSet' };
type ToParent =
  | { kind: 'cyclesDone'; results: CycleResults }
  | { kind: 'setWindow'; bytes: number }
  | { kind: 'dataDone'; results: ClientStreamResult[] };

/** A fixed random block, doubled so that any slice up to its length is one `subarray`. */
class Pattern {
  private readonly block: Buffer;
  private offset = 0;
  private chunk = 0;
  constructor(private readonly period = 2 * MiB + 11) {
    const b = randomBytes(period);
    this.block = Buffer.concat([b, b]);
  }
  /** The next slice of the endless pattern, at most `max` bytes. */
  next(max: number): Buffer {
    const n = Math.min(max, CHUNKS[this.chunk++ % CHUNKS.length]!);
    const slice = this.block.subarray(this.offset, this.offset + n);
    this.offset = (this.offset + n) % this.period;
    return slice;
  }
}

class Tally {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  add(data: Uint8Array): void {
    this.bytes += data.length;
    this.hash.update(data);
  }
  digest(): Digest {
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

// ---- client side (child process) -------------------------------------------------------------------------------

async function clientMain(): Promise<void> {
  const { default: ssh2 } = await import('ssh2');
  const { Client } = ssh2;
  const send = (m: ToParent) => process.send!(m);
  let windowAck: (() => void) | undefined;
  process.on('disconnect', () => process.exit(1));

  function sshCycle(port: number, password: string, token: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      const client = new Client();
      let stdout = '';
      let exitCode: number | null = null;
      let failure: string | undefined;
      const fail = (why: string) => {
        failure ??= why;
        client.end();
      };
      const timer = setTimeout(() => {
        fail('timed out');
        client.destroy();
      }, CYCLE_TIMEOUT_MS);
      client.on('ready', () =>
        client.exec(`echo ${token}`, (err, stream) => {
          if (err) return fail(`exec: ${err.message}`);
          stream.on('data', (d: Buffer) => (stdout += d.toString()));
          stream.stderr.on('data', (d: Buffer) => fail(`stderr: ${d}`));
          stream.on('exit', (code: number | null) => (exitCode = code));
          stream.on('close', () => client.end());
        }),
      );
      client.on('error', (e) => fail(`client: ${e.message}`));
      client.on('close', () => {
        clearTimeout(timer);
        if (failure === undefined && (stdout !== `${token}\n` || exitCode !== 0)) failure = `got ${JSON.stringify(stdout)} exit ${exitCode}`;
        resolve(failure);
      });
      client.connect({ host: '127.0.0.1', port, username: USER, password, readyTimeout: CYCLE_TIMEOUT_MS });
    });
  }

  function opensshCycle(port: number, password: string, token: string): Promise<string | undefined> {
    const args = ['-e', 'ssh', '-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
      '-o', 'IdentityAgent=none', '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password', '-p', String(port), `${USER}@127.0.0.1`, `echo ${token}`];
    return new Promise((resolve) => {
      const child = spawn('sshpass', args, { env: { ...process.env, SSHPASS: password }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), CYCLE_TIMEOUT_MS);
      child.on('error', (e) => resolve(`openssh: ${e.message}`));
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(stdout === `${token}\n` && code === 0 && stderr === '' ? undefined : `openssh: got ${JSON.stringify(stdout)} exit ${code} ${stderr.trim()}`);
      });
    });
  }

  async function cycles(m: ToClient & { kind: 'cycles' }): Promise<CycleResults> {
    const results: CycleResults = { ssh2: 0, openssh: 0, failures: [] };
    let next = m.first;
    const end = m.first + m.count;
    const salt = randomBytes(4).toString('hex');
    await Promise.all(
      Array.from({ length: m.concurrency }, async () => {
        while (next < end) {
          const i = next++;
          const token = `c${i}-${salt}`;
          const openssh = (i + 1) % OPENSSH_EVERY === 0;
          const failure = await (openssh ? opensshCycle : sshCycle)(m.port, m.password, token);
          if (openssh) results.openssh++;
          else results.ssh2++;
          if (failure !== undefined) results.failures.push(`cycle ${i}: ${failure}`);
        }
      }),
    );
    return results;
  }

  /** Opens the stream's connection and channel; resolves once the channel is open. */
  function openStream(m: ToClient & { kind: 'data' }, plan: StreamPlan): Promise<{ client: InstanceType<typeof Client>; stream: import('ssh2').ClientChannel }> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      client.on('error', reject);
      client.on('ready', () =>
        client.exec(`xfer ${plan.id}`, (err, stream) => {
          if (err) reject(err);
          else resolve({ client, stream });
        }),
      );
      client.connect({
        host: '127.0.0.1',
        port: m.port,
        username: USER,
        password: m.password,
        algorithms: {
          cipher: [plan.cipher as never],
          ...(plan.mac ? { hmac: [plan.mac as never] } : {}),
          ...(plan.compress ? { compress: ['zlib@openssh.com' as never] } : {}),
        },
      });
    });
  }

  function writable(stream: import('ssh2').ClientChannel): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        stream.off('drain', done).off('close', done);
        resolve();
      };
      stream.on('drain', done).on('close', done);
    });
  }

  /** Upload bytes not yet claimed by a stream: shared, so fast streams carry more and all end together. */
  let upLeft = 0;

  async function transfer(client: InstanceType<typeof Client>, stream: import('ssh2').ClientChannel, plan: StreamPlan): Promise<ClientStreamResult> {
    const start = performance.now();
    const sent = new Tally();
    const received = new Tally();
    let exitCode: number | null = null;
    let error: string | undefined;
    client.on('error', (e) => (error ??= `client: ${e.message}`));
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    stream.on('exit', (code: number | null) => (exitCode = code));
    stream.stderr.on('data', (d: Buffer) => (error ??= `stderr: ${d}`));
    let nextPause = PAUSE_EVERY;
    stream.on('data', (d: Buffer) => {
      received.add(d);
      if (plan.clientPauses && received.bytes >= nextPause) {
        nextPause += PAUSE_EVERY;
        stream.pause();
        setTimeout(() => stream.resume(), PAUSE_MS);
      }
    });
    const streamClosed = new Promise<void>((resolve) => stream.on('close', () => resolve()));
    const pattern = new Pattern();
    while (upLeft > 0 && error === undefined) {
      const chunk = pattern.next(upLeft);
      upLeft -= chunk.length;
      sent.add(chunk);
      if (!stream.write(chunk)) await writable(stream);
    }
    stream.end();
    await Promise.race([streamClosed, closed]);
    client.end();
    await closed;
    return { id: plan.id, sent: sent.digest(), received: received.digest(), exitCode, seconds: (performance.now() - start) / 1000, ...(error !== undefined ? { error } : {}) };
  }

  async function data(m: ToClient & { kind: 'data' }): Promise<ClientStreamResult[]> {
    const running: Promise<ClientStreamResult>[] = [];
    upLeft = m.bytesEachWay;
    // One channel opens at a time, so the window the server was just told to use is the one it gives that channel.
    for (const plan of m.plans) {
      send({ kind: 'setWindow', bytes: plan.window });
      await new Promise<void>((resolve) => (windowAck = resolve));
      try {
        const { client, stream } = await openStream(m, plan);
        running.push(transfer(client, stream, plan));
      } catch (e) {
        const none = { bytes: 0, sha256: '' };
        running.push(Promise.resolve({ id: plan.id, sent: none, received: none, exitCode: null, seconds: 0, error: `open: ${(e as Error).message}` }));
      }
    }
    return Promise.all(running);
  }

  process.on('message', (m: ToClient) => {
    if (m.kind === 'windowSet') windowAck?.();
    else if (m.kind === 'cycles') void cycles(m).then((results) => send({ kind: 'cyclesDone', results }));
    else void data(m).then((results) => send({ kind: 'dataDone', results }));
  });
}

// ---- server side (this process) --------------------------------------------------------------------------------

interface Options {
  cycles: number;
  gib: number;
  concurrency: number;
}

function usage(message: string): never {
  console.error(`soak: ${message}\nusage: npm run soak -- [--cycles N] [--gib N] [--concurrency N]`);
  process.exit(2);
}

function options(): Options {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        cycles: { type: 'string', default: '10000' },
        gib: { type: 'string', default: '10' },
        concurrency: { type: 'string', default: '32' },
      },
      strict: true,
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  const number = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) usage(`--${name} wants a number of at least ${min}, got ${v}`);
    return n;
  };
  return {
    cycles: Math.floor(number('cycles', values.cycles, 0)),
    gib: number('gib', values.gib, 0),
    concurrency: Math.floor(number('concurrency', values.concurrency, 1)),
  };
}

interface ServerStream {
  plan: StreamPlan;
  received: Tally;
  sent: Tally;
  /** Called at the client's EOF. */
  eof?: () => void;
  done: boolean;
}

interface Snapshot {
  label: string;
  rssMiB: number;
  heapMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  wasmMiB: number;
  timers: number;
}

async function serverMain(): Promise<void> {
  const opts = options();
  const { SSHServer } = await import('../ts/node/index.js');
  const password = randomBytes(12).toString('base64url');

  const server = new SSHServer({
    localPort: 0,
    config: {
      KeyRenegotiationThreshold: REKEY_THRESHOLD,
      // Every cycle logs in and leaves cleanly, so OpenSSH's pre-auth throttles must not drop the
      // CONCURRENCY clients that are logging in at once, nor penalise the one source they all share.
      MaxStartups: `${opts.concurrency * 2}:30:${opts.concurrency * 4}`,
      PerSourcePenaltyExemptList: '127.0.0.1',
    },
  });
  server.generateHostKey('wasshd soak');

  const streams = new Map<number, ServerStream>();
  /** Download bytes not yet claimed by a stream (the server's side of the shared budget). */
  let downLeft = 0;
  const byChannel = new Map<string, ServerStream>();
  const problems: string[] = [];
  let rekeys = 0;
  let abnormalDisconnects = 0;
  let connected = 0;

  server.on('userAuthRequest', (e) => (e.user === USER && e.authMethod === 'password' && e.password === password ? e.accept() : e.reject()));
  server.on('connected', () => void connected++);
  server.on('sshStatus', (e) => void (e.message.startsWith('keys re-exchanged') && rekeys++));
  server.on('error', (e) => void problems.push(`server error ${e.errorCode} on connection ${e.connectionId}: ${e.description}`));
  server.on('disconnected', (e) => {
    // A connection that ends takes its channels with it, without a channelClosed for each.
    for (const k of byChannel.keys()) if (k.startsWith(`${e.connectionId}/`)) byChannel.delete(k);
    if (e.statusCode === 0) return;
    abnormalDisconnects++;
    problems.push(`connection ${e.connectionId} ended with ${e.statusCode}: ${e.description}`);
  });
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    const { connectionId: c, channelId: ch } = e;
    const [verb, ...args] = e.request.command.split(' ');
    if (verb === 'echo') {
      await server.sendText(c, ch, `${args.join(' ')}\n`);
      server.sendExitStatus(c, ch, 0);
      return server.closeChannel(c, ch);
    }
    const s = verb === 'xfer' ? streams.get(Number(args[0])) : undefined;
    if (!s) {
      server.sendExitStatus(c, ch, 127);
      return server.closeChannel(c, ch);
    }
    byChannel.set(`${c}/${ch}`, s);
    const eofSeen = new Promise<void>((resolve) => (s.eof = resolve));
    // Not awaited: this connection's later events (its upload) must flow while the download is sent.
    void (async () => {
      const pattern = new Pattern();
      while (downLeft > 0) {
        const chunk = pattern.next(downLeft);
        downLeft -= chunk.length;
        s.sent.add(chunk);
        await server.sendChannelData(c, ch, chunk);
      }
      await eofSeen;
      s.done = true;
      server.sendExitStatus(c, ch, 0);
      await server.closeChannel(c, ch);
    })().catch((err: Error) => problems.push(`stream ${s.plan.id}: ${err.message}`));
  });
  server.on('channelDataIn', async (e) => {
    const s = byChannel.get(`${e.connectionId}/${e.channelId}`);
    if (!s) return;
    const before = s.received.bytes;
    s.received.add(e.data);
    // Holding the handler keeps the server's receive window shut until it returns.
    if (s.plan.serverPauses && Math.floor(before / PAUSE_EVERY) !== Math.floor(s.received.bytes / PAUSE_EVERY)) await sleep(PAUSE_MS);
  });
  server.on('channelEOF', (e) => byChannel.get(`${e.connectionId}/${e.channelId}`)?.eof?.());
  server.on('channelClosed', (e) => void byChannel.delete(`${e.connectionId}/${e.channelId}`));

  const { port } = await server.startListening();
  // The core is private to the server; its own count of live connections is the one a leak in Rust would show.
  const coreConnections = () => server['binding'].core.connection_count();

  const child: ChildProcess = fork(SCRIPT, ['--client'], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const exchange = <K extends ToParent['kind']>(m: ToClient, kind: K) =>
    new Promise<ToParent & { kind: K }>((resolve, reject) => {
      const onMessage = (r: ToParent) => {
        if (r.kind === 'setWindow') {
          server.config(`ChannelWindowSize=${r.bytes}`);
          child.send({ kind: 'windowSet' } satisfies ToClient);
        } else if (r.kind === kind) {
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(r as ToParent & { kind: K });
        }
      };
      const onExit = (code: number | null) => reject(new Error(`client process exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(m);
    });

  const defaultWindow = server.config('ChannelWindowSize');
  let nextCycle = 0;
  async function runCycles(count: number): Promise<CycleResults> {
    const { results } = await exchange({ kind: 'cycles', port, password, first: nextCycle, count, concurrency: opts.concurrency }, 'cyclesDone');
    nextCycle += count;
    return results;
  }

  let nextStream = 0;
  interface DataResults {
    sent: [number, number];
    received: [number, number];
    lost: number;
    mismatched: number;
    failed: string[];
    /** One line per stream for the report. */
    rows: string[][];
  }
  async function runData(bytesEachWay: number): Promise<DataResults> {
    const plans: StreamPlan[] = Array.from({ length: STREAMS }, (_, k) => {
      const [cipher, mac] = SUITES[k % SUITES.length]!;
      return { id: nextStream++, cipher, mac, compress: k === 3, window: WINDOWS[k % WINDOWS.length]!, clientPauses: k % 2 === 1, serverPauses: k % 3 === 2 };
    });
    for (const plan of plans) streams.set(plan.id, { plan, received: new Tally(), sent: new Tally(), done: false });
    downLeft = bytesEachWay;
    const { results } = await exchange({ kind: 'data', port, password, plans, bytesEachWay }, 'dataDone');
    server.config(`ChannelWindowSize=${defaultWindow}`);
    const out: DataResults = { sent: [0, 0], received: [0, 0], lost: 0, mismatched: 0, failed: [], rows: [] };
    // Every budgeted byte must have been sent: the sums below then say whether all of it arrived.
    if (results.reduce((n, r) => n + r.sent.bytes, 0) !== bytesEachWay) out.failed.push('the client did not send its whole upload');
    if (downLeft !== 0) out.failed.push('the server did not send its whole download');
    for (const r of results) {
      const s = streams.get(r.id)!;
      const up = s.received.digest();
      const down = s.sent.digest();
      out.sent[0] += r.sent.bytes;
      out.received[0] += up.bytes;
      out.sent[1] += down.bytes;
      out.received[1] += r.received.bytes;
      out.lost += r.sent.bytes - up.bytes + (down.bytes - r.received.bytes);
      const bad = [
        r.sent.sha256 !== up.sha256 && 'upload sha256 differs',
        down.sha256 !== r.received.sha256 && 'download sha256 differs',
        r.exitCode !== 0 && `exit status ${r.exitCode}`,
        !s.done && 'server never finished',
        r.error,
      ].filter((x): x is string => typeof x === 'string');
      if (r.sent.sha256 !== up.sha256 || down.sha256 !== r.received.sha256) out.mismatched++;
      if (bad.length > 0) out.failed.push(`stream ${r.id} (${s.plan.cipher}, window ${s.plan.window}): ${bad.join(', ')}`);
      const p = s.plan;
      const yes = (b: boolean) => (b ? 'yes' : 'no');
      const mib = (n: number) => (n / MiB).toFixed(0);
      out.rows.push([String(p.id), `${p.cipher}${p.mac ? ` ${p.mac}` : ''}${p.compress ? ' zlib' : ''}`, String(p.window / 1024), yes(p.clientPauses), yes(p.serverPauses), mib(r.sent.bytes), mib(down.bytes), r.seconds.toFixed(1), bad.length > 0 ? 'FAILED' : 'ok']);
      streams.delete(r.id);
    }
    return out;
  }

  /** Waits for every connection to be gone, then measures; anything left behind is a problem. */
  async function settle(label: string): Promise<Snapshot> {
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    while ((server.connections.size > 0 || coreConnections() > 0) && Date.now() < deadline) await sleep(50);
    const leftover = [
      server.connections.size > 0 && `${server.connections.size} connection(s)`,
      server.channels.length > 0 && `${server.channels.length} channel(s)`,
      coreConnections() > 0 && `${coreConnections()} core connection(s)`,
      byChannel.size > 0 && `${byChannel.size} stream handler(s)`,
    ].filter(Boolean);
    if (leftover.length > 0) problems.push(`${label}: left after ${SETTLE_TIMEOUT_MS / 1000} s: ${leftover.join(', ')}`);
    for (let i = 0; i < 3; i++) {
      globalThis.gc!();
      await sleep(20);
    }
    const m = process.memoryUsage();
    return {
      label,
      rssMiB: m.rss / MiB,
      heapMiB: m.heapUsed / MiB,
      heapTotalMiB: m.heapTotal / MiB,
      externalMiB: m.external / MiB,
      wasmMiB: server.wasmMemoryBytes / MiB,
      timers: process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length,
    };
  }

  // Progress lines, so a long run shows it is alive; and a stall (no connection or byte for minutes) ends it.
  const t0 = performance.now();
  let lastActivity = -1;
  let lastMove = Date.now();
  const progress = setInterval(() => {
    let bytes = 0;
    for (const s of streams.values()) bytes += s.sent.bytes + s.received.bytes;
    if (bytes + connected !== lastActivity) lastMove = Date.now();
    lastActivity = bytes + connected;
    const elapsed = ((performance.now() - t0) / 1000).toFixed(0);
    if (streams.size > 0) console.log(`  [${elapsed} s] data: ${(bytes / GiB).toFixed(2)} GiB moved on the server, ${rekeys} rekeys so far`);
    else console.log(`  [${elapsed} s] connections so far: ${connected}, open: ${server.connections.size}`);
    if (Date.now() - lastMove > STALL_TIMEOUT_MS) {
      console.error(`soak: nothing moved for ${STALL_TIMEOUT_MS / 1000} s; open connections: ${server.connections.size}, channels: ${server.channels.length}`);
      for (const s of streams.values()) console.error(`  stream ${s.plan.id}: server sent ${s.sent.bytes}, received ${s.received.bytes}; ${downLeft} to send`);
      child.kill('SIGKILL');
      process.exit(1);
    }
  }, 15_000);

  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const r = await f();
    timings[name] = (performance.now() - start) / 1000;
    return r;
  };

  console.log(`soak: ${opts.cycles} cycles at ${opts.concurrency} in flight, ${opts.gib} GiB each way over ${STREAMS} connections; server on 127.0.0.1:${port}`);
  const warm = await timed('warm-up', async () => ({ cycles: await runCycles(WARMUP_CYCLES), data: await runData(STREAMS * WARMUP_BYTES_PER_STREAM) }));
  const snapshots = [await settle('baseline (after warm-up)')];
  const rekeysBefore = rekeys;
  const cyc = await timed('cycles', () => runCycles(opts.cycles));
  snapshots.push(await settle('after cycles'));
  const dat = await timed('data', () => runData(Math.round(opts.gib * GiB)));
  const dataRekeys = rekeys - rekeysBefore;
  snapshots.push(await settle('after data (end)'));
  clearInterval(progress);
  child.disconnect();
  await server.shutdown();

  // ---- report -------------------------------------------------------------------------------------------------
  const failures: string[] = [];
  const cycleFailures = [...warm.cycles.failures, ...cyc.failures];
  if (cycleFailures.length > 0) failures.push(`${cycleFailures.length} failed cycle(s), first: ${cycleFailures.slice(0, 5).join('; ')}`);
  for (const [phase, d] of [['warm-up', warm.data], ['data', dat]] as const) {
    if (d.lost !== 0) failures.push(`${phase}: ${d.lost} byte(s) lost`);
    failures.push(...d.failed.map((f) => `${phase}: ${f}`));
  }
  failures.push(...problems.slice(0, 20));
  if (problems.length > 20) failures.push(`... ${problems.length - 20} more server problem(s)`);

  const base = snapshots[0]!;
  const end = snapshots[snapshots.length - 1]!;
  const pct = (a: number, b: number) => (100 * (b - a)) / a;
  // What the server retains is judged; rss and heapTotal (what V8 and malloc keep mapped) are shown.
  const measures = ['rssMiB', 'heapMiB', 'wasmMiB', 'heapTotalMiB', 'externalMiB'] as const;
  const judged = ['heapMiB', 'wasmMiB', 'externalMiB'] as const;
  const rows: string[][] = [['', 'rss MiB', 'heapUsed MiB', 'wasm memory MiB', 'heapTotal MiB', 'external MiB', 'timers']];
  for (const s of snapshots) rows.push([s.label, ...measures.map((k) => s[k].toFixed(1)), String(s.timers)]);
  rows.push(['change, end vs baseline', ...measures.map((k) => `${pct(base[k], end[k]) >= 0 ? '+' : ''}${pct(base[k], end[k]).toFixed(2)} %`), String(end.timers - base.timers)]);
  for (const k of judged) {
    if (pct(base[k], end[k]) > MEMORY_LIMIT_PCT) failures.push(`${k} grew ${pct(base[k], end[k]).toFixed(2)} % (limit ${MEMORY_LIMIT_PCT} %)`);
  }
  if (end.timers > base.timers) failures.push(`${end.timers - base.timers} timer(s) leaked`);

  const gib = (n: number) => (n / GiB).toFixed(3);
  const summary: [string, string][] = [
    ['cycles (ssh2 + OpenSSH)', `${cyc.ssh2 + cyc.openssh} (${cyc.ssh2} + ${cyc.openssh}), ${cyc.failures.length} failed, ${((cyc.ssh2 + cyc.openssh) / timings['cycles']!).toFixed(1)}/s`],
    ['data up: sent / received GiB', `${gib(dat.sent[0])} / ${gib(dat.received[0])}`],
    ['data down: sent / received GiB', `${gib(dat.sent[1])} / ${gib(dat.received[1])}`],
    ['bytes lost, streams mismatched', `${dat.lost}, ${dat.mismatched} of ${STREAMS}`],
    ['data rate (both ways)', `${((dat.sent[0] + dat.sent[1]) / MiB / timings['data']!).toFixed(1)} MiB/s`],
    ['rekeys during data', `${dataRekeys} (threshold ${REKEY_THRESHOLD / MiB} MiB; ${rekeys} in the whole run)`],
    ['server: abnormal disconnects, errors', `${abnormalDisconnects}, ${problems.length - abnormalDisconnects}`],
    ['time: warm-up, cycles, data s', `${timings['warm-up']!.toFixed(1)}, ${timings['cycles']!.toFixed(1)}, ${timings['data']!.toFixed(1)}`],
  ];
  const width = Math.max(...summary.map(([k]) => k.length));
  console.log('\nsoak summary');
  for (const [k, v] of summary) console.log(`  ${k.padEnd(width)}  ${v}`);
  console.log('\ndata streams (one exec channel each, both directions at once; they share the bytes to move)');
  printTable([['stream', 'cipher', 'server window KiB', 'client pauses', 'server pauses', 'MiB up', 'MiB down', 's', ''], ...dat.rows], 2);
  console.log('\nserver memory and timers (after all connections closed and gc)');
  printTable(rows, 1);
  console.log(`\nload average at end: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (failures.length > 0) {
    console.log(`\nsoak: FAILED\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  console.log('\nsoak: OK');
  process.exit(0);
}

/** Prints rows in columns; the first `left` columns are text, the others numbers. */
function printTable(rows: string[][], left: number): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(`  ${r.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()}`);
}

if (process.argv.includes('--client')) {
  await clientMain();
} else if (!NODE_FLAGS.every((f) => process.execArgv.includes(f))) {
  const child = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', SCRIPT, ...process.argv.slice(2)], { cwd: ROOT, stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  await serverMain();
}
