import { describe, expect, it } from 'vitest';
import { SourcePenalties, StartupLimit, sourceOf } from '../../ts/limits.js';

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
  it('refuses a source only once the penalty it owes reaches min, until it runs out', () => {
    const p = new SourcePenalties();
    p.penalise('192.0.2.1', 'authfail', 0);
    p.penalise('192.0.2.1', 'authfail', 0);
    expect(p.refuses('192.0.2.1', 0)).toBe(false); // 10 s owed, min is 15 s
    p.penalise('192.0.2.1', 'authfail', 0);
    expect(p.refuses('192.0.2.1', 0)).toBe(true);
    expect(p.refuses('192.0.2.1', 14_999)).toBe(true);
    expect(p.refuses('192.0.2.2', 0)).toBe(false);
    expect(p.refuses('192.0.2.1', 15_000)).toBe(false);
    expect(p.refusedSources(15_000)).toEqual([]);
  });

  it('caps what a source can owe at max and counts IPv4-mapped IPv6 addresses as their IPv4 source', () => {
    const p = new SourcePenalties();
    for (let i = 0; i < 100; i++) p.penalise('::ffff:198.51.100.7', 'crash', 0);
    expect(sourceOf('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(p.refuses('198.51.100.7', 599_999)).toBe(true);
    expect(p.refuses('198.51.100.7', 600_000)).toBe(false);
  });

  it('takes the OpenSSH syntax, exempts listed addresses and CIDR blocks, and can be turned off', () => {
    const p = new SourcePenalties();
    p.configure('authfail:1m noauth:2s min:30s max:1h max-sources:3');
    expect(p.describe()).toBe('crash:90s authfail:60s noauth:2s grace-exceeded:10s protocol:10s max:3600s min:30s max-sources:3');
    p.setExempt('10.0.0.0/8, 192.0.2.9');
    p.penalise('10.1.2.3', 'authfail', 0);
    p.penalise('192.0.2.9', 'authfail', 0);
    expect(p.refuses('10.1.2.3', 0)).toBe(false);
    expect(p.refuses('192.0.2.9', 0)).toBe(false);
    p.penalise('192.0.2.10', 'authfail', 0);
    expect(p.refuses('192.0.2.10', 0)).toBe(true);
    p.configure('no');
    expect(p.refuses('192.0.2.10', 0)).toBe(false);
    expect(p.describe()).toBe('no');
    for (const bad of ['authfail', 'authfail:5x', 'bogus:5s', 'max-sources:0']) expect(() => new SourcePenalties().configure(bad), bad).toThrow(/PerSourcePenalties/);
    expect(() => p.setExempt('10.0.0.0/33')).toThrow(/PerSourcePenaltyExemptList/);
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
});
