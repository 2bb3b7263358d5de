/**
 * What an authorized_keys line lets the connection its key logged in do, enforced by the server before any
 * handler sees the request (sshd's auth-options): `no-pty`, `no-agent-forwarding` and `no-X11-forwarding`
 * refuse those channel requests; `command=` replaces what exec, shell and subsystem ask, the original kept
 * as `originalCommand` (sshd's SSH_ORIGINAL_COMMAND); `no-port-forwarding`, `permitopen=` and
 * `permitlisten=` refuse tunnels. A connection that passed several publickey steps is held to every line.
 */

import { permitted, type AuthorizedKey, type AuthorizedKeys } from './authorized-keys.js';
import type { ConnectionState } from './connection.js';
import type { ChannelRequestInfo } from './events.js';
import { parseDirectTcpip, parseForward } from './forwarding.js';
import type { SSHServerOptions } from './settings.js';

/** A channel request as the handlers see it once the key's options applied, or the reason it is refused. */
export type RestrictedRequest = { refused: string } | { request: ChannelRequestInfo; originalCommand?: string };

export class KeyRestrictions {
  /** The lines each connection's keys logged in with (a WeakMap: nothing to forget when it ends). */
  private readonly lines = new WeakMap<ConnectionState, AuthorizedKey[]>();

  constructor(
    private readonly authorizedKeys: SSHServerOptions['authorizedKeys'],
    /** Every line a CA that signs user certificates (TrustedUserCAKeys). */
    public trustedUserCAKeys: AuthorizedKeys | undefined,
  ) {}

  /** The file that holds `user`'s keys, if one is configured. */
  async keysOf(user: string): Promise<AuthorizedKeys | undefined> {
    const keys = this.authorizedKeys;
    return typeof keys === 'function' ? await keys(user) : keys;
  }

  /** The key logged in (or passed a step) on `conn` under `line`: its options hold from now on. */
  record(conn: ConnectionState, line: AuthorizedKey): void {
    // A literal of one: an empty array grown by a push takes room for 17.
    const lines = this.lines.get(conn);
    if (lines) lines.push(line);
    else this.lines.set(conn, [line]);
  }

  channelRequest(conn: ConnectionState, request: ChannelRequestInfo): RestrictedRequest {
    const lines = this.lines.get(conn);
    if (!lines) return { request };
    const name = request.type === 'other' ? request.name : request.type;
    const denied = (allowed: (l: AuthorizedKey) => boolean, what: string) => {
      const line = lines.find((l) => !allowed(l));
      return line && { refused: `${what} refused by ${line.origin}` };
    };
    const refused =
      (name === 'pty-req' && denied((l) => l.pty, 'pty')) ||
      (name === 'auth-agent-req@openssh.com' && denied((l) => l.agentForwarding, 'agent forwarding')) ||
      (name === 'x11-req' && denied((l) => l.x11Forwarding, 'X11 forwarding'));
    if (refused) return refused;
    const forced = lines.find((l) => l.command !== undefined)?.command;
    if (forced === undefined || (request.type !== 'exec' && request.type !== 'shell' && request.type !== 'subsystem')) return { request };
    const original = request.type === 'exec' ? request.command : request.type === 'subsystem' ? request.name : undefined;
    const exec: ChannelRequestInfo = { type: 'exec', command: forced, commandBytes: new TextEncoder().encode(forced) };
    return original === undefined ? { request: exec } : { request: exec, originalCommand: original };
  }

  /** Why a `direct-tcpip` or `direct-streamlocal@openssh.com` open is refused, if it is. */
  localTunnel(conn: ConnectionState, kind: string, data: Uint8Array): string | undefined {
    if (kind !== 'direct-tcpip') return this.tunnel(conn, (l) => l.permitOpen, undefined, false);
    // A malformed open is the tunnels' to refuse.
    const target = parseDirectTcpip(data);
    return target && this.tunnel(conn, (l) => l.permitOpen, target, false);
  }

  /** Why a `tcpip-forward` or `streamlocal-forward@openssh.com` request is refused, if it is. */
  remoteTunnel(conn: ConnectionState, name: string, data: Uint8Array): string | undefined {
    if (name !== 'tcpip-forward') return this.tunnel(conn, (l) => l.permitListen, undefined, true);
    const bind = parseForward(data);
    return bind && this.tunnel(conn, (l) => l.permitListen, bind, true);
  }

  /**
   * `no-port-forwarding` (or `restrict`) refuses every tunnel; a `permitopen=`/`permitlisten=` list refuses
   * TCP ends not on it, and Unix sockets (`target` undefined) outright: the list names TCP ends only.
   */
  private tunnel(
    conn: ConnectionState,
    list: (l: AuthorizedKey) => AuthorizedKey['permitOpen'],
    target: { address: string; port: number } | undefined,
    listen: boolean,
  ): string | undefined {
    for (const line of this.lines.get(conn) ?? []) {
      const allowed = list(line);
      if (!line.portForwarding) return `port forwarding refused by ${line.origin}`;
      if (!allowed) continue;
      if (!target) return `forwarding of Unix sockets refused: ${line.origin} permits TCP ${listen ? 'binds' : 'targets'} only`;
      if (!permitted(allowed, target.address, target.port, listen)) {
        return `${target.address} port ${target.port} is not in the ${listen ? 'permitlisten' : 'permitopen'} of ${line.origin}`;
      }
    }
    return undefined;
  }
}
