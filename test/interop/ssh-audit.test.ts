/**
 * ssh-audit (PyPI, pinned in scripts/setup.sh) against the demo server with its default settings: no
 * failures, no CVEs, and warnings only where this file says why they are accepted.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startDemo, type Demo } from '../helpers/demo.js';

const SSH_AUDIT = join(new URL('../..', import.meta.url).pathname, '.tools/ssh-audit/bin/ssh-audit');
/** ssh-audit's exit codes (ssh_audit/exitcodes.py): warnings, not failures, are expected. */
const EXIT_GOOD = 0;
const EXIT_WARNING = 2;

/** Every warning accepted on our defaults, by algorithm, with ssh-audit's exact text and why it is kept. */
const ACCEPTED_WARNINGS: Record<string, { warn: string[]; reason: string }> = {
  'curve25519-sha256': {
    warn: ['does not provide protection against post-quantum attacks'],
    reason: 'offered after the post-quantum hybrids, for clients that have none (OpenSSH before 8.5, most libraries)',
  },
  'curve25519-sha256@libssh.org': {
    warn: ['does not provide protection against post-quantum attacks'],
    reason: 'the pre-RFC 8731 name of the same kex, for clients older than OpenSSH 7.4',
  },
  'diffie-hellman-group-exchange-sha256': {
    warn: ['2048-bit modulus only provides 112-bits of symmetric strength', 'does not provide protection against post-quantum attacks'],
    reason: 'RFC 4419 lets the client choose the size: 2048 bits only for a client that asks for it, 4096 or 8192 otherwise',
  },
  'diffie-hellman-group14-sha256': {
    warn: ['2048-bit modulus only provides 112-bits of symmetric strength', 'does not provide protection against post-quantum attacks'],
    reason: 'the one finite-field method RFC 8268 says every implementation should offer, for clients without elliptic curves',
  },
  'diffie-hellman-group16-sha512': {
    warn: ['does not provide protection against post-quantum attacks'],
    reason: 'after the hybrids and curve25519, for clients without elliptic curves',
  },
  'diffie-hellman-group18-sha512': {
    warn: ['does not provide protection against post-quantum attacks'],
    reason: 'after the hybrids and curve25519, for clients without elliptic curves',
  },
  'hmac-sha2-256': {
    warn: ['using encrypt-and-MAC mode'],
    reason: 'compatibility: clients without the -etm@openssh.com MACs (RFC 6668 only) need it with aes*-ctr',
  },
  'hmac-sha2-512': {
    warn: ['using encrypt-and-MAC mode'],
    reason: 'compatibility: clients without the -etm@openssh.com MACs (RFC 6668 only) need it with aes*-ctr',
  },
};

/** Additional notes accepted, with why. */
const ACCEPTED_NOTES: { pattern: RegExp; reason: string }[] = [
  {
    // Says strict kex is supported and only peers without it stay exposed to Terrapin; nothing to change here.
    pattern: /^Be aware that, while this target properly supports the strict key exchange method/,
    reason: 'Terrapin: strict kex is on by default; the note concerns unpatched clients',
  },
];

interface Finding {
  algorithm: string;
  notes: { fail?: string[]; warn?: string[]; info?: string[] };
}
interface Report {
  banner: { raw: string };
  cves: unknown[];
  additional_notes: string[];
  [section: string]: unknown;
}

let demo: Demo;
let exitCode: number | null;
let report: Report;
let findings: Finding[];

beforeAll(async () => {
  if (!existsSync(SSH_AUDIT)) throw new Error(`ssh-audit is missing at ${SSH_AUDIT}: run bash scripts/setup.sh`);
  // startDemo exempts 127.0.0.1 from PerSourcePenalties for other suites; the empty list restores the default,
  // which is what ssh-audit's connection-rate (DHEat) probe should meet.
  demo = await startDemo(['--config', 'PerSourcePenaltyExemptList=']);
  const r = await run(SSH_AUDIT, ['-j', '-4', '-p', String(demo.port), '127.0.0.1'], undefined, 60_000);
  exitCode = r.code;
  try {
    report = JSON.parse(r.stdout.toString()) as Report;
  } catch {
    throw new Error(`ssh-audit printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  // kex, key, enc, mac (and gex if it ever appears): the sections that list algorithms with notes.
  findings = Object.values(report).flatMap((v) => (Array.isArray(v) ? v.filter((f): f is Finding => typeof f?.algorithm === 'string' && typeof f?.notes === 'object') : []));
}, 90_000);
afterAll(() => demo?.stop());

describe('ssh-audit 3.9.0 against the default configuration', () => {
  it('completes the audit of our server', () => {
    expect(report.banner.raw).toMatch(/^SSH-2\.0-wasshd_/);
    expect(findings.length).toBeGreaterThan(0);
    expect([EXIT_GOOD, EXIT_WARNING]).toContain(exitCode);
  });

  it('reports no failures', () => {
    expect(findings.filter((f) => f.notes.fail?.length).map((f) => ({ algorithm: f.algorithm, fail: f.notes.fail }))).toEqual([]);
  });

  it('sees the post-quantum hybrids offered first, without warnings', () => {
    const kex = (report.kex as Finding[]).map((f) => f.algorithm);
    expect(kex[0]).toBe('mlkem768x25519-sha256');
    expect((report.kex as Finding[])[0]!.notes.warn ?? []).toEqual([]);
  });

  it('reports no CVEs', () => {
    expect(report.cves).toEqual([]);
  });

  it('warns only about the accepted algorithms, for the accepted reasons', () => {
    const warned = Object.fromEntries(findings.filter((f) => f.notes.warn?.length).map((f) => [f.algorithm, [...f.notes.warn!].sort()]));
    const accepted = Object.fromEntries(Object.entries(ACCEPTED_WARNINGS).filter(([a]) => a in warned).map(([a, w]) => [a, [...w.warn].sort()]));
    expect(warned).toEqual(accepted);
  });

  it('adds no notes beyond the accepted ones (none about DHEat connection throttling)', () => {
    expect(report.additional_notes.filter((n) => !ACCEPTED_NOTES.some((a) => a.pattern.test(n)))).toEqual([]);
  });
});
