/**
 * `authorized_keys` as sshd(8) reads it (AUTHORIZED_KEYS FILE FORMAT): a line is optional comma-separated
 * options (names case-insensitive; values in double quotes, which may hold commas, spaces and `\"`), the key
 * type, the base64 key and a comment; blank lines and `#` lines are skipped. A line sshd would refuse (an
 * unknown option, bad quoting, a bad pattern, a value it cannot read) is an error naming the file and line,
 * not a line quietly dropped, so a restriction the operator wrote is never lost.
 *
 * The server enforces what a matched line says (`SSHServerOptions.authorizedKeys`): `from=` and
 * `expiry-time=` at login, the rest on the connection the key logged in (decisions.ts). Runs on every
 * runtime: no Node APIs.
 */

import { ClientList } from './client-lists.js';
import { ErrorCode, SSHError } from './errors.js';

/** A line that cannot be taken; the message names the file and line, `line` is 1-based. */
export class AuthorizedKeysError extends SSHError {
  constructor(
    /** The 1-based line number of the line refused. */
    readonly line: number,
    message: string,
  ) {
    super(ErrorCode.InvalidArgument, message);
    this.name = 'AuthorizedKeysError';
  }
}

/** One option of a key line. */
export interface KeyOption {
  /** As written in the file. */
  name: string;
  /** The quoted value of a `name="value"` option, unquoted. */
  value?: string;
}

/** A `permitopen=` target or a `permitlisten=` bind; `*` for any host or port. */
export interface HostPort {
  /** A host name or address, or `*`. */
  host: string;
  /** A port, or `*`. */
  port: number | '*';
}

/** One key line, and what its options allow. */
export interface AuthorizedKey {
  /** 1-based line number in the file. */
  line: number;
  /** Where the permissions come from, for messages: `file:line` (and the certificate, for one). */
  origin: string;
  /** `type base64`, as `UserAuthRequestEvent.publicKey.openssh` gives a key. */
  openssh: string;
  /** The key's type, such as `ssh-ed25519`. */
  keyType: string;
  /** What follows the key on the line. */
  comment: string;
  /** The options as written. */
  options: KeyOption[];
  /** `cert-authority`: the key signs user certificates; it never logs in itself. */
  certAuthority: boolean;
  /** `principals=`: with `cert-authority`, the names a certificate must carry one of (else the user's). */
  principals?: string[];
  /** `command=`: run instead of whatever the client asks (exec, shell or subsystem). */
  command?: string;
  /** `environment=`, in order. Handed to the host, which decides whether its sessions take them. */
  environment: [name: string, value: string][];
  /** `from=` as written; the key logs in only from an address it matches. */
  from?: string;
  /** `expiry-time=`: milliseconds since the epoch after which the key no longer logs in. */
  expiresAt?: number;
  /** Permissions: all true unless `no-*` or `restrict` (and not given back by `pty` and the like). */
  pty: boolean;
  /** `ssh -L`, `-R`, `-W`: off with `no-port-forwarding` or `restrict`. */
  portForwarding: boolean;
  /** Agent forwarding requests: off with `no-agent-forwarding` or `restrict`. */
  agentForwarding: boolean;
  /** X11 forwarding requests: off with `no-X11-forwarding` or `restrict`. */
  x11Forwarding: boolean;
  /** sshd's `~/.ssh/rc`: off with `no-user-rc` or `restrict` (handed to the host, which has no rc of its own). */
  userRc: boolean;
  /** `permitopen=`: the only `direct-tcpip` targets (unset: any, while `portForwarding`). */
  permitOpen?: HostPort[];
  /** `permitlisten=`: the only `tcpip-forward` binds (unset: any, while `portForwarding`). */
  permitListen?: HostPort[];
}

/** One `from=` entry: a negation flag and how it matches an address. */
interface FromEntry {
  negated: boolean;
  matches(address: string): boolean;
}

/** The keys of one authorized_keys file. */
export class AuthorizedKeys {
  private constructor(
    /** The key lines, in the file's order. */
    readonly keys: readonly AuthorizedKey[],
    /** Each `from=` line's entries, read once. */
    private readonly from: Map<AuthorizedKey, FromEntry[]>,
  ) {}

  /**
   * Reads a file's text; `file` names it in errors. Throws AuthorizedKeysError at the first bad line. Keys
   * in the RFC 4716 public key form (`---- BEGIN SSH2 PUBLIC KEY ----`, as `ssh-keygen -e` writes them)
   * count as a line without options at their BEGIN line, their `Comment:` header as the comment.
   */
  static parse(text: string, file = 'authorized_keys'): AuthorizedKeys {
    const keys: AuthorizedKey[] = [];
    const from = new Map<AuthorizedKey, FromEntry[]>();
    const lines = text.split('\n').map((raw) => raw.replace(/\r$/, ''));
    for (let i = 0; i < lines.length; i++) {
      const where = `${file}:${i + 1}`;
      try {
        const start = i;
        const block = lines[i]!.trim() === RFC4716_BEGIN ? rfc4716(lines, i) : undefined;
        if (block) i = block.end;
        const key = block ? withOptions(start + 1, where, [], block.key) : parseLine(lines[i]!, i + 1, where);
        if (key) {
          if (key.from !== undefined) from.set(key, fromEntries(key.from));
          keys.push(key);
        }
      } catch (e) {
        if (e instanceof LineError) throw new AuthorizedKeysError(i + 1, `${where}: ${e.message}`);
        throw e;
      }
    }
    return new AuthorizedKeys(keys, from);
  }

  /** The lines again, one per key, each with its options as written (an RFC 4716 block as a one-line key). */
  toString(): string {
    const option = (o: KeyOption) => (o.value === undefined ? o.name : `${o.name}="${o.value.replace(/"/g, '\\"')}"`);
    return this.keys.map((k) => [k.options.map(option).join(','), k.openssh, k.comment].filter((part) => part !== '').join(' ')).join('\n');
  }

  /**
   * The first line that lets the key `openssh` (`type base64`) log in from `address` at `now` (milliseconds
   * since the epoch), as sshd takes the first line whose options allow it; `refusals` collects why other
   * lines of the same key did not. A `cert-authority` line never matches: a CA's key is no user key.
   */
  match(openssh: string, address: string, now: number, refusals: string[] = []): AuthorizedKey | undefined {
    const wanted = canonical(openssh);
    for (const key of this.keys) {
      if (key.openssh !== wanted) continue;
      const why = key.certAuthority ? 'is a cert-authority line' : this.refusal(key, address, now);
      if (why === undefined) return key;
      refusals.push(`line ${key.line} ${why}`);
    }
    return undefined;
  }

  /**
   * The first line that lets the CA key `openssh` sign certificates for a login from `address` at `now`:
   * a `cert-authority` line, or with `anyLine` (a TrustedUserCAKeys file) any line of that key.
   */
  authority(openssh: string, address: string, now: number, anyLine: boolean, refusals: string[] = []): AuthorizedKey | undefined {
    const wanted = canonical(openssh);
    for (const key of this.keys) {
      if (key.openssh !== wanted || !(anyLine || key.certAuthority)) continue;
      const why = this.refusal(key, address, now);
      if (why === undefined) return key;
      refusals.push(`line ${key.line} ${why}`);
    }
    return undefined;
  }

  /** Why a line does not let its key in from `address` at `now`, or undefined. */
  private refusal(key: AuthorizedKey, address: string, now: number): string | undefined {
    if (key.expiresAt !== undefined && now > key.expiresAt) return `expired at ${new Date(key.expiresAt).toISOString()}`;
    const from = this.from.get(key);
    if (from && !fromMatches(from, address)) return `does not allow ${address} (from="${key.from}")`;
    return undefined;
  }
}

/** Whether `address` passes a `from=` list: a negated entry that matches refuses, else one plain entry must match (sshd's addr_match_list). */
function fromMatches(entries: FromEntry[], address: string): boolean {
  let matched = false;
  for (const entry of entries) {
    if (!entry.matches(address)) continue;
    if (entry.negated) return false;
    matched = true;
  }
  return matched;
}

/**
 * A `from=` list: addresses and CIDR ranges (matched by the client-lists matcher), or patterns with `*` and
 * `?` matched against the address as text; any of them negated by a leading `!`. Host names are not looked
 * up (sshd's UseDNS is off by default too), so a name without wildcards is an error.
 */
function fromEntries(value: string): FromEntry[] {
  return value.split(',').map((raw) => {
    const negated = raw.startsWith('!');
    const entry = negated ? raw.slice(1) : raw;
    if (entry === '') throw new LineError(`from="${value}": empty entry`);
    if (/[*?]/.test(entry)) {
      const pattern = glob(entry);
      return { negated, matches: (address: string) => pattern.test(bareAddress(address)) };
    }
    let list: ClientList;
    try {
      list = new ClientList('from', entry);
    } catch {
      throw new LineError(`from="${value}": "${entry}" is not an address, a CIDR range or a pattern with * or ? (host names are not looked up)`);
    }
    return { negated, matches: (address: string) => list.matches(address) };
  });
}

/** An address as the patterns see it: an IPv4-mapped IPv6 one as its IPv4 address, without a zone id. */
function bareAddress(address: string): string {
  return address.replace(/%.*$/, '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

/** ssh_config(5) PATTERNS: `*` any run of characters, `?` one; case-insensitive. */
function glob(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

const RFC4716_BEGIN = '---- BEGIN SSH2 PUBLIC KEY ----';
const RFC4716_END = '---- END SSH2 PUBLIC KEY ----';

/**
 * The RFC 4716 block that starts at line `begin`: header lines (`Tag: value`, continued by a trailing `\\`),
 * then the base64 body, up to the END line (its index is `end`).
 */
function rfc4716(lines: string[], begin: number): { key: { keyType: string; openssh: string; comment: string }; end: number } {
  let comment = '';
  let body = '';
  let continued = false;
  for (let i = begin + 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === RFC4716_END) {
      const key = keyAt(`${keyTypeOf(body)} ${body}${comment ? ` ${comment}` : ''}`);
      if (!key) throw new LineError('the RFC 4716 block holds no key');
      return { key, end: i };
    }
    const header = continued || (body === '' && /^[\x21-\x39\x3b-\x7e]{1,64}:/.test(line));
    if (header) {
      const m = /^Comment:\s*"?(.*?)"?\\?$/i.exec(line);
      if (m && !continued) comment = m[1]!;
      continued = line.endsWith('\\');
    } else body += line;
  }
  throw new LineError(`${RFC4716_BEGIN} without ${RFC4716_END}`);
}

/** The key type a base64 blob starts with, or '' if it does not read as one. */
function keyTypeOf(base64: string): string {
  const blob = decodeBase64(base64);
  if (!blob || blob.length < 4) return '';
  return latin1(blob.subarray(4, 4 + new DataView(blob.buffer).getUint32(0)));
}

/** A parse error inside one line; `AuthorizedKeys.parse` adds the file and line. */
class LineError extends Error {}

/** One line: undefined for a blank or comment line. */
function parseLine(line: string, number: number, origin: string): AuthorizedKey | undefined {
  const text = line.replace(/^[ \t]+/, '');
  if (text === '' || text.startsWith('#')) return undefined;
  // As sshd: a line that starts with a key has no options.
  const bare = keyAt(text);
  if (bare) return withOptions(number, origin, [], bare);
  const { options, rest } = parseOptions(text);
  const key = keyAt(rest.replace(/^[ \t]+/, ''));
  if (!key) throw new LineError('no key found (expected [options] type base64 [comment])');
  return withOptions(number, origin, options, key);
}

/** `type base64` and the comment, if `text` starts with a key type and a base64 blob that encodes a key of that type. */
function keyAt(text: string): { keyType: string; openssh: string; comment: string } | undefined {
  const m = /^(\S+)[ \t]+([A-Za-z0-9+/]+={0,2})(?:[ \t]+(.*))?$/.exec(text);
  if (!m) return undefined;
  const [, keyType, base64, comment] = m as unknown as [string, string, string, string | undefined];
  const blob = decodeBase64(base64);
  if (!blob || blob.length < 4) return undefined;
  const length = new DataView(blob.buffer).getUint32(0);
  if (length !== keyType.length || latin1(blob.subarray(4, 4 + length)) !== keyType) return undefined;
  return { keyType, openssh: `${keyType} ${encodeBase64(blob)}`, comment: comment?.trim() ?? '' };
}

/** `type base64` with the base64 as btoa writes it, so that keys compare as text. */
function canonical(openssh: string): string {
  const [type, base64] = openssh.split(' ');
  const blob = base64 === undefined ? undefined : decodeBase64(base64);
  return blob ? `${type} ${encodeBase64(blob)}` : openssh;
}

function decodeBase64(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function encodeBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

/** The options at the start of `text` and what follows them (from the first space outside quotes). */
function parseOptions(text: string): { options: KeyOption[]; rest: string } {
  const options: KeyOption[] = [];
  let i = 0;
  for (;;) {
    const name = /^[^=,\s"]+/.exec(text.slice(i))?.[0];
    if (!name) throw new LineError(`bad option syntax at column ${i + 1}`);
    i += name.length;
    const option: KeyOption = { name };
    if (text[i] === '=') {
      if (text[i + 1] !== '"') throw new LineError(`option ${name}: the value must be in double quotes`);
      i += 2;
      let value = '';
      for (;;) {
        if (i >= text.length) throw new LineError(`option ${name}: unterminated quoted value`);
        if (text[i] === '\\' && text[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else value += text[i++];
      }
      option.value = value;
    }
    options.push(option);
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (i >= text.length || text[i] === ' ' || text[i] === '\t') return { options, rest: text.slice(i) };
    throw new LineError(`option ${name}: expected a comma or a space after it`);
  }
}

/** Flags sshd knows, and the permission each sets (`restrict` clears them all first). */
const FLAGS: Record<string, [keyof AuthorizedKey, boolean] | undefined> = {
  'no-pty': ['pty', false],
  pty: ['pty', true],
  'no-port-forwarding': ['portForwarding', false],
  'port-forwarding': ['portForwarding', true],
  'no-agent-forwarding': ['agentForwarding', false],
  'agent-forwarding': ['agentForwarding', true],
  'no-x11-forwarding': ['x11Forwarding', false],
  'x11-forwarding': ['x11Forwarding', true],
  'no-user-rc': ['userRc', false],
  'user-rc': ['userRc', true],
};

/**
 * Options sshd knows that concern what this server never does: `tun@openssh.com` channels (refused unless a
 * host serves them) and FIDO security keys, which it does not accept at all.
 */
const MOOT = new Set(['tunnel', 'no-touch-required', 'touch-required', 'verify-required']);

/** The line's options applied, in sshd's way: `restrict` first clears every permission, later flags give some back. */
function withOptions(line: number, origin: string, options: KeyOption[], key: { keyType: string; openssh: string; comment: string }): AuthorizedKey {
  const out: AuthorizedKey = { line, origin, ...key, options, certAuthority: false, environment: [], pty: true, portForwarding: true, agentForwarding: true, x11Forwarding: true, userRc: true };
  const lower = options.map((o) => o.name.toLowerCase());
  if (lower.includes('restrict')) Object.assign(out, { pty: false, portForwarding: false, agentForwarding: false, x11Forwarding: false, userRc: false });
  options.forEach((option, n) => {
    const name = lower[n]!;
    const flag = FLAGS[name];
    const takesValue = ['command', 'environment', 'from', 'expiry-time', 'permitopen', 'permitlisten', 'principals', 'tunnel'].includes(name);
    if (takesValue !== (option.value !== undefined) && !MOOT.has(name)) {
      throw new LineError(takesValue ? `option ${option.name} needs a value (${option.name}="...")` : `option ${option.name} takes no value`);
    }
    const value = option.value ?? '';
    if (flag) (out as unknown as Record<string, boolean>)[flag[0]] = flag[1];
    else if (name === 'restrict' || MOOT.has(name)) return;
    else if (name === 'cert-authority') out.certAuthority = true;
    else if (name === 'command') out.command = once(out.command, value, option.name);
    else if (name === 'from') out.from = once(out.from, value, option.name);
    else if (name === 'principals') out.principals = once(out.principals, value.split(',').filter(Boolean), option.name);
    else if (name === 'expiry-time') out.expiresAt = Math.min(out.expiresAt ?? Infinity, parseTime(value));
    else if (name === 'environment') out.environment.push(parseEnvironment(value));
    else if (name === 'permitopen') (out.permitOpen ??= []).push(parseHostPort(value, option.name, false));
    else if (name === 'permitlisten') (out.permitListen ??= []).push(parseHostPort(value, option.name, true));
    else throw new LineError(`unknown option ${option.name}`);
  });
  return out;
}

/** A value sshd takes only once per line. */
function once<T>(previous: T | undefined, value: T, name: string): T {
  if (previous !== undefined) throw new LineError(`option ${name} appears twice`);
  return value;
}

/** `NAME=value`; the name as sshd allows it (no `=`, not empty). */
function parseEnvironment(value: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new LineError(`environment="${value}": expected NAME=value`);
  return [value.slice(0, eq), value.slice(eq + 1)];
}

/**
 * `host:port` (`[v6]:port`), port a number or `*`, host `*` for any; for `permitlisten`, a port alone stands
 * for any host (as sshd reads it).
 */
function parseHostPort(value: string, name: string, listen: boolean): HostPort {
  const bracketed = /^\[([^\]]+)\]:(\S+)$/.exec(value);
  const plain = /^([^:[\]]+):(\S+)$/.exec(value);
  const portOnly = listen && /^(\d+|\*)$/.test(value) ? ['', '*', value] : undefined;
  const m = bracketed ?? plain ?? portOnly;
  if (!m) throw new LineError(`${name}="${value}": expected ${listen ? '[host:]port' : 'host:port'}`);
  const port = m[2] === '*' ? '*' : /^\d+$/.test(m[2]!) && Number(m[2]) <= 65535 ? Number(m[2]) : undefined;
  if (port === undefined) throw new LineError(`${name}="${value}": bad port ${m[2]}`);
  return { host: m[1]!, port };
}

/** `YYYYMMDD[HHMM[SS]]`, local time, or UTC with a trailing `Z` (sshd's parse_absolute_time). */
function parseTime(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/i.exec(value);
  if (!m) throw new LineError(`expiry-time="${value}": expected YYYYMMDD[HHMM[SS]][Z]`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((n) => Number(n ?? 0)) as [number, number, number, number, number, number];
  const utc = m[7] !== '';
  const at = utc ? Date.UTC(y, mo - 1, d, h, mi, s) : new Date(y, mo - 1, d, h, mi, s).getTime();
  // Date rolls 20250231 over into March: a date that does not read back as written is no date.
  const t = new Date(at);
  const back = utc
    ? [t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()]
    : [t.getFullYear(), t.getMonth() + 1, t.getDate(), t.getHours(), t.getMinutes(), t.getSeconds()];
  if (back.join() !== [y, mo, d, h, mi, s].join()) throw new LineError(`expiry-time="${value}": not a valid date and time`);
  return at;
}

/** Whether `host`:`port` is among `allowed` (`*` host or port matches any; hosts compare as sshd does, exactly for permitopen, as patterns for permitlisten). */
export function permitted(allowed: HostPort[], host: string, port: number, listen: boolean): boolean {
  return allowed.some((a) => (a.port === '*' || a.port === port) && (a.host === '*' || (listen ? glob(a.host).test(host) : a.host === host)));
}
