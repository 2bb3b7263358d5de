/**
 * Whether a new connection is taken, before anything of it reaches the core or a handler: MaxConnections,
 * PerSourcePenalties, PerSourceMaxStartups and MaxStartups, in that order, over the connections still
 * logging in, counted here in all and by source. The limits' own rules are in limits.ts. Then the
 * reference's AllowedClients and BlockedClients (client-lists.ts), which decide how the `connectionRequest`
 * event starts: refused, for a handler to overrule.
 */

import { ClientList } from './client-lists.js';
import type { ConnectionState } from './connection.js';
import { StartupLimit, sourceOf, type SourcePenalties } from './limits.js';

/** The reference's SSHVersionPattern default: SSH 1.99 and 2.0 clients. */
const DEFAULT_VERSION_PATTERN = '*SSH-1.99-*,*SSH-2.0-*';

export class Admission {
  maxConnections = 1000;
  /** `SSHVersionPattern` as set, and as one expression (`*` any run of characters, `?` one). */
  private versionPatternText = DEFAULT_VERSION_PATTERN;
  private versionPattern = globs(DEFAULT_VERSION_PATTERN);
  /** `AllowedClients`: empty or `*` (the default) lets every address through. */
  allowedClients = new ClientList('AllowedClients', '*');
  blockedClients = new ClientList('BlockedClients', '');
  maxStartups = new StartupLimit();
  perSourceMaxStartups = Infinity;
  /**
   * Connections still logging in, those still being admitted included (MaxStartups), in all and by source
   * (PerSourceMaxStartups).
   */
  private startups = 0;
  private readonly startupsBySource = new Map<string, number>();
  /** Connections past admission whose `connectionRequest` handler or core open is pending: they hold a slot. */
  private admitting = 0;

  constructor(
    private readonly penalties: SourcePenalties,
    /** Uniform in [0, 1), for MaxStartups' random early drop. */
    private readonly random: () => number,
  ) {}

  /** Why a new connection from `address` is refused while `served` connections are open, if it is. */
  refusal(address: string, served: number, now: number): string | undefined {
    if (served + this.admitting >= this.maxConnections) return `MaxConnections (${this.maxConnections}) reached`;
    if (this.penalties.refuses(address, now)) return 'source penalised (PerSourcePenalties)';
    if ((this.startupsBySource.get(sourceOf(address)) ?? 0) >= this.perSourceMaxStartups) return `PerSourceMaxStartups (${this.perSourceMaxStartups}) reached`;
    if (this.maxStartups.drops(this.startups, this.random)) return `MaxStartups ${this.maxStartups} with ${this.startups} unauthenticated`;
    return undefined;
  }

  /** The list that keeps `address` out, if one does; read at each accept, so a change applies to the next. */
  listedOut(address: string): 'AllowedClients' | 'BlockedClients' | undefined {
    if (!this.allowedClients.empty && !this.allowedClients.matches(address)) return 'AllowedClients';
    if (this.blockedClients.matches(address)) return 'BlockedClients';
    return undefined;
  }

  /** `SSHVersionPattern`: comma-separated patterns, one of which a client's version line must match. */
  get sshVersionPattern(): string {
    return this.versionPatternText;
  }

  set sshVersionPattern(value: string) {
    this.versionPattern = globs(value);
    this.versionPatternText = value;
  }

  /** Whether a client whose version line is `version` may go on. */
  acceptsVersion(version: string): boolean {
    return this.versionPattern.test(version);
  }

  /** A connection from `address` passed: it holds a slot, and counts as logging in, while it is admitted. */
  begin(address: string): void {
    this.admitting++;
    this.countStartup(address, 1);
  }

  /** Its `connectionRequest` handler and core open are over: the connection holds the slot now, or nobody. */
  settled(): void {
    this.admitting--;
  }

  /** A connection from `address` that was refused no longer counts as logging in. */
  release(address: string): void {
    this.countStartup(address, -1);
  }

  /** The connection authenticated or ended: it no longer counts toward MaxStartups. */
  loggedIn(conn: ConnectionState): void {
    if (!conn.loggingIn) return;
    conn.loggingIn = false;
    this.release(conn.remoteHost);
  }

  private countStartup(address: string, delta: 1 | -1): void {
    const source = sourceOf(address);
    const n = (this.startupsBySource.get(source) ?? 0) + delta;
    if (n > 0) this.startupsBySource.set(source, n);
    else this.startupsBySource.delete(source);
    this.startups += delta;
  }
}

/** Comma-separated patterns as one anchored expression: `*` is any run of characters, `?` one, the rest literal. */
function globs(patterns: string): RegExp {
  const alternatives = patterns
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.'));
  // No pattern lets nobody in.
  return new RegExp(alternatives.length > 0 ? `^(?:${alternatives.join('|')})$` : '$^', 's');
}
