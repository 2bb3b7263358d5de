/**
 * The host crypto provider through the built wasm module with the real `node:crypto` imports: the core runs
 * its known-answer tests (crypto::kat) over them when an instance is made, and uses them only if every one
 * passes. A host that computes anything else is refused and the core's own provider serves; a primitive the
 * host lacks is served by the core's own. The same check under Deno and Bun, whose `node:crypto` are other
 * implementations (Deno's its own, Bun's over BoringSSL, which has no raw ChaCha20).
 */

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { instantiateCore } from '../../ts/core/instance.js';
import { BUN, DENO, requirePrograms } from '../helpers/demo.js';
import { type Alteration, builtModule, katReport, type KatReport } from '../helpers/host-crypto.js';

const module = builtModule();

/**
 * Calls the known-answer tests make at start, per import: every vector goes through the host. The legacy
 * primitives' vectors (3DES-CBC, HMAC-MD5 and HMAC-RIPEMD-160) run when a setting first names a legacy algorithm.
 */
const KAT_CALLS = { gcm_seal: 2, gcm_open: 4, cipher_apply: 23, chacha20_apply: 8, hmac_sign: 32 };

/** The calls of a host without ChaCha20: none for it, every other vector through the host. */
function expectCallsWithoutChaCha20(calls: Record<string, number>): void {
  const { chacha20_apply: _, ...others } = KAT_CALLS;
  expect(calls).toMatchObject(others);
  expect(calls.chacha20_apply).toBeUndefined();
}

describe('the host provider over node:crypto', () => {
  it('passes every known-answer test through the wasm imports, is the default, and frees every handle', () => {
    const report = katReport(module);
    expect(report.provider).toBe('host');
    expect(report.refusal).toBeUndefined();
    expect(report.calls).toMatchObject(KAT_CALLS);
    const created = ['gcm_new', 'ctr_new', 'cbc_new', 'chacha20_new', 'hmac_new'].reduce((n, f) => n + (report.calls[f] ?? 0), 0);
    expect(report.calls.free).toBe(created);
    expect(report.liveHandles).toBe(0);
  });

  const faults: [fault: string, alteration: Alteration, vector: string][] = [
    [
      'ChaCha20 reading the IV as nonce, then counter',
      (imports, memory) => ({
        ...imports,
        chacha20_apply: (handle, iv, data, len) => {
          const m = memory();
          const words = m.slice(iv, iv + 16);
          m.set(words.subarray(8), iv);
          m.set(words.subarray(0, 8), iv + 8);
          return imports.chacha20_apply!(handle!, iv!, data!, len!);
        },
      }),
      'RFC 8439 A.1 #2',
    ],
    [
      'AES-GCM open reporting success on a forged tag',
      (imports) => ({ ...imports, gcm_open: (...args) => (imports.gcm_open!(...args), 1) }),
      'GCM test case 4 (AES-128)',
    ],
    ['AES-CTR writing one byte short', (imports) => ({ ...imports, cipher_apply: (h, data, len) => imports.cipher_apply!(h!, data!, len! - 1) }), 'SP 800-38A F.5.1 (AES-128)'],
    ['HMAC leaving out the sequence number', (imports) => ({ ...imports, hmac_sign: (h, _seq, ...rest) => imports.hmac_sign!(h!, 0, ...rest) }), 'RFC 4231 test case 1'],
  ];

  it.each(faults)('refuses a host with %s, naming the vector, and serves with its own', (_fault, alteration, vector) => {
    const report = katReport(module, alteration);
    expect(report.provider).toBe('wasm');
    expect(report.refusal).toBe(`[129] CryptoProvider: the host's crypto provider failed the known-answer test ${vector}`);
  });

  it('serves a primitive the host lacks with its own (Bun has no chacha20)', () => {
    const report = katReport(module, (imports) => ({ ...imports, chacha20_new: () => 0 }));
    expect(report.provider).toBe('host');
    expectCallsWithoutChaCha20(report.calls);
    expect(report.liveHandles).toBe(0);
  });

  it('a runtime without host primitives (workerd) gets the core own, and host is refused', () => {
    const core = instantiateCore(module, crypto.getRandomValues(new Uint8Array(32)));
    expect(core.get_config('CryptoProvider')).toBe('wasm');
    expect(() => core.set_config('CryptoProvider', 'host')).toThrow('[129] CryptoProvider: this host offers no crypto provider');
    expect(() => core.set_config('CryptoProvider', 'openssl')).toThrow('[129] CryptoProvider: must be wasm or host');
    core.free();
  });
});

describe.each([
  { runtime: 'deno', command: [DENO, 'run', '--sloppy-imports', '--allow-read', 'test/fixtures/host-crypto-kat.ts'], chacha20: true },
  { runtime: 'bun', command: [BUN, 'test/fixtures/host-crypto-kat.ts'], chacha20: false },
])('$runtime', ({ command, chacha20 }) => {
  it('its node:crypto passes the known-answer tests and is the default', () => {
    requirePrograms(command[0]!);
    const run = spawnSync(command[0]!, command.slice(1), { cwd: new URL('../..', import.meta.url).pathname, encoding: 'utf8', env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as KatReport;
    expect(report.provider).toBe('host');
    expect(report.liveHandles).toBe(0);
    if (chacha20) expect(report.calls).toMatchObject(KAT_CALLS);
    else expectCallsWithoutChaCha20(report.calls);
  });
});
