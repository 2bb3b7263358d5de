/**
 * The application's event handlers as the server's parts call them: in order, each after the earlier ones of
 * its connection, or of its channel for a channel's events, so that a channel whose handler takes its time
 * holds up no other; decisions, where a handler that throws refuses; and reports (`error`, the server's own
 * `log` lines) that never throw back into the server.
 */

import type { ConnectionState } from './connection.js';
import { ErrorCode, SSHError } from './errors.js';
import type { ConnectionEvent, SSHServerEvents } from './events.js';

type Dispatch = <K extends keyof SSHServerEvents>(name: K, event: SSHServerEvents[K]) => void | Promise<void>;

export class Dispatcher {
  constructor(
    /** Runs the handlers of `name` one after another (`Emitter.dispatch`). */
    readonly dispatch: Dispatch,
    private readonly hasListeners: (name: keyof SSHServerEvents) => boolean,
  ) {}

  /**
   * Runs `work` after the connection's earlier handlers (not its channels'); what it throws is reported as an
   * `error` event.
   */
  enqueue(conn: ConnectionState, work: () => void | Promise<void>): void {
    conn.chain = this.after(conn, conn.chain, work);
  }

  /**
   * Runs `work` after the channel's earlier handlers, whatever other channels' handlers are doing. A
   * channel's first event (its open) also waits for the connection's handlers queued before it. A channel
   * whose handlers have all run has no chain until its next event.
   */
  enqueueChannel(conn: ConnectionState, channelId: number, work: () => void | Promise<void>): void {
    const chains = (conn.channelChains ??= new Map());
    const tail = this.after(conn, chains.get(channelId) ?? conn.chain, work);
    chains.set(channelId, tail);
    void tail.then(() => {
      const now = conn.channelChains;
      if (now?.get(channelId) !== tail) return;
      now.delete(channelId);
      // An emptied Map keeps its table: an idle connection keeps none.
      if (now.size === 0) conn.channelChains = undefined;
    });
  }

  /** Runs `work` once the handlers queued so far have run, the connection's and every channel's: its end. */
  enqueueLast(conn: ConnectionState, work: () => void | Promise<void>): void {
    conn.chain = this.after(conn, Promise.all([conn.chain, ...(conn.channelChains?.values() ?? [])]), work);
  }

  private after(conn: ConnectionState, before: Promise<unknown>, work: () => void | Promise<void>): Promise<void> {
    return before.then(() => work()).catch((e: unknown) => this.handlerFailed(conn.connectionId, e));
  }

  /** Runs decision handlers; a handler that throws counts as a refusal. */
  async decide<K extends keyof SSHServerEvents>(name: K, event: SSHServerEvents[K], refuse: () => void): Promise<void> {
    try {
      await this.dispatch(name, event);
    } catch (e) {
      this.handlerFailed((event as ConnectionEvent).connectionId ?? 0, e);
      refuse();
    }
  }

  handlerFailed(connectionId: number, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.error(connectionId, e instanceof SSHError ? e.code : ErrorCode.InvalidArgument, `event handler failed: ${message}`);
  }

  error(connectionId: number, errorCode: number, description: string): void {
    this.report('error', { connectionId, errorCode, description });
  }

  /** A log line that belongs to no connection (connection id 0). */
  log(level: number, message: string): void {
    this.report('log', { connectionId: 0, logLevel: level, message, logType: 'SSH' });
  }

  private report<K extends 'error' | 'log'>(name: K, event: SSHServerEvents[K]): void {
    if (!this.hasListeners(name)) return;
    try {
      void Promise.resolve(this.dispatch(name, event)).catch(() => {});
    } catch {
      // An error or log handler that throws has nowhere further to report to.
    }
  }
}
