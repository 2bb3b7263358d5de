// Builds what plain JavaScript runtimes import: the wasm module, then the TypeScript host compiled to dist/,
// with wasm/pkg beside it at the same relative place the sources expect. `--out DIR` builds into DIR instead
// of dist/ (tests build a package of their own there, apart from dist/).
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const out = resolve(root, parseArgs({ options: { out: { type: 'string', default: 'dist' } } }).values.out);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run(process.execPath, ['scripts/build-wasm.mjs']);
rmSync(out, { recursive: true, force: true });
run(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json', '--outDir', out]);
for (const file of ['wasshd_wasm.js', 'wasshd_wasm.d.ts', 'wasshd_glue.js', 'wasshd_glue.d.ts', 'wasshd_wasm_bg.wasm']) {
  cpSync(`${root}wasm/pkg/${file}`, `${out}/wasm/pkg/${file}`);
}
