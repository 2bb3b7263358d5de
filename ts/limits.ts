/**
 * What an unauthenticated client may cost, enforced where connections are accepted: OpenSSH's
 * `MaxStartups` (random early drop), `PerSourceMaxStartups` and `PerSourcePenalties`, with the same setting
 * syntax. Pure bookkeeping: the caller passes the time and the randomness.
 */

import { ClientList } from './client-lists.js';
import { ErrorCode, SSHError } from './errors.js';

const NO_EXEMPTIONS = new ClientList('PerSourcePenaltyExemptList', '');

function invalid(name: string, value: string, expected: string): SSHError {
  return new SSHError(ErrorCode.InvalidArgument, `${name}=${value}: expected ${expected}`);
}

/** `MaxStartups`: `start:rate:full`, or one number (refuse everything beyond it). */
export class StartupLimit {
  constructor(
    /** Unauthenticated connections before any is dropped. */
    readonly start = 10,
    /** Percent of new connections dropped at `start`, rising linearly to 100 at `full`. */
    readonly rate = 30,
    /** Unauthenticated connections at which every new one is dropped. */
    readonly full = 100,
  ) {}

  /** Reads OpenSSH's syntax; throws `InvalidArgument` naming the value. */
  static parse(value: string): StartupLimit {
    const parts = value.trim().split(':').map(Number);
    const ok = parts.every((n) => Number.isInteger(n) && n >= 0);
    if (ok && parts.length === 1 && parts[0]! > 0) return new StartupLimit(parts[0], 100, parts[0]);
    const [start, rate, full] = parts as [number, number, number];
    if (!ok || parts.length !== 3 || start < 1 || rate > 100 || full < start) throw invalid('MaxStartups', value, 'start:rate:full, e.g. 10:30:100');
    return new StartupLimit(start, rate, full);
  }

  /** OpenSSH's syntax, `start:rate:full`. */
  toString(): string {
    return `${this.start}:${this.rate}:${this.full}`;
  }

  /** Whether to drop a new connection while `unauthenticated` others are still logging in. */
  drops(unauthenticated: number, random: () => number): boolean {
    if (unauthenticated >= this.full) return true;
    if (unauthenticated < this.start) return false;
    const percent = this.rate + ((100 - this.rate) * (unauthenticated - this.start)) / Math.max(1, this.full - this.start);
    return random() * 100 < percent;
  }
}

/**
 * Why a source is penalised: how its last connection ended. OpenSSH's `crash` is a connection whose input
 * trapped the wasm instance; `protocol` (a protocol violation before authentication) is wasshd's own and
 * off unless configured: OpenSSH charges a violation as `noauth`, or `authfail` once authentication was
 * attempted, and so does wasshd without it.
 */
export type PenaltyCause = 'authfail' | 'noauth' | 'grace-exceeded' | 'crash' | 'protocol';

/** OpenSSH 9.8's defaults (sshd_config(5), servconf.c), in its order; `protocol` 0 is off. */
const DEFAULT_DURATIONS: Readonly<Record<PenaltyCause, number>> = { crash: 90_000, authfail: 5000, noauth: 1000, 'grace-exceeded': 20_000, protocol: 0 };
const DEFAULT_MAX = 600_000;
const DEFAULT_MIN = 15_000;
const DEFAULT_MAX_SOURCES = 65_536;

const DURATION = /^(\d+)(s|m|h)?$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

function duration(key: string, value: string): number {
  const m = DURATION.exec(value);
  if (!m) throw invalid('PerSourcePenalties', `${key}:${value}`, 'a duration such as 30s, 5m or 1h');
  return Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS];
}

/** The source an address counts as: IPv4-mapped IPv6 addresses are their IPv4 address. */
export function sourceOf(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** An address family: IPv4 or IPv6. */
export type Family = 4 | 6;

function familyOf(source: string): Family {
  return source.includes(':') ? 6 : 4;
}

interface Penalty {
  expires: number;
  active: boolean;
}

/**
 * `PerSourcePenalties`: each connection that ends badly adds time to its source's penalty; once the time
 * owed is more than `min`, the source's new connections are refused until it has run out (as OpenSSH's
 * srclimit.c). IPv4 and IPv6 sources are tracked apart, each table bounded by `max-sources4`/`max-sources6`;
 * when one is full of live penalties new ones are not recorded (OpenSSH's permissive overflow).
 */
export class SourcePenalties {
  /** False: nobody is penalised (`PerSourcePenalties=no`). */
  enabled = true;
  /** Seconds of penalty each cause adds to its source. */
  readonly durations: Record<PenaltyCause, number> = { ...DEFAULT_DURATIONS };
  /** Seconds a source's penalty may accumulate to. */
  max = DEFAULT_MAX;
  /** Seconds of penalty a source must owe before it is refused. */
  min = DEFAULT_MIN;
  /** How many sources of each family are tracked at most (OpenSSH's `max-sources4`/`max-sources6`). */
  readonly maxSources: Record<Family, number> = { 4: DEFAULT_MAX_SOURCES, 6: DEFAULT_MAX_SOURCES };
  private exempt = NO_EXEMPTIONS;
  private readonly tables: Record<Family, Map<string, Penalty>> = { 4: new Map(), 6: new Map() };

  /** OpenSSH's defaults, no exemptions, nobody penalised (`SSHServer.reset`). */
  reset(): void {
    this.enabled = true;
    Object.assign(this.durations, DEFAULT_DURATIONS);
    this.max = DEFAULT_MAX;
    this.min = DEFAULT_MIN;
    this.maxSources[4] = this.maxSources[6] = DEFAULT_MAX_SOURCES;
    this.exempt = NO_EXEMPTIONS;
    this.tables[4].clear();
    this.tables[6].clear();
  }

  /** Parses OpenSSH's syntax: `yes`, `no`, or `key:value` words (`authfail:5s noauth:1s max:10m ...`). */
  configure(value: string): void {
    const words = value.trim().split(/\s+/).filter(Boolean);
    if (words.length === 1 && /^(yes|no|true|false)$/i.test(words[0]!)) {
      this.enabled = /^(yes|true)$/i.test(words[0]!);
      return;
    }
    for (const word of words) {
      const [key, v] = word.split(':', 2) as [string, string | undefined];
      if (v === undefined) throw invalid('PerSourcePenalties', word, 'key:value');
      if (key in this.durations) this.durations[key as PenaltyCause] = duration(key, v);
      else if (key === 'max') this.max = duration(key, v);
      else if (key === 'min') this.min = duration(key, v);
      else if (key === 'max-sources' || key === 'max-sources4' || key === 'max-sources6') {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw invalid('PerSourcePenalties', word, 'a positive number of sources');
        // `max-sources` (wasshd's) sets both.
        if (key !== 'max-sources6') this.maxSources[4] = n;
        if (key !== 'max-sources4') this.maxSources[6] = n;
      } else throw invalid('PerSourcePenalties', word, 'crash, authfail, noauth, grace-exceeded, protocol, max, min, max-sources4, max-sources6 or max-sources');
    }
    this.enabled = true;
  }

  /** The settings in OpenSSH's words and order (`protocol` only when it is on), or `no`. */
  describe(): string {
    if (!this.enabled) return 'no';
    const s = (ms: number) => `${ms / 1000}s`;
    const causes = Object.entries(this.durations)
      .filter(([k, ms]) => k !== 'protocol' || ms > 0)
      .map(([k, ms]) => `${k}:${s(ms)}`);
    return [...causes, `max:${s(this.max)}`, `min:${s(this.min)}`, `max-sources4:${this.maxSources[4]}`, `max-sources6:${this.maxSources[6]}`].join(' ');
  }

  /** Whether `cause` is charged at all: `protocol` is off until configured. */
  charges(cause: PenaltyCause): boolean {
    return this.durations[cause] > 0;
  }

  /** `PerSourcePenaltyExemptList`: comma-separated addresses and CIDR ranges, as AllowedClients takes them. */
  setExempt(value: string): void {
    this.exempt = new ClientList('PerSourcePenaltyExemptList', value);
  }

  /** `PerSourcePenaltyExemptList`: addresses and ranges never penalised, as set. */
  get exemptList(): string {
    return this.exempt.text;
  }

  private exempted(source: string): boolean {
    return this.exempt.matches(source);
  }

  /** Whether a new connection from `address` is refused now. */
  refuses(address: string, now: number): boolean {
    if (!this.enabled) return false;
    const source = sourceOf(address);
    const table = this.tables[familyOf(source)];
    const p = table.get(source);
    if (!p) return false;
    if (p.expires <= now) {
      table.delete(source);
      return false;
    }
    return p.active;
  }

  /** Records a connection from `address` that ended for `cause`. */
  penalise(address: string, cause: PenaltyCause, now: number): void {
    const source = sourceOf(address);
    if (!this.enabled || !this.charges(cause) || this.exempted(source)) return;
    const family = familyOf(source);
    const table = this.tables[family];
    let p = table.get(source);
    if (!p || p.expires <= now) {
      if (!p && table.size >= this.maxSources[family]) this.sweep(table, now);
      if (!p && table.size >= this.maxSources[family]) return;
      p = { expires: now, active: false };
      table.set(source, p);
    }
    p.expires = Math.min(p.expires + this.durations[cause], now + this.max);
    if (p.expires - now > this.min) p.active = true;
  }

  /** Sources currently refused (for diagnostics and tests). */
  refusedSources(now: number): string[] {
    return [...this.tables[4], ...this.tables[6]].filter(([, p]) => p.active && p.expires > now).map(([s]) => s);
  }

  private sweep(table: Map<string, Penalty>, now: number): void {
    for (const [source, p] of table) if (p.expires <= now) table.delete(source);
  }
}
