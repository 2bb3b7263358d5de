/**
 * The structured `handshake` fuzz target through the built wasm module, call for call. The native
 * harness runs every committed seed and every local corpus file of the target and records each call it
 * makes on its `Server` (`core-rs/fuzz/examples/transcripts.rs`, format in `core-rs/fuzz/src/transcript.rs`);
 * here a wasm `Core` with the same seed takes the same calls. The server is deterministic given its seed
 * and the times it is given, so each call must return the same value or error code, and leave the same
 * output and events, byte for byte, without trapping; at the end the connection is closed and neither
 * side may hold it any more. Both boundaries take the same calls: the wasm-bindgen module and the WIT
 * component (through the adapter that gives it the module's methods). (`channel`, the other structured target, drives the `Channel` window
 * bookkeeping alone, with no `Server`: nothing of it crosses the module's boundary.)
 *
 * Building the transcripts needs cargo (stable); the first build of the fuzz crate takes a minute or two.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvents } from '../../ts/core/events.js';
import { ErrorCode, fromCoreError } from '../../ts/errors.js';
import { instantiateComponent } from '../../ts/component/core.js';
import { componentModules } from '../../ts/component/node.js';
import { nodeRuntime } from '../../ts/node/index.js';
import type { Core } from '../../wasm/pkg/wasshd_wasm.js';
import { FUZZ, fuzzInputDirs } from '../helpers/fuzz.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** One line of a transcript. */
interface Call {
  op: string;
  args: unknown[];
  ok?: unknown;
  err?: number;
  take?: number;
  out?: string;
  events: string;
}

const dirs = fuzzInputDirs('handshake');
let out = '';
/** What the native run said: it names the inputs it could not run. */
let runnerErrors = '';

beforeAll(() => {
  const env = { ...process.env, PATH: `${join(homedir(), '.cargo/bin')}:${process.env.PATH ?? ''}` };
  // The module must be built from the same core as the native harness (a no-op when it is up to date).
  const wasm = spawnSync('node', ['scripts/build-wasm.mjs'], { cwd: ROOT, env, encoding: 'utf8' });
  expect(wasm.status, `building the wasm module failed:\n${wasm.stderr}`).toBe(0);
  out = mkdtempSync(join(tmpdir(), 'wasshd-transcripts-'));
  const cargo = ['run', '--quiet', '--release', '--manifest-path', join(FUZZ, 'Cargo.toml'), '--example', 'transcripts', '--', out, ...dirs];
  const run = spawnSync('cargo', cargo, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  runnerErrors = run.stderr;
  expect(run.status === 0 || run.status === 1, `the transcripts runner failed:\n${run.stderr.slice(-4000)}`).toBe(true);
}, 900_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

function transcripts(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => join(dir, f))
    .sort();
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function arg(a: unknown): unknown {
  return a !== null && typeof a === 'object' && 'hex' in a ? Buffer.from((a as { hex: string }).hex, 'hex') : a;
}

/** An event for a message, its byte fields as hex. */
function show(event: unknown): string {
  const text = JSON.stringify(event, (_, v: unknown) => (v instanceof Uint8Array ? hex(v) : v)) ?? 'none';
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/** Where two record streams first differ, decoded. */
function eventDifference(native: string, wasm: Uint8Array): string {
  const [a, b] = [decodeEvents(Buffer.from(native, 'hex')), decodeEvents(wasm)];
  const i = a.findIndex((e, k) => show(e) !== show(b[k]));
  const at = i < 0 ? a.length : i;
  return `${a.length} native events, ${b.length} from wasm; #${at}: native ${show(a[at])}, wasm ${show(b[at])}`;
}

function bytesDifference(native: string, wasm: Uint8Array): string {
  const a = Buffer.from(native, 'hex');
  let i = 0;
  while (i < a.length && i < wasm.length && a[i] === wasm[i]) i++;
  return `${a.length} bytes native, ${wasm.length} from wasm, first difference at byte ${i}`;
}

/** An argument for a message: byte strings by their length. */
function brief(a: unknown): string {
  if (a !== null && typeof a === 'object' && 'hex' in a) return `<${(a as { hex: string }).hex.length / 2} bytes>`;
  const text = JSON.stringify(a) ?? String(a);
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

class Divergence extends Error {
  constructor(
    message: string,
    readonly trapped = false,
  ) {
    super(message);
  }
}

interface Totals {
  calls: number;
  /** Calls refused with the same error code on both sides. */
  errors: number;
  outputBytes: number;
  eventBytes: number;
}

/** Replays one transcript on `core`; throws a `Divergence` at the first call that differs. */
function replay(core: Core, calls: Call[], totals: Totals): void {
  const methods = core as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [i, call] of calls.entries()) {
    const where = `call ${i + 1} ${call.op}(${call.args.map(brief).join(', ')})`;
    if (typeof methods[call.op] !== 'function') throw new Divergence(`${where}: the module has no such method`);
    let ok: unknown = null;
    let err: number | undefined;
    try {
      ok = methods[call.op]!.apply(core, call.args.map(arg)) ?? null;
    } catch (e) {
      const error = fromCoreError(e);
      if (error.code === ErrorCode.WasmTrapped) throw new Divergence(`${where}: trapped: ${(e as Error).message}`, true);
      err = error.code;
    }
    if (err !== call.err) throw new Divergence(`${where}: error ${err ?? 'none'}, native ${call.err ?? 'none'}`);
    if (err !== undefined) totals.errors++;
    if (err === undefined && JSON.stringify(ok) !== JSON.stringify(call.ok ?? null)) {
      throw new Divergence(`${where}: returned ${JSON.stringify(ok)}, native ${JSON.stringify(call.ok)}`);
    }
    if (call.take !== undefined) {
      const output = core.take_output(call.take);
      if (hex(output) !== call.out) throw new Divergence(`${where}: output differs: ${bytesDifference(call.out ?? '', output)}`);
      totals.outputBytes += output.length;
    }
    const events = core.drain_events();
    if (hex(events) !== call.events) throw new Divergence(`${where}: events differ: ${eventDifference(call.events, events)}`);
    totals.eventBytes += events.length;
    totals.calls++;
  }
}

/** Per boundary: a fresh instance, and a function that makes cores in it. */
const BOUNDARIES: { boundary: string; instance(): (seed: Uint8Array) => Core }[] = [
  {
    boundary: 'wasm-bindgen',
    instance() {
      let Shared: (new (seed: Uint8Array) => Core) | undefined;
      return (seed) => {
        if (Shared) return new Shared(seed);
        const core = nodeRuntime.createCore(seed);
        Shared = core.constructor as new (seed: Uint8Array) => Core;
        return core;
      };
    },
  },
  { boundary: 'component', instance: () => instantiateComponent(componentModules) },
];

describe('handshake fuzz inputs through the built wasm module and component, call for call', () => {
  it.each(BOUNDARIES)('$boundary: every seed and corpus file, the same results, output and events as the native core', async ({ boundary, instance }) => {
    const started = performance.now();
    const files = transcripts(out);
    expect(files.length, `no transcripts: is core-rs/fuzz/seeds/handshake empty?\n${runnerErrors}`).toBeGreaterThan(0);
    const failures = [...runnerErrors.matchAll(/^transcripts: (.*)$/gm)].map((m) => m[1]!);
    const totals: Totals = { calls: 0, errors: 0, outputBytes: 0, eventBytes: 0 };
    let closed = 0;
    // One instance for all, as a host has; after a trap (which poisons it) a fresh one.
    let make: ((seed: Uint8Array) => Core) | undefined;
    for (const file of files) {
      const name = relative(out, file).replace(/\.jsonl$/, '');
      const [first, ...calls] = readFileSync(file, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Call);
      expect(first?.op, `${name}: a transcript starts with the seed`).toBe('new');
      make ??= instance();
      const core = make(arg(first!.args[0]) as Uint8Array);
      try {
        replay(core, calls, totals);
        const last = calls.at(-1);
        if (last?.op === 'connection_count' && last.ok === 0) closed++;
      } catch (e) {
        if (!(e instanceof Divergence)) throw e;
        failures.push(`${name}: ${e.message}`);
        if (e.trapped) {
          make = undefined;
          continue;
        }
      }
      core.free();
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `handshake through ${boundary}: ${files.length} transcripts (${dirs.map((d) => relative(FUZZ, d)).join(', ')}), ${totals.calls} calls (${totals.errors} refused alike), ` +
        `${totals.outputBytes} bytes of output and ${totals.eventBytes} bytes of events identical, ${closed} ended with no connection, in ${seconds} s`,
    );
    expect(failures, `${failures.length} inputs diverged or failed:\n${failures.slice(0, 20).join('\n')}`).toEqual([]);
    expect(closed, 'every run ends with its connection closed on both sides').toBe(files.length);
  }, 900_000);
});
