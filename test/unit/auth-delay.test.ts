/**
 * The auth-failure delay (AuthFailureDelay): a refused attempt is answered no sooner than the user's minimum
 * time after it reached the host (publickey queries included); accepts and the first `none` at once; a connection that
 * closes meanwhile leaves no timer. The server runs on a fake clock (Runtime.clock) with a real client over
 * TCP, and its transport records the fake time of every write, so nothing here depends on wall-clock time.
 * The tests wait for the events themselves (a timer armed, a write, a request reaching the handler), never for
 * a fixed time: the client's requests cross a real socket, which a loaded machine may be slow to deliver.
 */

import { createHmac, generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthFailureDelay, parseAuthFailureDelay, remainingDelay } from '../../ts/auth-delay.js';
import { nodeRuntime } from '../../ts/node/index.js';
import { nodeTcp } from '../../ts/node/tcp.js';
import { SSHServer, type SSHServerOptions, type UserAuthRequestEvent } from '../../ts/server.js';
import type { Transport } from '../../ts/transport.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { MSG, RawClient, Writer } from '../helpers/raw-client.js';

describe('the delay arithmetic', () => {
  it('waits out the minimum, doubles it past the work done, and gives up after 5 s of work', () => {
    expect(remainingDelay(5, 0)).toBe(5);
    expect(remainingDelay(5, 3)).toBe(2);
    expect(remainingDelay(5, 5)).toBe(0);
    expect(remainingDelay(5, 6)).toBe(4); // next doubling: 10
    expect(remainingDelay(5, 12)).toBe(8); // 20
    expect(remainingDelay(5, 4999)).toBe(5120 - 4999);
    expect(remainingDelay(5, 5001)).toBe(0);
    expect(remainingDelay(0, 0)).toBe(0);
  });

  it('derives the per-user part from HMAC-SHA-256 of the user name with the secret: base to twice base', async () => {
    const secret = new Uint8Array(32).fill(7);
    const delay = new AuthFailureDelay(5, secret);
    const expected = (user: string) => 5 * (1 + createHmac('sha256', secret).update(user).digest().readUInt32BE(0) / 2 ** 32);
    for (const user of ['alice', 'bob', 'root', 'ünïcode', '']) expect(await delay.minimum(user)).toBe(expected(user));
    expect(await delay.minimum('alice')).toBe(await delay.minimum('alice'));
    const names = Array.from({ length: 50 }, (_, i) => `user${i}`);
    const minima = await Promise.all(names.map((n) => delay.minimum(n)));
    expect(new Set(minima).size).toBe(names.length);
    for (const m of minima) {
      expect(m).toBeGreaterThanOrEqual(5);
      expect(m).toBeLessThan(10);
    }
    // Keyed: another secret (each server has its own random one) orders users differently.
    const other = new AuthFailureDelay(5, new Uint8Array(32).fill(8));
    expect(await other.minimum('alice')).not.toBe(await delay.minimum('alice'));
    delay.base = 0;
    expect(await delay.minimum('alice')).toBe(0);
  });

  it('takes whole milliseconds from 0 to 5000', () => {
    expect(parseAuthFailureDelay('0')).toBe(0);
    expect(parseAuthFailureDelay(' 250 ')).toBe(250);
    for (const bad of ['', '-1', '1.5', '5001', 'five']) expect(() => parseAuthFailureDelay(bad), bad).toThrow(/AuthFailureDelay/);
  });
});

/** The shared fake clock, starting at 1000, that tells when a short timer (an auth-failure delay) is armed. */
class DelayClock extends FakeClock {
  private armedWaiters: (() => void)[] = [];
  constructor() {
    super(1000);
  }
  protected override armed(ms: number): void {
    if (ms < 1000) for (const wake of this.armedWaiters.splice(0)) wake();
  }
  /** Timers due within a second: the auth-failure delay, not the login grace time or the close grace. */
  short(): { due: number }[] {
    return [...this.timers.values()].filter((x) => x.due - this.t < 1000);
  }
  /** Resolves once a timer due within a second is pending (the server armed an auth-failure delay). */
  shortTimerArmed(): Promise<void> {
    if (this.short().length > 0) return Promise.resolve();
    return new Promise((resolve) => this.armedWaiters.push(resolve));
  }
}

/** Things recorded as they happen; `reach(n)` resolves once there are `n` of them. */
class Recorder<T> {
  readonly items: T[] = [];
  private waiters: { n: number; wake: () => void }[] = [];
  push(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => (this.items.length >= w.n ? (w.wake(), false) : true));
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): T | undefined {
    return this.items.at(i);
  }
  reach(n: number): Promise<void> {
    return this.items.length >= n ? Promise.resolve() : new Promise((wake) => this.waiters.push({ n, wake }));
  }
}

/**
 * One turn of the event loop. Once the fake clock has moved, whatever a fired timer sets off up to the
 * socket write is promise continuations, all run by then: with the refusal's timer still pending, a write
 * count unchanged after this means nothing was written.
 */
const settle = () => new Promise((resolve) => setImmediate(resolve));

let clock: DelayClock;
let server: SSHServer | undefined;
const clients: RawClient[] = [];
/** Fake times at which the server wrote to any client. */
let writes: Recorder<number>;
/** What the handler for user `slow` waits on, one per request. */
const holds: Promise<void>[] = [];

/** Makes the next request by `slow` wait in the handler until the returned function is called. */
function hold(): () => void {
  let release!: () => void;
  holds.push(new Promise<void>((resolve) => (release = resolve)));
  return release;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  if (!server) return;
  const done = server.shutdown(100);
  clock.advance(10_000);
  await done;
  server = undefined;
});

/** Records the fake time of each write. */
function recorded(t: Transport): Transport {
  return new Proxy(t, {
    get(target, prop) {
      if (prop === 'write') {
        return (data: Uint8Array) => {
          writes.push(clock.now());
          return target.write(data);
        };
      }
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/**
 * A server on the fake clock that accepts password `pw` (for user `half`, as a partial success), prompts for
 * keyboard-interactive (again, as a retry, after a wrong answer) and refuses everything else; its handler for user `slow` waits (see `hold`).
 */
async function serve(options: SSHServerOptions = {}) {
  clock = new DelayClock();
  writes = new Recorder();
  const listen = { listen: (o: Parameters<typeof nodeTcp.listen>[0], accept: (t: Transport) => void) => nodeTcp.listen(o, (t) => accept(recorded(t))) };
  server = new SSHServer({ ...nodeRuntime, listen, clock }, { localPort: 0, ...options });
  server.generateHostKey();
  const requests = new Recorder<UserAuthRequestEvent>();
  const errors: string[] = [];
  server.on('error', (e) => void errors.push(e.description));
  server.on('userAuthRequest', async (e) => {
    requests.push(e);
    if (e.user === 'slow') await holds.shift();
    if (e.user === 'half' && e.password === 'pw') e.partialSuccess(['keyboard-interactive']);
    else if (e.authMethod === 'keyboard-interactive' && !e.keyboardInteractive?.responses) e.prompt([{ prompt: 'Password: ', echo: false }]);
    else if (e.authMethod === 'keyboard-interactive' && e.keyboardInteractive?.responses?.[0] !== 'pw') e.prompt([{ prompt: 'Password: ', echo: false }], { retry: true });
    else if (e.authMethod === 'password' && e.password === 'pw') e.accept();
    else e.reject();
  });
  const { port } = await server.startListening();
  const c = await RawClient.connect(port);
  clients.push(c);
  await c.handshake();
  await c.serviceRequest();
  return { c, requests, errors, s: server };
}

function userauth(c: RawClient, user: string, method: string, ...fields: ((w: Writer) => Writer)[]): Promise<number> {
  let w = new Writer(MSG.USERAUTH_REQUEST).string(user).string('ssh-connection').string(method);
  for (const f of fields) w = f(w);
  c.send(w.done());
  return c.expect(MSG.USERAUTH_SUCCESS, MSG.USERAUTH_FAILURE, MSG.USERAUTH_REQUEST + 10 /* PK_OK */).then((m) => m.type);
}

const password = (c: RawClient, user: string, pw: string) => userauth(c, user, 'password', (w) => w.bool(false).string(pw));

/** Waits until the server has forgotten every connection: it does so after the socket's close, with no event. */
const forgotten = (s: SSHServer) => expect.poll(() => s.connections.size, { timeout: 30_000, interval: 5 }).toBe(0);

describe('the server', () => {
  it('writes a refused password no sooner than the user\'s minimum after the request arrived', async () => {
    const { c, s } = await serve();
    const minimum = await s.authFailureDelay.minimum('mallory');
    expect(minimum).toBeGreaterThanOrEqual(5);
    const arrived = clock.now();
    const before = writes.length;
    const answer = password(c, 'mallory', 'wrong');
    await clock.shortTimerArmed();
    expect(clock.short()).toHaveLength(1);
    expect(clock.short()[0]!.due).toBe(arrived + minimum);
    clock.advance(minimum - 0.01);
    expect(clock.short()).toHaveLength(1); // not fired
    await settle();
    expect(writes.length).toBe(before);
    clock.advance(0.01);
    expect(await answer).toBe(MSG.USERAUTH_FAILURE);
    expect(writes.length).toBe(before + 1);
    expect(writes.at(-1)).toBe(arrived + minimum);
    expect(clock.short()).toHaveLength(0);
    // The same user waits the same again; and a right password still logs in, at once.
    const again = clock.now();
    const second = password(c, 'mallory', 'wrong');
    await clock.shortTimerArmed();
    expect(clock.short()).toHaveLength(1);
    expect(clock.short()[0]!.due - again).toBe(minimum);
    clock.advance(minimum);
    expect(await second).toBe(MSG.USERAUTH_FAILURE);
    const at = clock.now();
    const accepted = password(c, 'mallory', 'pw');
    await writes.reach(before + 3);
    expect(writes.at(-1)).toBe(at);
    expect(await accepted).toBe(MSG.USERAUTH_SUCCESS);
  });

  it('counts from arrival, not from the end of a slow handler, and doubles past the minimum', async () => {
    const { c, s, requests } = await serve();
    const minimum = await s.authFailureDelay.minimum('slow');
    let release = hold();
    const arrived = clock.now();
    const before = writes.length;
    const answer = password(c, 'slow', 'wrong');
    await requests.reach(1);
    clock.advance(3); // the handler takes 3 ms
    release();
    await clock.shortTimerArmed();
    expect(clock.short()).toHaveLength(1);
    expect(clock.short()[0]!.due).toBeCloseTo(arrived + minimum, 9);
    clock.advance(minimum - 3 - 0.01);
    expect(clock.short()).toHaveLength(1); // not fired
    await settle();
    expect(writes.length).toBe(before);
    clock.advance(0.01);
    expect(await answer).toBe(MSG.USERAUTH_FAILURE);
    expect(writes.at(-1)).toBeCloseTo(arrived + minimum, 9);

    // A handler slower than the minimum: answered at the next doubling of it.
    release = hold();
    const start = clock.now();
    const again = password(c, 'slow', 'wrong');
    await requests.reach(2);
    clock.advance(minimum * 1.5);
    release();
    await clock.shortTimerArmed();
    expect(clock.short()).toHaveLength(1);
    expect(clock.short()[0]!.due).toBeCloseTo(start + 2 * minimum, 9);
    clock.advance(minimum / 2);
    expect(await again).toBe(MSG.USERAUTH_FAILURE);
    expect(writes.at(-1)).toBeCloseTo(start + 2 * minimum, 9);
  });

  it('answers the first none at once, and delays a refused publickey query and a second none', async () => {
    const { c } = await serve();
    const before = writes.length;
    const first = userauth(c, 'alice', 'none');
    await writes.reach(before + 1);
    expect(await first).toBe(MSG.USERAUTH_FAILURE);
    expect(clock.short()).toHaveLength(0);
    const x = Buffer.from(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const blob = new Writer().string('ssh-ed25519').string(x).done();
    for (const probe of [() => userauth(c, 'alice', 'publickey', (w) => w.bool(false).string('ssh-ed25519').string(blob)), () => userauth(c, 'alice', 'none')]) {
      const before = writes.length;
      const answer = probe();
      await clock.shortTimerArmed();
      expect(clock.short()).toHaveLength(1);
      expect(writes.length).toBe(before);
      clock.advance(10);
      expect(await answer).toBe(MSG.USERAUTH_FAILURE);
    }
  });

  it('sends partial successes and keyboard-interactive prompts at once', async () => {
    const { c } = await serve();
    const INFO_REQUEST = 60;
    const steps: [() => Promise<number>, number][] = [
      [() => password(c, 'half', 'pw'), MSG.USERAUTH_FAILURE],
      [() => userauth(c, 'half', 'keyboard-interactive', (w) => w.string('').string('')), INFO_REQUEST],
    ];
    for (const [send, type] of steps) {
      const before = writes.length;
      const answer = send();
      await writes.reach(before + 1);
      expect(await answer).toBe(type);
      expect(clock.short()).toHaveLength(0);
    }
  });

  it('prompts again after wrong keyboard-interactive answers only once the delay has passed', async () => {
    const { c } = await serve();
    const INFO_REQUEST = 60;
    expect(await userauth(c, 'carol', 'keyboard-interactive', (w) => w.string('').string(''))).toBe(INFO_REQUEST);
    expect(clock.short()).toHaveLength(0);
    const before = writes.length;
    c.send(new Writer(INFO_REQUEST + 1).u32(1).string('wrong').done());
    const again = c.expect(INFO_REQUEST);
    await clock.shortTimerArmed();
    expect(clock.short()).toHaveLength(1);
    expect(writes.length).toBe(before);
    clock.advance(10);
    expect((await again).type).toBe(INFO_REQUEST);
    expect(writes.length).toBe(before + 1);
  });

  it('drops a delayed refusal when the client goes away, leaving no timer', async () => {
    const { c, s, errors } = await serve();
    const disconnected = new Promise<void>((resolve) => s.on('disconnected', () => resolve()));
    const before = writes.length;
    void password(c, 'mallory', 'wrong').catch(() => {});
    await clock.shortTimerArmed();
    expect(clock.short()).toHaveLength(1);
    c.destroy();
    // The refusal no longer holds up the connection's queue: its end is reported without the clock moving.
    await disconnected;
    await forgotten(s);
    expect(clock.timers.size).toBe(0);
    clock.advance(60_000);
    expect(writes.length).toBe(before);
    expect(errors).toEqual([]);
  });

  it('drops a delayed refusal when the host disconnects the client meanwhile', async () => {
    const { c, s, errors } = await serve();
    void password(c, 'mallory', 'wrong').catch(() => {});
    await clock.shortTimerArmed();
    expect(clock.short()).toHaveLength(1);
    const [id] = [...s.connections.keys()];
    s.disconnect(id!);
    const d = await c.readDisconnect();
    expect(d.skipped).not.toContain(MSG.USERAUTH_FAILURE);
    expect(clock.short()).toHaveLength(0); // the delay is gone; only the close grace remains until the socket closes
    c.destroy();
    await forgotten(s);
    expect(clock.timers.size).toBe(0);
    expect(errors).toEqual([]);
  });

  it('is set by the option or config("AuthFailureDelay=N"); 0 answers refusals at once', async () => {
    const { c, s } = await serve({ authFailureDelay: 20 });
    expect(s.config('AuthFailureDelay')).toBe('20');
    expect(await s.authFailureDelay.minimum('x')).toBeGreaterThanOrEqual(20);
    expect(() => s.config('AuthFailureDelay=-1')).toThrow(/AuthFailureDelay/);
    expect(s.config('AuthFailureDelay=0')).toBe('0');
    const before = writes.length;
    const answer = password(c, 'mallory', 'wrong');
    await writes.reach(before + 1);
    expect(await answer).toBe(MSG.USERAUTH_FAILURE);
    expect(clock.short()).toHaveLength(0);
    expect(new SSHServer({ ...nodeRuntime, clock }).config('AuthFailureDelay')).toBe('5');
  });
});
