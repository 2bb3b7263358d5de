/**
 * SFTP transfers with OpenSSH's `sftp`: SIZE MiB `put` and `get` through wasshd's demo (`--sftp-root`), the ssh2
 * npm server's SFTP stream (bench/ssh2-sftp.ts) and sshd's `internal-sftp`, each serving a directory of its
 * own on the same disk. Per server: a small warm-up each way, then the timed ones; sizes are checked on both
 * ends. Wall time covers the whole sftp session; server CPU is that of its process tree.
 */

import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import type { Section } from './main.js';
import { GIB, MIB, runScript, tempDir } from './processes.js';
import { ratio, table } from './report.js';
import { type Credentials, type Server, type ServerSpec, startServer } from './servers.js';

const WARMUP_BYTES = 8 * MIB;

export interface SftpOptions {
  sizeMiB: number;
  cipher: string;
  timeoutMs: number;
}

type Direction = 'put' | 'get';

interface Measurement {
  server: string;
  direction: Direction;
  wallS: number;
  serverCpuS: number;
}

/** A server and the directory it serves; `remote` is how the client names a file there. */
interface Served {
  server: Server;
  dir: string;
  remote(name: string): string;
}

// $1 = the batch command, the rest = sftp's command line up to the host.
const SCRIPT = 'cmd=$1; shift\nprintf "%s\\n" "$cmd" | sftp -b - "$@" >/dev/null';

function sftpArgs(s: Served, keys: Credentials, cipher: string): string[] {
  return [
    '-F', '/dev/null',
    '-c', cipher,
    '-i', keys.userKey,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', 'IdentityAgent=none',
    '-P', String(s.server.port),
    `${s.server.user}@127.0.0.1`,
  ];
}

async function transfer(s: Served, keys: Credentials, o: SftpOptions, direction: Direction, local: string, bytes: number): Promise<Measurement> {
  const name = `f${bytes}`;
  const back = `${local}.back`;
  const what = `${s.server.spec.label} sftp ${direction} ${bytes} bytes`;
  const command = direction === 'put' ? `put ${local} ${s.remote(name)}` : `get ${s.remote(name)} ${back}`;
  await s.server.settled();
  const cpu0 = s.server.cpu();
  const r = await runScript(what, SCRIPT, [command, ...sftpArgs(s, keys, o.cipher)], o.timeoutMs);
  await s.server.settled();
  const cpu1 = s.server.cpu();
  const landed = direction === 'put' ? join(s.dir, name) : back;
  const size = statSync(landed).size;
  if (size !== bytes) throw new Error(`${what}: ${landed} holds ${size} bytes, expected ${bytes}\n${r.stderr}`);
  if (direction === 'get') rmSync(back);
  return { server: s.server.spec.label, direction, wallS: r.wallS, serverCpuS: cpu1 - cpu0 };
}

export async function sftp(specs: ServerSpec[], keys: Credentials, o: SftpOptions): Promise<Section> {
  const bytes = o.sizeMiB * MIB;
  const files = tempDir('wasshd-bench-sftp-');
  const localFor = (n: number) => {
    const path = join(files, `local${n}`);
    // Random bytes: nothing on the way can make a file of zeros cheaper.
    const data = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 64 * MIB) randomFillSync(data, i, Math.min(64 * MIB, n - i));
    writeFileSync(path, data);
    return path;
  };
  const warm = localFor(Math.min(WARMUP_BYTES, bytes));
  const big = localFor(bytes);
  const served: Served[] = await Promise.all(
    specs.map(async (spec) => {
      const dir = tempDir(`wasshd-bench-sftp-${spec.kind}-`);
      const server = await startServer(spec, keys, { connections: 16, extraArgs: ['--sftp-root', dir], sshdConfig: ['Subsystem sftp internal-sftp'] });
      // sshd's internal-sftp serves the whole filesystem (no chroot): its paths are the directory's own.
      return { server, dir, remote: (name: string) => (spec.kind === 'sshd' ? join(dir, name) : `/${name}`) };
    }),
  );
  const results: Measurement[] = [];
  try {
    for (const s of served) {
      await transfer(s, keys, o, 'put', warm, statSync(warm).size);
      await transfer(s, keys, o, 'get', warm, statSync(warm).size);
      for (const direction of ['put', 'get'] as const) {
        const m = await transfer(s, keys, o, direction, big, bytes);
        results.push(m);
        console.log(`  ${m.server} sftp ${direction}: ${(o.sizeMiB / m.wallS).toFixed(1)} MiB/s`);
      }
      rmSync(join(s.dir, `f${bytes}`), { force: true });
    }
  } finally {
    await Promise.all(served.map((s) => s.server.stop()));
  }
  return report(specs, results, o);
}

function report(specs: ServerSpec[], results: Measurement[], o: SftpOptions): Section {
  const mibPerS = (m: Measurement) => o.sizeMiB / m.wallS;
  const perGiB = (s: number) => (s * GIB) / (o.sizeMiB * MIB);
  const rows: string[][] = [];
  for (const direction of ['put', 'get'] as const) {
    const of = (label: string) => results.find((m) => m.server === label && m.direction === direction);
    for (const spec of specs) {
      const m = of(spec.label);
      if (m) rows.push([spec.label, direction, mibPerS(m).toFixed(1), perGiB(m.serverCpuS).toFixed(2), m.wallS.toFixed(2)]);
    }
    for (const w of specs.filter((s) => s.kind === 'wasshd')) {
      for (const p of specs.filter((s) => s.kind !== 'wasshd')) {
        const mw = of(w.label);
        const mp = of(p.label);
        if (mw && mp) rows.push([`  ${w.label} / ${p.label}`, '', ratio(mibPerS(mw), mibPerS(mp)), ratio(mw.serverCpuS, mp.serverCpuS), '']);
      }
    }
  }
  return {
    title: `SFTP: ${o.sizeMiB} MiB put and get with OpenSSH's sftp (${o.cipher}), wasshd --sftp-root vs ssh2's SFTP and sshd's internal-sftp`,
    table: table(['server', 'dir', 'MiB/s', 'server CPU s/GiB', 'wall s'], rows),
    notes: [
      'MiB/s = size / wall time of the whole sftp session (login included); each server writes to and reads from a',
      'directory of its own on the same disk. sshd = sshd with `Subsystem sftp internal-sftp`.',
    ],
    targets: [],
  };
}
