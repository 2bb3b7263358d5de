/**
 * A client process of the idle-memory measure: opens COUNT connections with the `ssh2` client (ed25519 user
 * key), CONCURRENCY at a time, each with a session channel that `exec`s COMMAND (one that waits) without a
 * pty, prints `ready COUNT` once all are open, and holds them until its stdin ends; then it closes them and
 * exits 0. On any failure, a connection closed early included, it prints `failed MESSAGE` and exits 1.
 *
 *   tsx bench/suite/idle-clients.ts --port N --user NAME --key FILE --command COMMAND --count N --concurrency N
 */

import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { CommandLine } from '../../ts/demo/cli.js';
import { requiredFlags } from './flags.js';

const { Client } = ssh2;
type Client = InstanceType<typeof Client>;

const cli: CommandLine = new CommandLine('idle clients', 'usage: tsx bench/suite/idle-clients.ts --port N --user NAME --key FILE --command COMMAND --count N --concurrency N');
const o = requiredFlags(cli, process.argv.slice(2), ['port', 'user', 'key', 'command', 'count', 'concurrency']);
const privateKey = readFileSync(o.key);

const clients: Client[] = [];
let ending = false;

function fail(message: string): never {
  console.log(`failed ${message}`);
  process.exit(1);
}

function open(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    clients.push(c);
    c.on('error', reject);
    // Every connection must stay open until the measure ends.
    c.on('close', () => ending || fail('a connection was closed by the server'));
    c.on('ready', () =>
      c.exec(o.command, (err, stream) => {
        if (err) return reject(err);
        stream.resume();
        stream.stderr.resume();
        resolve();
      }),
    );
    c.connect({ host: '127.0.0.1', port: Number(o.port), username: o.user, privateKey, readyTimeout: 60_000 });
  });
}

const total = Number(o.count);
let next = 0;
try {
  await Promise.all(
    Array.from({ length: Number(o.concurrency) }, async () => {
      while (next < total) {
        next++;
        await open();
      }
    }),
  );
} catch (e) {
  fail((e as Error).message);
}
console.log(`ready ${clients.length}`);

process.stdin.resume();
process.stdin.on('end', () => {
  ending = true;
  for (const c of clients) c.end();
  process.exit(0);
});
