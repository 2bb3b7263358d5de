/**
 * Full handshakes per second with the `ssh2` npm client in CLIENTS child processes (bench/suite/handshake-clients.ts),
 * CONCURRENCY connections at a time in all: each a curve25519-sha256 key exchange (ssh-ed25519 host key), a login
 * with an ed25519 user key, `exec true` until its exit status and the channel's close, and a disconnect, for
 * DURATION seconds after a warm-up. The rate counts every connection started in that time over the time until the
 * last of them ended; the server's CPU (its process tree, per-connection processes included once ended) is
 * divided by the same count.
 *
 * Then wasshd alone with each key exchange of KEX_METHODS, its own client (`SSHClient`, which has the post-quantum
 * hybrids the ssh2 client lacks) making the connections and the server's `SSHKeyExchangeAlgorithms` choosing the
 * method: what each method costs the server per handshake beside curve25519-sha256.
 */

import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Section } from './main.js';
import { spawnGroup, stopGroup } from './processes.js';
import { ratio, table, type Target } from './report.js';
import { type Credentials, type Server, type ServerSpec, startServer } from './servers.js';

const KEX = 'curve25519-sha256';
const CIPHER = 'aes128-gcm@openssh.com';
const TARGET_RATIO = 2;
/** The key exchanges compared with wasshd's own client, the first the baseline. */
const KEX_METHODS = ['curve25519-sha256', 'mlkem768x25519-sha256', 'sntrup761x25519-sha512'];

type ClientKind = 'ssh2' | 'wasshd';

export interface HandshakeOptions {
  durationS: number;
  warmupS: number;
  concurrency: number;
  /** Client processes the connections are spread over. */
  clients: number;
  /** wasshd is measured once per entry: 1 is the plain demo, N > 1 the demo with `--workers N`. */
  workers: number[];
}

/** Client processes that each run their share of the connections when told, and report. */
class Clients {
  private readonly children: ChildProcess[] = [];
  private readonly waiting: Array<Array<(line: string) => void>> = [];

  constructor(server: Server, keys: Credentials, o: HandshakeOptions, client: ClientKind) {
    for (let i = 0; i < o.clients; i++) {
      const concurrency = Math.floor(o.concurrency / o.clients) + (i < o.concurrency % o.clients ? 1 : 0);
      const args = ['--client', client, '--port', String(server.port), '--user', server.user, '--key', keys.userKey, '--command', server.commands.true, '--kex', KEX, '--cipher', CIPHER, '--concurrency', String(concurrency)];
      const child = spawnGroup(process.execPath, ['--import', 'tsx', 'bench/suite/handshake-clients.ts', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
      const waiting: Array<(line: string) => void> = [];
      createInterface({ input: child.stdout! }).on('line', (line) => waiting.shift()?.(line));
      child.once('exit', (code) => {
        for (const answer of waiting.splice(0)) answer(`failed exited with code ${code}`);
      });
      this.children.push(child);
      this.waiting.push(waiting);
    }
  }

  /** Runs every client for `seconds`; resolves with the connections made and the clients' CPU seconds. */
  async run(label: string, seconds: number): Promise<{ count: number; cpuS: number }> {
    const answers = await Promise.all(
      this.children.map(
        (child, i) =>
          new Promise<string>((resolve) => {
            this.waiting[i]!.push(resolve);
            child.stdin!.write(`run ${seconds}\n`);
          }),
      ),
    );
    let count = 0;
    let cpuS = 0;
    for (const answer of answers) {
      const done = /^done (\d+) (\d+)$/.exec(answer);
      if (done === null) throw new Error(`${label}: client process: ${answer}`);
      count += Number(done[1]);
      cpuS += Number(done[2]) / 1e6;
    }
    return { count, cpuS };
  }

  stop(): Promise<void[]> {
    for (const child of this.children) child.stdin!.end();
    return Promise.all(this.children.map((child) => stopGroup(child)));
  }
}

interface Measurement {
  label: string;
  spec: ServerSpec;
  workers: number;
  count: number;
  wallS: number;
  serverCpuS: number;
  clientCpuS: number;
}

async function measure(label: string, spec: ServerSpec, workers: number, keys: Credentials, o: HandshakeOptions, client: ClientKind = 'ssh2'): Promise<Measurement> {
  const server = await startServer(spec, keys, {
    connections: o.concurrency,
    ...(workers > 1 ? { workers } : {}),
    sshdConfig: [`KexAlgorithms ${KEX}`, `Ciphers ${CIPHER}`],
  });
  const clients = new Clients(server, keys, o, client);
  try {
    // The warm-up also covers the client processes' start.
    await clients.run(label, o.warmupS);
    await server.settled();
    const cpu0 = server.cpu();
    const t0 = performance.now();
    const { count, cpuS } = await clients.run(label, o.durationS);
    const wallS = (performance.now() - t0) / 1000;
    await server.settled();
    const m = { label, spec, workers, count, wallS, serverCpuS: server.cpu() - cpu0, clientCpuS: cpuS };
    console.log(`  ${label}: ${(count / wallS).toFixed(1)} handshakes/s`);
    return m;
  } finally {
    await clients.stop();
    await server.stop();
  }
}

export async function handshakes(specs: ServerSpec[], keys: Credentials, o: HandshakeOptions): Promise<Section> {
  const results: Measurement[] = [];
  for (const spec of specs) {
    for (const workers of spec.kind === 'wasshd' ? o.workers : [1]) {
      const label = workers > 1 ? `${spec.label}, ${workers} workers` : spec.label;
      results.push(await measure(label, spec, workers, keys, o));
    }
  }
  const rate = (m: Measurement) => m.count / m.wallS;
  const ms = (s: number, m: Measurement) => ((1000 * s) / m.count).toFixed(2);
  const rows = results.map((m) => [m.label, String(m.count), rate(m).toFixed(1), ms(m.serverCpuS, m), `${((100 * m.serverCpuS) / m.wallS).toFixed(0)}%`, ms(m.clientCpuS, m)]);
  const ssh2 = results.find((m) => m.spec.kind === 'ssh2');
  const sshd = results.find((m) => m.spec.kind === 'sshd');
  const targets: Target[] = [];
  for (const m of results.filter((r) => r.spec.kind === 'wasshd')) {
    for (const peer of [ssh2, sshd]) {
      if (peer) rows.push([`  ${m.label} / ${peer.label}`, '', ratio(rate(m), rate(peer)), ratio(m.serverCpuS / m.count, peer.serverCpuS / peer.count), '', '']);
    }
    targets.push({
      name: `handshakes/s, ${m.label} >= ${TARGET_RATIO.toFixed(1)}x ssh2's`,
      met: ssh2 === undefined ? undefined : rate(m) / rate(ssh2) >= TARGET_RATIO,
      figure: ssh2 === undefined ? 'no ssh2 in this run' : `${ratio(rate(m), rate(ssh2))} (${rate(m).toFixed(1)} vs ${rate(ssh2).toFixed(1)}/s)`,
    });
  }
  const methods = await keyExchanges(specs, keys, o);
  return {
    title: `Handshakes: ssh2 client in ${o.clients} processes, ${KEX}, ed25519 user key, exec true, ${o.concurrency} at once, ${o.durationS} s after ${o.warmupS} s warm-up`,
    table: table(['server', 'handshakes', 'per s', 'server CPU ms each', 'server busy', 'client CPU ms each'], rows) + methods,
    notes: [
      `Cipher ${CIPHER}. The clients share the machine's cores with the server: with few cores they hold the server`,
      'back ("client CPU ms each"), and more workers than cores only share them; CPU per handshake is the steadier figure.',
      ...(specs.some((s) => s.kind === 'sshd') ? ["sshd's CPU includes its per-connection processes and the user's shell that runs `true`."] : []),
    ],
    targets,
  };
}

/**
 * wasshd with each of KEX_METHODS chosen by its `SSHKeyExchangeAlgorithms`, connected to by its own client: a
 * table of the rate and server CPU per handshake, each beside the first method's. Empty without wasshd in the run.
 */
async function keyExchanges(specs: ServerSpec[], keys: Credentials, o: HandshakeOptions): Promise<string> {
  const base = specs.find((s) => s.kind === 'wasshd' && s.config.length === 0);
  if (base === undefined) return '';
  const results: Measurement[] = [];
  for (const kex of KEX_METHODS) {
    const spec = { ...base, label: `wasshd, ${kex}`, config: [`SSHKeyExchangeAlgorithms=${kex}`] };
    results.push(await measure(spec.label, spec, 1, keys, o, 'wasshd'));
  }
  const first = results[0]!;
  const perHandshake = (m: Measurement) => m.serverCpuS / m.count;
  const rows = results.map((m) => [
    m.label,
    String(m.count),
    (m.count / m.wallS).toFixed(1),
    (1000 * perHandshake(m)).toFixed(2),
    m === first ? '' : ratio(m.count / m.wallS, first.count / first.wallS),
    m === first ? '' : ratio(perHandshake(m), perHandshake(first)),
  ]);
  return `\n\nKey exchange methods, wasshd's own client (SSHClient) in ${o.clients} processes:\n${table(['server', 'handshakes', 'per s', 'server CPU ms each', 'rate / first', 'CPU / first'], rows)}`;
}
