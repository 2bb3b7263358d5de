/**
 * The real OpenSSH client (Debian 12's 9.2) against the demo server, driven through its command-line
 * contract exactly as a user would.
 */

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUserKey, requirePrograms, run, sha256hex, ssh, startDemo, SSH_BASE, testData, type Demo } from '../helpers/demo.js';

const USER = 'alice';
const PASSWORD = 'correct horse';
const MiB = 1024 * 1024;

/** Every cipher, and every MAC with at least one cipher that uses it. */
const SUITES: [cipher: string, mac?: string][] = [
  ['chacha20-poly1305@openssh.com'],
  ['aes128-gcm@openssh.com'],
  ['aes256-gcm@openssh.com'],
  ['aes128-ctr', 'hmac-sha2-256'],
  ['aes128-ctr', 'hmac-sha2-512'],
  ['aes128-ctr', 'hmac-sha2-256-etm@openssh.com'],
  ['aes128-ctr', 'hmac-sha2-512-etm@openssh.com'],
  ['aes192-ctr', 'hmac-sha2-256-etm@openssh.com'],
  ['aes256-ctr', 'hmac-sha2-512'],
  ['aes256-ctr', 'umac-128-etm@openssh.com'],
];

const key = makeUserKey();
let demo: Demo;

beforeAll(async () => {
  demo = await startDemo(['--user', `${USER}:${PASSWORD}`, '--authorized-keys', key.authorizedKeys, '--verbose']);
});
afterAll(() => demo?.stop());

const withPassword = (command: string, options: string[] = [], input?: Buffer) =>
  ssh(demo.port, { user: USER, password: PASSWORD, command, options, ...(input ? { input } : {}) });

/** Key re-exchanges the server has logged. */
function rekeysLogged(log: string): number {
  return (log.match(/keys re-exchanged/g) ?? []).length;
}

describe('exec', () => {
  it('returns output and exit status', async () => {
    const r = await withPassword('echo hello   world');
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toBe('hello world\n');
    expect(r.code).toBe(0);
    expect((await withPassword('exit 7')).code).toBe(7);
  });

  it('reports an unknown command on stderr with status 127', async () => {
    const r = await withPassword('frobnicate now');
    expect(r.code).toBe(127);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toContain('unknown command: frobnicate');
  });
});

describe('authentication', () => {
  it('accepts the right password', async () => {
    const r = await withPassword('whoami', ['-o', 'PreferredAuthentications=password']);
    expect(r.stdout.toString()).toBe(`${USER}\n`);
    expect(r.code).toBe(0);
  });

  it('refuses a wrong password', async () => {
    const r = await ssh(demo.port, { user: USER, password: 'wrong', command: 'whoami', options: ['-o', 'PreferredAuthentications=password', '-o', 'NumberOfPasswordPrompts=1'] });
    expect(r.code).not.toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toMatch(/Permission denied/);
  });

  it('accepts keyboard-interactive with a Password: prompt', async () => {
    const r = await withPassword('whoami', ['-o', 'PreferredAuthentications=keyboard-interactive']);
    expect(r.stdout.toString()).toBe(`${USER}\n`);
  });

  it('accepts an ed25519 key from authorized_keys and refuses another', async () => {
    const r = await ssh(demo.port, { user: USER, keyFile: key.keyFile, command: 'whoami' });
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toBe(`${USER}\n`);
    const stranger = makeUserKey();
    const refused = await ssh(demo.port, { user: USER, keyFile: stranger.keyFile, command: 'whoami' });
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/Permission denied/);
  });
});

describe.each(SUITES)('64 MiB byte-exact with %s %s', (cipher, mac) => {
  const options = ['-c', cipher, ...(mac ? ['-m', mac] : [])];
  const data = testData(64 * MiB, cipher.length + (mac?.length ?? 0));

  it('up: sha256 of stdin', async () => {
    const r = await withPassword('sha256', options, data);
    expect(r.stderr).toBe('');
    expect(r.stdout.toString().trim()).toBe(sha256hex(data));
  });

  it('down: cat echoes every byte', async () => {
    const r = await withPassword('cat', options, data);
    expect(r.stdout.length).toBe(data.length);
    expect(sha256hex(r.stdout)).toBe(sha256hex(data));
  });
});

/** ssh run to fail the negotiation: it logs why at INFO, which the shared options' LogLevel=ERROR would hide. */
function negotiate(algorithms: string[]) {
  const options = ['-F', '/dev/null', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'BatchMode=yes'];
  return run('ssh', [...options, ...algorithms, '-p', String(demo.port), `${USER}@127.0.0.1`, 'true']);
}

it('does not offer the CBC ciphers unless configured', async () => {
  const r = await negotiate(['-c', 'aes128-cbc,aes192-cbc,aes256-cbc,3des-cbc']);
  expect(r.code).toBe(255);
  expect(r.stderr.toString()).toMatch(/no matching cipher found/);
});

it('does not offer the 64-bit UMAC tags, UMAC as encrypt-and-MAC, nor the SHA-1 and MD5 HMACs, unless configured', async () => {
  const off = ['umac-64-etm@openssh.com', 'umac-64@openssh.com', 'umac-128@openssh.com', 'hmac-sha1', 'hmac-sha1-etm@openssh.com', 'hmac-md5', 'hmac-md5-96'];
  const r = await negotiate(['-c', 'aes128-ctr', '-m', off.join(',')]);
  expect(r.code).toBe(255);
  expect(r.stderr.toString()).toMatch(/no matching MAC found/);
});

describe('session features', () => {
  it('passes SetEnv variables to the session', async () => {
    const r = await withPassword('env', ['-o', 'SetEnv=WASSHD_B=2 WASSHD_A=one']);
    expect(r.stdout.toString()).toBe('WASSHD_A=one\nWASSHD_B=2\n');
  });

  it('runs the echo subsystem', async () => {
    const data = testData(1 * MiB, 7);
    const r = await withPassword('echo', ['-s'], data);
    expect(sha256hex(r.stdout)).toBe(sha256hex(data));
    expect(r.code).toBe(0);
  });

  it('negotiates strict kex and sends server-sig-algs', async () => {
    const r = await withPassword('echo ok', ['-vvv']);
    expect(r.stdout.toString()).toBe('ok\n');
    expect(r.stderr).toContain('will use strict KEX ordering');
    expect(r.stderr).toContain('server-sig-algs=<ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256>');
  });
});

describe('rekey', () => {
  it('follows client-started key re-exchanges mid-transfer (RekeyLimit=1M)', async () => {
    const before = rekeysLogged(demo.stderr());
    const data = testData(16 * MiB, 3);
    const r = await withPassword('cat', ['-o', 'RekeyLimit=1M'], data);
    expect(sha256hex(r.stdout)).toBe(sha256hex(data));
    await demo.settled();
    // 16 MiB each way with a 1 MiB client limit: about 20 exchanges are seen; without the limit, none.
    expect(rekeysLogged(demo.stderr()) - before).toBeGreaterThanOrEqual(12);
  });

  it('starts key re-exchanges itself past KeyRenegotiationThreshold', async () => {
    const small = await startDemo(['--user', `${USER}:${PASSWORD}`, '--config', 'KeyRenegotiationThreshold=1048576', '--verbose']);
    try {
      const data = testData(16 * MiB, 4);
      const r = await ssh(small.port, { user: USER, password: PASSWORD, command: 'cat', input: data });
      expect(sha256hex(r.stdout)).toBe(sha256hex(data));
      await small.settled();
      // OpenSSH's own limit is far above 16 MiB, so every re-exchange here was started by the server: about 15
      // for 32 MiB of traffic, since the count restarts when an exchange completes.
      expect(rekeysLogged(small.stderr())).toBeGreaterThanOrEqual(8);
    } finally {
      await small.stop();
    }
  });
});

describe('interactive shell under a terminal', () => {
  const tmux = (...args: string[]) => spawnSync('tmux', ['-L', `wasshd-test-${process.pid}`, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', 'shell').stdout;
  // tmux reports no event for what the screen shows: poll it, with a deadline a loaded machine will not reach.
  async function waitFor(pattern: RegExp, what: string): Promise<string> {
    for (const deadline = performance.now() + 60_000; performance.now() < deadline; ) {
      const s = screen();
      if (pattern.test(s)) return s;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`terminal never showed ${what}; screen:\n${screen()}`);
  }

  afterAll(() => tmux('kill-server'));

  it('gets a pty, follows window changes and exits with the status given', async () => {
    requirePrograms('tmux', 'ssh');
    const command = ['ssh', ...SSH_BASE, '-i', key.keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-tt', '-p', String(demo.port), `${USER}@127.0.0.1`];
    const shellLine = `${command.map((a) => `'${a}'`).join(' ')}; echo "ssh exited $?"; sleep 30`;
    expect(tmux('new-session', '-d', '-s', 'shell', '-x', '80', '-y', '24', shellLine).status).toBe(0);
    await waitFor(/alice@wasshd\$\s*$/m, "the prompt");
    tmux('send-keys', '-t', 'shell', 'pty', 'Enter');
    await waitFor(/^\S+ 80x24$/m, 'the 80x24 pty');
    tmux('resize-window', '-t', 'shell', '-x', '100', '-y', '30');
    tmux('send-keys', '-t', 'shell', 'echo typo', 'BSpace', 'BSpace', 'BSpace', 'BSpace', 'fixed', 'Enter');
    await waitFor(/^fixed$/m, 'line editing');
    tmux('send-keys', '-t', 'shell', 'pty', 'Enter');
    await waitFor(/^\S+ 100x30$/m, 'the resized pty');
    tmux('send-keys', '-t', 'shell', 'exit 3', 'Enter');
    await waitFor(/ssh exited 3/, 'exit status 3');
  });
});
