/**
 * A trap at any call into the core is recovered. For every place the host calls the wasm core, the call
 * made there traps for real inside the module (the core's handle is pointed past the end of linear memory
 * just before that one call, as test/interop/trap.test.ts does), and then: nothing escapes to the process
 * from the socket or timer callback that made the call, every connection the instance held ends with error
 * 1400 and one `disconnected` event, a client that had not authenticated owes the `crash` penalty, and a
 * fresh instance serves the next client. Event records the host cannot decode count as a trap too.
 */

import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, beforeAll, afterAll, expect, it } from 'vitest';
import type { Core } from '../../wasm/pkg/wasshd_wasm.js';
import { SSHServer, type DisconnectedEvent, type ErrorEvent, type Runtime } from '../../ts/server.js';
import { DisconnectReason, ErrorCode, SSHError } from '../../ts/errors.js';
import { nodeRuntime } from '../../ts/node/index.js';
import ssh2 from 'ssh2';
import { connect, exec, type Ssh2Client } from '../helpers/ssh2.js';

const { Client } = ssh2;

/** An address far past the end of any wasm32 memory: the first access through it traps. */
const PAST_MEMORY = 0xfffffff0;
const PASSWORD = 'pw';

/** Wraps cores so that one chosen call traps inside the module. Counts from `arm`. */
class TrapInjector {
  private trapWhen: ((method: string) => boolean) | undefined;
  private replacement: unknown;
  private readonly called = new Set<string>();
  /** The method whose call trapped. */
  trapped: string | undefined;

  /**
   * The next call of `method` traps; with `after`, the next one after a call of `after`. With `returns`,
   * that call returns it instead of trapping (what a corrupted instance might hand back).
   */
  arm(method: string, after?: string, returns?: unknown): void {
    this.called.clear();
    this.trapped = undefined;
    this.replacement = returns;
    this.trapWhen = (m) => m === method && (after === undefined || this.called.has(after));
  }

  wrap(core: Core): Core {
    return new Proxy(core, {
      get: (target, property) => {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        return (...args: unknown[]) => {
          if (this.trapWhen?.(property)) {
            this.trapWhen = undefined;
            this.trapped = property;
            if (this.replacement !== undefined) return this.replacement;
            (target as unknown as { __wbg_ptr: number }).__wbg_ptr = PAST_MEMORY;
          }
          this.called.add(property);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }
}

/**
 * What makes the call happen. From the row's own loopback address, before authentication: `connect` (a TCP
 * connection, the trap comes while accepting it), `login` (an ssh2 login), and over a raw socket once the
 * server's version line arrived: `version` (the client's version line), `garbage` (a version line and a
 * malformed packet), `silence` (nothing, until LoginGraceTime), `drop` (the socket closes). After
 * authentication: `exec` (an ssh2 client runs `command`, see the handler below), `forward` (an ssh2 client asks
 * for a remote forward on port 0 and, with `connectForward`, something connects to it). `server`: the
 * application calls the server (`call`).
 */
type Trigger = 'connect' | 'login' | 'version' | 'garbage' | 'silence' | 'drop' | 'exec' | 'forward' | 'server';

interface Row {
  /** The host function that makes the call (in ts/server.ts or a part it composes: core/binding.ts, routing.ts, decisions.ts). */
  site: string;
  method: string;
  after?: string;
  trigger: Trigger;
  command?: string;
  call?: (server: SSHServer, hostKey: string) => unknown;
  config?: Record<string, string>;
  /** The connection being served had ended (and had its `disconnected`) when the call trapped. */
  endedFirst?: boolean;
  /** Instead of trapping, the call returns this. */
  returns?: unknown;
  /** `forward`: a TCP connection to the forwarded port once it is bound. */
  connectForward?: boolean;
}

const ROWS: Row[] = [
  { site: 'accept: entropy', method: 'add_entropy', trigger: 'connect' },
  { site: 'accept: open', method: 'open', trigger: 'connect' },
  { site: 'transport data: input', method: 'input', trigger: 'version' },
  { site: 'afterCall > flush', method: 'take_output', trigger: 'login' },
  { site: 'afterCall > pump', method: 'drain_events', trigger: 'version' },
  { site: 'afterCall > rearm', method: 'next_deadline', trigger: 'version' },
  { site: 'afterCall: status', method: 'status', trigger: 'version' },
  { site: 'afterCall: status after the events', method: 'status', after: 'drain_events', trigger: 'version' },
  { site: 'pump: records the host cannot decode', method: 'drain_events', trigger: 'version', returns: Uint8Array.of(255, 0, 0, 0, 1) },
  { site: 'onDisconnected > flush', method: 'take_output', after: 'drain_events', trigger: 'garbage', endedFirst: true },
  { site: 'timer: handle_timeout', method: 'handle_timeout', trigger: 'silence', config: { LoginGraceTime: '1' } },
  { site: 'transportClosed: connection_lost', method: 'connection_lost', trigger: 'drop' },
  { site: 'transportClosed > pump', method: 'drain_events', after: 'connection_lost', trigger: 'drop' },
  { site: 'transportClosed: close', method: 'close', trigger: 'drop', endedFirst: true },
  { site: 'route keysExchanged: entropy', method: 'add_entropy', after: 'input', trigger: 'login' },
  { site: 'serviceRequest reply', method: 'reply_service', trigger: 'login' },
  { site: 'userAuthRequest reply', method: 'reply_auth_accept', trigger: 'login' },
  { site: 'userAuthRequest refusal', method: 'reply_auth_reject', trigger: 'login' },
  { site: 'channelOpenRequest reply', method: 'reply_channel_open', trigger: 'exec', command: 'echo' },
  { site: 'channelRequest reply', method: 'reply_channel_request', trigger: 'exec', command: 'echo' },
  { site: 'pumpChannel: send_data', method: 'send_data', trigger: 'exec', command: 'echo' },
  { site: 'pumpChannel > flush', method: 'take_output', after: 'send_data', trigger: 'exec', command: 'echo' },
  { site: 'channelData: consume', method: 'consume_channel_data', trigger: 'exec', command: 'read' },
  { site: 'sendEOF', method: 'send_eof', trigger: 'exec', command: 'echo' },
  { site: 'sendExitStatus', method: 'send_exit_status', trigger: 'exec', command: 'echo' },
  { site: 'closeChannel', method: 'close_channel', trigger: 'exec', command: 'echo' },
  { site: 'sendExitSignal', method: 'send_exit_signal', trigger: 'exec', command: 'signal' },
  { site: 'exchangeKeys', method: 'rekey', trigger: 'exec', command: 'rekey' },
  { site: 'disconnect', method: 'disconnect', trigger: 'exec', command: 'disconnect' },
  { site: 'globalRequest reply', method: 'reply_global_request', trigger: 'forward' },
  { site: 'remote forward: openChannel', method: 'open_channel', trigger: 'forward', connectForward: true },
  { site: 'config: read', method: 'get_config', trigger: 'server', call: (s) => s.config('MaxAuthAttempts') },
  { site: 'config: write', method: 'set_config', trigger: 'server', call: (s) => s.config('MaxAuthAttempts=5') },
  { site: 'addHostKey', method: 'add_host_key', trigger: 'server', call: (s, key) => s.addHostKey(key) },
  { site: 'generateHostKey', method: 'add_host_key', trigger: 'server', call: (s) => s.generateHostKey() },
  { site: 'hostPublicKeys', method: 'host_public_keys', trigger: 'server', call: (s) => s.hostPublicKeys },
];

const BEFORE_AUTH: Trigger[] = ['login', 'version', 'garbage', 'silence', 'drop'];

/** Errors that reached the process from a callback: with them, Node would have exited. */
const escaped: unknown[] = [];
/** Fails the running row at once on an escape, rather than when its waits time out. */
let failRow: (e: unknown) => void = () => {};
const onEscape = (e: unknown) => {
  escaped.push(e);
  failRow(e);
};
beforeAll(() => {
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
});
afterAll(() => {
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function closedSsh2(c: Ssh2Client): Promise<void> {
  return new Promise((resolve) => c.once('close', () => resolve()));
}

/** A raw TCP connection from `source`; `version` resolves with the server's version line, if it sends one. */
function rawSocket(port: number, source: string): { socket: Socket; version: Promise<boolean>; closed: Promise<void> } {
  const socket = tcpConnect({ host: '127.0.0.1', port, localAddress: source });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let seen = '';
  const version = new Promise<boolean>((resolve) => {
    socket.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
      if (seen.includes('\r\n')) resolve(seen.startsWith('SSH-2.0-'));
    });
    void closed.then(() => resolve(false));
  });
  return { socket, version, closed };
}

it.each(ROWS.map((row, i) => ({ ...row, source: `127.0.0.${20 + i}` })))('a trap in $site ($method) is recovered', async (row) => {
  const injector = new TrapInjector();
  const runtime: Runtime = {
    ...nodeRuntime,
    createCore: (seed) => injector.wrap(nodeRuntime.createCore(seed)),
  };
  const server = new SSHServer(runtime, { localPort: 0, config: { PerSourcePenaltyExemptList: '127.0.0.1', ...row.config } });
  const hostKey = server.generateHostKey();
  const errors: ErrorEvent[] = [];
  const disconnects: DisconnectedEvent[] = [];
  const serverLog: string[] = [];
  const connected = new Set<number>();
  server.on('connected', (e) => void connected.add(e.connectionId));
  server.on('error', (e) => void errors.push(e));
  server.on('disconnected', (e) => void disconnects.push(e));
  server.on('log', (e) => void (e.connectionId === 0 && serverLog.push(e.message)));
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === PASSWORD ? e.accept() : e.reject()));
  server.on('sshTunnelRequested', (e) => void (e.accept = true));
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    const { connectionId: c, channelId: ch } = e;
    switch (e.request.command) {
      case 'echo':
        await server.sendChannelData(c, ch, 'echoed\n');
        await server.sendEOF(c, ch);
        server.sendExitStatus(c, ch, 0);
        await server.closeChannel(c, ch);
        break;
      case 'signal':
        server.sendExitSignal(c, ch, 'TERM');
        await server.closeChannel(c, ch);
        break;
      case 'rekey':
        server.exchangeKeys(c);
        break;
      case 'disconnect':
        server.disconnect(c);
        break;
      // 'read': what the client sends is consumed (the window reopened) as it arrives.
    }
  });
  const { port } = await server.startListening();
  cleanup.push(() => server.shutdown(500));
  const login = async (localAddress: string) => {
    const c = await connect(port, { localAddress, username: 'u', password: PASSWORD });
    cleanup.push(() => c.end());
    return c;
  };

  const escape = new Promise<never>((_, reject) => (failRow = (e) => reject(new Error(`escaped to the process: ${String(e)}`))));
  escape.catch(() => {});

  // An authenticated session that only waits: it must be closed with the instance.
  const bystander = await login('127.0.0.1');
  const bystanderClosed = closedSsh2(bystander);
  let thrown: unknown;

  switch (row.trigger) {
    case 'connect': {
      injector.arm(row.method, row.after, row.returns);
      const raw = rawSocket(port, row.source);
      cleanup.push(() => raw.socket.destroy());
      expect(await raw.version, 'the connection is dropped, not served').toBe(false);
      break;
    }
    case 'login': {
      injector.arm(row.method, row.after, row.returns);
      const actor = new Client();
      cleanup.push(() => actor.end());
      const ended = new Promise<string>((resolve) => {
        actor.on('ready', () => resolve('ready'));
        actor.on('error', () => {});
        actor.on('close', () => resolve('closed'));
      });
      actor.connect({ host: '127.0.0.1', port, localAddress: row.source, username: 'u', password: PASSWORD, readyTimeout: 20_000 });
      expect(await ended).toBe('closed');
      break;
    }
    case 'version':
    case 'garbage':
    case 'silence':
    case 'drop': {
      const raw = rawSocket(port, row.source);
      cleanup.push(() => raw.socket.destroy());
      expect(await raw.version).toBe(true);
      injector.arm(row.method, row.after, row.returns);
      // A packet length of 2^32-1: a protocol error the core disconnects for.
      if (row.trigger === 'version') raw.socket.write('SSH-2.0-trap_test\r\n');
      if (row.trigger === 'garbage') raw.socket.write('SSH-2.0-trap_test\r\n\xff\xff\xff\xff\0\0\0\0\0\0\0\0', 'latin1');
      if (row.trigger === 'drop') raw.socket.destroy();
      await raw.closed;
      break;
    }
    case 'exec': {
      const actor = await login(row.source);
      const actorClosed = closedSsh2(actor);
      injector.arm(row.method, row.after, row.returns);
      actor.exec(row.command!, (err, stream) => {
        if (err) return;
        stream.on('error', () => {});
        if (row.command === 'read') stream.write('some input');
      });
      await actorClosed;
      break;
    }
    case 'forward': {
      const actor = await login(row.source);
      const actorClosed = closedSsh2(actor);
      injector.arm(row.method, row.after, row.returns);
      actor.forwardIn('127.0.0.1', 0, (err, bound) => {
        if (err || !row.connectForward) return;
        const socket = tcpConnect({ host: '127.0.0.1', port: bound });
        socket.on('error', () => {});
        cleanup.push(() => socket.destroy());
      });
      await actorClosed;
      break;
    }
    case 'server':
      injector.arm(row.method, row.after, row.returns);
      try {
        row.call!(server, hostKey);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(SSHError);
      expect((thrown as SSHError).code).toBe(ErrorCode.WasmTrapped);
      break;
  }

  await Promise.race([bystanderClosed, escape]);
  expect(injector.trapped, 'the chosen call was made and trapped').toBe(row.method);
  await expect.poll(() => serverLog.join('\n'), { timeout: 20_000 }).toMatch(/fresh wasm instance started/);
  expect(escaped, 'nothing escaped to the process').toEqual([]);

  // Every connection ended once: the bystander's and the one being served (unless the trap came before it
  // was opened) with the trap's error, unless it had ended already.
  const held = [...connected].sort();
  expect(held).toHaveLength(row.trigger === 'connect' || row.trigger === 'server' ? 1 : 2);
  await expect.poll(() => disconnects.length, { timeout: 20_000 }).toBe(held.length);
  expect(disconnects.map((d) => d.connectionId).sort()).toEqual(held);
  const lost = row.endedFirst ? [disconnects.find((d) => d.connectionId === held[0])!] : disconnects;
  for (const d of lost) {
    expect(d.statusCode).toBe(DisconnectReason.ConnectionLost);
    expect(d.description).toMatch(/connection closed: wasm core failed/);
  }
  const trapErrors = new Set(errors.filter((e) => e.errorCode === ErrorCode.WasmTrapped).map((e) => e.connectionId));
  for (const id of [0, ...lost.map((d) => d.connectionId)]) expect(trapErrors.has(id), `error 1400 for connection ${id}`).toBe(true);
  await expect.poll(() => server.connections.size, { timeout: 20_000 }).toBe(0);

  // The client whose connection was being served owes the crash penalty if it had not authenticated.
  const penalised = server.penalties.refusedSources(Math.floor(performance.now())).includes(row.source);
  expect(penalised).toBe(BEFORE_AUTH.includes(row.trigger));

  // A fresh instance serves the next client.
  const next = await login('127.0.0.1');
  expect((await exec(next, 'echo')).stdout.toString()).toBe('echoed\n');
  expect(escaped).toEqual([]);
});
