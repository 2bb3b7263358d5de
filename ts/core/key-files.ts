/**
 * Key files, read and made by the keys wasm module (wasm/pkg-keys, `KeyFiles`): a private key file of any
 * format becomes the canonical form the server's and the client's modules take, so that neither carries the
 * file parsers. The module is loaded by the first call that reads or makes a key file, and one instance of it
 * serves the process (per module, in its own copy of the glue).
 */

import { createGlue } from '../../wasm/pkg-keys/wasshd_keys_glue.js';
import type { KeyFiles } from '../../wasm/pkg-keys/wasshd_keys.js';
import { ErrorCode, SSHError, fromCoreError } from '../errors.js';
import { randomBytes } from '../runtime.js';
import { instantiate } from './instance.js';

/** What `generateHostKey` makes, as `ssh-keygen -t type -b bits -C comment` would. */
export interface GenerateHostKeyOptions {
  /** Default `ed25519`. */
  type?: 'ed25519' | 'ecdsa' | 'rsa';
  /** ECDSA: 256 (the default), 384 or 521; RSA: 2048 to 8192, 3072 by default. */
  bits?: number;
  /** The file's comment; default `wasshd host key`. */
  comment?: string;
}

/** How a runtime gets the keys module when a call first needs it: synchronously, compiled once. */
export type KeyFilesModule = () => WebAssembly.Module;

const instances = new WeakMap<WebAssembly.Module, { keys: KeyFiles; memory: WebAssembly.Memory }>();

/**
 * Runs `call` on the keys module's instance, making it first; a refusal (a wrong passphrase, a damaged file)
 * reaches the caller as SSHError. A trap drops the instance, so the next call starts a fresh one.
 */
export function withKeyFiles<T>(module: KeyFilesModule | undefined, call: (keys: KeyFiles) => T): T {
  if (!module) throw new SSHError(ErrorCode.InvalidArgument, 'this runtime was given no key-file module (wasm/pkg-keys): it cannot read or make key files');
  const compiled = module();
  try {
    let instance = instances.get(compiled);
    if (!instance) {
      const { glue, memory } = instantiate(createGlue, compiled, undefined);
      instance = { keys: new glue.KeyFiles(randomBytes(64)), memory };
      instances.set(compiled, instance);
    }
    return call(instance.keys);
  } catch (e) {
    const error = fromCoreError(e);
    if (error.code === ErrorCode.WasmTrapped) instances.delete(compiled);
    throw error;
  }
}

/** `call` with a key file's bytes: a string encoded as UTF-8 (that copy wiped afterwards), bytes as they are. */
export function withFileBytes<T>(file: string | Uint8Array, call: (bytes: Uint8Array) => T): T {
  if (typeof file !== 'string') return call(file);
  const bytes = new TextEncoder().encode(file);
  try {
    return call(bytes);
  } finally {
    bytes.fill(0);
  }
}

/** The linear memory of the keys module's instance, once a call made it (tests that look inside it). */
export function keyFilesMemory(module: WebAssembly.Module): WebAssembly.Memory | undefined {
  return instances.get(module)?.memory;
}
