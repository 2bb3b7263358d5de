/**
 * The auth-failure delay (`AuthFailureDelay`): a refused authentication attempt is answered no sooner than a
 * minimum time after it reached the host, so that how long the host took to decide (whether the user exists,
 * which branch of its check ran) does not show in the response time. As in OpenSSH's sshd (auth2.c,
 * `user_specific_delay` and `ensure_minimum_time_since`): the minimum is a base plus a per-user part from a
 * keyed hash of the user name with a secret of this server instance, so one name always gets the same
 * minimum and names differ from each other; work that took longer than the minimum is rounded up to the next
 * doubling of it, and work that took over 5 s is answered at once. Pure arithmetic and hashing: the caller
 * measures the time and owns the timer.
 */

import { ErrorCode, SSHError } from './errors.js';

/** Work that took longer than this is not delayed further (OpenSSH's MAX_FAIL_DELAY_SECONDS). */
export const AUTH_FAILURE_DELAY_CAP_MS = 5000;

/** The default base, in milliseconds: OpenSSH's MIN_FAIL_DELAY_SECONDS. */
export const DEFAULT_AUTH_FAILURE_DELAY_MS = 5;

/**
 * How much longer to wait, in milliseconds, before answering a refusal whose minimum is `minimumMs`, when
 * `elapsedMs` have already passed since the request arrived. Past the minimum, the target doubles until it is
 * ahead again, so the answer still comes at one of a few fixed times rather than right after the work.
 */
export function remainingDelay(minimumMs: number, elapsedMs: number): number {
  if (!(minimumMs > 0) || elapsedMs > AUTH_FAILURE_DELAY_CAP_MS) return 0;
  let target = minimumMs;
  while (target < elapsedMs) target *= 2;
  return target - Math.max(0, elapsedMs);
}

/** Parses the setting: whole milliseconds from 0 (off) to 5000. */
export function parseAuthFailureDelay(value: string | number): number {
  const text = String(value).trim();
  const n = text === '' ? NaN : Number(text);
  if (!Number.isInteger(n) || n < 0 || n > AUTH_FAILURE_DELAY_CAP_MS) {
    throw new SSHError(ErrorCode.InvalidArgument, `AuthFailureDelay=${value}: expected whole milliseconds from 0 (off) to ${AUTH_FAILURE_DELAY_CAP_MS}`);
  }
  return n;
}

const utf8 = new TextEncoder();

/**
 * The per-user minimum: `base` plus a fraction of `base` (so from `base` up to, not including, twice it; the
 * default 5 gives 5 to 10 ms, OpenSSH's being 5 to 9.3 ms). The fraction is the first 32 bits of
 * HMAC-SHA-256(secret, user name) over 2^32. WebCrypto (`crypto.subtle`) does the hashing, which every
 * runtime the host targets has (browsers in secure contexts only); without it every user gets `base`, the
 * fixed delay russh uses.
 */
export class AuthFailureDelay {
  private baseMs: number;
  private key: Promise<CryptoKey> | undefined;

  constructor(
    baseMs: number = DEFAULT_AUTH_FAILURE_DELAY_MS,
    private readonly secret: Uint8Array<ArrayBuffer> = crypto.getRandomValues(new Uint8Array(32)),
  ) {
    this.baseMs = parseAuthFailureDelay(baseMs);
  }

  /** The base in milliseconds; 0 turns the delay off. */
  get base(): number {
    return this.baseMs;
  }

  /** Sets the base; throws `InvalidArgument` on a negative or non-numeric value. */
  set base(ms: number) {
    this.baseMs = parseAuthFailureDelay(ms);
  }

  /** The least time, in milliseconds, from a request by `user` to its refusal; 0 when the delay is off. */
  async minimum(user: string): Promise<number> {
    const base = this.baseMs;
    if (base === 0) return 0;
    return base * (1 + (await this.userFraction(user)));
  }

  /** A number in [0, 1), fixed for a user name and this instance's secret. */
  private async userFraction(user: string): Promise<number> {
    const subtle = globalThis.crypto?.subtle;
    if (!subtle) return 0;
    try {
      this.key ??= subtle.importKey('raw', this.secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      const mac = new DataView(await subtle.sign('HMAC', await this.key, utf8.encode(user)));
      return mac.getUint32(0) / 2 ** 32;
    } catch {
      // A refusal must still go out: fall back to the fixed base rather than leave the client waiting.
      return 0;
    }
  }
}
