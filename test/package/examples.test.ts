/**
 * The server examples (examples/two-factor, examples/bastion, examples/sftp-drop-box) on the built package,
 * installed in a project of their own, with Debian's OpenSSH: the two-factor login and every way short of it;
 * the bastion carrying `ssh -J` to the Node demo and refusing everything else; the drop box taking uploads
 * with `sftp` and refusing everything else. A refused login comes from a loopback address of
 * its own (`ssh -b`), so that the servers' per-source penalties never refuse the next test.
 */

import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeUserKey, run, startDemo, testData, type Demo } from '../helpers/demo.js';
import { installBuiltPackage, startNodeProgram, type Running } from '../helpers/package.js';
import { fingerprintOf } from '../helpers/sshd.js';

let app: string;
const key = makeUserKey();
const unknownKey = makeUserKey();
const running: Running[] = [];

beforeAll(() => {
  app = installBuiltPackage({ examples: ['two-factor', 'bastion', 'sftp-drop-box'] });
}, 120_000);
afterAll(() => {
  for (const { child } of running) child.kill();
});

async function start(example: string, env: Record<string, string>): Promise<Running> {
  const server = await startNodeProgram(app, `examples/${example}/server.js`, { PORT: '0', ...env });
  running.push(server);
  return server;
}

/** No host key prompts or records, no agent, no config file; the debug lines that name each step's outcome. */
const BASE = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentityAgent=none', '-o', 'LogLevel=DEBUG1'];

describe('two-factor: a key, then a password', () => {
  const PASSWORD = 'correct horse';
  let server: Running;
  beforeAll(async () => {
    server = await start('two-factor', { AUTHORIZED_KEYS: key.authorizedKeys, PASSWORD });
  });

  /** `ssh` with a key file, a password (sshpass) or both; one password prompt at most. */
  function login({ keyFile, password, source = '127.0.0.1', port = server.port }: { keyFile?: string; password?: string; source?: string; port?: number }) {
    const auth = keyFile ? ['-i', keyFile, '-o', 'IdentitiesOnly=yes'] : ['-o', 'PubkeyAuthentication=no'];
    const args = [...BASE, ...auth, '-o', 'NumberOfPasswordPrompts=1', '-b', source, '-p', String(port), 'alice@127.0.0.1', 'whoami'];
    return password === undefined ? run('ssh', ['-o', 'BatchMode=yes', ...args]) : run('sshpass', ['-p', password, 'ssh', ...args]);
  }

  it('logs in with the key and then the password, and the session says which', async () => {
    expect(server.stdout()).toContain('AuthenticationMethods publickey,password\n');
    const r = await login({ keyFile: key.keyFile, password: PASSWORD });
    expect(r.stderr).toMatch(/Authentications that can continue: publickey\r?\n/);
    expect(r.stderr).toContain('Authenticated using "publickey" with partial success.');
    expect(r.stderr).toMatch(/Authentications that can continue: password\r?\n/);
    expect(r.stdout.toString()).toBe(`alice logged in with publickey ${fingerprintOf(`${key.keyFile}.pub`)}, then password\n`);
    expect(r.code).toBe(0);
  });

  it.each([
    { name: 'the key alone', keyFile: key.keyFile, source: '127.0.0.2', partial: true, methods: 'password' },
    { name: 'the password alone', password: PASSWORD, source: '127.0.0.3', partial: false, methods: 'publickey' },
    { name: 'the key and a wrong password', keyFile: key.keyFile, password: 'wrong', source: '127.0.0.4', partial: true, methods: 'password' },
    { name: 'an unknown key and the password', keyFile: unknownKey.keyFile, password: PASSWORD, source: '127.0.0.5', partial: false, methods: 'publickey' },
  ])('refuses $name, listing $methods', async ({ keyFile, password, source, partial, methods }) => {
    const r = await login({ keyFile, password, source });
    expect(r.stderr).toContain(`alice@127.0.0.1: Permission denied (${methods}).`);
    expect(r.stderr.includes('with partial success')).toBe(partial);
    expect(r.stdout.length).toBe(0);
    expect(r.code).toBe(255);
  });

  it('takes the chain by its setting name too (config("AuthenticationMethods=...")): here the password first', async () => {
    const reversed = await start('two-factor', { AUTHORIZED_KEYS: key.authorizedKeys, PASSWORD, AUTHENTICATION_METHODS: 'password,publickey' });
    expect(reversed.stdout()).toContain('AuthenticationMethods password,publickey\n');
    const r = await login({ keyFile: key.keyFile, password: PASSWORD, port: reversed.port });
    expect(r.stderr).toContain('Authenticated using "password" with partial success.');
    expect(r.stdout.toString()).toBe(`alice logged in with password, then publickey ${fingerprintOf(`${key.keyFile}.pub`)}\n`);
    expect(r.code).toBe(0);
  });
});

describe('bastion: ssh -J to the targets on its list, nothing else', () => {
  let target: Demo;
  let bastion: Running;
  /** An ssh_config that gives every host the test's key: ssh -J runs a second ssh, which takes no -i. */
  const config = join(key.keyFile, '../ssh_config');
  beforeAll(async () => {
    writeFileSync(
      config,
      ['Host *', 'StrictHostKeyChecking no', 'UserKnownHostsFile /dev/null', 'IdentityAgent none', 'BatchMode yes', 'IdentitiesOnly yes', `IdentityFile ${key.keyFile}`, 'LogLevel ERROR', ''].join('\n  '),
    );
    target = await startDemo(['--user', 'demo:pw', '--authorized-keys', key.authorizedKeys]);
    bastion = await start('bastion', { AUTHORIZED_KEYS: key.authorizedKeys, ALLOW: `127.0.0.1:${target.port},db.internal:5432` });
  });
  afterAll(() => target?.stop());

  /** ssh to the bastion itself, with the lines that say why a channel or forward failed. */
  const toBastion = (args: string[], command: string[] = []) => run('ssh', ['-F', config, '-o', 'LogLevel=INFO', '-p', String(bastion.port), ...args, 'jump@127.0.0.1', ...command]);

  it('carries ssh -J to an allowed target, 4 MiB byte-exact through cat, and logs the tunnel with its bytes', async () => {
    const data = testData(4 << 20, 14);
    const r = await run('ssh', ['-F', config, '-J', `jump@127.0.0.1:${bastion.port}`, '-p', String(target.port), 'demo@127.0.0.1', 'cat'], data);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.equals(data)).toBe(true);
    const line = new RegExp(`jump: tunnel to 127\\.0\\.0\\.1:${target.port} closed, (\\d+) bytes in, (\\d+) out`);
    const closed = await vi.waitFor(() => {
      const found = line.exec(bastion.stdout());
      if (!found) throw new Error(`the bastion logged no closed tunnel:\n${bastion.stdout()}`);
      return found;
    });
    // The data, and the inner SSH session around it, each way.
    expect(Number(closed[1])).toBeGreaterThan(data.length);
    expect(Number(closed[2])).toBeGreaterThan(data.length);
  });

  it('refuses a target outside its list, saying why', async () => {
    const r = await toBastion(['-W', `127.0.0.1:${target.port + 1}`]);
    expect(r.stderr).toContain(`channel 0: open failed: administratively prohibited: 127.0.0.1:${target.port + 1} is not on this bastion's list`);
    expect(r.stderr).toContain('stdio forwarding failed');
    expect(r.code).toBe(255);
    expect(bastion.stdout()).toContain(`jump: refused local tunnel 127.0.0.1:${target.port + 1}\n`);
  });

  it.each([
    { name: 'a shell', args: ['-tt'], command: [] },
    { name: 'an exec', args: [], command: ['echo', 'hello'] },
  ])('refuses $name', async ({ args, command }) => {
    const r = await toBastion(args, command);
    expect(r.stderr).toContain('channel 0: open failed: administratively prohibited: this host only forwards: use it with ssh -J');
    expect(r.stdout.length).toBe(0);
    expect(r.code).toBe(255);
  });

  it('refuses remote forwarding (ssh -R)', async () => {
    const r = await toBastion(['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `0:127.0.0.1:${target.port}`]);
    expect(r.stderr).toContain('Error: remote port forwarding failed for listen port 0');
    expect(r.code).toBe(255);
  });

  it('takes keys only: a password is not even offered', async () => {
    const r = await run('sshpass', ['-p', 'pw', 'ssh', ...BASE, '-o', 'PubkeyAuthentication=no', '-b', '127.0.0.6', '-p', String(bastion.port), 'jump@127.0.0.1', 'true']);
    expect(r.stderr).toMatch(/Authentications that can continue: publickey\r?\n/);
    expect(r.stderr).toContain('jump@127.0.0.1: Permission denied (publickey).');
    expect(r.code).toBe(255);
  });
});

describe('sftp-drop-box: uploads only, each user in a folder of their own', () => {
  const dropDir = mkdtempSync(join(tmpdir(), 'wasshd-drop-'));
  const local = mkdtempSync(join(tmpdir(), 'wasshd-drop-local-'));
  const upload = testData(4 * 1024 * 1024, 11);
  let server: Running;
  beforeAll(async () => {
    const users = join(local, 'users');
    writeFileSync(users, 'alice:alice-pw\nbob:bob-pw\n');
    writeFileSync(join(local, 'report.bin'), upload);
    server = await start('sftp-drop-box', { DROP_DIR: dropDir, USERS: users });
  });

  /** `sftp -b -` with a password: BatchMode, which -b turns on, would refuse to ask for one, so it is turned off first. */
  function sftp(user: string, password: string, lines: string[]) {
    const options = ['-F', '/dev/null', '-o', 'BatchMode=no', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentityAgent=none', '-o', 'PubkeyAuthentication=no'];
    const args = ['-p', password, 'sftp', ...options, '-P', String(server.port), '-b', '-', `${user}@127.0.0.1`];
    return run('sshpass', args, Buffer.from([`lcd ${local}`, ...lines].join('\n') + '\n'));
  }

  it('takes an upload byte-exact into the user’s folder, and refuses to list, read, remove or overwrite it', async () => {
    const put = await sftp('alice', 'alice-pw', ['put report.bin']);
    expect(put.code, put.stderr.toString()).toBe(0);
    expect(readFileSync(join(dropDir, 'alice', 'report.bin')).equals(upload)).toBe(true);
    // sftp reports each refusal; `ls` still exits 0 in batch mode, so the message is what is checked.
    for (const line of ['ls', 'get report.bin copy.bin', 'rm report.bin', 'rename report.bin other.bin', 'put report.bin', 'mkdir sub']) {
      const refused = await sftp('alice', 'alice-pw', [line]);
      expect(refused.stderr.toString(), line).toMatch(/Permission denied/);
      const listed = refused.stdout.toString().split('\n').filter((l) => !l.startsWith('sftp>'));
      expect(listed.join('\n'), line).not.toContain('report.bin');
    }
    expect(existsSync(join(local, 'copy.bin'))).toBe(false);
    expect(readdirSync(join(dropDir, 'alice'))).toEqual(['report.bin']);
  });

  it('keeps each user to their own folder, whatever the path', async () => {
    for (const target of ['../bob/from-alice.bin', '/../../bob/from-alice.bin', '../../escaped.bin']) {
      await sftp('alice', 'alice-pw', [`put report.bin ${target}`]);
    }
    const bob = await sftp('bob', 'bob-pw', ['put report.bin mine.bin']);
    expect(bob.code, bob.stderr.toString()).toBe(0);
    expect(readdirSync(join(dropDir, 'bob'))).toEqual(['mine.bin']);
    expect(readdirSync(dropDir).sort()).toEqual(['alice', 'bob']);
  });

  it('refuses a shell, a command and a wrong password', async () => {
    const exec = await run('sshpass', ['-p', 'alice-pw', 'ssh', ...BASE, '-o', 'PubkeyAuthentication=no', '-p', String(server.port), 'alice@127.0.0.1', 'ls']);
    expect(exec.code).not.toBe(0);
    const wrong = await sftp('alice', 'bob-pw', ['put report.bin x.bin']);
    expect(wrong.code).not.toBe(0);
    expect(existsSync(join(dropDir, 'alice', 'x.bin'))).toBe(false);
  });
});
