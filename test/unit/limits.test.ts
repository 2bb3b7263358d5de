import { describe, expect, it } from 'vitest';
import { SourcePenalties, StartupLimit, sourceOf } from '../../ts/limits.js';
import { SSHServer } from '../../ts/node/index.js';

/** OpenSSH 9.8's defaults, as its sshd_config(5) lists them (servconf.c fill_default_server_options). */
const OPENSSH_9_8 = 'crash:90s authfail:5s noauth:1s grace-exceeded:20s max:600s min:15s max-sources4:65536 max-sources6:65536';

describe('MaxStartups', () => {
  it('parses start:rate:full and a single number, and refuses nonsense', () => {
    expect(StartupLimit.parse('10:30:100').toString()).toBe('10:30:100');
    expect(StartupLimit.parse('50').toString()).toBe('50:100:50');
    for (const bad of ['', '10:30', '10:130:100', '100:30:10', 'a:b:c', '0', '-1']) expect(() => StartupLimit.parse(bad), bad).toThrow(/MaxStartups/);
  });

  it('never drops below start, always drops at full, and drops with a probability rising from rate to 100 % between', () => {
    const limit = StartupLimit.parse('10:30:100');
    const dropRate = (unauthenticated: number) => {
      let dropped = 0;
      for (let i = 0; i < 1000; i++) if (limit.drops(unauthenticated, () => i / 1000)) dropped++;
      return dropped / 1000;
    };
    expect(dropRate(0)).toBe(0);
    expect(dropRate(9)).toBe(0);
    expect(dropRate(10)).toBeCloseTo(0.3, 2);
    expect(dropRate(55)).toBeCloseTo(0.65, 2);
    expect(dropRate(99)).toBeGreaterThan(0.99);
    expect(dropRate(100)).toBe(1);
    expect(dropRate(5000)).toBe(1);
  });
});

describe('PerSourcePenalties', () => {
  it('defaults to OpenSSH 9.8, in its words, on the class and through config()', () => {
    expect(new SourcePenalties().describe()).toBe(OPENSSH_9_8);
    expect(new SSHServer().config('PerSourcePenalties')).toBe(OPENSSH_9_8);
  });

  it('refuses a source only once the penalty it owes is more than min, as OpenSSH, until it runs out', () => {
    const p = new SourcePenalties();
    for (let i = 0; i < 3; i++) p.penalise('192.0.2.1', 'authfail', 0);
    expect(p.refuses('192.0.2.1', 0)).toBe(false); // 15 s owed: min, not more
    p.penalise('192.0.2.1', 'authfail', 0);
    expect(p.refuses('192.0.2.1', 0)).toBe(true);
    expect(p.refuses('192.0.2.1', 19_999)).toBe(true);
    expect(p.refuses('192.0.2.2', 0)).toBe(false);
    expect(p.refuses('192.0.2.1', 20_000)).toBe(false);
    expect(p.refusedSources(20_000)).toEqual([]);
  });

  it('charges nothing for protocol unless configured, and its time once it is', () => {
    const p = new SourcePenalties();
    expect(p.charges('protocol')).toBe(false);
    for (let i = 0; i < 100; i++) p.penalise('192.0.2.1', 'protocol', 0);
    expect(p.refuses('192.0.2.1', 0)).toBe(false);
    p.configure('protocol:10s');
    expect(p.describe()).toBe(OPENSSH_9_8.replace('grace-exceeded:20s', 'grace-exceeded:20s protocol:10s'));
    p.penalise('192.0.2.1', 'protocol', 0);
    expect(p.refuses('192.0.2.1', 0)).toBe(false);
    p.penalise('192.0.2.1', 'protocol', 0);
    expect(p.refuses('192.0.2.1', 0)).toBe(true);
    p.configure('protocol:0s');
    expect(p.describe()).toBe(OPENSSH_9_8);
  });

  it('caps what a source can owe at max and counts IPv4-mapped IPv6 addresses as their IPv4 source', () => {
    const p = new SourcePenalties();
    for (let i = 0; i < 100; i++) p.penalise('::ffff:198.51.100.7', 'crash', 0);
    expect(sourceOf('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(p.refuses('198.51.100.7', 599_999)).toBe(true);
    expect(p.refuses('198.51.100.7', 600_000)).toBe(false);
  });

  it('takes the OpenSSH syntax, exempts listed addresses and CIDR ranges of either family, and can be turned off', () => {
    const p = new SourcePenalties();
    p.configure('authfail:1m noauth:2s min:30s max:1h max-sources:3');
    expect(p.describe()).toBe('crash:90s authfail:60s noauth:2s grace-exceeded:20s max:3600s min:30s max-sources4:3 max-sources6:3');
    p.configure('max-sources6:7');
    expect(p.describe()).toMatch(/ max-sources4:3 max-sources6:7$/);
    p.setExempt('10.0.0.0/8, 192.0.2.9,2001:db8::/32');
    expect(p.exemptList).toBe('10.0.0.0/8,192.0.2.9,2001:db8::/32');
    for (const source of ['10.1.2.3', '192.0.2.9', '2001:db8::5']) {
      p.penalise(source, 'authfail', 0);
      expect(p.refuses(source, 0), source).toBe(false);
    }
    p.penalise('192.0.2.10', 'authfail', 0);
    expect(p.refuses('192.0.2.10', 0)).toBe(true);
    p.configure('no');
    expect(p.refuses('192.0.2.10', 0)).toBe(false);
    expect(p.describe()).toBe('no');
    for (const bad of ['authfail', 'authfail:5x', 'bogus:5s', 'max-sources:0']) expect(() => new SourcePenalties().configure(bad), bad).toThrow(/PerSourcePenalties/);
    for (const bad of ['10.0.0.0/33', 'proxy.example']) expect(() => p.setExempt(bad), bad).toThrow(/PerSourcePenaltyExemptList/);
    expect(p.exemptList).toBe('10.0.0.0/8,192.0.2.9,2001:db8::/32');
  });

  it('keeps at most max-sources live entries: new sources beyond them go unrecorded until old ones expire', () => {
    const p = new SourcePenalties();
    p.configure('authfail:20s max-sources:2');
    p.penalise('192.0.2.1', 'authfail', 0);
    p.penalise('192.0.2.2', 'authfail', 0);
    p.penalise('192.0.2.3', 'authfail', 0);
    expect(p.refusedSources(0).sort()).toEqual(['192.0.2.1', '192.0.2.2']);
    p.penalise('192.0.2.3', 'authfail', 20_000);
    expect(p.refusedSources(20_000)).toEqual(['192.0.2.3']);
  });

  it('tracks IPv4 and IPv6 sources apart, each within its own max-sources', () => {
    const p = new SourcePenalties();
    p.configure('authfail:20s max-sources4:1 max-sources6:1');
    p.penalise('192.0.2.1', 'authfail', 0);
    p.penalise('2001:db8::1', 'authfail', 0);
    p.penalise('192.0.2.2', 'authfail', 0);
    p.penalise('2001:db8::2', 'authfail', 0);
    expect(p.refusedSources(0).sort()).toEqual(['192.0.2.1', '2001:db8::1']);
  });
});
