// Builds wasm/pkg with wasm-pack unless it is newer than every Rust source and manifest.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const output = join(root, 'wasm/pkg/wasshd_wasm_bg.wasm');

function newest(dir) {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) t = Math.max(t, newest(p));
    else t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

const sources = Math.max(
  newest(join(root, 'core-rs/src')),
  newest(join(root, 'wasm/src')),
  ...['Cargo.toml', 'Cargo.lock', 'core-rs/Cargo.toml', 'wasm/Cargo.toml'].map((f) => (existsSync(join(root, f)) ? statSync(join(root, f)).mtimeMs : 0)),
);

if (process.argv.includes('--force') || !existsSync(output) || statSync(output).mtimeMs < sources) {
  execFileSync('wasm-pack', ['--quiet', 'build', 'wasm', '--target', 'web', '--release', '--no-pack', '--out-dir', 'pkg'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
