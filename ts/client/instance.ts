/** A client core from the client's wasm module (wasm/pkg-client), in an instance and a copy of its glue of its own. */

import { createGlue } from '../../wasm/pkg-client/wasshd_client_glue.js';
import type { ClientCore } from '../../wasm/pkg-client/wasshd_client.js';
import { instantiate, type HostCrypto } from '../core/instance.js';

/** One SSH client connection in an instance of `module` of its own, so that a trap ends that connection alone; `now` in ms. */
export function instantiateClientCore(module: WebAssembly.Module, seed: Uint8Array, now: number, hostCrypto?: () => HostCrypto): ClientCore {
  return new (instantiate(createGlue, module, hostCrypto).glue.ClientCore)(seed, now);
}
