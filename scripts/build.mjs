// Builds what plain JavaScript runtimes import: the wasm module and the component, then the TypeScript host
// compiled to dist/, with wasm/pkg and wasm/component/pkg beside it at the same relative place the sources expect.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run(process.execPath, ['scripts/build-wasm.mjs']);
run(process.execPath, ['scripts/build-component.mjs']);
rmSync(`${root}dist`, { recursive: true, force: true });
run(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json']);
for (const file of ['wasshd_wasm.js', 'wasshd_wasm.d.ts', 'wasshd_glue.js', 'wasshd_glue.d.ts', 'wasshd_wasm_bg.wasm']) {
  cpSync(`${root}wasm/pkg/${file}`, `${root}dist/wasm/pkg/${file}`);
}
// Its JavaScript bindings and core modules; the component file itself is for hosts in other languages.
cpSync(`${root}wasm/component/pkg`, `${root}dist/wasm/component/pkg`, { recursive: true, filter: (src) => !src.endsWith('.component.wasm') });
// The ProxyCommand bridge (package.json `bin`) runs as a program.
chmodSync(`${root}dist/ts/node/ws-proxy.js`, 0o755);
