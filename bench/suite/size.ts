/**
 * The size of the wasm the server loads, raw and gzipped (level 9), beside the client's module, the key files'
 * (loaded by the first call that reads or makes a key file), the legacy algorithms' (loaded by the first setting
 * that names one) and the WIT component's core module if built. The target is the server's.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Section } from './main.js';
import { ROOT } from './processes.js';
import { kib, table } from './report.js';

const TARGET_KIB = 350;
const MODULE = 'wasm/pkg/wasshd_wasm_bg.wasm';
const CLIENT_MODULE = 'wasm/pkg-client/wasshd_client_bg.wasm';
const KEYS_MODULE = 'wasm/pkg-keys/wasshd_keys_bg.wasm';
const LEGACY_MODULE = 'wasm/pkg-legacy/wasshd_legacy_bg.wasm';
const COMPONENT_CORE = 'wasm/component/pkg/wasshd.core.wasm';

export function size(): Section {
  const measured = [MODULE, CLIENT_MODULE, KEYS_MODULE, LEGACY_MODULE, COMPONENT_CORE]
    .filter((file) => file !== COMPONENT_CORE || existsSync(join(ROOT, file)))
    .map((file) => {
      const bytes = readFileSync(join(ROOT, file));
      return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
    });
  const module = measured[0]!;
  return {
    title: 'Wasm size',
    table: table(
      ['file', 'bytes', 'KiB', 'gzip -9 KiB'],
      measured.map((m) => [m.file, String(m.raw), kib(m.raw), kib(m.gzip)]),
    ),
    notes: [],
    targets: [{ name: `wasm size (${MODULE}) <= ${TARGET_KIB} KiB gzip`, met: module.gzip <= TARGET_KIB * 1024, figure: `${kib(module.gzip)} KiB gzip, ${kib(module.raw)} KiB raw` }],
  };
}
