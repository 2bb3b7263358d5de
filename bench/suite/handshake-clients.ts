/**
 * A client process of the handshake measure. For each line `run SECONDS` on stdin it runs CONCURRENCY loops of
 * full connections with CLIENT (`ssh2`, or `wasshd`: the package's own `SSHClient`, which offers every key exchange
 * it has, so the server's list decides; it speaks the post-quantum hybrids ssh2 lacks) for that long (a loop starts no connection after it), each a KEX key
 * exchange with an ssh-ed25519 host key and CIPHER, a login with the ed25519 user key, `exec COMMAND` until its
 * exit status (which must be 0) and the channel's close, and a disconnect; then it prints
 * `done COUNT CPU_MICROSECONDS` (its own CPU time for the run). On any failure it prints `failed MESSAGE` and
 * exits 1; it exits 0 when stdin ends.
 *
 *   tsx bench/suite/handshake-clients.ts --client ssh2|wasshd --port N --user NAME --key FILE --command C --kex K --cipher C --concurrency N
 */

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import ssh2, { type CipherAlgorithm, type KexAlgorithm } from 'ssh2';
import { CommandLine } from '../../ts/demo/cli.js';
import { SSHClient } from '../../ts/node/index.js';
import { requiredFlags } from './flags.js';

const { Client } = ssh2;

const cli: CommandLine = new CommandLine(
  'handshake clients',
  'usage: tsx bench/suite/handshake-clients.ts --client ssh2|wasshd --port N --user NAME --key FILE --command C --kex K --cipher C --concurrency N',
);
const o = requiredFlags(cli, process.argv.slice(2), ['client', 'port', 'user', 'key', 'command', 'kex', 'cipher', 'concurrency']);
if (o.client !== 'ssh2' && o.client !== 'wasshd') cli.fail('--client is ssh2 or wasshd');
const privateKey = readFileSync(o.key);

/** One full connection with wasshd's client; the server's key is taken as the bench's own. */
async function wasshdHandshake(): Promise<void> {
  const client = await SSHClient.connect({ host: '127.0.0.1', port: Number(o.port), user: o.user, privateKey: privateKey.toString(), verifyHostKey: () => true, timeoutMs: 30_000 });
  try {
    const { code } = await client.exec(o.command);
    if (code !== 0) throw new Error(`${o.command} exited with ${code}`);
  } finally {
    await client.close();
  }
}

/** One full connection; resolves once the client has closed it after the command exited 0. */
function handshake(): Promise<void> {
  if (o.client === 'wasshd') return wasshdHandshake();
  return new Promise((resolve, reject) => {
    const c = new Client();
    let status: number | undefined;
    let failed: Error | undefined;
    const fail = (e: Error) => {
      failed ??= e;
      c.end();
    };
    c.on('ready', () =>
      c.exec(o.command, (err, stream) => {
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
      else if (status !== 0) reject(new Error(`${o.command} exited with ${status}`));
      else resolve();
    });
    c.connect({
      host: '127.0.0.1',
      port: Number(o.port),
      username: o.user,
      privateKey,
      algorithms: { kex: [o.kex as KexAlgorithm], serverHostKey: ['ssh-ed25519'], cipher: [o.cipher as CipherAlgorithm] },
      readyTimeout: 30_000,
    });
    // ssh2 leaves Nagle on: its small handshake packets would wait for delayed ACKs, and the rate would measure those.
    c.setNoDelay(true);
  });
}

/** Runs the loops for `seconds`; resolves with the count of connections. */
async function run(seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let count = 0;
  // The first failure stops every loop, so that none is left running against a server being stopped.
  let failure: Error | undefined;
  await Promise.all(
    Array.from({ length: Number(o.concurrency) }, async () => {
      while (failure === undefined && performance.now() < until) {
        await handshake().then(
          () => void count++,
          (e: Error) => void (failure ??= e),
        );
      }
    }),
  );
  if (failure !== undefined) throw failure;
  return count;
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const seconds = /^run (\d+(?:\.\d+)?)$/.exec(line)?.[1];
  if (seconds === undefined) cli.fail(`unexpected input: ${line}`);
  const cpu = process.cpuUsage();
  try {
    const count = await run(Number(seconds));
    const used = process.cpuUsage(cpu);
    console.log(`done ${count} ${used.user + used.system}`);
  } catch (e) {
    console.log(`failed ${(e as Error).message}`);
    process.exit(1);
  }
}
