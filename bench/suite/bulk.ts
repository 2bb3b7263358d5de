/**
 * Bulk transfers with the OpenSSH client: SIZE MiB up (`sink`) and down (`source SIZE`) through each server,
 * for each cipher (and MAC, for a cipher without one of its own). Per cipher and server: one empty session
 * (`source 0`: warms the server up and measures session setup), a small transfer each way, then the timed
 * ones. Byte counts are checked exactly. Wall time covers the whole ssh session; server CPU is that of its
 * process tree, read once its per-connection processes have ended; client CPU is ssh's and head's or wc's.
 */

import type { Section } from './main.js';
import { GIB, MIB, runScript } from './processes.js';
import { ratio, table, type Target } from './report.js';
import { type Credentials, type Server, type ServerSpec, startServer } from './servers.js';

const WARMUP_BYTES = 8 * MIB;

/** A cipher, with the MAC it needs unless it is an AEAD (`cipher+mac` on the command line). */
export interface Suite {
  cipher: string;
  mac?: string;
}

export const DEFAULT_SUITES = 'chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes128-ctr+hmac-sha2-256-etm@openssh.com';

export function parseSuites(list: string): Suite[] {
  return list
    .split(',')
    .filter((s) => s !== '')
    .map((s) => {
      const [cipher, mac] = s.split('+');
      return mac === undefined ? { cipher: cipher! } : { cipher: cipher!, mac };
    });
}

export const suiteName = (s: Suite): string => [s.cipher, s.mac].filter((x) => x !== undefined).map((x) => x.replace('@openssh.com', '')).join(' + ');

type Direction = 'up' | 'down';

interface Measurement {
  server: string;
  suite: Suite;
  direction: Direction;
  wallS: number;
  serverCpuS: number;
  clientCpuS: number;
}

const SCRIPTS: Record<Direction, string> = {
  // $1 = byte count, $2 = the remote command, the rest = the ssh command line up to the host.
  up: 'n=$1; cmd=$2; shift 2\nhead -c "$n" /dev/zero | ssh "$@" "$cmd"',
  down: 'n=$1; cmd=$2; shift 2\nssh "$@" "$cmd" | wc -c',
};

function sshArgs(server: Server, keys: Credentials, suite: Suite): string[] {
  return [
    '-F', '/dev/null', // no user or system config: the same client settings everywhere
    '-c', suite.cipher,
    ...(suite.mac === undefined ? [] : ['-m', suite.mac]),
    '-i', keys.userKey,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'PreferredAuthentications=publickey',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', 'IdentityAgent=none',
    '-o', 'ConnectTimeout=30',
    '-p', String(server.port),
    `${server.user}@127.0.0.1`,
  ];
}

async function transfer(server: Server, keys: Credentials, suite: Suite, direction: Direction, bytes: number, timeoutMs: number): Promise<Measurement> {
  const what = `${server.spec.label} ${suiteName(suite)} ${direction} ${bytes} bytes`;
  const command = direction === 'up' ? server.commands.sink : server.commands.source(bytes);
  await server.settled();
  const cpu0 = server.cpu();
  const r = await runScript(what, SCRIPTS[direction], [String(bytes), command, ...sshArgs(server, keys, suite)], timeoutMs);
  await server.settled();
  const cpu1 = server.cpu();
  const counted = r.stdout.trim();
  if (counted !== String(bytes)) {
    const side = direction === 'up' ? 'sink printed' : 'received';
    throw new Error(`${what}: ${side} ${JSON.stringify(counted)}, expected exactly ${bytes}\n${r.stderr}`);
  }
  if (r.stderr.trim() !== '') console.error(`[${what}] ${r.stderr.trim()}`);
  return { server: server.spec.label, suite, direction, wallS: r.wallS, serverCpuS: cpu1 - cpu0, clientCpuS: r.clientCpuS };
}

export interface BulkOptions {
  sizeMiB: number;
  suites: Suite[];
  timeoutMs: number;
}

export async function bulk(specs: ServerSpec[], keys: Credentials, o: BulkOptions): Promise<Section> {
  const bytes = o.sizeMiB * MIB;
  const sshdConfig = [
    'KexAlgorithms curve25519-sha256',
    `Ciphers ${[...new Set(o.suites.map((s) => s.cipher))].join(',')}`,
    ...(o.suites.some((s) => s.mac) ? [`MACs ${[...new Set(o.suites.flatMap((s) => s.mac ?? []))].join(',')}`] : []),
  ];
  const servers = await Promise.all(specs.map((spec) => startServer(spec, keys, { connections: 16, sshdConfig })));
  const results: Measurement[] = [];
  const setup = new Map<string, number>();
  try {
    // Servers alternate within each cipher, so slow drift in the machine's load hits them alike.
    for (const suite of o.suites) {
      for (const server of servers) {
        setup.set(`${server.spec.label} ${suiteName(suite)}`, (await transfer(server, keys, suite, 'down', 0, o.timeoutMs)).wallS);
        // Gets the server's JIT past its first tiers before anything is timed.
        await transfer(server, keys, suite, 'up', Math.min(WARMUP_BYTES, bytes), o.timeoutMs);
        await transfer(server, keys, suite, 'down', Math.min(WARMUP_BYTES, bytes), o.timeoutMs);
        for (const direction of ['up', 'down'] as const) {
          const m = await transfer(server, keys, suite, direction, bytes, o.timeoutMs);
          results.push(m);
          console.log(`  ${m.server} ${suiteName(suite)} ${m.direction}: ${(o.sizeMiB / m.wallS).toFixed(1)} MiB/s`);
        }
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
  return report(specs, results, o, setup);
}

function report(specs: ServerSpec[], results: Measurement[], o: BulkOptions, setup: Map<string, number>): Section {
  const mibPerS = (m: Measurement) => o.sizeMiB / m.wallS;
  const perGiB = (s: number) => (s * GIB) / (o.sizeMiB * MIB);
  const rows: string[][] = [];
  const wasshds = specs.filter((s) => s.kind === 'wasshd');
  const peers = specs.filter((s) => s.kind !== 'wasshd');
  const throughputRatios = new Map<string, string[]>();
  const cpuRatios = new Map<string, string[]>();
  const worst = new Map<string, { speed: number; cpu: number }>();
  for (const suite of o.suites) {
    for (const direction of ['up', 'down'] as const) {
      const of = (label: string) => results.find((m) => m.server === label && m.suite === suite && m.direction === direction);
      for (const spec of specs) {
        const m = of(spec.label);
        if (m === undefined) continue;
        rows.push([
          spec.label,
          suiteName(suite),
          direction,
          mibPerS(m).toFixed(1),
          perGiB(m.serverCpuS).toFixed(2),
          // Near 100% of one core: the server is CPU-bound on one thread.
          `${((100 * m.serverCpuS) / m.wallS).toFixed(0)}%`,
          perGiB(m.clientCpuS).toFixed(2),
          m.wallS.toFixed(2),
          (setup.get(`${spec.label} ${suiteName(suite)}`) ?? NaN).toFixed(2),
        ]);
      }
      for (const w of wasshds) {
        const mw = of(w.label);
        for (const p of peers) {
          const mp = of(p.label);
          if (mw === undefined || mp === undefined) continue;
          rows.push([`  ${w.label} / ${p.label}`, '', '', ratio(mibPerS(mw), mibPerS(mp)), ratio(mw.serverCpuS, mp.serverCpuS), '', ratio(mw.clientCpuS, mp.clientCpuS), '', '']);
          if (p.kind !== 'ssh2') continue;
          const speed = mibPerS(mw) / mibPerS(mp);
          const cpu = mw.serverCpuS / mp.serverCpuS;
          const name = `${suiteName(suite)} ${direction}`;
          throughputRatios.set(w.label, [...(throughputRatios.get(w.label) ?? []), `${name} ${speed.toFixed(2)}x`]);
          cpuRatios.set(w.label, [...(cpuRatios.get(w.label) ?? []), `${name} ${cpu.toFixed(2)}x`]);
          const before = worst.get(w.label) ?? { speed: Infinity, cpu: 0 };
          worst.set(w.label, { speed: Math.min(before.speed, speed), cpu: Math.max(before.cpu, cpu) });
        }
      }
    }
  }
  const header = ['server', 'cipher', 'dir', 'MiB/s', 'server CPU s/GiB', 'server busy', 'client CPU s/GiB', 'wall s', 'setup s'];
  const targets: Target[] = [];
  for (const w of wasshds) {
    const x = worst.get(w.label);
    targets.push({
      name: `bulk ${o.sizeMiB} MiB, ${w.label} >= 1.0x ssh2's MiB/s each way, each cipher`,
      met: x === undefined ? undefined : x.speed >= 1,
      figure: x === undefined ? 'no ssh2 in this run' : `worst ${x.speed.toFixed(2)}x (${throughputRatios.get(w.label)!.join(', ')})`,
    });
    targets.push({
      name: `server CPU per GiB, ${w.label} <= 1.0x ssh2's`,
      met: x === undefined ? undefined : x.cpu <= 1,
      figure: x === undefined ? 'no ssh2 in this run' : `worst ${x.cpu.toFixed(2)}x (${cpuRatios.get(w.label)!.join(', ')})`,
    });
  }
  return {
    title: `Bulk transfer: ${o.sizeMiB} MiB each way, OpenSSH client`,
    table: table(header, rows),
    notes: [
      'MiB/s = size / wall time of the whole ssh session; "setup s" = wall time of an empty session (source 0).',
      'server CPU = utime+stime of the server process tree, "server busy" = that CPU time / wall time (100% = one',
      'core); client CPU = ssh + head/wc. Other load on the machine lowers MiB/s more than CPU s/GiB.',
      ...(specs.some((s) => s.kind === 'sshd')
        ? [
            "sshd's sink is `wc -c` and its source `head -c N /dev/zero`, run through the user's shell: its CPU includes",
            'those processes and the processes it forks per connection (counted after they have exited).',
          ]
        : []),
    ],
    targets,
  };
}
