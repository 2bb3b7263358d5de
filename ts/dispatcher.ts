/**
 * The application's event handlers as the server's parts call them: in order, one connection's after
 * another's earlier ones; decisions, where a handler that throws refuses; and reports (`error`, the server's
 * own `log` lines) that never throw back into the server.
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

  /** Runs `work` after the connection's earlier handlers; what it throws is reported as an `error` event. */
  enqueue(conn: ConnectionState, work: () => void | Promise<void>): void {
    conn.chain = conn.chain.then(work).catch((e: unknown) => this.handlerFailed(conn.connectionId, e));
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
