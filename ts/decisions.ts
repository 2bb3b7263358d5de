/**
 * The requests the application decides: a service, an authentication step, a channel, a channel request.
 * Each gets its event with the default answer, runs the handlers in order (one that throws refuses) and
 * sends the answer to the core. An authentication refusal first waits out the auth-failure delay, and a
 * keyboard-interactive start no handler answered gets the configured prompts.
 */

import { remainingDelay, type AuthFailureDelay } from './auth-delay.js';
import { ChannelState, type ConnectionState } from './connection.js';
import type { CoreBinding } from './core/binding.js';
import { certificateLine, certificateRefusal, openssh, userCertificate } from './certificates.js';
import type { CoreCertificate, CoreEvent } from './core/events.js';
import type { Dispatcher } from './dispatcher.js';
import type { Tunnels } from './forwarding.js';
import { KeyRestrictions } from './key-restrictions.js';
import { channelRequestPayload } from './ssh-params.js';
import type { ChannelOpenRequestEvent, ChannelRequestEvent, GlobalRequestEvent, KeyboardInteractivePrompt, ServiceRequestEvent, UserAuthRequestEvent } from './events.js';
import type { Clock } from './runtime.js';
import type { AuthorizedKey, AuthorizedKeys } from './authorized-keys.js';
import type { SSHServerOptions } from './settings.js';

const STANDARD_SESSION_REQUESTS = new Set(['pty-req', 'env', 'shell', 'exec', 'subsystem', 'window-change', 'signal']);

/**
 * Whether refusing this request waits out the auth-failure delay: every attempt (a password, a
 * keyboard-interactive start or answers, a publickey request with or without a signature) and every `none`
 * after the first. Publickey queries are included, as in OpenSSH's sshd: a host that looks up the user's
 * keys before refusing would otherwise tell by its timing whether the user exists (a client offering several
 * keys waits the minimum once per refused key). Not the first `none`: it is the probe every client opens
 * with to learn the methods, and delaying it would slow down every login; OpenSSH delays no `none` at all,
 * but a repeated `none` serves only probing, so it waits here, the line the core also draws when it counts
 * refusals toward MaxAuthAttempts. Accepts never wait (the answer itself says what a delay would hide).
 * Refusals the core makes on its own (a bad signature, a method not offered) depend neither on the user nor
 * on the host's data and go out at once.
 */
export function refusalIsDelayed(event: CoreEvent & { type: 'authRequest' }, noneSeen: boolean): boolean {
  return event.method !== 'none' || noneSeen;
}

export class Decisions {
  /** The instruction sent with keyboard-interactive prompts no handler worded (KeyboardInteractiveMessage). */
  keyboardInteractiveMessage: string;
  /** Sent when a client starts keyboard-interactive and neither a handler nor the connection chose others. */
  private keyboardInteractivePrompts: KeyboardInteractivePrompt[];
  /** Prompts set for one connection (`KeyboardInteractivePrompts[id]`), until it authenticates or ends. */
  readonly connectionPrompts = new Map<number, KeyboardInteractivePrompt[]>();
  /** The authorized_keys lines each connection logged in with, enforced on its requests. */
  private readonly restrictions: KeyRestrictions;

  constructor(
    private readonly events: Dispatcher,
    private readonly binding: CoreBinding,
    private readonly clock: Clock,
    /** How long refused authentication attempts wait (AuthFailureDelay). */
    private readonly authFailureDelay: AuthFailureDelay,
    readonly tunnels: Tunnels,
    options: Pick<SSHServerOptions, 'keyboardInteractiveMessage' | 'keyboardInteractivePrompts' | 'authorizedKeys' | 'trustedUserCAKeys'>,
  ) {
    this.restrictions = new KeyRestrictions(options.authorizedKeys, options.trustedUserCAKeys);
    this.keyboardInteractiveMessage = options.keyboardInteractiveMessage ?? '';
    this.keyboardInteractivePrompts = options.keyboardInteractivePrompts ?? [];
  }

  /** The CAs trusted to sign user certificates for any user (TrustedUserCAKeys). */
  get trustedUserCAKeys(): AuthorizedKeys | undefined {
    return this.restrictions.trustedUserCAKeys;
  }

  set trustedUserCAKeys(keys: AuthorizedKeys | undefined) {
    this.restrictions.trustedUserCAKeys = keys;
  }

  /** No message, prompts or trusted CAs of the server's own (`SSHServer.reset`). */
  reset(): void {
    this.restrictions.trustedUserCAKeys = undefined;
    this.keyboardInteractiveMessage = '';
    this.keyboardInteractivePrompts = [];
    this.connectionPrompts.clear();
  }

  /** The keyboard-interactive prompts a connection gets when no handler chooses. */
  prompts(connectionId: number): KeyboardInteractivePrompt[] {
    return this.connectionPrompts.get(connectionId) ?? this.keyboardInteractivePrompts;
  }

  async service(conn: ConnectionState, event: CoreEvent & { type: 'serviceRequest' }): Promise<void> {
    const id = conn.connectionId;
    const e: ServiceRequestEvent = { connectionId: id, service: event.service, accept: true };
    await this.events.decide('serviceRequest', e, () => (e.accept = false));
    this.binding.withConn(conn, (core) => core.reply_service(id, e.accept));
  }

  /** `arrived`: when the request reached the host, if a refusal of it waits out the auth-failure delay. */
  async auth(conn: ConnectionState, event: CoreEvent & { type: 'authRequest' }, arrived: number | undefined): Promise<void> {
    const id = conn.connectionId;
    type Decision =
      | { kind: 'accept' }
      | { kind: 'reject'; partialSuccess: boolean; methods?: string[] }
      | { kind: 'prompt'; prompts: KeyboardInteractivePrompt[]; name: string; instruction: string; retry: boolean };
    let decision: Decision | undefined;
    const e: UserAuthRequestEvent = {
      connectionId: id,
      user: event.user,
      service: event.service,
      authMethod: event.method,
      methodsPassed: event.passed,
      accept: () => (decision = { kind: 'accept' }),
      reject: (o = {}) => (decision = { kind: 'reject', partialSuccess: false, ...(o.methods ? { methods: o.methods } : {}) }),
      partialSuccess: (methods) => (decision = { kind: 'reject', partialSuccess: true, ...(methods ? { methods } : {}) }),
      prompt: (prompts, o = {}) =>
        (decision = { kind: 'prompt', prompts, name: o.name ?? '', instruction: o.instruction ?? this.keyboardInteractiveMessage, retry: o.retry ?? false }),
    };
    if (event.password !== undefined) e.password = event.password;
    const certificate = event.publicKey?.certificate;
    if (event.publicKey) {
      e.publicKey = { algorithm: event.publicKey.algorithm, blob: event.publicKey.blob, signed: event.publicKey.signed, openssh: openssh(event.publicKey.blob) };
      if (certificate) e.publicKey.certificate = await userCertificate(certificate);
    }
    if (event.method === 'keyboard-interactive') e.keyboardInteractive = { submethods: event.submethods ?? '', ...(event.responses ? { responses: event.responses } : {}) };
    // A certificate out of its validity period or its source-address is refused whatever the handlers say.
    const unusable = certificate && certificateRefusal(certificate, conn.remoteHost, Date.now());
    const line = e.publicKey && !unusable ? await this.authorizedLine(conn, event.user, e.publicKey.openssh, certificate) : undefined;
    if (line) {
      e.authorizedKey = line;
      decision = { kind: 'accept' };
    }
    if (unusable) this.events.log(2, `certificate for ${event.user} refused: ${unusable}`);
    else await this.events.decide('userAuthRequest', e, () => (decision = { kind: 'reject', partialSuccess: false }));
    if (!decision && event.method === 'keyboard-interactive' && !event.responses) {
      const prompts = this.prompts(id);
      if (prompts.length > 0) decision = { kind: 'prompt', prompts, name: '', instruction: this.keyboardInteractiveMessage, retry: false };
    }
    const d: Decision = decision ?? { kind: 'reject', partialSuccess: false };
    const passed = d.kind === 'accept' || (d.kind === 'reject' && d.partialSuccess);
    if (line && passed && event.publicKey?.signed) this.restrictions.record(conn, line);
    // Accepts, first prompts and partial successes go out at once: a refusal, or prompts again after wrong
    // answers, waits.
    const failed = (d.kind === 'reject' && !d.partialSuccess) || (d.kind === 'prompt' && d.retry);
    if (failed && arrived !== undefined && !(await this.waitOutAuthFailureDelay(conn, event.user, arrived))) return;
    this.binding.withConn(conn, (core) => {
      if (d.kind === 'accept') core.reply_auth_accept(id);
      else if (d.kind === 'reject') core.reply_auth_reject(id, d.partialSuccess, (d.methods ?? []).join(','));
      else core.reply_auth_prompt(id, d.name, d.instruction, d.prompts.map((p) => p.prompt), Uint8Array.from(d.prompts, (p) => (p.echo ? 1 : 0)), d.retry);
    });
  }

  /**
   * The authorized_keys line that lets `openssh` in for `user` from the connection's address now, if
   * `authorizedKeys` is configured; the lines of the same key that did not are logged. A lookup that fails
   * is reported and finds nothing.
   */
  private async authorizedLine(conn: ConnectionState, user: string, key: string, certificate: CoreCertificate | undefined): Promise<AuthorizedKey | undefined> {
    let keys: AuthorizedKeys | undefined;
    try {
      keys = await this.restrictions.keysOf(user);
    } catch (err) {
      this.events.handlerFailed(conn.connectionId, err);
      return undefined;
    }
    if (certificate) {
      const found = certificateLine(certificate, user, conn.remoteHost, Date.now(), { trusted: this.restrictions.trustedUserCAKeys, userKeys: keys });
      if ('refused' in found) this.events.log(2, `certificate for ${user} not taken: ${found.refused}`);
      return 'line' in found ? found.line : undefined;
    }
    const refusals: string[] = [];
    const line = keys?.match(key, conn.remoteHost, Date.now(), refusals);
    for (const why of refusals) this.events.log(2, `authorized_keys for ${user}: key ${line ? 'also on' : 'refused:'} ${why}`);
    return line;
  }

  /**
   * Waits until the user's minimum time since `arrived` has passed (see auth-delay.ts). Resolves false if the
   * connection ended meanwhile: the refusal is dropped and the timer cleared.
   */
  private async waitOutAuthFailureDelay(conn: ConnectionState, user: string, arrived: number): Promise<boolean> {
    const minimum = await this.authFailureDelay.minimum(user);
    if (conn.ended || conn.closed || conn.dead) return false;
    const wait = remainingDelay(minimum, this.clock.now() - arrived);
    if (wait <= 0) return true;
    const due = this.clock.now() + wait;
    return new Promise<boolean>((resolve) => {
      const settle = (send: boolean) => {
        conn.cancelDelayedReply = undefined;
        resolve(send);
      };
      const arm = (ms: number) => {
        const timer = this.clock.setTimeout(() => {
          // A runtime's timers may fire a little early (millisecond granularity): wait out the rest.
          const left = due - this.clock.now();
          if (left > 0) arm(left);
          else settle(true);
        }, ms);
        conn.cancelDelayedReply = () => {
          this.clock.clearTimeout(timer);
          settle(false);
        };
      };
      arm(wait);
    });
  }

  async channelOpen(conn: ConnectionState, event: CoreEvent & { type: 'channelOpenRequest' }): Promise<void> {
    const id = conn.connectionId;
    if (event.kind === 'direct-tcpip' || event.kind === 'direct-streamlocal@openssh.com') {
      const refused = this.restrictions.localTunnel(conn, event.kind, event.data);
      if (refused) {
        this.events.log(2, `connection ${id}: ${event.kind} ${refused}`);
        this.binding.withConn(conn, (core) => core.reply_channel_open(id, event.channel, false, 1, refused));
        return;
      }
      const opening = await this.tunnels.request(conn, event.channel, event.kind, event.data);
      if (opening.kind === 'connected') {
        const ch = new ChannelState(id, event.channel, event.kind);
        conn.channels.set(event.channel, ch);
        ch.sink = this.tunnels.join(conn, event.channel, opening);
        this.binding.withConn(conn, (core) => core.reply_channel_open(id, event.channel, true, 0, ''));
        // The connection ended while the target was being reached: nothing will close the channel.
        if (conn.ended) ch.sink.closed();
        return;
      }
      if (opening.kind === 'refused') {
        this.binding.withConn(conn, (core) => core.reply_channel_open(id, event.channel, false, opening.reason, opening.description));
        return;
      }
    }
    let reason = 1;
    let description = 'channel refused';
    const e: ChannelOpenRequestEvent = {
      connectionId: id,
      channelId: event.channel,
      service: event.kind,
      parameters: event.data,
      accept: event.kind === 'session',
      reject(r = 1, d = 'channel refused') {
        this.accept = false;
        reason = r;
        description = d;
      },
    };
    await this.events.decide('channelOpenRequest', e, () => (e.accept = false));
    if (e.accept) conn.channels.set(event.channel, new ChannelState(id, event.channel, event.kind));
    this.binding.withConn(conn, (core) => core.reply_channel_open(id, event.channel, e.accept, reason, description));
    if (e.accept) await this.events.dispatch('channelOpened', { connectionId: id, channelId: event.channel });
  }

  /** A global request: a forwarding the tunnels serve, or one the `globalRequest` handlers answer. */
  async globalRequest(conn: ConnectionState, event: CoreEvent & { type: 'globalRequest' }): Promise<void> {
    const id = conn.connectionId;
    const refused = this.restrictions.remoteTunnel(conn, event.name, event.data);
    if (refused) this.events.log(2, `connection ${id}: ${event.name} ${refused}`);
    let reply = refused ? { accept: false } : await this.tunnels.globalRequest(conn, event.name, event.data);
    if (!reply) {
      const e: GlobalRequestEvent = { connectionId: id, requestType: event.name, wantReply: event.wantReply, data: event.data, accept: false };
      await this.events.decide('globalRequest', e, () => (e.accept = false));
      reply = { accept: e.accept, ...(e.replyData ? { data: e.replyData } : {}) };
    }
    const { accept, data } = reply;
    this.binding.withConn(conn, (core) => core.reply_global_request(id, accept, data ?? new Uint8Array(0)));
  }

  async channelRequest(conn: ConnectionState, event: CoreEvent & { type: 'channelRequest' }): Promise<void> {
    const id = conn.connectionId;
    const restricted = this.restrictions.channelRequest(conn, event.request);
    if ('refused' in restricted) {
      this.events.log(2, `connection ${id}: ${restricted.refused}`);
      this.binding.withConn(conn, (core) => core.reply_channel_request(id, event.channel, false));
      return;
    }
    const { request, originalCommand } = restricted;
    const original = originalCommand === undefined ? {} : { originalCommand };
    const e: ChannelRequestEvent = {
      connectionId: id,
      channelId: event.channel,
      requestType: request.type === 'other' ? request.name : request.type,
      request,
      wantReply: event.wantReply,
      accept: STANDARD_SESSION_REQUESTS.has(request.type),
      ...original,
      get payload() {
        return channelRequestPayload(event.channel, event.wantReply, event.request);
      },
    };
    await this.events.decide('channelRequest', e, () => (e.accept = false));
    this.binding.withConn(conn, (core) => core.reply_channel_request(id, event.channel, e.accept));
    // A channel the client closed meanwhile (its channelClosed waits behind this) has nothing left to serve.
    const open = conn.channels.get(event.channel)?.closed === false;
    if (e.accept && open) await this.events.dispatch('channelRequested', { connectionId: id, channelId: event.channel, requestType: e.requestType, request: e.request, ...original });
  }
}
