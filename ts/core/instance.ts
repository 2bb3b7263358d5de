/**
 * Cores, each in a wasm instance of its own with its own copy of its role's glue (written by
 * scripts/build-wasm.mjs): here the server's (`wasshd_glue.js`), the first core of a server and a fresh one
 * after a trap; the client's connections in `ts/client/instance.ts`, so that a server-only entry (workerd,
 * Deno, Bun) carries no client glue. Runtimes differ only in how they obtain the `WebAssembly.Module` (read from disk and compiled, or
 * imported where compiling bytes at run time is forbidden, as in Cloudflare workerd), and in whether they give
 * the core the host's crypto primitives.
 */

import { createGlue as createServerGlue } from '../../wasm/pkg/wasshd_glue.js';
import type { Core } from '../../wasm/pkg/wasshd_wasm.js';
import { legacyImports, type LegacyModule } from './legacy.js';

/**
 * The `wasshd_crypto` imports of one instance (wasm/src/host_crypto.rs: the host's AES-GCM, AES-CTR, ChaCha20
 * and HMAC over views of the instance's memory) and the table of keyed objects behind them. A fresh one per
 * instance: a trapped instance never freed its handles, and its table goes with it.
 */
export interface HostCrypto {
  imports: WebAssembly.ModuleImports;
  /** Gives the imports the instance's memory, before the core is created (it tests the primitives then). */
  bind(memory: WebAssembly.Memory): void;
  /** Keyed objects the instance holds: one or two per direction of each keyed connection. */
  liveHandles(): number;
}

const memories = new WeakMap<Core, WebAssembly.Memory>();
const hostCryptos = new WeakMap<Core, HostCrypto>();
const legacyFailures = new WeakMap<Core, () => string | undefined>();

/**
 * The `wasshd_crypto` imports of a runtime without host primitives (workerd, browsers): `available` answers 0,
 * so the core uses its own and never calls the others, which are here only because an instance needs every
 * import it declares.
 */
function withoutHostCrypto(module: WebAssembly.Module): WebAssembly.ModuleImports {
  const imports: WebAssembly.ModuleImports = {};
  for (const { module: from, name } of WebAssembly.Module.imports(module)) {
    if (from !== 'wasshd_crypto' || name.startsWith('legacy_')) continue;
    imports[name] =
      name === 'available'
        ? () => 0
        : () => {
            throw new Error(`wasshd_crypto.${name}: this runtime has no host crypto primitives`);
          };
  }
  return imports;
}

/**
 * A fresh instance of `module` with its own copy of a role's glue (`createGlue`); `hostCrypto`: a provider per
 * instance where the runtime has one; `legacy`: the legacy module, where the runtime can load it (`ts/core/legacy.ts`).
 */
export function instantiate<G extends { initSync: (o: { module: WebAssembly.Module }) => { memory: WebAssembly.Memory } }>(
  createGlue: (imports: WebAssembly.ModuleImports) => G,
  module: WebAssembly.Module,
  hostCrypto: (() => HostCrypto) | undefined,
  legacy?: LegacyModule,
) {
  const crypto = hostCrypto?.();
  const legacyCrypto = legacyImports(legacy);
  const glue = createGlue({ ...(crypto?.imports ?? withoutHostCrypto(module)), ...legacyCrypto.imports });
  const { memory } = glue.initSync({ module });
  crypto?.bind(memory);
  legacyCrypto.bind(memory);
  return { glue, memory, crypto, legacyFailure: legacyCrypto.failure };
}

/**
 * A server core in an instance of the server's `module`; `hostCrypto`: a provider per instance (`nodeCryptoProvider`)
 * where the runtime has one; `legacy`: the legacy algorithms' module, loaded by the first setting that names one.
 */
export function instantiateCore(module: WebAssembly.Module, seed: Uint8Array, hostCrypto?: () => HostCrypto, legacy?: LegacyModule): Core {
  const { glue, memory, crypto, legacyFailure } = instantiate(createServerGlue, module, hostCrypto, legacy);
  const core = new glue.Core(seed);
  memories.set(core, memory);
  if (crypto) hostCryptos.set(core, crypto);
  legacyFailures.set(core, legacyFailure);
  return core;
}

/** Why a core's instance could not load the legacy algorithms' module, if it tried and failed. */
export function legacyLoadFailure(core: Core): string | undefined {
  return legacyFailures.get(core)?.();
}

/**
 * A module read by `read` and compiled synchronously by the first call, then the same module for every later
 * one: how Node, Deno and Bun load the modules a call may need (key files, legacy algorithms) only when it does.
 */
export function compiledOnce(read: () => BufferSource): () => WebAssembly.Module {
  let module: WebAssembly.Module | undefined;
  return () => (module ??= new WebAssembly.Module(read()));
}

/** Records the linear memory of a core made another way (the WIT component: `ts/component/core.ts`). */
export function setCoreMemory(core: Core, memory: WebAssembly.Memory): void {
  memories.set(core, memory);
}

/** The linear memory of the instance a core lives in (diagnostics, and tests that look inside it). */
export function coreMemory(core: Core): WebAssembly.Memory | undefined {
  return memories.get(core);
}

/** Keyed objects the host's crypto provider holds for a core's instance (leak checks); undefined without one. */
export function hostCryptoHandles(core: Core): number | undefined {
  return hostCryptos.get(core)?.liveHandles();
}
