/**
 * README claims that had no test, each shown end to end with a real client where one can show it: other
 * channel types refused by default, `no-more-sessions@openssh.com`, `signal` and `exit-signal`, MaxConnections,
 * `exchangeKeys()`, `stopListening()`, the demo's `--host-key FILE`, the `curve25519-sha256@libssh.org` name,
 * and every PerSourcePenalties cause besides `protocol` (which preauth-limits.test.ts covers). Rekeying after
 * 2^30 packets is shown in core-rs/tests/rekey_packets.rs.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { SSHError, SSHServer, ErrorCode, type SSHServerEvents } from '../../ts/node/index.js';
import { makeUserKey, run, ssh, SSH_BASE, startDemo, type Demo } from '../helpers/demo.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { serveEcho } from '../helpers/echo-server.js';
import { MSG, RawClient, Writer } from '../helpers/raw-client.js';
import { connect as ssh2Connect, exec, type Ssh2Client } from '../helpers/ssh2.js';

const USER = 'frank';
const PASSWORD = 'claims pw';
/** Every PerSourcePenalties duration, set here so that the tests do not depend on the defaults: one bad end owes
 * 60 s, under `min`; two owe nearly 120 s, over it, unless 30 s pass between them. */
const PENALTIES = 'crash:60s authfail:60s noauth:60s grace-exceeded:60s protocol:60s max:600s min:90s';

const { servers, demos, clients, rawClients, sockets } = closeAfterEach();

/**
 * An in-process server with a password login for USER; `exec echo ARGS` prints ARGS. Tests add their own
 * handlers for the rest. 127.0.0.1 is exempt from penalties unless `config` says otherwise.
 */
function serve(config: Record<string, string | number> = {}): Promise<{ server: SSHServer; port: number }> {
  return serveEcho(servers, { user: USER, password: PASSWORD }, config);
}

async function demo(args: string[], env: Record<string, string> = {}): Promise<Demo> {
  const d = await startDemo(['--user', `${USER}:${PASSWORD}`, ...args], env);
  demos.push(d);
  return d;
}

async function login(port: number, config: Partial<ConnectConfig> = {}): Promise<Ssh2Client> {
  const c = await ssh2Connect(port, { username: USER, password: PASSWORD, ...config });
  clients.push(c);
  return c;
}

/** The next `name` event that `match` accepts. */
function next<K extends keyof SSHServerEvents>(server: SSHServer, name: K, match: (e: SSHServerEvents[K]) => boolean = () => true): Promise<SSHServerEvents[K]> {
  return new Promise((resolve) => {
    const handler = (e: SSHServerEvents[K]) => {
      if (!match(e)) return;
      server.off(name, handler);
      resolve(e);
    };
    server.on(name, handler);
  });
}

/**
 * Opens a TCP connection from `source`, optionally sends `line`, and resolves once the socket closes, with
 * whether the server sent its version line first. Without `line` it closes as soon as that is known.
 */
function connectFrom(port: number, source: string, line?: string, host = '127.0.0.1'): Promise<{ served: boolean; error?: string }> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port, localAddress: source });
    sockets.push(s);
    let received = '';
    let served = false;
    let error: string | undefined;
    s.on('connect', () => line !== undefined && s.write(line));
    s.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (!served && received.length >= 8 && received.startsWith('SSH-2.0-')) {
        served = true;
        if (line === undefined) s.destroy();
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => void (error = e.code ?? e.message));
    s.on('close', () => resolve(error === undefined ? { served } : { served, error }));
  });
}

/** The fingerprint `ssh-keygen -l` prints for a public key file. */
function fingerprint(publicKeyFile: string): string {
  const r = spawnSync('ssh-keygen', ['-lf', publicKeyFile], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split(' ')[1]!;
}

const serverHostKey = (stderr: string) => /Server host key: ssh-ed25519 (SHA256:\S+)/.exec(stderr)?.[1];

describe('channel types other than session', () => {
  it('are refused by default: ssh2 opening direct-tcpip with its usual 32 KiB max packet gets open failure 1', async () => {
    const { server, port } = await serve();
    const asked: { service: string; accept: boolean }[] = [];
    server.on('channelOpenRequest', (e) => void asked.push({ service: e.service, accept: e.accept }));
    const c = await login(port);
    const forward = () =>
      new Promise<ClientChannel>((resolve, reject) => c.forwardOut('127.0.0.1', 40_000, '127.0.0.1', 9, (err, stream) => (err ? reject(err) : resolve(stream))));

    const refused = (await forward().then(
      () => undefined,
      (e: unknown) => e,
    )) as (Error & { reason?: number }) | undefined;
    expect(refused?.message).toBe('(SSH) Channel open failure: channel refused');
    expect(refused?.reason).toBe(1); // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED
    expect(asked).toEqual([{ service: 'direct-tcpip', accept: false }]);

    // The same client's session channel opens, and a host that accepts direct-tcpip gets it open: the refusal
    // came from the default, not from the client's channel parameters.
    expect((await exec(c, 'echo session opens')).stdout.toString()).toBe('session opens\n');
    server.on('channelOpenRequest', (e) => void (e.service === 'direct-tcpip' && (e.accept = true)));
    const opened = await forward();
    opened.close();
    expect(asked.map((a) => a.service)).toEqual(['direct-tcpip', 'session', 'direct-tcpip']);
  });

  it('are refused to OpenSSH: ssh -W to the demo without --allow-forward reports the open failure', async () => {
    const d = await demo([]);
    // -v: ssh reports the failure at INFO level, which SSH_BASE's LogLevel=ERROR would hide.
    const r = await run('sshpass', ['-p', PASSWORD, 'ssh', ...SSH_BASE, '-v', '-o', 'PubkeyAuthentication=no', '-W', '127.0.0.1:9', '-p', String(d.port), `${USER}@127.0.0.1`]);
    expect(r.stderr).toContain('open failed: administratively prohibited: forwarding is off (--allow-forward)');
    expect(r.stderr).toContain('stdio forwarding failed');
    expect(r.code).toBe(255);
  });
});

describe('no-more-sessions@openssh.com', () => {
  it('refuses every later session; the open ones keep working', async () => {
    const { server, port } = await serve();
    let opens = 0;
    server.on('channelOpenRequest', () => void opens++);
    const c = await RawClient.connect(port);
    rawClients.push(c);
    await c.handshake();
    await c.serviceRequest();
    expect(await c.password(USER, PASSWORD)).toBe(true);
    // Before the request, a client may open as many sessions as it likes.
    const first = await c.openSession();
    const second = await c.openSession();
    c.send(new Writer(MSG.GLOBAL_REQUEST).string('no-more-sessions@openssh.com').bool(false).done());
    const local = c.sendSessionOpen();
    const { type, r } = await c.expect(MSG.CHANNEL_OPEN_CONFIRMATION, MSG.CHANNEL_OPEN_FAILURE);
    expect(type).toBe(MSG.CHANNEL_OPEN_FAILURE);
    expect(r.u32()).toBe(local);
    expect(r.u32()).toBe(1); // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED
    expect(r.text()).toBe('no more sessions');
    expect(opens).toBe(2);
    for (const [session, text] of [[first, 'first'], [second, 'second']] as const) {
      const result = await c.exec(session, `echo ${text} still works`);
      expect(result.stdout.toString()).toBe(`${text} still works\n`);
      expect(result.exitStatus).toBe(0);
    }
  });

  it('is what OpenSSH sends after its session, and its session goes on', async () => {
    // OpenSSH sends the request only to servers it takes for OpenSSH (its compat table), hence the version string.
    const d = await demo(['--verbose', '--config', 'LogLevel=2', '--config', 'ServerSSHVersionString=SSH-2.0-OpenSSH_9.2p1']);
    const r = await ssh(d.port, { user: USER, password: PASSWORD, command: 'echo after the request', options: ['-v'] });
    expect(r.stderr).toContain('Requesting no-more-sessions@openssh.com');
    expect(r.stdout.toString()).toBe('after the request\n');
    expect(r.code).toBe(0);
    await d.settled();
    expect(d.stderr()).toMatch(/global request no-more-sessions@openssh\.com/);
  });
});

describe('signal and exit-signal over the wire', () => {
  it('a signal from ssh2 interrupts the demo shell: sleep ends with status 130', async () => {
    const d = await demo([]);
    const c = await login(d.port);
    const started = performance.now();
    const status = await new Promise<number | undefined>((resolve, reject) =>
      c.exec('sleep 60000', (err, stream) => {
        if (err) return reject(err);
        let code: number | undefined;
        stream.on('exit', (n: number) => (code = n));
        stream.on('close', () => resolve(code));
        stream.resume();
        stream.signal('INT');
      }),
    );
    expect(status).toBe(130);
    expect(performance.now() - started).toBeLessThan(60_000);
  });

  it('the host answers a signal with exit-signal, and ssh2 reports the signal, core flag and message', async () => {
    const { server, port } = await serve();
    const signals: string[] = [];
    server.on('channelRequested', async (e) => {
      if (e.request.type !== 'signal') return;
      signals.push(e.request.name);
      server.sendExitSignal(e.connectionId, e.channelId, e.request.name, true, `stopped by ${e.request.name}`);
      await server.closeChannel(e.connectionId, e.channelId);
    });
    const c = await login(port);
    const exit = await new Promise<unknown[]>((resolve, reject) =>
      c.exec('wait for a signal', (err, stream) => {
        if (err) return reject(err);
        let args: unknown[] = [];
        stream.on('exit', (...a: unknown[]) => (args = a));
        stream.on('close', () => resolve(args));
        stream.resume();
        stream.signal('TERM');
      }),
    );
    expect(signals).toEqual(['TERM']);
    expect(exit).toEqual([null, 'SIGTERM', true, 'stopped by TERM']);
  });
});

describe('MaxConnections', () => {
  it('closes the next connection before the version line while the earlier ones keep working', async () => {
    const { server, port } = await serve({ MaxConnections: 2 });
    const a = await login(port);
    const b = await login(port);
    expect(server.connections.size).toBe(2);
    expect(await connectFrom(port, '127.0.0.1')).toEqual({ served: false });
    expect((await exec(a, 'echo a works')).stdout.toString()).toBe('a works\n');
    expect((await exec(b, 'echo b works')).stdout.toString()).toBe('b works\n');
    // Once one leaves, its place is free again.
    a.end();
    await expect.poll(() => server.connections.size, { timeout: 30_000 }).toBe(1);
    const c = await login(port);
    expect((await exec(c, 'echo c works')).stdout.toString()).toBe('c works\n');
  });
});

describe('exchangeKeys()', () => {
  it('starts a key exchange that ssh2 sees, and the session goes on under the new keys', async () => {
    const { server, port } = await serve();
    const c = await login(port);
    const [id] = [...server.connections.keys()];
    const clientSaw = new Promise<void>((resolve) => c.once('handshake', () => resolve()));
    const serverSaw = next(server, 'sshStatus', (e) => e.connectionId === id && e.message.startsWith('keys re-exchanged'));
    server.exchangeKeys(id!);
    // A second one while it runs is refused.
    expect(() => server.exchangeKeys(id!)).toThrow(SSHError);
    await Promise.all([clientSaw, serverSaw]);
    expect((await exec(c, 'echo after the exchange')).stdout.toString()).toBe('after the exchange\n');
    let unknown: unknown;
    try {
      server.exchangeKeys(9999);
    } catch (e) {
      unknown = e;
    }
    expect((unknown as SSHError | undefined)?.code).toBe(ErrorCode.InvalidConnectionId);
  });

  it('OpenSSH goes through a second key exchange started in the middle of a command', async () => {
    const { server, port } = await serve();
    server.on('channelRequested', (e) => {
      if (e.request.type !== 'exec' || e.request.command !== 'rekey') return;
      const { connectionId, channelId } = e;
      const rekeyed = next(server, 'sshStatus', (s) => s.connectionId === connectionId && s.message.startsWith('keys re-exchanged'));
      server.exchangeKeys(connectionId);
      // This connection's events wait for this handler, so the answer goes out from outside it.
      void rekeyed.then(async () => {
        await server.sendText(connectionId, channelId, 'rekeyed\n');
        server.sendExitStatus(connectionId, channelId, 0);
        await server.closeChannel(connectionId, channelId);
      });
    });
    const r = await ssh(port, { user: USER, password: PASSWORD, command: 'rekey', options: ['-v'] });
    expect(r.stdout.toString()).toBe('rekeyed\n');
    expect(r.code).toBe(0);
    expect(r.stderr.match(/SSH2_MSG_KEXINIT received/g)).toHaveLength(2);
    expect(r.stderr.match(/SSH2_MSG_NEWKEYS received/g)).toHaveLength(2);
  });
});

describe('stopListening()', () => {
  it('refuses new connections while the existing ones go on', async () => {
    const { server, port } = await serve();
    const c = await login(port);
    expect(server.listening).toBe(true);
    await server.stopListening();
    expect(server.listening).toBe(false);
    expect(await connectFrom(port, '127.0.0.1')).toEqual({ served: false, error: 'ECONNREFUSED' });
    expect((await exec(c, 'echo still connected')).stdout.toString()).toBe('still connected\n');
    expect(server.connections.size).toBe(1);
  });
});

describe('the demo with --host-key FILE', () => {
  it('serves exactly that key: OpenSSH sees its fingerprint and a known_hosts entry for it verifies', async () => {
    const hostKey = makeUserKey(); // an ed25519 key pair in OpenSSH format, as ssh-keygen writes host keys
    const state = mkdtempSync(join(tmpdir(), 'wasshd-state-'));
    const d = await demo(['--host-key', hostKey.keyFile], { WASSHD_STATE_DIR: state });
    const r = await ssh(d.port, { user: USER, password: PASSWORD, command: 'echo ok', options: ['-v'] });
    expect(r.stdout.toString()).toBe('ok\n');
    expect(serverHostKey(r.stderr)).toBe(fingerprint(`${hostKey.keyFile}.pub`));
    expect(readdirSync(state), 'no key generated in the state directory').toEqual([]);
    expect(d.stdout()).not.toContain('state directory');

    const knownHosts = join(mkdtempSync(join(tmpdir(), 'wasshd-known-')), 'known_hosts');
    const strict = (entry: string) => {
      writeFileSync(knownHosts, `[127.0.0.1]:${d.port} ${entry}\n`);
      const options = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'PubkeyAuthentication=no'];
      return run('sshpass', ['-p', PASSWORD, 'ssh', ...options, '-p', String(d.port), `${USER}@127.0.0.1`, 'echo verified']);
    };
    expect((await strict(hostKey.publicLine)).stdout.toString()).toBe('verified\n');
    const other = await strict(makeUserKey().publicLine);
    expect(other.code).toBe(255);
    expect(other.stderr).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
  });
});

describe('curve25519-sha256@libssh.org', () => {
  it('carries a full handshake and session with OpenSSH and with ssh2', async () => {
    const d = await demo(['--verbose']);
    const r = await ssh(d.port, { user: USER, password: PASSWORD, command: 'echo libssh name', options: ['-v', '-o', 'KexAlgorithms=curve25519-sha256@libssh.org'] });
    expect(r.stderr).toContain('kex: algorithm: curve25519-sha256@libssh.org');
    expect(r.stdout.toString()).toBe('libssh name\n');
    expect(r.code).toBe(0);
    const c = await login(d.port, { algorithms: { kex: ['curve25519-sha256@libssh.org'] } });
    expect((await exec(c, 'echo from ssh2')).stdout.toString()).toBe('from ssh2\n');
    c.end();
    await d.settled();
    expect(d.stderr().match(/\] keys exchanged: curve25519-sha256@libssh\.org,/g)).toHaveLength(2);
  });
});

describe('PerSourcePenalties, cause by cause', () => {
  /**
   * Two bad ends from `source`, each still served (60 s owed is under min), then the source is refused.
   * `recorded` resolves once the server has taken in how the last connection ended: the client may be gone
   * before the server has seen its socket close.
   */
  async function refusedAfterTwo(port: number, source: string, offend: () => Promise<void>, recorded: () => Promise<void>): Promise<void> {
    for (let i = 0; i < 2; i++) {
      await offend();
      await recorded();
    }
    expect(await connectFrom(port, source), `${source} refused once it owes more than min`).toEqual({ served: false });
  }

  it('authfail: OpenSSH giving up after a wrong password, and OpenSSH cut off at MaxAuthAttempts', async () => {
    const d = await demo(['--verbose', '--config', `PerSourcePenalties=${PENALTIES}`, '--config', 'MaxAuthAttempts=2']);
    const wrongPassword = (source: string) =>
      ssh(d.port, { user: USER, password: 'wrong', command: 'true', options: ['-b', source, '-o', 'PreferredAuthentications=password', '-o', 'NumberOfPasswordPrompts=1'] });
    const strangerKeys = [makeUserKey(), makeUserKey(), makeUserKey()].flatMap((k) => ['-i', k.keyFile]);
    const ends = [
      // The client ends the connection after its one try...
      async () => expect((await wrongPassword('127.0.0.21')).stderr).toContain('Permission denied'),
      // ...or the server does, at its second refused key.
      async () => {
        const r = await run('ssh', [...SSH_BASE, ...strangerKeys, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-b', '127.0.0.21', '-p', String(d.port), `${USER}@127.0.0.1`, 'true']);
        expect(r.stderr).toMatch(/Received disconnect from .*:14: too many authentication failures/);
      },
    ];
    await refusedAfterTwo(d.port, '127.0.0.21', () => ends.shift()!(), d.settled);
    // The real client meets the refusal before the version exchange; other sources are served.
    expect((await wrongPassword('127.0.0.21')).stderr).toMatch(/Connection closed by remote host|Connection reset/);
    const other = await ssh(d.port, { user: USER, password: PASSWORD, command: 'echo other source', options: ['-b', '127.0.0.22'] });
    expect(other.stdout.toString()).toBe('other source\n');
  });

  it('noauth: OpenSSH leaving after the key exchange, without trying to authenticate', async () => {
    const d = await demo(['--verbose', '--config', `PerSourcePenalties=${PENALTIES}`]);
    // A client that does not know the host key and may not ask (BatchMode) gives up before authentication.
    const unknownHost = () =>
      run('ssh', ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-b', '127.0.0.23', '-p', String(d.port), `${USER}@127.0.0.1`, 'true']);
    await refusedAfterTwo(d.port, '127.0.0.23', async () => {
      const r = await unknownHost();
      expect(r.stderr).toContain('Host key verification failed.');
    }, d.settled);
    expect(await connectFrom(d.port, '127.0.0.24')).toEqual({ served: true });
  });

  it('grace-exceeded: a client that sends its version line and then nothing until LoginGraceTime', async () => {
    const d = await demo(['--verbose', '--config', `PerSourcePenalties=${PENALTIES}`, '--config', 'LoginGraceTime=1']);
    await refusedAfterTwo(d.port, '127.0.0.25', async () => {
      // Served, then closed by the server when the grace time ran out.
      expect(await connectFrom(d.port, '127.0.0.25', 'SSH-2.0-slow\r\n')).toEqual({ served: true });
    }, d.settled);
    expect(await connectFrom(d.port, '127.0.0.26')).toEqual({ served: true });
  });

  it('crash: a connection whose input traps the wasm instance', async () => {
    const { server, port } = await serve({ PerSourcePenalties: PENALTIES, PerSourcePenaltyExemptList: '' });
    let ended = Promise.resolve();
    await refusedAfterTwo(port, '127.0.0.27', async () => {
      const s = tcpConnect({ host: '127.0.0.1', port, localAddress: '127.0.0.27' });
      sockets.push(s);
      const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
      s.on('error', () => {});
      // Served by the current instance; the next call into it, for this connection's input, traps.
      await new Promise<void>((resolve) => s.once('data', () => resolve()));
      ended = next(server, 'disconnected').then(() => {});
      (server['binding'].core as unknown as { __wbg_ptr: number }).__wbg_ptr = 0xfffffff0;
      s.write('SSH-2.0-crasher\r\n');
      await closed;
    }, () => ended);
    const c = await login(port, { localAddress: '127.0.0.28' });
    expect((await exec(c, 'echo served by the fresh instance')).stdout.toString()).toBe('served by the fresh instance\n');
  });
});
