// Builds what plain JavaScript runtimes import: the wasm module, then the TypeScript host compiled to dist/,
// with wasm/pkg beside it at the same relative place the sources expect.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run(process.execPath, ['scripts/build-wasm.mjs']);
rmSync(`${root}dist`, { recursive: true, force: true });
run(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json']);
for (const file of ['wasshd_wasm.js', 'wasshd_wasm.d.ts', 'wasshd_glue.js', 'wasshd_glue.d.ts', 'wasshd_wasm_bg.wasm']) {
  cpSync(`${root}wasm/pkg/${file}`, `${root}dist/wasm/pkg/${file}`);
}
// The ProxyCommand bridge (package.json `bin`) runs as a program.
chmodSync(`${root}dist/ts/node/ws-proxy.js`, 0o755);
