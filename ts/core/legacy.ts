/**
 * The legacy algorithms' primitives for the server's and the client's cores, which are built without them
 * (wasm/src/legacy_import.rs): the `legacy_*` functions of a core's `wasshd_crypto` imports, served by an instance
 * of the legacy module (wasm/pkg-legacy, `LegacyCrypto`: 3DES, Blowfish and CAST-128 in CBC mode, RC4, HMAC-MD5
 * and HMAC-RIPEMD-160), made when a setting first names a legacy algorithm. One instance per core instance: its
 * table holds that core's keyed objects, and a trapped core's goes with it. Each call copies a packet into that
 * instance and back; these algorithms are off unless configured, kept for old peers, not for speed.
 */

import { createGlue } from '../../wasm/pkg-legacy/wasshd_legacy_glue.js';
import type { LegacyCrypto } from '../../wasm/pkg-legacy/wasshd_legacy.js';

/** How a runtime gets the legacy module when a setting first names a legacy algorithm: synchronously, compiled once. */
export type LegacyModule = () => WebAssembly.Module;

/** The `legacy_*` imports of one core instance, and how they are given its memory once it exists. */
export interface LegacyImports {
  imports: WebAssembly.ModuleImports;
  bind(memory: WebAssembly.Memory): void;
  /** Why the module could not be loaded, once loading it failed: the core can only answer 0. */
  failure(): string | undefined;
}

/** `legacy_*` imports over `module`; without one, `legacy_load` answers 0 and the core refuses the settings that would need it. */
export function legacyImports(module: LegacyModule | undefined): LegacyImports {
  let memory: WebAssembly.Memory | undefined;
  let legacy: LegacyCrypto | undefined;
  let failure: string | undefined;
  /** Bytes of the core's memory at (ptr, len); the legacy glue copies them in, and back for a cipher. */
  const view = (ptr: number, len: number): Uint8Array => new Uint8Array(memory!.buffer, ptr >>> 0, len >>> 0);
  const loaded = (): LegacyCrypto => {
    if (!legacy) throw new Error('wasshd_crypto: the legacy module was used before it was loaded');
    return legacy;
  };
  const imports = {
    legacy_load(): number {
      if (legacy) return 1;
      if (!module) return 0;
      // A runtime that cannot compile the module answers 0: the setting is refused, the core keeps running.
      try {
        const glue = createGlue({});
        glue.initSync({ module: module() });
        legacy = new glue.LegacyCrypto();
        return 1;
      } catch (e) {
        failure = e instanceof Error ? e.message : String(e);
        return 0;
      }
    },
    legacy_cbc_new(cipher: number, decrypt: number, key: number, keyLen: number, iv: number, ivLen: number): number {
      return loaded().cbc(cipher, decrypt === 1, view(key, keyLen), view(iv, ivLen));
    },
    legacy_arcfour_new(key: number, keyLen: number): number {
      return loaded().arcfour(view(key, keyLen));
    },
    legacy_apply(handle: number, data: number, len: number): void {
      loaded().apply(handle, view(data, len));
    },
    legacy_hmac_new(hash: number, key: number, keyLen: number): number {
      return loaded().hmac(hash, view(key, keyLen));
    },
    /** The core gives room for the longest output, RIPEMD-160's 20 bytes. */
    legacy_hmac_sign(handle: number, seq: number, data: number, len: number, tag: number): void {
      loaded().sign(handle, seq >>> 0, view(data, len), view(tag, 20));
    },
    legacy_free(handle: number): void {
      loaded().free(handle);
    },
  };
  return {
    imports,
    bind(m) {
      memory = m;
    },
    failure: () => failure,
  };
}
