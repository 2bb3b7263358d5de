/**
 * Building and starting a Worker on a local workerd, for the demo (workerd.ts), the examples and the tests:
 * bundle a module with esbuild (the wasm stays a module of its own beside the bundle, as workerd requires),
 * write a workerd config, and start workerd until its socket listens.
 */

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('../..', import.meta.url).pathname;

/** The workerd binary the `workerd` npm package installs. */
export const WORKERD = `${root}node_modules/.bin/workerd`;

/** Fixed, so that an upgrade of workerd does not change the Worker's behaviour unnoticed. */
export const COMPATIBILITY_DATE = '2026-11-01';

/** The bundle's file name in its output folder; the wasm modules keep their own (`wasshd_wasm_bg.wasm`, ...). */
export const BUNDLE = 'worker.js';
/** The server's module, the key files' and the legacy algorithms' (`ts/workerd/index.ts` imports all three). */
const WASM = ['wasshd_wasm_bg.wasm', 'wasshd_keys_bg.wasm', 'wasshd_legacy_bg.wasm'];

export interface BundleOptions {
  /** Module specifiers to resolve elsewhere (`wasshd/workerd` to the sources, say). */
  alias?: Record<string, string>;
  /** Where bare specifiers are resolved from (its node_modules); default this repository. */
  workingDir?: string;
}

/**
 * Bundles `entry` into `outdir/worker.js` as an ES module for workerd, with the wasm module copied beside it
 * and imported from there. `node:` modules (the demo shell's `node:crypto`) are workerd's own: its Node.js
 * compatibility is on by default from compatibility date 2026-08-04.
 */
export async function bundleWorker(entry: string, outdir: string, options: BundleOptions = {}): Promise<void> {
  await build({
    entryPoints: { worker: entry },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    // The package's `workerd` export first, as wrangler resolves.
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    loader: { '.wasm': 'copy' },
    assetNames: '[name]',
    external: ['node:*'],
    logLevel: 'silent',
    absWorkingDir: options.workingDir ?? root,
    ...(options.alias ? { alias: options.alias } : {}),
  });
}

export interface ConfigOptions {
  /** Text bindings read from workerd's environment: binding name to variable name. */
  fromEnvironment?: Record<string, string>;
}

/**
 * A workerd config serving the bundle in the same folder on a socket named `http` (its address is given
 * when workerd starts).
 */
export function workerdConfig({ fromEnvironment = {} }: ConfigOptions = {}): string {
  const bindings = Object.entries(fromEnvironment).map(([name, variable]) => `(name = ${JSON.stringify(name)}, fromEnvironment = ${JSON.stringify(variable)})`);
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "${BUNDLE}", esModule = embed "${BUNDLE}"),
${WASM.map((name) => `    (name = "${name}", wasm = embed "${name}"),`).join('\n')}
  ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  # SSH's bytes are encrypted: permessage-deflate would only cost CPU.
  compatibilityFlags = ["no_web_socket_compression"],
  bindings = [${bindings.join(', ')}],
);
`;
}

export interface Workerd {
  child: ChildProcess;
  /** The port its `http` socket listens on. */
  port: number;
}

/** `host:port` for workerd's `--socket-addr` (IPv6 in brackets). */
export function socketAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Starts `workerd serve CONFIG` with its `http` socket on `host:port` (0 picks a free port) and resolves once
 * it listens, with the port workerd reports on its control descriptor. Rejects if workerd exits first.
 */
export function startWorkerd(configFile: string, host: string, port: number, env: NodeJS.ProcessEnv = process.env, stdio: 'inherit' | 'pipe' = 'pipe'): Promise<Workerd> {
  try {
    accessSync(WORKERD, constants.X_OK);
  } catch {
    return Promise.reject(new Error(`workerd is not installed (${WORKERD}): run bash scripts/setup.sh`));
  }
  const streams: StdioOptions = ['ignore', stdio, stdio, 'pipe'];
  // A process group of its own: a terminal's Ctrl-C reaches the program that started it, which stops it.
  const child = spawn(WORKERD, ['serve', configFile, '--socket-addr', `http=${socketAddress(host, port)}`, '--control-fd', '3'], { env, stdio: streams, detached: true });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`workerd exited with ${code} before listening${stderr ? `:\n${stderr}` : ''}`));
    child.once('exit', exited);
    child.once('error', reject);
    let control = '';
    child.stdio[3]!.on('data', (d: Buffer) => {
      control += d.toString();
      for (const line of control.split('\n').slice(0, -1)) {
        const message = JSON.parse(line) as { event?: string; socket?: string; port?: number };
        if (message.event !== 'listen' || message.socket !== 'http' || message.port === undefined) continue;
        child.off('exit', exited);
        child.off('error', reject);
        return resolve({ child, port: message.port });
      }
    });
  });
}
