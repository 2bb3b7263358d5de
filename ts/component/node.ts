/**
 * Node with the core as a WIT component: the Node runtime (TCP, and whatever else it offers) with cores made
 * from the component's modules, read from disk and compiled once per process.
 */

import { readFileSync } from 'node:fs';
import { nodeRuntime } from '../node/index.js';
import type { Runtime } from '../server.js';
import { instantiateComponentCore } from './core.js';

const modules = new Map<string, WebAssembly.Module>();

/** The component's core modules (`CoreModules`), from wasm/component/pkg. */
export function componentModules(name: string): WebAssembly.Module {
  let module = modules.get(name);
  if (!module) {
    module = new WebAssembly.Module(readFileSync(new URL(`../../wasm/component/pkg/${name}`, import.meta.url)));
    modules.set(name, module);
  }
  return module;
}

export const componentRuntime: Runtime = { ...nodeRuntime, createCore: (seed) => instantiateComponentCore(componentModules, seed) };
