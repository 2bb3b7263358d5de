/**
 * `AllowedClients` and `BlockedClients`: comma-separated IPv4 and IPv6 addresses, CIDR ranges, and the
 * reference's `*` wildcards (`*` alone, or trailing IPv4 octets: `192.168.*`), each read when set, so that a
 * bad entry fails at `config()`. Addresses are read and matched by cidr-block (ESM, no dependencies, so it
 * loads unbundled in every runtime the host targets). IPv4-mapped IPv6 (`::ffff:10.0.0.1`, how a dual-stack
 * listener reports IPv4 clients) counts as its IPv4 address on both sides.
 */

import * as cidrBlock from 'cidr-block';
import { ErrorCode, SSHError } from './errors.js';

/**
 * The part of cidr-block used here. Its ESM declarations re-export extensionless paths, which TypeScript's
 * NodeNext resolution cannot follow (the module itself loads everywhere), so the names are typed here.
 */
interface Address {
  toBigInt(): bigint;
  isIPv4MappedAddress(): boolean;
}
interface Cidr<A> {
  baseAddress(): A;
  range(): number;
  includes(address: A): boolean;
}
interface Family<A, Literal> {
  isValidAddress(address: string): boolean;
  isValidCIDR(cidr: string): boolean;
  address(address: Literal): A;
  cidr(cidr: string | { address: Literal; range: number }): Cidr<A>;
}
type Ipv4Address = Address;
type Ipv6Address = Address;
type Ipv4Cidr = Cidr<Ipv4Address>;
type Ipv6Cidr = Cidr<Ipv6Address>;
const { ipv4, ipv6 } = cidrBlock as unknown as { ipv4: Family<Ipv4Address, string | number>; ipv6: Family<Ipv6Address, string> };

/** Whole octets, then `*` for each one left (or one `*` for all of them). */
const IPV4_WILDCARD = /^((?:\d{1,3}\.){1,3})\*(?:\.\*)*$/;
const IPV4_MASK = 0xffff_ffffn;

/** The IPv4 range an IPv4-mapped IPv6 range stands for (RFC 4291 §2.5.5.2), if it is one. */
function mappedRange(cidr: Ipv6Cidr): Ipv4Cidr | undefined {
  const base = cidr.baseAddress();
  if (!base.isIPv4MappedAddress() || cidr.range() < 96) return undefined;
  return ipv4.cidr({ address: Number(base.toBigInt() & IPV4_MASK), range: cidr.range() - 96 });
}

/** A client's address as the library's IPv4 or IPv6 address (without a zone id), or undefined. */
function clientAddress(address: string): { v4: Ipv4Address } | { v6: Ipv6Address } | undefined {
  const bare = address.replace(/%.*$/, '');
  if (ipv4.isValidAddress(bare)) return { v4: ipv4.address(bare) };
  if (!ipv6.isValidAddress(bare)) return undefined;
  const v6 = ipv6.address(bare);
  return v6.isIPv4MappedAddress() ? { v4: ipv4.address(Number(v6.toBigInt() & IPV4_MASK)) } : { v6 };
}

export class ClientList {
  /** As set, for `config()` to read back. */
  readonly text: string;
  private any = false;
  private readonly v4: Ipv4Cidr[] = [];
  private readonly v6: Ipv6Cidr[] = [];

  constructor(name: string, value: string) {
    const entries = value.split(',').map((e) => e.trim()).filter(Boolean);
    for (const entry of entries) this.add(name, entry);
    this.text = entries.join(',');
  }

  private add(name: string, entry: string): void {
    if (entry === '*') {
      this.any = true;
      return;
    }
    const wildcard = IPV4_WILDCARD.exec(entry);
    const octets = wildcard?.[1]!.slice(0, -1).split('.');
    const text = octets ? `${[...octets, '0', '0', '0'].slice(0, 4).join('.')}/${octets.length * 8}` : entry;
    const single = !text.includes('/');
    if (single ? ipv4.isValidAddress(text) : ipv4.isValidCIDR(text)) {
      this.v4.push(ipv4.cidr(single ? `${text}/32` : text));
    } else if (single ? ipv6.isValidAddress(text) : ipv6.isValidCIDR(text)) {
      const cidr = ipv6.cidr(single ? `${text}/128` : text);
      const mapped = mappedRange(cidr);
      if (mapped) this.v4.push(mapped);
      else this.v6.push(cidr);
    } else {
      throw new SSHError(
        ErrorCode.InvalidArgument,
        `${name}: "${entry}" is not an IPv4 or IPv6 address, a CIDR range (prefix up to 32 or 128) or a wildcard such as 10.1.* (host names are not looked up)`,
      );
    }
  }

  get empty(): boolean {
    return !this.any && this.v4.length === 0 && this.v6.length === 0;
  }

  /** Whether `address` (a client's, as its transport reports it) is on the list; one that is no IP address is not. */
  matches(address: string): boolean {
    if (this.any) return true;
    const client = clientAddress(address);
    if (!client) return false;
    return 'v4' in client ? this.v4.some((c) => c.includes(client.v4)) : this.v6.some((c) => c.includes(client.v6));
  }
}
