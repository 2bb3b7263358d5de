/**
 * A core made with the host crypto provider of the runtime this runs on (`node:crypto`: Node, Deno or Bun),
 * its imports counted (and, for tests that want a faulty host, altered), and what the core made of it: the
 * provider it chose (`host` only once every known-answer test passed through those imports), why it would
 * refuse `CryptoProvider=host`, the calls the tests made, and the handles left live afterwards.
 */

import { readFileSync } from 'node:fs';
import { hostCryptoHandles, instantiateCore, type HostCrypto } from '../../ts/core/instance.js';
import { nodeCryptoProvider } from '../../ts/core/node-crypto-provider.js';

export interface KatReport {
  provider: string | undefined;
  /** The error `CryptoProvider=host` gets, if refused. */
  refusal: string | undefined;
  calls: Record<string, number>;
  liveHandles: number | undefined;
}

type Import = (...args: number[]) => number | undefined;
/** Changes the imports a faulty host would give; `memory` is the instance's, at the time of a call. */
export type Alteration = (imports: Record<string, Import>, memory: () => Uint8Array) => Record<string, Import>;

export function builtModule(): WebAssembly.Module {
  return new WebAssembly.Module(readFileSync(new URL('../../wasm/pkg/wasshd_wasm_bg.wasm', import.meta.url)));
}

export function katReport(module: WebAssembly.Module, alter: Alteration = (imports) => imports): KatReport {
  const calls: Record<string, number> = {};
  const counted = (): HostCrypto => {
    const host = nodeCryptoProvider();
    let memory: WebAssembly.Memory | undefined;
    const altered = alter(host.imports as Record<string, Import>, () => new Uint8Array(memory!.buffer));
    const imports = Object.fromEntries(
      Object.entries(altered).map(([name, f]) => [
        name,
        (...args: number[]) => {
          calls[name] = (calls[name] ?? 0) + 1;
          return f(...args);
        },
      ]),
    );
    return {
      imports,
      bind(m) {
        memory = m;
        host.bind(m);
      },
      liveHandles: host.liveHandles,
    };
  };
  const core = instantiateCore(module, crypto.getRandomValues(new Uint8Array(32)), counted);
  const provider = core.get_config('CryptoProvider');
  let refusal: string | undefined;
  try {
    core.set_config('CryptoProvider', 'host');
  } catch (e) {
    refusal = (e as Error).message;
  }
  const report = { provider, refusal, calls, liveHandles: hostCryptoHandles(core) };
  core.free();
  return report;
}
