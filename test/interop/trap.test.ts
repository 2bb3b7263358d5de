/**
 * Trap containment: when the wasm instance traps, the server closes the connections it held with a clear
 * error, starts a fresh instance with the same host key and settings, and real clients log in again. On
 * both boundaries: the wasm-bindgen module and the WIT component (whose bindings refuse every call into an
 * instance once it trapped, so only a fresh instance serves again).
 */

import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { componentRuntime } from '../../ts/component/node.js';
import { coreMemory } from '../../ts/core/instance.js';
import { nodeRuntime } from '../../ts/node/index.js';
import { ErrorCode } from '../../ts/errors.js';
import { SSHServer, type DisconnectedEvent, type ErrorEvent, type Runtime } from '../../ts/server.js';
import { ssh } from '../helpers/demo.js';

const { Client } = ssh2;
type Ssh2Client = InstanceType<typeof Client>;

/** The server's current core, as the host holds it. */
const coreOf = (server: SSHServer) => server['binding'].core;

const BOUNDARIES: { boundary: string; runtime: Runtime; trapOnNextCall(server: SSHServer): void }[] = [
  {
    boundary: 'wasm-bindgen',
    runtime: nodeRuntime,
    /** Makes the next call into the current instance trap, as a bug or an out-of-memory would. */
    trapOnNextCall(server) {
      // The binding passes this pointer into linear memory; far past its end, the access traps.
      (coreOf(server) as unknown as { __wbg_ptr: number }).__wbg_ptr = 0xfffffff0;
    },
  },
  {
    boundary: 'component',
    runtime: componentRuntime,
    trapOnNextCall(server) {
      // The component's handle is an index into the bindings' own table, out of reach: instead every byte of
      // linear memory becomes 0xff, so every pointer the next call follows (the allocator's, the core's)
      // leads past the end of memory, or a check fails and the core aborts.
      new Uint8Array(coreMemory(coreOf(server))!.buffer).fill(0xff);
    },
  },
];

describe.each(BOUNDARIES)('$boundary', ({ runtime, trapOnNextCall }) => {
  const server = new SSHServer(runtime, { localPort: 0, config: { UserAuthBanner: 'kept across instances' } });
  server.generateHostKey();
  const errors: ErrorEvent[] = [];
  const disconnects: DisconnectedEvent[] = [];
  const serverLog: string[] = [];
  let port = 0;

  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === 'pw' ? e.accept() : e.reject()));
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    await server.sendChannelData(e.connectionId, e.channelId, `ran ${e.request.command}\n`);
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  server.on('error', (e) => void errors.push(e));
  server.on('disconnected', (e) => void disconnects.push(e));
  server.on('log', (e) => void (e.connectionId === 0 && serverLog.push(e.message)));

  beforeAll(async () => {
    port = (await server.startListening()).port;
  });
  afterAll(() => server.shutdown(500));

  function login(banners: string[] = []): Promise<Ssh2Client> {
    return new Promise((resolve, reject) => {
      const c = new Client();
      c.on('banner', (text: string) => banners.push(text));
      c.on('ready', () => resolve(c));
      c.on('error', reject);
      c.connect({ host: '127.0.0.1', port, username: 'u', password: 'pw', readyTimeout: 20_000 });
    });
  }

  function closed(c: Ssh2Client): Promise<void> {
    return new Promise((resolve) => c.once('close', () => resolve()));
  }

  describe('a trapped wasm instance', () => {
    it('closes the connections it held with an error, and a fresh instance serves new clients', async () => {
      const victim = await login();
      const bystander = await login();
      const ids = [...server.connections.keys()];
      const hostKeys = server.hostPublicKeys;
      expect(ids).toHaveLength(2);
      const bothClosed = Promise.all([closed(victim), closed(bystander)]);
      const bothReported = new Promise<void>((resolve) => server.on('disconnected', () => void (disconnects.length === 2 && resolve())));
      const restarted = new Promise<void>((resolve) => server.on('log', (e) => void (/fresh wasm instance started/.test(e.message) && resolve())));

      trapOnNextCall(server);
      victim.exec('anything', () => {});
      await bothClosed;

      await bothReported;
      for (const d of disconnects) expect(d.description).toMatch(/connection closed: wasm core failed/);
      expect(disconnects.map((d) => d.connectionId).sort()).toEqual(ids.sort());
      expect(errors.filter((e) => e.errorCode === ErrorCode.WasmTrapped).map((e) => e.connectionId).sort()).toEqual([0, ...ids].sort());
      await restarted;
      expect(serverLog.join('\n')).toMatch(/wasm core failed: .*closing 2 connection\(s\)/);
      expect(server.connections.size).toBe(0);

      // The same host key and settings, new connection ids, and a real OpenSSH client gets in.
      const r = await ssh(port, { user: 'u', password: 'pw', command: 'after the trap' });
      expect(r.stdout.toString()).toBe('ran after the trap\n');
      expect(r.code).toBe(0);
      expect(server.config('UserAuthBanner')).toBe('kept across instances');
      expect(server.hostPublicKeys).toEqual(hostKeys);
      const banners: string[] = [];
      const again = await login(banners);
      expect(banners).toEqual(['kept across instances']);
      expect(Math.min(...server.connections.keys())).toBeGreaterThan(Math.max(...ids));
      again.end();
    });
  });
});
