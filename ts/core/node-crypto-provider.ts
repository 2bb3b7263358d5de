/**
 * The host crypto provider of runtimes with `node:crypto` (Node, Deno and Bun): the `wasshd_crypto` imports
 * of one wasm instance (wasm/src/host_crypto.rs), which run AES-GCM, AES-CTR, ChaCha20 and HMAC-SHA-2 (and for the
 * off-by-default algorithms AES-CBC and HMAC-SHA-1; the legacy ones come from the legacy module) in the
 * runtime's native library (OpenSSL; BoringSSL on Bun) over views of the instance's memory, 20 to 30 times
 * faster than AES in wasm. Each keyed object is a slot in this instance's table, named by its handle (index
 * + 1); `free` zero-fills the key copy it kept. An algorithm the runtime lacks (Bun has no `chacha20`) is
 * answered with handle 0, and the core uses its own for it.
 *
 * The protocol stays in the core: it passes the nonce of each packet, the block counter and the sequence
 * number. `chacha20` takes OpenSSL's 16-byte IV, ChaCha20's state words 12 to 15: the 64-bit block counter
 * (little-endian, its high word zero for any SSH packet) and then the 64-bit nonce, which is OpenSSH's
 * original ChaCha20.
 */

import { type Cipher, type CipherGCM, createCipheriv, createDecipheriv, createHmac, type Decipher, type DecipherGCM, getCiphers, getHashes } from 'node:crypto';
import type { HostCrypto } from './instance.js';

type Entry =
  | { kind: 'gcm'; algorithm: string; key: Buffer }
  | { kind: 'sequential'; cipher: Cipher | Decipher }
  | { kind: 'chacha20'; key: Buffer }
  | { kind: 'hmac'; algorithm: string; key: Buffer };

type Kind = Entry['kind'];

/** The hashes of `hmac_new`, by the core's number for each (wasm/src/host_crypto.rs). */
const HMAC_HASHES = ['sha256', 'sha512', 'sha1'];

/**
 * The keys kept for each packet (GCM, ChaCha20, HMAC) sit in shared slabs, a room of KEY_ROOM bytes per slot:
 * a Buffer of its own per key costs an ArrayBuffer and a backing store, twice for every connection. A longer
 * key (HMAC-SHA-512's) has its own.
 */
const KEY_ROOM = 32;
const SLAB_ROOMS = 128;

export function nodeCryptoProvider(): HostCrypto {
  // Each name once, as `cipherNamed` hands it to every key's entry.
  const ciphers = new Map(getCiphers().map((name) => [name, name]));
  const hashes = new Set(getHashes());
  let memory: WebAssembly.Memory | undefined;
  const slots: (Entry | undefined)[] = [];
  const vacant: number[] = [];
  const seqField = Buffer.alloc(4);

  /** All of linear memory; a new view only once the memory has grown (which replaces its buffer). */
  let memoryBytes = new Uint8Array(0);
  const bytes = (): Uint8Array => {
    if (memoryBytes.buffer !== memory!.buffer) memoryBytes = new Uint8Array(memory!.buffer);
    return memoryBytes;
  };
  /** Bytes of linear memory at (ptr, len). */
  const view = (ptr: number, len: number): Uint8Array => bytes().subarray(ptr >>> 0, (ptr >>> 0) + (len >>> 0));
  /**
   * The short per-packet fields (nonce, AAD, tag, ChaCha20 IV) copied into buffers kept for them, a byte at a time: a
   * view of each would be more objects per packet for the garbage collector (OpenSSL copies them in turn).
   */
  const nonceField = Buffer.alloc(12);
  const aadField = Buffer.alloc(4);
  const tagField = Buffer.alloc(16);
  const ivField = Buffer.alloc(16);
  const field = (into: Buffer, ptr: number): Buffer => {
    const from = bytes();
    for (let i = 0; i < into.length; i++) into[i] = from[ptr + i]!;
    return into;
  };
  /** A key copy of our own (not a slice of Buffer's shared pool), so that zero-filling it wipes only it. */
  const copy = (ptr: number, len: number): Buffer => {
    const b = Buffer.alloc(len);
    b.set(view(ptr, len));
    return b;
  };
  const slabs: Buffer[] = [];
  /** A key kept for slot `index`: in that slot's room of a slab, a view that zero-filling wipes alone. */
  const keep = (index: number, ptr: number, len: number): Buffer => {
    if (len > KEY_ROOM) return copy(ptr, len);
    const slab = (slabs[Math.floor(index / SLAB_ROOMS)] ??= Buffer.alloc(KEY_ROOM * SLAB_ROOMS));
    const at = (index % SLAB_ROOMS) * KEY_ROOM;
    const key = slab.subarray(at, at + len);
    key.set(view(ptr, len));
    return key;
  };
  /** Writes `out` over the data at `ptr`, then wipes it: for a packet being opened, its plaintext. */
  const put = (out: Buffer, ptr: number): void => {
    bytes().set(out, ptr >>> 0);
    out.fill(0);
  };
  /** A new slot for the entry `make` returns, given the slot's index; its handle. A slot is taken once it is made. */
  const add = (make: (index: number) => Entry): number => {
    const reused = vacant.length > 0;
    const index = reused ? vacant[vacant.length - 1]! : slots.length;
    slots[index] = make(index);
    if (reused) vacant.pop();
    return index + 1;
  };
  const entry = <K extends Kind>(handle: number, kind: K): Extract<Entry, { kind: K }> => {
    const found = slots[handle - 1];
    if (found?.kind !== kind) throw new Error(`wasshd_crypto: handle ${handle} is not a live ${kind} key`);
    return found as Extract<Entry, { kind: K }>;
  };
  /** The cipher's name, if the runtime has it; otherwise the core uses its own. */
  const cipherNamed = (name: string): string | undefined => ciphers.get(name);

  const imports = {
    available: (): number => 1,

    gcm_new(key: number, keyLen: number): number {
      const algorithm = cipherNamed(`aes-${keyLen * 8}-gcm`);
      return algorithm ? add((i) => ({ kind: 'gcm', algorithm, key: keep(i, key, keyLen) })) : 0;
    },
    gcm_seal(handle: number, nonce: number, aad: number, aadLen: number, data: number, len: number, tag: number): void {
      const { algorithm, key } = entry(handle, 'gcm');
      const cipher = createCipheriv(algorithm, key, field(nonceField, nonce)) as CipherGCM;
      cipher.setAAD(aadLen === aadField.length ? field(aadField, aad) : view(aad, aadLen));
      const out = cipher.update(view(data, len));
      cipher.final();
      bytes().set(out, data >>> 0);
      bytes().set(cipher.getAuthTag(), tag >>> 0);
    },
    gcm_open(handle: number, nonce: number, aad: number, aadLen: number, data: number, len: number, tag: number): number {
      const { algorithm, key } = entry(handle, 'gcm');
      const decipher = createDecipheriv(algorithm, key, field(nonceField, nonce)) as DecipherGCM;
      decipher.setAuthTag(field(tagField, tag));
      decipher.setAAD(aadLen === aadField.length ? field(aadField, aad) : view(aad, aadLen));
      const out = decipher.update(view(data, len));
      try {
        decipher.final();
      } catch {
        // A forged packet: its plaintext goes nowhere.
        out.fill(0);
        return 0;
      }
      put(out, data);
      return 1;
    },

    ctr_new(key: number, keyLen: number, iv: number): number {
      const algorithm = cipherNamed(`aes-${keyLen * 8}-ctr`);
      if (!algorithm) return 0;
      // OpenSSL keeps the key schedule; our copy is not needed past this.
      const k = copy(key, keyLen);
      const cipher = createCipheriv(algorithm, k, view(iv, 16));
      k.fill(0);
      return add(() => ({ kind: 'sequential', cipher }));
    },
    cbc_new(decrypt: number, key: number, keyLen: number, iv: number): number {
      const algorithm = cipherNamed(`aes-${keyLen * 8}-cbc`);
      if (!algorithm) return 0;
      const k = copy(key, keyLen);
      const made = (decrypt ? createDecipheriv : createCipheriv)(algorithm, k, view(iv, 16));
      k.fill(0);
      // Whole blocks in, whole blocks out: no padding of its own.
      made.setAutoPadding(false);
      return add(() => ({ kind: 'sequential', cipher: made }));
    },
    cipher_apply(handle: number, data: number, len: number): void {
      put(entry(handle, 'sequential').cipher.update(view(data, len)), data);
    },

    chacha20_new(key: number): number {
      return cipherNamed('chacha20') ? add((i) => ({ kind: 'chacha20', key: keep(i, key, 32) })) : 0;
    },
    chacha20_apply(handle: number, iv: number, data: number, len: number): void {
      put(createCipheriv('chacha20', entry(handle, 'chacha20').key, field(ivField, iv)).update(view(data, len)), data);
    },

    hmac_new(hash: number, key: number, keyLen: number): number {
      const algorithm = HMAC_HASHES[hash];
      if (algorithm === undefined) throw new Error(`wasshd_crypto: no HMAC hash ${hash}`);
      return hashes.has(algorithm) ? add((i) => ({ kind: 'hmac', algorithm, key: keep(i, key, keyLen) })) : 0;
    },
    hmac_sign(handle: number, seq: number, data: number, len: number, tag: number): void {
      const { algorithm, key } = entry(handle, 'hmac');
      seqField.writeUInt32BE(seq >>> 0);
      const digest = createHmac(algorithm, key).update(seqField).update(view(data, len)).digest();
      bytes().set(digest, tag >>> 0);
    },

    free(handle: number): void {
      const found = slots[handle - 1];
      if (!found) throw new Error(`wasshd_crypto: handle ${handle} freed twice`);
      if ('key' in found) found.key.fill(0);
      slots[handle - 1] = undefined;
      vacant.push(handle - 1);
    },
  };

  return {
    imports,
    bind(m) {
      memory = m;
    },
    liveHandles: () => slots.length - vacant.length,
  };
}
