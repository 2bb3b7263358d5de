/**
 * Settings: the constructor's options, and `config("Name=Value")` by the reference's names: how a setting
 * string reads, which names the host holds (every other goes to the core), and the checks host values pass.
 */

import type { AuthorizedKeys } from './authorized-keys.js';
import { ErrorCode, SSHError } from './errors.js';
import type { AuthMethodName, KeyboardInteractivePrompt } from './events.js';

/**
 * A private key file's text, or the text with the passphrase that opens it and its OpenSSH host certificate
 * (`ssh-keygen -s CA -h`'s `-cert.pub` line).
 */
export type HostKeyFile =
  | string
  | {
      /** The private key file's text. */
      key: string;
      /** Opens an encrypted key. */
      passphrase?: string;
      /** The key's OpenSSH host certificate line. */
      certificate?: string;
    };

/**
 * The constructor's typed options. Each has a reference setting of the same meaning, which `config("Name=Value")`
 * sets as well; the setting's name is given with each.
 */
export interface SSHServerOptions {
  /**
   * Private key files (text) to serve as host keys (the reference's SSHCert), with the passphrase of an
   * encrypted one; see `SSHServer.addHostKey` for the formats.
   */
  hostKeys?: HostKeyFile[];
  /** Address to listen on (LocalHost); default 127.0.0.1. */
  localHost?: string;
  /** Port to listen on (LocalPort); 0 picks a free port. Default 22. */
  localPort?: number;
  /** Pending-connection queue length (ConnectionBacklog). */
  connectionBacklog?: number;
  /** Methods offered to clients (DefaultAuthMethods). Default password, publickey, keyboard-interactive. */
  authMethods?: AuthMethodName[];
  /**
   * OpenSSH's AuthenticationMethods: lists of methods that must all pass, in order, for a login to succeed
   * (passing any one list is enough), e.g. `[['publickey', 'password'], ['publickey', 'keyboard-interactive']]`.
   * Default `'any'`: one method the handler accepts. The core enforces the order; the handler decides each step.
   */
  authenticationMethods?: AuthMethodName[][] | 'any';
  /** Seconds without channel traffic before a client is disconnected; 0 = never (DefaultIdleTimeout). */
  defaultIdleTimeout?: number;
  /** Seconds a client has to authenticate (DefaultTimeout, OpenSSH's LoginGraceTime). Default 120. */
  defaultTimeout?: number;
  /** Instruction text for keyboard-interactive (KeyboardInteractiveMessage). */
  keyboardInteractiveMessage?: string;
  /** Prompts sent when a client starts keyboard-interactive and no handler chose others. */
  keyboardInteractivePrompts?: KeyboardInteractivePrompt[];
  /** Allowed ciphers, most preferred first (SSHEncryptionAlgorithms). */
  encryptionAlgorithms?: string[];
  /** Allowed compression algorithms (SSHCompressionAlgorithms). */
  compressionAlgorithms?: string[];
  /**
   * Where the packet ciphers and MACs run (CryptoProvider): `host`, the runtime's `node:crypto`, the default on
   * Node, Deno and Bun; `wasm`, the core's own, the only one elsewhere.
   */
  cryptoProvider?: 'wasm' | 'host';
  /**
   * Least time in milliseconds from a refused authentication attempt to its answer, plus up to as much again
   * by user name (AuthFailureDelay); 0 turns it off. Default 5, as OpenSSH.
   */
  authFailureDelay?: number;
  /**
   * Client addresses let in (AllowedClients; default any): IPv4 and IPv6 addresses, CIDR ranges, or IPv4
   * wildcards such as `10.1.*`.
   */
  allowedClients?: string[];
  /** Client addresses kept out (BlockedClients), in the syntax of `allowedClients`. */
  blockedClients?: string[];
  /** Nagle's algorithm off on accepted connections (TcpNoDelay). Default true. */
  tcpNoDelay?: boolean;
  /** Idle milliseconds before TCP keep-alive probes start on accepted connections (KeepAliveTime); 0, the default, is off. */
  keepAliveTime?: number;
  /**
   * The listening socket's family (UseIPv6): 0 IPv4 only, 1 IPv6 only, 2 both (IPv4 clients as `::ffff:a.b.c.d`).
   * With a wildcard `localHost` (`0.0.0.0` or `::`) it picks the wildcard; a specific address must agree.
   * Default: as `localHost` is written.
   */
  useIPv6?: 0 | 1 | 2;
  /**
   * authorized_keys for publickey logins (`AuthorizedKeys.parse`): one file for every user, or a lookup by user
   * name. A key a line allows (its `from=` and `expiry-time=` passed) is accepted unless a `userAuthRequest`
   * handler refuses it (the handler sees the line as `authorizedKey`), and the line's options then hold on
   * the connection, enforced by the server. Keys on no line still reach the handlers as before.
   */
  authorizedKeys?: AuthorizedKeys | ((user: string) => AuthorizedKeys | undefined | Promise<AuthorizedKeys | undefined>);
  /**
   * CA keys trusted to sign user certificates for any user (OpenSSH's TrustedUserCAKeys), as a file of key
   * lines (`AuthorizedKeys.parse`; a line's `principals=`, `from=` and other options apply to the
   * certificates it signs). A certificate must name the user among its principals unless the line has
   * `principals=`. The user's `cert-authority` lines in `authorizedKeys` are CAs for that user too. The setting
   * `TrustedUserCAKeys` takes the file's text (and replaces the list; empty: none).
   */
  trustedUserCAKeys?: AuthorizedKeys;
  /** Further settings by the reference's names, as `config()` takes them. */
  config?: Record<string, string | number | boolean>;
}

/** The options that are settings, as `config()` takes them, in the order they are applied. */
export function optionSettings(options: SSHServerOptions): string[] {
  const settings: string[] = [];
  if (options.authMethods) settings.push(`DefaultAuthMethods=${options.authMethods.join(',')}`);
  if (options.authenticationMethods) {
    const chains = options.authenticationMethods;
    settings.push(`AuthenticationMethods=${chains === 'any' ? 'any' : chains.map((c) => c.join(',')).join(' ')}`);
  }
  if (options.defaultIdleTimeout !== undefined) settings.push(`DefaultIdleTimeout=${options.defaultIdleTimeout}`);
  if (options.defaultTimeout !== undefined) settings.push(`DefaultTimeout=${options.defaultTimeout}`);
  if (options.encryptionAlgorithms) settings.push(`SSHEncryptionAlgorithms=${options.encryptionAlgorithms.join(',')}`);
  if (options.compressionAlgorithms) settings.push(`SSHCompressionAlgorithms=${options.compressionAlgorithms.join(',')}`);
  if (options.cryptoProvider) settings.push(`CryptoProvider=${options.cryptoProvider}`);
  if (options.authFailureDelay !== undefined) settings.push(`AuthFailureDelay=${options.authFailureDelay}`);
  if (options.allowedClients) settings.push(`AllowedClients=${options.allowedClients.join(',')}`);
  if (options.blockedClients) settings.push(`BlockedClients=${options.blockedClients.join(',')}`);
  if (options.tcpNoDelay !== undefined) settings.push(`TcpNoDelay=${options.tcpNoDelay}`);
  if (options.keepAliveTime !== undefined) settings.push(`KeepAliveTime=${options.keepAliveTime}`);
  if (options.useIPv6 !== undefined) settings.push(`UseIPv6=${options.useIPv6}`);
  for (const [name, value] of Object.entries(options.config ?? {})) settings.push(`${name}=${value}`);
  return settings;
}

/** Settings held by the host rather than the core. */
export const HOST_SETTINGS = [
  'MaxConnections',
  'AuthFailureDelay',
  'KeyboardInteractiveMessage',
  'TrustedUserCAKeys',
  'ConnectionBacklog',
  'MaxStartups',
  'PerSourceMaxStartups',
  'PerSourcePenalties',
  'PerSourcePenaltyExemptList',
  'SSHVersionPattern',
  'AllowedClients',
  'BlockedClients',
  'TcpNoDelay',
  'KeepAliveTime',
  'UseIPv6',
] as const;

/**
 * Reads `"Name=Value"` (sets) or `"Name"` (reads); a per-connection name carries the connection id in
 * brackets, e.g. `NegotiatedStrictKex[3]`.
 */
export function parseSetting(setting: string): { name: string; value: string | undefined; connectionId: number | undefined } {
  const eq = setting.indexOf('=');
  const name = (eq < 0 ? setting : setting.slice(0, eq)).trim();
  const value = eq < 0 ? undefined : setting.slice(eq + 1);
  const indexed = /^(\w+)\[(\d+)\]$/.exec(name);
  if (indexed) return { name: indexed[1]!, value, connectionId: Number(indexed[2]) };
  return { name, value, connectionId: undefined };
}

/** The reference's booleans: `true`/`false`, `True`/`False`, `1`/`0`. */
export function parseBoolean(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new SSHError(ErrorCode.InvalidArgument, `${name} must be true or false`);
}

/**
 * Where to listen for `UseIPv6` (0 IPv4 only, 1 IPv6 only, 2 both; undefined: as `host` is written): a
 * wildcard host becomes that family's; a specific address must be of the family asked for.
 */
export function listenFamily(host: string, useIPv6: 0 | 1 | 2 | undefined): { host: string; ipv6Only?: boolean } {
  if (useIPv6 === undefined) return { host };
  if (host === '0.0.0.0' || host === '::') return useIPv6 === 0 ? { host: '0.0.0.0' } : { host: '::', ipv6Only: useIPv6 === 1 };
  const v6 = host.includes(':');
  if (useIPv6 === 2 || v6 !== (useIPv6 === 1)) {
    const wants = ['IPv4 only', 'IPv6 only', 'IPv4 and IPv6'][useIPv6];
    throw new SSHError(ErrorCode.InvalidArgument, `UseIPv6=${useIPv6} listens on ${wants}: localHost ${host} cannot; use 0.0.0.0 or ::`);
  }
  return { host, ipv6Only: v6 };
}

/** What `UseIPv6` reads when it was not set: the family `host` listens on (`::` takes IPv4 too, by default). */
export function impliedFamily(host: string): 0 | 1 | 2 {
  return host === '::' ? 2 : host.includes(':') ? 1 : 0;
}

export function positiveInt(name: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new SSHError(ErrorCode.InvalidArgument, `${name} must be an integer from 1 to ${max}`);
  return n;
}

/** Parses the reference's prompt list: `First prompt,echo=false;Second prompt,echo=true`. */
export function parsePrompts(value: string): KeyboardInteractivePrompt[] {
  return value
    .split(';')
    .filter((p) => p.length > 0)
    .map((p) => {
      const m = /^(.*),echo=(true|false)$/i.exec(p);
      return m ? { prompt: m[1]!, echo: m[2]!.toLowerCase() === 'true' } : { prompt: p, echo: false };
    });
}

/** The reference's prompt list, as `parsePrompts` reads it. */
export function formatPrompts(prompts: KeyboardInteractivePrompt[]): string {
  return prompts.map((p) => `${p.prompt},echo=${p.echo}`).join(';');
}
