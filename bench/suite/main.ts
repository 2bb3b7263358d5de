/**
 * The benchmark suite of the performance targets: wasshd's Node demo against the `ssh2` npm server
 * (bench/ssh2-peer.ts) and Debian's sshd, measured in one run, one table per measure with ratios and a summary
 * line per target (met, MISSED, or not measured).
 *
 *   npm run bench -- [--measure bulk,handshakes,idle,size,sftp]... [--only wasshd,ssh2,sshd]
 *                    [--wasshd-config NAME=VALUE]... [--variant LABEL:NAME=VALUE[,NAME=VALUE]...]...
 *                    [--size MIB] [--ciphers CIPHER[+MAC],...] [--timeout SECONDS]
 *                    [--duration SECONDS] [--warmup SECONDS] [--concurrency N] [--handshake-clients N] [--workers N,...]
 *                    [--connections N] [--client-processes N] [--settle SECONDS] [--sftp-size MIB]
 *
 * `npm run bench:bulk`, `bench:handshakes`, `bench:idle` and `bench:size` run one measure. `--variant` adds a
 * wasshd column with more settings; without one, `wasm:CryptoProvider=wasm` measures `wasshd (wasm)`, the
 * pure-wasm provider of workerd and browsers, beside `wasshd`. Everything listens on 127.0.0.1 only and is
 * stopped at the end, also on errors.
 */

import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { CommandLine } from '../../ts/demo/cli.js';
import { bulk, DEFAULT_SUITES, parseSuites } from './bulk.js';
import { handshakes } from './handshakes.js';
import { idle } from './idle.js';
import { describeLoad, describeMachine, summaryLine, type Target } from './report.js';
import { type Kind, makeCredentials, peerVersions, type ServerSpec, SSHD } from './servers.js';
import { sftp } from './sftp.js';
import { size } from './size.js';

/** What a measure prints: its table, the notes under it, and how the targets did. */
export interface Section {
  title: string;
  table: string;
  notes: string[];
  targets: Target[];
}

const MEASURES = ['bulk', 'handshakes', 'idle', 'size', 'sftp'] as const;
const KINDS: readonly Kind[] = ['wasshd', 'ssh2', 'sshd'];

const USAGE = `usage: npm run bench -- [--measure bulk,handshakes,idle,size,sftp]... [--only wasshd,ssh2,sshd]
         [--wasshd-config NAME=VALUE]... [--variant LABEL:NAME=VALUE[,NAME=VALUE]...]...
         [--size MIB] [--ciphers CIPHER[+MAC],...] [--timeout SECONDS]
         [--duration SECONDS] [--warmup SECONDS] [--concurrency N] [--handshake-clients N] [--workers N,...]
         [--connections N] [--client-processes N] [--settle SECONDS] [--sftp-size MIB]`;

const cli: CommandLine = new CommandLine('bench', USAGE);

function parseArgs(argv: string[]) {
  const values = cli.parse(argv, {
    measure: { type: 'string', multiple: true, default: [] },
    only: { type: 'string', default: KINDS.join(',') },
    'wasshd-config': { type: 'string', multiple: true, default: [] },
    variant: { type: 'string', multiple: true, default: [] },
    size: { type: 'string', default: '512' },
    ciphers: { type: 'string', default: DEFAULT_SUITES },
    timeout: { type: 'string', default: '600' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
    'handshake-clients': { type: 'string', default: '2' },
    workers: { type: 'string', default: '1,2' },
    connections: { type: 'string', default: '2000' },
    'client-processes': { type: 'string', default: '4' },
    settle: { type: 'string', default: '30' },
    'sftp-size': { type: 'string', default: '256' },
  });
  const positive = (flag: string, v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) cli.fail(`--${flag} wants a positive integer, got ${v}`);
    return n;
  };
  const seconds = (flag: string, v: string): number => (v === '0' ? 0 : positive(flag, v));
  const list = <T extends string>(flag: string, text: string, allowed: readonly T[]): T[] => {
    const items = text.split(',').filter((x) => x !== '');
    for (const x of items) if (!(allowed as readonly string[]).includes(x)) cli.fail(`--${flag} takes ${allowed.join(', ')}; got ${x}`);
    if (items.length === 0) cli.fail(`--${flag} wants a comma-separated list`);
    return items as T[];
  };
  const measures = values.measure.length === 0 ? [...MEASURES] : values.measure.flatMap((m) => list('measure', m, MEASURES));
  const kinds = list('only', values.only, KINDS);
  const specs: ServerSpec[] = [];
  if (kinds.includes('wasshd')) {
    specs.push({ label: 'wasshd', kind: 'wasshd', config: values['wasshd-config'] });
    for (const v of values.variant.length > 0 ? values.variant : [`wasm:${PURE_WASM}`]) {
      const colon = v.indexOf(':');
      if (colon < 1 || !v.slice(colon + 1).includes('=')) cli.fail(`--variant wants LABEL:NAME=VALUE[,NAME=VALUE...], got ${v}`);
      specs.push({ label: `wasshd (${v.slice(0, colon)})`, kind: 'wasshd', config: [...values['wasshd-config'], ...v.slice(colon + 1).split(',')] });
    }
  }
  for (const kind of ['ssh2', 'sshd'] as const) if (kinds.includes(kind)) specs.push({ label: kind, kind, config: [] });
  const suites = parseSuites(values.ciphers);
  if (suites.length === 0) cli.fail('--ciphers wants a comma-separated list');
  const workers = values.workers.split(',').map((w) => positive('workers', w));
  return {
    measures: [...new Set(measures)],
    specs,
    bulk: { sizeMiB: positive('size', values.size), suites, timeoutMs: positive('timeout', values.timeout) * 1000 },
    handshakes: {
      durationS: positive('duration', values.duration),
      warmupS: positive('warmup', values.warmup),
      concurrency: positive('concurrency', values.concurrency),
      clients: positive('handshake-clients', values['handshake-clients']),
      workers,
    },
    sftp: { sizeMiB: positive('sftp-size', values['sftp-size']), cipher: suites[0]!.cipher, timeoutMs: positive('timeout', values.timeout) * 1000 },
    idle: { connections: positive('connections', values.connections), clientProcesses: positive('client-processes', values['client-processes']), concurrency: 8, settleS: seconds('settle', values.settle) },
  };
}

function print(section: Section): void {
  console.log();
  console.log(section.title);
  console.log(section.table);
  for (const note of section.notes) console.log(note);
  console.log();
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.specs.some((s) => s.kind === 'sshd') && !existsSync(SSHD)) throw new Error(`${SSHD} is missing: run bash scripts/setup.sh (it installs openssh-server)`);
  console.log(`wasshd benchmark suite: ${o.measures.join(', ')}; servers ${o.specs.map((s) => s.label).join(', ')}`);
  console.log(`  ${describeMachine()}, ${describeLoad()} at start`);
  for (const line of peerVersions()) console.log(`  ${line}`);
  for (const s of o.specs.filter((x) => x.kind === 'wasshd' && x.config.length > 0)) console.log(`  ${s.label}: --config ${s.config.join(' --config ')}`);
  if (o.specs.some((s) => s.kind === 'sshd')) {
    const root = userInfo().uid === 0;
    console.log(`  sshd runs as ${userInfo().username} on its own port and config${root ? ', with privilege separation as the Debian service' : ''}`);
  }

  const keys = makeCredentials();
  const sections: Section[] = [];
  for (const measure of o.measures) {
    console.log();
    console.log(`== ${measure}`);
    let section: Section;
    switch (measure) {
      case 'bulk':
        section = await bulk(o.specs, keys, o.bulk);
        break;
      case 'handshakes':
        section = await handshakes(o.specs, keys, o.handshakes);
        break;
      case 'idle':
        section = await idle(o.specs, keys, o.idle);
        break;
      case 'size':
        section = size();
        break;
      case 'sftp':
        section = await sftp(o.specs, keys, o.sftp);
        break;
    }
    print(section);
    sections.push(section);
  }

  const targets = sections.flatMap((s) => s.targets);
  if (o.measures.includes('bulk') || o.measures.includes('handshakes') || o.measures.includes('idle')) targets.push(providerTarget(o.specs));
  console.log('== targets');
  for (const t of targets) console.log(summaryLine(t));
  console.log(`${describeLoad()} at end`);
}

/** The pure-wasm crypto provider: measured when a wasshd variant with that setting ran beside plain wasshd. */
const PURE_WASM = 'CryptoProvider=wasm';

function providerTarget(specs: ServerSpec[]): Target {
  const pure = specs.filter((s) => s.kind === 'wasshd' && s.label !== 'wasshd' && s.config.includes(PURE_WASM));
  const measured = pure.length > 0 && specs.some((s) => s.label === 'wasshd');
  return {
    name: 'pure-wasm provider (workerd, browsers) reported beside the host provider',
    met: measured ? true : undefined,
    figure: measured
      ? `${pure.map((v) => v.label).join(', ')} in every table above`
      : `no wasshd variant with ${PURE_WASM} beside wasshd (--variant 'wasm:${PURE_WASM}', the default, was replaced)`,
  };
}

main().catch((err: unknown) => {
  console.error(`bench: FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
