/**
 * OpenSSH user certificates, the host's part: the core has read the certificate and checked its CA's
 * signature, its type (user) and its critical options (none unknown); here it is checked against the
 * host's clock and configuration, as sshd does: its validity period, a trusted CA (a TrustedUserCAKeys-style
 * `trustedUserCAKeys` file, any line of it, or a `cert-authority` line of the user's authorized_keys), the
 * principals (the line's `principals=`, else the user name), `source-address`. What it then allows is the
 * CA line's options narrowed by the certificate's: `force-command` and its `permit-*` extensions.
 */

import type { AuthorizedKey, AuthorizedKeys } from './authorized-keys.js';
import { ClientList } from './client-lists.js';
import type { CoreCertificate } from './core/events.js';

/** A user certificate as `UserAuthRequestEvent.publicKey.certificate` shows it. */
export interface UserCertificate {
  /** The serial number the CA gave it. */
  serial: bigint;
  /** The key id the CA gave it (`ssh-keygen -I`), logged by sshd. */
  keyId: string;
  /** The user names it is valid for; one must be the user (or in the CA line's `principals=`), so an empty list admits nobody, as in sshd. */
  principals: string[];
  /** Valid from this time on. */
  validAfter: Date;
  /** Valid until this time; undefined: forever. */
  validBefore: Date | undefined;
  /** The CA's key (`type base64`). */
  caKey: string;
  /** The CA key's SHA256 fingerprint as `ssh-keygen -l` prints it. */
  caFingerprint: string;
  /** The certified key (`type base64`). */
  key: string;
  /** `force-command`, `source-address` (`verify-required` with ''). */
  criticalOptions: Record<string, string>;
  /** Extension names: `permit-pty`, `permit-port-forwarding` and the like. */
  extensions: string[];
}

/** Where the server looks for CAs. */
export interface CertificateAuthorities {
  /** Every line's key is a trusted CA (sshd's TrustedUserCAKeys). */
  trusted: AuthorizedKeys | undefined;
  /** The user's authorized_keys: its `cert-authority` lines. */
  userKeys: AuthorizedKeys | undefined;
}

/** The extension that gives back each permission a certificate grants. */
const PERMITS = [
  ['permit-pty', 'pty'],
  ['permit-port-forwarding', 'portForwarding'],
  ['permit-agent-forwarding', 'agentForwarding'],
  ['permit-X11-forwarding', 'x11Forwarding'],
  ['permit-user-rc', 'userRc'],
] as const;

/** u64::MAX seconds: ssh-keygen's "forever". */
const FOREVER = 2 ** 64 - 1;

export function openssh(blob: Uint8Array): string {
  const length = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0);
  const type = new TextDecoder().decode(blob.subarray(4, 4 + length));
  let s = '';
  for (const b of blob) s += String.fromCharCode(b);
  return `${type} ${btoa(s)}`;
}

export async function userCertificate(c: CoreCertificate): Promise<UserCertificate> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', Uint8Array.from(c.caKey)));
  let s = '';
  for (const b of digest) s += String.fromCharCode(b);
  return {
    serial: c.serial,
    keyId: c.keyId,
    principals: c.principals,
    validAfter: new Date(c.validAfter * 1000),
    validBefore: c.validBefore >= FOREVER ? undefined : new Date(c.validBefore * 1000),
    caKey: openssh(c.caKey),
    caFingerprint: `SHA256:${btoa(s).replace(/=+$/, '')}`,
    key: openssh(c.key),
    criticalOptions: Object.fromEntries(c.criticalOptions),
    extensions: c.extensions.map(([name]) => name),
  };
}

/**
 * Why a certificate cannot log in from `address` at `now` (ms since the epoch) whoever trusts its CA, if it
 * cannot: outside its validity period, or from outside its `source-address`.
 */
export function certificateRefusal(c: CoreCertificate, address: string, now: number): string | undefined {
  const seconds = Math.floor(now / 1000);
  if (seconds < c.validAfter) return `not valid before ${new Date(c.validAfter * 1000).toISOString()}`;
  if (c.validBefore < FOREVER && seconds >= c.validBefore) return `expired at ${new Date(c.validBefore * 1000).toISOString()}`;
  const source = new Map(c.criticalOptions).get('source-address');
  if (source !== undefined && !sourceAllowed(source, address)) return `source-address ${source} does not allow ${address}`;
  return undefined;
}

/**
 * The permissions a certificate (that passed `certificateRefusal`) logs `user` in with from `address` at
 * `now`, or why its CA, principals or forced command do not let it: `{ refused }`.
 */
export function certificateLine(
  c: CoreCertificate,
  user: string,
  address: string,
  now: number,
  authorities: CertificateAuthorities,
): { line: AuthorizedKey } | { refused: string } {
  const ca = openssh(c.caKey);
  const refusals: string[] = [];
  const line = authorities.trusted?.authority(ca, address, now, true, refusals) ?? authorities.userKeys?.authority(ca, address, now, false, refusals);
  if (!line) return { refused: `its CA is not trusted${refusals.length > 0 ? ` (${refusals.join('; ')})` : ''}` };
  const allowed = line.principals ?? [user];
  if (!c.principals.some((p) => allowed.includes(p))) {
    return { refused: `none of its principals (${c.principals.join(',') || 'none'}) is ${line.principals ? `in the principals= of ${line.origin}` : user}` };
  }
  const forced = new Map(c.criticalOptions).get('force-command');
  if (forced !== undefined && line.command !== undefined && forced !== line.command) {
    return { refused: `its force-command and the command= of ${line.origin} differ` };
  }
  const extensions = new Set(c.extensions.map(([name]) => name));
  const narrowed: AuthorizedKey = { ...line, origin: `${line.origin} and certificate "${c.keyId}"`, certAuthority: false };
  if (forced !== undefined) narrowed.command = forced;
  for (const [extension, permission] of PERMITS) narrowed[permission] &&= extensions.has(extension);
  return { line: narrowed };
}

/** `source-address`: comma-separated addresses and CIDR ranges; one that cannot be read allows nothing. */
function sourceAllowed(list: string, address: string): boolean {
  try {
    return new ClientList('source-address', list).matches(address);
  } catch {
    return false;
  }
}
