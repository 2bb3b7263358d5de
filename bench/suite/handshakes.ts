/**
 * Full handshakes per second with the `ssh2` npm client in this process: each connection does a
 * curve25519-sha256 key exchange (ssh-ed25519 host key), logs in with an ed25519 user key, runs `exec true`,
 * waits for its exit status and the channel's close, and disconnects; CONCURRENCY such loops run at once for
 * DURATION seconds after a warm-up. The rate counts every handshake started in that time over the time until
 * the last of them ended; the server's CPU (its process tree, per-connection processes included once ended)
 * is divided by the same count.
 */

import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { Section } from './main.js';
import { ratio, table, type Target } from './report.js';
import { type Credentials, type Server, type ServerSpec, startServer } from './servers.js';

const { Client } = ssh2;

const KEX = 'curve25519-sha256';
const CIPHER = 'aes128-gcm@openssh.com';
const TARGET_RATIO = 2;

export interface HandshakeOptions {
  durationS: number;
  warmupS: number;
  concurrency: number;
  /** wasshd is measured once per entry: 1 is the plain demo, N > 1 the demo with `--workers N`. */
  workers: number[];
}

/** One full connection; resolves once the client has closed it after `true` exited 0. */
function handshake(server: Server, privateKey: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    let status: number | undefined;
    let failed: Error | undefined;
    const fail = (e: Error) => {
      failed ??= e;
      c.end();
    };
    c.on('ready', () =>
      c.exec(server.commands.true, (err, stream) => {
        if (err) return fail(err);
        stream.on('exit', (code: number) => (status = code));
        stream.on('close', () => c.end());
        stream.resume();
        stream.stderr.resume();
      }),
    );
    c.on('error', fail);
    c.on('close', () => {
      if (failed) reject(failed);
      else if (status !== 0) reject(new Error(`${server.spec.label}: ${server.commands.true} exited with ${status}`));
      else resolve();
    });
    c.connect({
      host: '127.0.0.1',
      port: server.port,
      username: server.user,
      privateKey,
      algorithms: { kex: [KEX], serverHostKey: ['ssh-ed25519'], cipher: [CIPHER] },
      readyTimeout: 30_000,
    });
    // ssh2 leaves Nagle on: its small handshake packets would wait for delayed ACKs, and the rate would measure those.
    c.setNoDelay(true);
  });
}

/** Runs `concurrency` handshake loops that start no new handshake after `seconds`; resolves with the count. */
async function loops(server: Server, privateKey: Buffer, concurrency: number, seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let count = 0;
  // The first failure stops every loop, so that none is left running against a server being stopped.
  let failure: Error | undefined;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (failure === undefined && performance.now() < until) {
        await handshake(server, privateKey).then(
          () => void count++,
          (e: Error) => void (failure ??= e),
        );
      }
    }),
  );
  if (failure !== undefined) throw failure;
  return count;
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

async function measure(label: string, spec: ServerSpec, workers: number, keys: Credentials, o: HandshakeOptions): Promise<Measurement> {
  const privateKey = readFileSync(keys.userKey);
  const server = await startServer(spec, keys, {
    connections: o.concurrency,
    ...(workers > 1 ? { workers } : {}),
    sshdConfig: [`KexAlgorithms ${KEX}`, `Ciphers ${CIPHER}`],
  });
  try {
    await loops(server, privateKey, o.concurrency, o.warmupS);
    await server.settled();
    const cpu0 = server.cpu();
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    const count = await loops(server, privateKey, o.concurrency, o.durationS);
    const wallS = (performance.now() - t0) / 1000;
    const client = process.cpuUsage(client0);
    await server.settled();
    const m = { label, spec, workers, count, wallS, serverCpuS: server.cpu() - cpu0, clientCpuS: (client.user + client.system) / 1e6 };
    console.log(`  ${label}: ${(count / wallS).toFixed(1)} handshakes/s`);
    return m;
  } finally {
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
  return {
    title: `Handshakes: ssh2 client, ${KEX}, ed25519 user key, exec true, ${o.concurrency} at once, ${o.durationS} s after ${o.warmupS} s warm-up`,
    table: table(['server', 'handshakes', 'per s', 'server CPU ms each', 'server busy', 'client CPU ms each'], rows),
    notes: [
      `Cipher ${CIPHER}. The client runs in the benchmark's own process and shares the machine's cores with the server:`,
      'with few cores it bounds every rate ("client CPU ms each"), and more workers than free cores only share them.',
      ...(specs.some((s) => s.kind === 'sshd') ? ["sshd's CPU includes its per-connection processes and the user's shell that runs `true`."] : []),
    ],
    targets,
  };
}
