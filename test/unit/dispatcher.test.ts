/**
 * The order handlers run in: each channel's in order, after the connection's that came before its open; a
 * channel whose handler waits holds up no other channel and not the connection's own events; the end waits
 * for everything. A channel's chain is forgotten once its handlers have run.
 */

import { describe, expect, it } from 'vitest';
import { ConnectionState } from '../../ts/connection.js';
import { Dispatcher } from '../../ts/dispatcher.js';
import { systemClock } from '../../ts/runtime.js';
import type { Transport } from '../../ts/transport.js';

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('Dispatcher', () => {
  it("runs each channel's handlers in order, without waiting for another channel's", async () => {
    const failures: unknown[] = [];
    const events = new Dispatcher(
      (name, event) => void failures.push({ name, event }),
      () => true,
    );
    const conn = new ConnectionState(1, {} as Transport, systemClock);
    const ran: string[] = [];
    let releaseAuth!: () => void;
    let releaseExec!: () => void;
    const auth = new Promise<void>((resolve) => (releaseAuth = resolve));
    const exec = new Promise<void>((resolve) => (releaseExec = resolve));

    events.enqueue(conn, async () => {
      await auth;
      ran.push('authenticated');
    });
    events.enqueueChannel(conn, 0, () => void ran.push('open 0'));
    events.enqueueChannel(conn, 0, async () => {
      await exec;
      ran.push('exec 0');
    });
    events.enqueueChannel(conn, 0, () => void ran.push('data 0'));
    events.enqueueChannel(conn, 1, () => void ran.push('open 1'));
    events.enqueueChannel(conn, 1, () => void ran.push('data 1'));
    events.enqueue(conn, () => void ran.push('status'));
    events.enqueueLast(conn, () => void ran.push('disconnected'));
    await settle();
    expect(ran, 'channels wait for the connection events before their open').toEqual([]);

    // Independent chains interleave as they may; each keeps its own order.
    const before = (a: string, b: string) => ran.indexOf(a) >= 0 && ran.indexOf(a) < ran.indexOf(b);
    releaseAuth();
    await settle();
    expect([...ran].sort()).toEqual(['authenticated', 'data 1', 'open 0', 'open 1', 'status']);
    expect(ran[0]).toBe('authenticated');
    expect(before('open 1', 'data 1')).toBe(true);
    expect([...conn.channelChains!.keys()], 'an idle channel keeps no chain').toEqual([0]);

    releaseExec();
    await settle();
    expect(ran.slice(5)).toEqual(['exec 0', 'data 0', 'disconnected']);
    expect(conn.channelChains, 'a connection whose channels are all idle keeps no map of them').toBeUndefined();
    expect(failures).toEqual([]);
  });

  it('reports a handler that throws and goes on with the next', async () => {
    const reported: { name: string; description?: string }[] = [];
    const events = new Dispatcher(
      (name, event) => void reported.push({ name, description: (event as { description?: string }).description }),
      () => true,
    );
    const conn = new ConnectionState(2, {} as Transport, systemClock);
    const ran: string[] = [];
    events.enqueueChannel(conn, 3, () => {
      throw new Error('boom');
    });
    events.enqueueChannel(conn, 3, () => void ran.push('next'));
    await settle();
    expect(ran).toEqual(['next']);
    expect(reported).toEqual([{ name: 'error', description: 'event handler failed: boom' }]);
  });
});
