/**
 * Compression with real clients: OpenSSH's `-C` (zlib@openssh.com, or plain zlib where the server is
 * configured for it) and the ssh2 package, byte-exact through many key re-exchanges. OpenSSH's own
 * `-v` accounting shows what went over the wire.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256hex, ssh, startDemo, testData, type Demo } from '../helpers/demo.js';
import { connect, exec } from '../helpers/ssh2.js';

const USER = 'carol';
const PASSWORD = 'open sesame';

/** Log-like text: deflate shrinks it many times over. */
function text(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `${String(i).padStart(8, '0')} channel ${i % 7} window adjust ${(i * 7919) % 65536} ok\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

interface Compressed {
  algorithm: string;
  outgoing?: { raw: number; compressed: number };
  incoming?: { raw: number; compressed: number };
}

/** What OpenSSH's `-v` says about compression: the negotiated algorithm and its byte counts at exit. */
function compressionReport(stderr: string): Compressed {
  const algorithm = /client->server cipher: \S+ MAC: \S+ compression: (\S+)/.exec(stderr)?.[1] ?? '?';
  const counts = (direction: string) => {
    const m = new RegExp(`compress ${direction}: raw data (\\d+), compressed (\\d+)`).exec(stderr);
    return m ? { raw: Number(m[1]), compressed: Number(m[2]) } : undefined;
  };
  return { algorithm, outgoing: counts('outgoing'), incoming: counts('incoming') };
}

const rekeysLogged = (log: string) => (log.match(/keys re-exchanged/g) ?? []).length;

describe('default configuration (zlib@openssh.com offered)', () => {
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--verbose']);
  });
  afterAll(() => demo?.stop());

  const cat = (input: Buffer, options: string[]) =>
    ssh(demo.port, { user: USER, password: PASSWORD, command: 'cat', input, options: [...options, '-v'] });

  it('OpenSSH -C: text shrinks over fourfold both ways and comes back byte-exact', async () => {
    const input = text(8 * 1024 * 1024);
    const r = await cat(input, ['-C']);
    expect(r.code).toBe(0);
    expect(sha256hex(r.stdout)).toBe(sha256hex(input));
    const report = compressionReport(r.stderr);
    expect(report.algorithm).toBe('zlib@openssh.com');
    expect(report.outgoing!.raw).toBeGreaterThan(input.length);
    expect(report.outgoing!.compressed * 4).toBeLessThan(report.outgoing!.raw);
    expect(report.incoming!.raw).toBeGreaterThan(input.length);
    expect(report.incoming!.compressed * 4).toBeLessThan(report.incoming!.raw);
  });

  // Every re-exchange restarts both streams (OpenSSH's counts above are per stream, hence no rekeys there).
  it('OpenSSH -C: text and random data survive 100 rekeys', async () => {
    const input = Buffer.concat([text(2 * 1024 * 1024), testData(3 * 1024 * 1024, 11)]);
    const before = rekeysLogged(demo.stderr());
    const r = await cat(input, ['-C', '-o', 'RekeyLimit=256K']);
    expect(r.code).toBe(0);
    expect(sha256hex(r.stdout)).toBe(sha256hex(input));
    expect(compressionReport(r.stderr).algorithm).toBe('zlib@openssh.com');
    expect(rekeysLogged(demo.stderr()) - before).toBeGreaterThanOrEqual(100);
  });

  it('OpenSSH without -C negotiates none', async () => {
    const r = await cat(Buffer.from('plain\n'), []);
    expect(r.stdout.toString()).toBe('plain\n');
    const report = compressionReport(r.stderr);
    expect(report.algorithm).toBe('none');
    expect(report.outgoing).toBeUndefined();
  });

  it('ssh2 with zlib@openssh.com moves 4 MiB byte-exact', async () => {
    const c = await connect(demo.port, { username: USER, password: PASSWORD, algorithms: { compress: ['zlib@openssh.com'] } });
    try {
      const input = Buffer.concat([text(2 * 1024 * 1024), testData(2 * 1024 * 1024, 5)]);
      const r = await exec(c, 'cat', input);
      expect(r.code).toBe(0);
      expect(sha256hex(r.stdout)).toBe(sha256hex(input));
    } finally {
      c.end();
    }
  });
});

describe('SSHCompressionAlgorithms=zlib (legacy, off by default)', () => {
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--config', 'SSHCompressionAlgorithms=zlib']);
  });
  afterAll(() => demo?.stop());

  it('OpenSSH -C gets plain zlib, byte-exact through rekeys', async () => {
    const input = Buffer.concat([text(4 * 1024 * 1024), testData(1024 * 1024, 3)]);
    const r = await ssh(demo.port, { user: USER, password: PASSWORD, command: 'cat', input, options: ['-C', '-v', '-o', 'RekeyLimit=64K'] });
    expect(r.code).toBe(0);
    expect(sha256hex(r.stdout)).toBe(sha256hex(input));
    expect(compressionReport(r.stderr).algorithm).toBe('zlib');
  });

  it('ssh2 with zlib logs in and moves data', async () => {
    const c = await connect(demo.port, { username: USER, password: PASSWORD, algorithms: { compress: ['zlib'] } });
    try {
      const input = text(1024 * 1024);
      const r = await exec(c, 'cat', input);
      expect(sha256hex(r.stdout)).toBe(sha256hex(input));
    } finally {
      c.end();
    }
  });

  // OpenSSH always lists every method it has (-C only reorders them), so ssh2 plays the client without zlib.
  it('a client without zlib is refused at key exchange', async () => {
    await expect(connect(demo.port, { username: USER, password: PASSWORD, algorithms: { compress: ['none'] } })).rejects.toThrow(
      /compression/i,
    );
  });
});
