/**
 * The edges of trap recovery (test/interop/trap.test.ts has the main path): handlers that call the server
 * while it closes what the trapped instance held, a trap that lands while a connection is being admitted, and
 * a fresh instance that cannot be started.
 */

import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeRuntime } from '../../ts/node/index.js';
import { ErrorCode } from '../../ts/errors.js';
import { SSHServer, type ErrorEvent, type Runtime } from '../../ts/server.js';

const { Client } = ssh2;
type Ssh2Client = InstanceType<typeof Client>;

/** Makes the next call into the server's current instance trap (the binding's handle points past linear memory). */
function trapOnNextCall(server: SSHServer): void {
  (server['binding'].core as unknown as { __wbg_ptr: number }).__wbg_ptr = 0xfffffff0;
}

function freshServer(runtime: Runtime = nodeRuntime): SSHServer {
  const server = new SSHServer(runtime, { localPort: 0 });
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === 'pw' ? e.accept() : e.reject()));
  return server;
}

/** Resolves once the client is logged in, or rejects with why it could not; `algorithms` as the ssh2 client takes them. */
function login(port: number, algorithms?: ssh2.ConnectConfig['algorithms']): Promise<Ssh2Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => resolve(c));
    c.on('error', reject);
    c.on('close', () => reject(new Error('closed before login')));
    c.connect({ host: '127.0.0.1', port, username: 'u', password: 'pw', readyTimeout: 20_000, ...(algorithms ? { algorithms } : {}) });
  });
}

const waitFor = (server: SSHServer, pattern: RegExp): Promise<void> =>
  new Promise((resolve) => server.on('log', (e) => void (pattern.test(e.message) && resolve())));

const servers: SSHServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.shutdown(200)));
});

describe('trap recovery', () => {
  it('gives the fresh instance a legacy module of its own for the legacy algorithms its replayed settings name', async () => {
    const server = freshServer();
    servers.push(server);
    // The core's own provider, so that 3DES and HMAC-MD5 come from the legacy module rather than node:crypto.
    for (const setting of ['CryptoProvider=wasm', 'SSHEncryptionAlgorithms=aes128-ctr,3des-cbc', 'SSHMacAlgorithms=hmac-sha2-256,hmac-md5']) server.config(setting);
    const { port } = await server.startListening();
    const legacy = { cipher: ['3des-cbc' as const], hmac: ['hmac-md5' as const] };
    const before = await login(port, legacy);
    const restarted = waitFor(server, /fresh wasm instance started/);
    trapOnNextCall(server);
    before.exec('x', () => {});
    await restarted;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.config('SSHEncryptionAlgorithms')).toBe('aes128-ctr,3des-cbc');
    const after = await login(port, legacy);
    expect([...server.connections.values()].map((c) => [c.algorithms?.cipherIn, c.algorithms?.macOut])).toEqual([['3des-cbc', 'hmac-md5']]);
    after.end();
  });

  it('keeps handlers that call the server during the recovery away from the dead instance', async () => {
    const server = freshServer();
    servers.push(server);
    const restarts: string[] = [];
    const disconnected: number[] = [];
    const configErrors: unknown[] = [];
    server.on('log', (e) => void (/fresh wasm instance started/.test(e.message) && restarts.push(e.message)));
    server.on('disconnected', (e) => void disconnected.push(e.connectionId));
    // A handler that reads a setting on every error, as a monitoring hook might.
    server.on('error', () => {
      try {
        server.config('UserAuthBanner');
      } catch (e) {
        configErrors.push(e);
      }
    });
    const { port } = await server.startListening();
    const clients = await Promise.all([login(port), login(port)]);
    const ids = [...server.connections.keys()];
    const restarted = waitFor(server, /fresh wasm instance started/);

    trapOnNextCall(server);
    clients[0]!.exec('x', () => {});
    await restarted;
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(restarts).toHaveLength(1);
    expect(disconnected.sort()).toEqual(ids.sort());
    // Every call a handler made meanwhile was refused as "recovering", never run on the dead instance.
    for (const e of configErrors) expect(String(e)).toMatch(/fresh one is starting/);
    (await login(port)).end();
  });

  it('serves connections admitted around a trap on the fresh instance, with ids never handed out twice', async () => {
    const server = freshServer();
    servers.push(server);
    const connected: number[] = [];
    server.on('connected', (e) => void connected.push(e.connectionId));
    // The n-th admission's handler traps the instance a few microtask turns after it returns: at some
    // depth the trap lands between the core opening the connection and the host serving it.
    let admission = 0;
    server.on('connectionRequest', () => {
      const depth = admission++;
      if (depth > 8) return;
      let turn: Promise<void> = Promise.resolve();
      for (let i = 0; i < depth; i++) turn = turn.then(() => undefined);
      void turn.then(() => {
        trapOnNextCall(server);
        try {
          server.config('UserAuthBanner');
        } catch {
          // The trap itself: what this test is about.
        }
      });
    });
    const { port } = await server.startListening();

    for (let depth = 0; depth <= 8; depth++) {
      const restarted = waitFor(server, /fresh wasm instance started/);
      await login(port).then(
        (c) => c.end(),
        () => undefined, // a connection the trap took is closed, not served
      );
      await restarted;
    }
    expect(new Set(connected).size).toBe(connected.length);
    // After all that, a client is served and every connection the server lists is live on the fresh instance.
    const c = await login(port);
    for (const id of server.connections.keys()) expect(server['binding'].enter(undefined, (core) => core.next_deadline(id)).ok).toBe(true);
    c.end();
  });

  it('stops serving, without an unhandled rejection, when no fresh instance can be started', async () => {
    let cores = 0;
    const failingRuntime: Runtime = {
      ...nodeRuntime,
      createCore(seed) {
        if (cores++ > 0) throw new Error('out of memory for a fresh instance');
        return nodeRuntime.createCore(seed);
      },
      listen: {
        async listen(options, accept) {
          const listener = await nodeRuntime.listen.listen(options, accept);
          return { ...listener, close: () => listener.close().then(() => Promise.reject(new Error('listener already gone'))) };
        },
      },
    };
    const server = freshServer(failingRuntime);
    const errors: ErrorEvent[] = [];
    server.on('error', (e) => void errors.push(e));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { port } = await server.startListening();
      const client = await login(port);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      const stopped = new Promise<void>((resolve) => server.on('error', (e) => void (/could not stop listening/.test(e.description) && resolve())));
      trapOnNextCall(server);
      client.exec('x', () => {});
      await Promise.all([closed, stopped]);
      await new Promise((resolve) => setTimeout(resolve, 100));

      expect(errors.map((e) => e.description)).toContain('could not start a fresh wasm instance: wasm core failed: out of memory for a fresh instance');
      expect(server.listening).toBe(false);
      expect(() => server.config('UserAuthBanner')).toThrow(/could not start a fresh wasm instance/);
      expect(errors.every((e) => e.errorCode === ErrorCode.WasmTrapped)).toBe(true);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
