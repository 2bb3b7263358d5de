// Builds the core as a WIT component (wasm/wit, wasm/component) into wasm/component/pkg, unless that is newer
// than every Rust source, WIT file and manifest:
//   wasshd.component.wasm  the component, for any component host (examples/wasmtime/ runs it on wasmtime)
//   wasshd.js, *.d.ts, wasshd.core*.wasm   its JavaScript bindings from `jco transpile`, as a function that
//     instantiates it from compiled core modules (`--instantiation sync`): every call is a fresh instance, as
//     the host needs after a trap, and the runtime decides how to get the modules (compiled from files, or
//     imported where compiling bytes at run time is forbidden)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pkg = join(root, 'wasm/component/pkg');
// Written last: a build cut short leaves no marker, so the next run builds again.
const marker = join(pkg, 'package.json');
const jco = join(root, 'node_modules/.bin/jco');

function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newest(join(path, entry))));
}

const sources = Math.max(
  ...['core-rs/src', 'wasm/boundary/src', 'wasm/component/src', 'wasm/wit'].map((d) => newest(join(root, d))),
  ...['Cargo.toml', 'Cargo.lock', 'core-rs/Cargo.toml', 'wasm/boundary/Cargo.toml', 'wasm/component/Cargo.toml'].map((f) => newest(join(root, f))),
);

if (process.argv.includes('--force') || !existsSync(marker) || statSync(marker).mtimeMs < sources) {
  if (!existsSync(jco)) throw new Error('build-component: jco is not installed (node_modules/.bin/jco): run bash scripts/setup.sh');
  const run = (program, args) => execFileSync(program, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  run('cargo', ['build', '--quiet', '--target', 'wasm32-unknown-unknown', '--release', '-p', 'wasshd-component']);
  // A fresh folder: no file of an earlier build (a core module jco no longer emits) is left to be loaded.
  rmSync(pkg, { recursive: true, force: true });
  mkdirSync(pkg, { recursive: true });
  const component = join(pkg, 'wasshd.component.wasm');
  // The module imports nothing, so `jco new` needs no WASI adapter.
  run(jco, ['new', join(root, 'target/wasm32-unknown-unknown/release/wasshd_component.wasm'), '-o', component]);
  run(jco, ['transpile', component, '-o', pkg, '--name', 'wasshd', '--instantiation', 'sync', '--no-nodejs-compat', '--quiet']);
  writeFileSync(marker, '{ "type": "module" }\n');
}
