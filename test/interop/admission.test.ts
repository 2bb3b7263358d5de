/**
 * Admission: MaxConnections, MaxStartups and PerSourceMaxStartups count a connection from the moment it is
 * admitted, while an async `connectionRequest` handler is still deciding, so a burst that arrives meanwhile
 * cannot get past them; the slot is given back when the handler refuses or the core cannot open the
 * connection.
 */

import { connect as tcpConnect } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { SSHServer, ErrorCode, type ErrorEvent, type Transport, type TransportHandlers } from '../../ts/node/index.js';

const LIMIT = 3;
const SETTINGS = ['MaxConnections', 'MaxStartups', 'PerSourceMaxStartups'];

let server: SSHServer | undefined;
const sockets: ReturnType<typeof tcpConnect>[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.shutdown(500);
  server = undefined;
});

interface Attempt {
  /** Resolves true once the server's version line arrives, false if the connection closes first. */
  served: Promise<boolean>;
}

function attempt(port: number): Attempt {
  const socket = tcpConnect({ host: '127.0.0.1', port });
  sockets.push(socket);
  socket.on('error', () => {});
  return {
    served: new Promise((resolve) => {
      socket.on('data', (d: Buffer) => resolve(d.toString('latin1').startsWith('SSH-2.0-')));
      socket.on('close', () => resolve(false));
    }),
  };
}

async function listening(setting: string, limit: number): Promise<number> {
  server = new SSHServer({ localPort: 0, config: { [setting]: limit, PerSourcePenaltyExemptList: '127.0.0.1' } });
  server.generateHostKey();
  return (await server.startListening()).port;
}

it.each(SETTINGS)('%s holds a burst to its limit while an async connectionRequest handler decides', async (setting) => {
  const port = await listening(setting, LIMIT);
  let deciding = 0;
  let arrived!: () => void;
  const allArrived = new Promise<void>((resolve) => (arrived = resolve));
  let openGate!: () => void;
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  const burst = 10;
  let refusedEarly = 0;
  const check = () => deciding + refusedEarly === burst && arrived();
  server!.on('connectionRequest', async () => {
    deciding++;
    check();
    await gate;
  });
  const attempts = Array.from({ length: burst }, () => attempt(port));
  for (const a of attempts) void a.served.then((served) => !served && (refusedEarly++, check()));
  // Every connection has either reached the handler or been refused before it.
  await allArrived;
  expect(deciding).toBe(LIMIT);
  openGate();
  const served = await Promise.all(attempts.map((a) => a.served));
  expect(served.filter(Boolean)).toHaveLength(LIMIT);
});

it.each(SETTINGS)('%s gives the slot back when the connectionRequest handler refuses', async (setting) => {
  const port = await listening(setting, 2);
  let refuse = 4;
  server!.on('connectionRequest', async (e) => {
    await Promise.resolve();
    if (refuse-- > 0) e.reject();
  });
  for (let i = 0; i < 4; i++) expect(await attempt(port).served, `refused ${i + 1}`).toBe(false);
  const kept = [attempt(port), attempt(port)];
  expect(await Promise.all(kept.map((a) => a.served))).toEqual([true, true]);
});

/** An in-memory transport: enough for the server to open a connection on it. */
class MemoryTransport implements Transport {
  readonly remoteAddress = '192.0.2.7';
  readonly remotePort = 4000;
  readonly bufferedAmount = 0;
  destroyed = false;
  written = '';
  handlers: TransportHandlers | undefined;
  write(data: Uint8Array): boolean {
    this.written += Buffer.from(data).toString('latin1');
    return true;
  }
  end(): void {
    this.destroy();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.handlers?.close();
  }
  pause(): void {}
  resume(): void {}
  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }
}

it('gives the slot back when the core cannot open the connection', async () => {
  server = new SSHServer({ config: { MaxConnections: 1 } });
  const errors: ErrorEvent[] = [];
  server.on('error', (e) => void errors.push(e));
  // Without a host key the core refuses to open a connection.
  for (let i = 0; i < 3; i++) {
    const t = new MemoryTransport();
    await server.accept(t);
    expect(t.destroyed).toBe(true);
  }
  expect(errors.map((e) => e.errorCode)).toEqual([ErrorCode.NoHostKey, ErrorCode.NoHostKey, ErrorCode.NoHostKey]);
  server.generateHostKey();
  const t = new MemoryTransport();
  await server.accept(t);
  expect(t.destroyed).toBe(false);
  expect(t.written).toMatch(/^SSH-2\.0-/);
  expect(server.connections.size).toBe(1);
  t.destroy();
});
