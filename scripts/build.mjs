// Builds what plain JavaScript runtimes import: the wasm module and the component, then the TypeScript host
// compiled to dist/, with wasm/pkg (the server), wasm/pkg-client, wasm/pkg-keys, wasm/pkg-legacy and wasm/component/pkg beside it at the same relative place the sources
// expect. `--out DIR` builds into DIR instead of dist/ (tests build a package of their own there, apart from dist/).
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { roles } from './wasm-roles.mjs';

const root = new URL('..', import.meta.url).pathname;
const out = resolve(root, parseArgs({ options: { out: { type: 'string', default: 'dist' } } }).values.out);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run(process.execPath, ['scripts/build-wasm.mjs']);
run(process.execPath, ['scripts/build-component.mjs']);
rmSync(out, { recursive: true, force: true });
run(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json', '--outDir', out]);
// Each role's glue as a factory, its types, and its module (not wasm-pack's .gitignore).
for (const { dir, name, glue } of roles) {
  for (const file of [`${name}.js`, `${name}.d.ts`, `${glue}.js`, `${glue}.d.ts`, `${name}_bg.wasm`]) {
    cpSync(`${root}${dir}/${file}`, `${out}/${dir}/${file}`);
  }
}
// Its JavaScript bindings and core modules; the component file itself is for hosts in other languages.
cpSync(`${root}wasm/component/pkg`, `${out}/wasm/component/pkg`, { recursive: true, filter: (src) => !src.endsWith('.component.wasm') });
// The ProxyCommand bridge and the relay (package.json `bin`) run as programs.
for (const program of ['ws-proxy', 'ws-relay']) chmodSync(`${out}/ts/node/${program}.js`, 0o755);
