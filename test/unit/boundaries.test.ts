/**
 * The two boundaries over the core, the wasm-bindgen module and the WIT component (through the adapter that
 * gives it the module's methods), fail alike: the same reference codes and messages for the same mistakes,
 * the same answers where there is nothing to report, and a freed core takes no more calls. Key files reach
 * both through the keys module.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { componentRuntime } from '../../ts/component/node.js';
import { nodeRuntime } from '../../ts/node/index.js';
import type { Runtime } from '../../ts/server.js';
import { Status } from '../../ts/core/binding.js';
import { withKeyFiles } from '../../ts/core/key-files.js';
import { SSHError } from '../../ts/errors.js';

const seed = () => crypto.getRandomValues(new Uint8Array(64));

/** What a call threw, as the host reads it (an SSHError of the keys module with its code in brackets, as the cores write it). */
function thrown(call: () => unknown): string {
  try {
    call();
  } catch (e) {
    return e instanceof SSHError ? `[${e.code}] ${e.message}` : (e as Error).message;
  }
  return 'nothing thrown';
}

/** A key file read by the keys module, in the canonical form both boundaries take. */
function hostKey(runtime: Runtime, file: string, passphrase = ''): Uint8Array {
  return withKeyFiles(runtime.keyFiles, (keys) => keys.host_key(new TextEncoder().encode(file), passphrase));
}

/** A new ed25519 key from the keys module, in the canonical form. */
function newKey(runtime: Runtime): Uint8Array {
  return hostKey(runtime, withKeyFiles(runtime.keyFiles, (keys) => keys.generate('ed25519', 0, 'k')));
}

/** A canonical key of `type` with no fields: truncated for a type the cores know. */
function fieldless(type: string): Uint8Array {
  return new Uint8Array([0, 0, 0, type.length, ...new TextEncoder().encode(type)]);
}

describe.each([
  { boundary: 'wasm-bindgen', runtime: nodeRuntime },
  { boundary: 'component', runtime: componentRuntime },
])('$boundary', ({ runtime }: { runtime: Runtime }) => {
  it('reports mistakes with the reference codes', () => {
    expect(thrown(() => runtime.createCore(new Uint8Array(31)))).toBe('[129] the seed must be at least 32 random bytes');
    const core = runtime.createCore(seed());
    expect(thrown(() => core.set_config('MaxAuthAttempts', 'many'))).toBe('[129] MaxAuthAttempts: not a number: many');
    expect(thrown(() => core.add_host_key(fieldless('ssh-ed25519')))).toBe('[1301] host key: malformed key: truncated or malformed key data');
    expect(thrown(() => core.add_host_key(fieldless('ssh-xmss@openssh.com')))).toBe('[1303] host key: unsupported: ssh-xmss@openssh.com keys');
    // The key files, read by the keys module whichever boundary takes the key.
    const damaged = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----';
    expect(thrown(() => hostKey(runtime, damaged))).toBe('[1301] host key: malformed key: truncated or malformed key data');
    expect(thrown(() => hostKey(runtime, 'not a key'))).toBe('[1303] host key: unsupported: a key file without PEM armour (-----BEGIN ...)');
    const encrypted = readFileSync(new URL('../fixtures/keys/ecdsa256-enc', import.meta.url), 'utf8');
    expect(thrown(() => hostKey(runtime, encrypted))).toBe('[1302] host key: the key file is passphrase-protected: give its passphrase');
    expect(thrown(() => hostKey(runtime, encrypted, 'wrong'))).toBe('[1302] host key: wrong passphrase for the key file');
    expect(thrown(() => core.host_key_fingerprints('sha1'))).toBe('[129] unknown fingerprint hash sha1: sha256 or md5');
    expect(thrown(() => core.open(0))).toBe('[1301] no host key: add one before accepting connections');
    expect(thrown(() => core.reply_auth_reject(1, false, 'password,telepathy'))).toBe('[129] unknown authentication method in password,telepathy');
    expect(thrown(() => core.send_data(7, 0, 0, new Uint8Array(1), 0))).toBe('[126] invalid connection id');
  });

  it('answers plainly where there is nothing to report', () => {
    const core = runtime.createCore(seed());
    expect(core.get_config('NoSuchSetting')).toBeUndefined();
    expect(core.set_config('NoSuchSetting', '1')).toBe(false);
    expect(core.next_deadline(7)).toBe(-1);
    expect(core.take_output(7)).toEqual(new Uint8Array(0));
    expect(core.drain_events()).toEqual(new Uint8Array(0));
    expect(core.host_public_keys()).toEqual([]);
    core.add_host_key(newKey(runtime));
    expect(core.host_public_keys()).toHaveLength(1);
    expect(core.open(0)).toBe(1);
    expect(core.next_deadline(1)).toBe(120_000);
  });

  it('says what a call left: output, events, a decision waited for, and the budget of a call', () => {
    const core = runtime.createCore(seed());
    core.add_host_key(newKey(runtime));
    expect(core.call_output_budget()).toBe(256 * 1024);
    const conn = core.open(0);
    // The version line and KEXINIT are queued for the client.
    expect(core.status(conn) & Status.Output).toBe(Status.Output);
    const output = core.take_output(conn);
    expect(new TextDecoder().decode(output.subarray(0, 8))).toBe('SSH-2.0-');
    core.input(conn, new TextEncoder().encode('SSH-2.0-status_test\r\n'), 1);
    expect(core.drain_events().length).toBeGreaterThan(0);
    // A client asking for a service leaves input waiting for the host's answer. Before that, with
    // nothing left to take, the wasm-bindgen core says so; the WIT adapter cannot ask without taking.
    const status = core.status(conn);
    if (runtime === nodeRuntime) expect(status & (Status.Output | Status.Events)).toBe(0);
    expect(status & (Status.DecisionPending | Status.InputPending)).toBe(0);
  });

  it('takes no call on a freed core', () => {
    const core = runtime.createCore(seed());
    core.free();
    expect(() => core.connection_count()).toThrow();
  });
});
