/**
 * More README claims that a read-through found without a test: the demo's own start-up promises (a generated
 * password, a host key kept in the state directory, `--listen`), the client's keepalives answered, the secure
 * default for authentication, and the reference mapping's options, collections, events and error codes.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SSHServer, type SSHServerEvents, type SSHServerOptions } from '../../ts/node/index.js';
import ssh2 from 'ssh2';
import { run, ssh, SSH_BASE, startDemo, type Demo } from '../helpers/demo.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { MSG, RawClient, Writer } from '../helpers/raw-client.js';
import { connect as ssh2Connect, exec, type Ssh2Client } from '../helpers/ssh2.js';

const USER = 'grace';
const PASSWORD = 'readme pw';

const { servers, demos, clients, rawClients } = closeAfterEach();

async function demo(args: string[], env: Record<string, string> = {}): Promise<Demo> {
  const d = await startDemo(args, env);
  demos.push(d);
  return d;
}

/** An in-process server with a host key, not yet listening, stopped after the test. */
function server(options: SSHServerOptions = {}): SSHServer {
  const s = new SSHServer({ localPort: 0, ...options });
  s.generateHostKey();
  servers.push(s);
  return s;
}

async function login(port: number, config: Parameters<typeof ssh2Connect>[1] = {}): Promise<Ssh2Client> {
  const c = await ssh2Connect(port, { username: USER, password: PASSWORD, ...config });
  clients.push(c);
  return c;
}

const serverHostKey = (stderr: string) => /Server host key: ssh-ed25519 (SHA256:\S+)/.exec(stderr)?.[1];

/** Connects and resolves once the socket closes, with whether the server sent its version line first. */
function versionLineThenClose(port: number, host = '127.0.0.1'): Promise<{ served: boolean; error?: string }> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port });
    let served = false;
    let error: string | undefined;
    s.on('data', (d: Buffer) => {
      served ||= d.toString('latin1').startsWith('SSH-2.0-');
      s.destroy();
    });
    s.on('error', (e: NodeJS.ErrnoException) => void (error = e.code ?? e.message));
    s.on('close', () => resolve(error === undefined ? { served } : { served, error }));
  });
}

function codeOf(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: number }).code;
  }
  return undefined;
}

describe('the demo server', () => {
  it('without --user, prints a generated password for user demo and the ssh command, and that password logs in', async () => {
    const d = await demo([]);
    const password = /^user demo, password (\S+)$/m.exec(d.stdout())?.[1];
    expect(password).toMatch(/^[\w-]{12}$/);
    // Printed just after the listening line, which is all startDemo waits for.
    await expect.poll(() => d.stdout(), { timeout: 30_000 }).toContain(`connect with: ssh -p ${d.port} demo@127.0.0.1`);
    const r = await ssh(d.port, { user: 'demo', password: password!, command: 'whoami' });
    expect(r.stdout.toString()).toBe('demo\n');
    const wrong = await ssh(d.port, { user: 'demo', password: `${password}x`, command: 'whoami', options: ['-o', 'NumberOfPasswordPrompts=1'] });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout.length).toBe(0);
  });

  it('generates its host key once, keeps it in the state directory (printed), and serves it again after a restart', async () => {
    const state = mkdtempSync(join(tmpdir(), 'wasshd-state-'));
    const fingerprints: (string | undefined)[] = [];
    for (let i = 0; i < 2; i++) {
      const d = await demo(['--user', `${USER}:${PASSWORD}`], { WASSHD_STATE_DIR: state });
      expect(d.stdout()).toContain(`state directory: ${state}`);
      const r = await ssh(d.port, { user: USER, password: PASSWORD, command: 'echo ok', options: ['-v'] });
      expect(r.stdout.toString()).toBe('ok\n');
      fingerprints.push(serverHostKey(r.stderr));
      await d.stop();
    }
    const keyFile = join(state, 'ssh_host_ed25519_key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const stored = spawnSync('ssh-keygen', ['-lf', keyFile], { encoding: 'utf8' });
    expect(stored.status, stored.stderr).toBe(0);
    expect(fingerprints).toEqual([stored.stdout.split(' ')[1], stored.stdout.split(' ')[1]]);
  });

  it('listens on the address --listen gives, and only there', async () => {
    const d = await demo(['--user', `${USER}:${PASSWORD}`, '--listen', '127.0.0.9']);
    expect(d.stdout()).toContain(`listening on 127.0.0.9:${d.port}`);
    const r = await run('sshpass', ['-p', PASSWORD, 'ssh', ...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-p', String(d.port), `${USER}@127.0.0.9`, 'whoami']);
    expect(r.stdout.toString()).toBe(`${USER}\n`);
    expect(await versionLineThenClose(d.port, '127.0.0.1')).toEqual({ served: false, error: 'ECONNREFUSED' });
  });

  it("answers OpenSSH's keepalive@openssh.com, so a client checking on a silent server stays connected", async () => {
    const d = await demo(['--user', `${USER}:${PASSWORD}`, '--verbose', '--config', 'LogLevel=2']);
    // Without answers, ssh gives up ("Timeout, server not responding") after three silent seconds.
    const r = await ssh(d.port, { user: USER, password: PASSWORD, command: 'sleep 5000', options: ['-o', 'ServerAliveInterval=1', '-o', 'ServerAliveCountMax=2'] });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await d.settled();
    expect((d.stderr().match(/global request keepalive@openssh\.com/g) ?? []).length).toBeGreaterThanOrEqual(3);
  });
});

describe('secure defaults', () => {
  it('refuses authentication unless a handler accepts it', async () => {
    const s = server();
    const { port } = await s.startListening();
    await expect(login(port)).rejects.toThrow(/All configured authentication methods failed/);
    // A handler that looks and decides nothing refuses too.
    let asked = 0;
    s.on('userAuthRequest', () => void asked++);
    await expect(login(port)).rejects.toThrow(/All configured authentication methods failed/);
    expect(asked).toBeGreaterThan(0);
  });
});

describe('the reference mapping', () => {
  it('takes its options', () => {
    const s = server({
      localHost: '127.0.0.9',
      connectionBacklog: 7,
      authMethods: ['publickey', 'password'],
      defaultIdleTimeout: 300,
      defaultTimeout: 30,
      keyboardInteractiveMessage: 'say the word',
      encryptionAlgorithms: ['aes256-ctr', 'aes128-ctr'],
      compressionAlgorithms: ['none'],
      authFailureDelay: 9,
      cryptoProvider: 'wasm',
    });
    expect([s.localHost, s.connectionBacklog]).toEqual(['127.0.0.9', 7]);
    expect(server().config('CryptoProvider'), 'the default on Node').toBe('host');
    expect(['DefaultAuthMethods', 'DefaultIdleTimeout', 'DefaultTimeout', 'KeyboardInteractiveMessage', 'SSHEncryptionAlgorithms', 'SSHCompressionAlgorithms', 'AuthFailureDelay', 'ConnectionBacklog', 'CryptoProvider'].map((n) => s.config(n))).toEqual([
      'publickey,password',
      '300',
      '30',
      'say the word',
      'aes256-ctr,aes128-ctr',
      'none',
      '9',
      '7',
      'wasm',
    ]);
  });

  it('authMethods are the methods a refusal lists', async () => {
    const s = server({ authMethods: ['publickey'] });
    const { port } = await s.startListening();
    const c = await RawClient.connect(port);
    rawClients.push(c);
    await c.handshake();
    await c.serviceRequest();
    c.send(new Writer(MSG.USERAUTH_REQUEST).string(USER).string('ssh-connection').string('none').done());
    const { r } = await c.expect(MSG.USERAUTH_FAILURE);
    expect(r.text()).toBe('publickey');
    expect(r.bool()).toBe(false);
  });

  it('encryptionAlgorithms limit what a client can negotiate', async () => {
    const s = server({ encryptionAlgorithms: ['aes256-ctr'] });
    s.on('userAuthRequest', (e) => (e.password === PASSWORD ? e.accept() : e.reject()));
    const { port } = await s.startListening();
    await expect(login(port, { algorithms: { cipher: ['aes128-gcm@openssh.com'] } })).rejects.toThrow(/cipher/i);
    const c = await login(port, { algorithms: { cipher: ['aes128-gcm@openssh.com', 'aes256-ctr'] } });
    expect(c).toBeDefined();
  });

  it('keyboardInteractivePrompts and keyboardInteractiveMessage are what a client is asked when no handler prompts', async () => {
    const s = server({ keyboardInteractivePrompts: [{ prompt: 'Word: ', echo: true }, { prompt: 'Number: ', echo: false }], keyboardInteractiveMessage: 'two questions' });
    s.on('userAuthRequest', (e) => {
      const answers = e.keyboardInteractive?.responses;
      if (answers) return answers.join(' ') === 'bird 42' ? e.accept() : e.reject();
    });
    const { port } = await s.startListening();
    const shown: unknown[] = [];
    const c = new ssh2.Client();
    clients.push(c);
    c.on('keyboard-interactive', (_name, instructions, _lang, prompts, finish) => {
      shown.push({ instructions, prompts });
      finish(['bird', '42']);
    });
    await new Promise<void>((resolve, reject) => {
      c.on('ready', () => resolve());
      c.on('error', reject);
      c.connect({ host: '127.0.0.1', port, username: USER, tryKeyboard: true, readyTimeout: 20_000 });
    });
    expect(shown).toEqual([{ instructions: 'two questions', prompts: [{ prompt: 'Word: ', echo: true }, { prompt: 'Number: ', echo: false }] }]);
  });

  it('fires its events for a session, fills connections and channels, and answers per-connection settings', async () => {
    const s = server();
    const seen: (keyof SSHServerEvents)[] = [];
    const names: (keyof SSHServerEvents)[] = ['connectionRequest', 'connected', 'serviceRequest', 'userAuthRequest', 'channelOpenRequest', 'channelOpened', 'channelRequest', 'channelRequested', 'channelDataIn', 'channelEOF', 'channelClosed', 'disconnected', 'sshStatus', 'log'];
    for (const name of names) s.on(name, () => void (seen.at(-1) !== name && seen.push(name)));
    let during: unknown;
    let received = '';
    s.on('userAuthRequest', (e) => (e.password === PASSWORD ? e.accept() : e.reject()));
    s.on('channelRequested', (e) => {
      if (e.request.type !== 'exec') return;
      const conn = s.connections.get(e.connectionId)!;
      during = {
        channels: s.channels.map(({ connectionId, channelId, service }) => ({ connectionId, channelId, service })),
        connection: { remoteHost: conn.remoteHost, user: conn.user, clientVersion: conn.clientVersion, strictKex: conn.strictKex },
        settings: [s.config(`ClientSSHVersionString[${e.connectionId}]`), s.config(`NegotiatedStrictKex[${e.connectionId}]`)],
        channelId: e.channelId,
        connectionId: e.connectionId,
      };
    });
    s.on('channelDataIn', (e) => void (received += Buffer.from(e.data).toString()));
    s.on('channelEOF', async (e) => {
      await s.sendText(e.connectionId, e.channelId, `got ${received}`);
      s.sendExitStatus(e.connectionId, e.channelId, 0);
      await s.closeChannel(e.connectionId, e.channelId);
    });
    const gone = new Promise<void>((resolve) => s.on('disconnected', () => resolve()));
    const { port } = await s.startListening();
    const r = await ssh(port, { user: USER, password: PASSWORD, command: 'upload', input: Buffer.from('stdin bytes') });
    expect(r.stdout.toString()).toBe('got stdin bytes');
    await gone;
    const { connectionId, channelId } = during as { connectionId: number; channelId: number };
    const version = /^SSH-2\.0-OpenSSH_\S+/;
    expect(during).toEqual({
      channels: [{ connectionId, channelId, service: 'session' }],
      connection: { remoteHost: '127.0.0.1', user: USER, clientVersion: expect.stringMatching(version), strictKex: true },
      settings: [expect.stringMatching(version), 'True'],
      channelId,
      connectionId,
    });
    // In the order a session produces them (status and log lines come in between).
    const order = seen.filter((n) => n !== 'sshStatus' && n !== 'log');
    expect(order).toEqual(names.slice(0, 12));
    expect(seen).toContain('sshStatus');
    expect(seen).toContain('log');
  });

  it('fires channelReadyToSend when a client window that ran dry reopens, and sendChannelData waits for it', async () => {
    const s = server();
    s.on('userAuthRequest', (e) => (e.password === PASSWORD ? e.accept() : e.reject()));
    const size = 5 * 1024 * 1024; // more than ssh2's 2 MiB window
    let ready = 0;
    s.on('channelReadyToSend', () => void ready++);
    s.on('channelRequested', async (e) => {
      if (e.request.type !== 'exec') return;
      await s.sendChannelData(e.connectionId, e.channelId, Buffer.alloc(size, 7));
      s.sendExitStatus(e.connectionId, e.channelId, 0);
      await s.closeChannel(e.connectionId, e.channelId);
    });
    const { port } = await s.startListening();
    const r = await exec(await login(port), 'download');
    expect(r.stdout.length).toBe(size);
    expect(r.stdout.every((b) => b === 7)).toBe(true);
    expect(ready).toBeGreaterThanOrEqual(2);
  });

  it("runs a channel's async handlers one at a time, in order", async () => {
    const s = server();
    s.on('userAuthRequest', (e) => (e.password === PASSWORD ? e.accept() : e.reject()));
    let running = 0;
    let most = 0;
    const chunks: Buffer[] = [];
    s.on('channelDataIn', async (e) => {
      most = Math.max(most, ++running);
      // Each handler yields several times before it finishes; the next must not start meanwhile.
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      chunks.push(Buffer.from(e.data));
      running--;
    });
    s.on('channelEOF', async (e) => {
      await s.sendText(e.connectionId, e.channelId, `${chunks.length}`);
      s.sendExitStatus(e.connectionId, e.channelId, 0);
      await s.closeChannel(e.connectionId, e.channelId);
    });
    const { port } = await s.startListening();
    const input = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `${i},`).join(''));
    const r = await exec(await login(port), 'upload', input);
    expect(Number(r.stdout.toString())).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).equals(input)).toBe(true);
    expect(most).toBe(1);
  });

  it('reports the error codes it lists: 104 already listening, 126 invalid connection id, 1301 no host key', async () => {
    const keyless = new SSHServer({ localPort: 0 });
    await expect(keyless.startListening()).rejects.toMatchObject({ code: ErrorCode.NoHostKey });
    expect(ErrorCode.NoHostKey).toBe(1301);
    const s = server();
    await s.startListening();
    await expect(s.startListening()).rejects.toMatchObject({ code: 104 });
    expect(codeOf(() => s.exchangeKeys(77))).toBe(126);
    expect(codeOf(() => s.config('NegotiatedStrictKex[77]'))).toBe(126);
  });
});
