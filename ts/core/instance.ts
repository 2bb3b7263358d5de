/**
 * Cores from one compiled module, each in a wasm instance of its own with its own copy of the glue
 * (`wasshd_glue.js`, written by scripts/build-wasm.mjs): the first core of a server, and a fresh one after a
 * trap. Runtimes differ only in how they obtain the `WebAssembly.Module` (read from disk and compiled, or
 * imported where compiling bytes at run time is forbidden, as in Cloudflare workerd).
 */

import { createGlue } from '../../wasm/pkg/wasshd_glue.js';
import type { Core } from '../../wasm/pkg/wasshd_wasm.js';

const memories = new WeakMap<Core, WebAssembly.Memory>();

export function instantiateCore(module: WebAssembly.Module, seed: Uint8Array): Core {
  const glue = createGlue();
  const { memory } = glue.initSync({ module });
  const core = new glue.Core(seed);
  memories.set(core, memory);
  return core;
}

/** Records the linear memory of a core made another way (the WIT component: `ts/component/core.ts`). */
export function setCoreMemory(core: Core, memory: WebAssembly.Memory): void {
  memories.set(core, memory);
}

/** The linear memory of the instance a core lives in (diagnostics, and tests that look inside it). */
export function coreMemory(core: Core): WebAssembly.Memory | undefined {
  return memories.get(core);
}
