/**
 * The JavaScript SSH client (`SSHClient` from the Node entry) against Debian's OpenSSH `sshd`, started by the
 * test on a free port with its own config, host key and authorized key (test/helpers/sshd.ts).
 */

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSHClient, SSHError, type ClientSession, type NodeSSHClientOptions } from '../../ts/node/index.js';
import { makeUserKey } from '../helpers/demo.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

const MIB16 = 16 * 1024 * 1024;
const userKey = makeUserKey();
let sshd: Sshd;

beforeAll(async () => {
  sshd = await startSshd(userKey.publicLine);
});
afterAll(() => sshd?.stop());

const connect = (options: Partial<NodeSSHClientOptions> = {}) =>
  SSHClient.connect({
    host: '127.0.0.1',
    port: sshd.port,
    user: process.env.USER ?? 'root',
    privateKey: readFileSync(userKey.keyFile, 'utf8'),
    verifyHostKey: (fingerprint) => fingerprint === sshd.fingerprint,
    ...options,
  });
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

/** Reads the shell's output until it matches `pattern`. */
function waitFor(output: () => string, pattern: RegExp, session: ClientSession): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(output());
      if (m) resolve(m);
    };
    session.onData(check);
    void session.exit.then(() => reject(new Error(`the shell ended before ${pattern}; it printed:\n${output()}`)));
    check();
  });
}

describe('SSHClient against OpenSSH sshd', () => {
  it('logs in with an ed25519 key after checking the host key, and runs echo hello', async () => {
    const c = await connect();
    try {
      expect(c.hostKey?.fingerprint).toBe(sshd.fingerprint);
      expect(c.serverVersion).toMatch(/^SSH-2\.0-OpenSSH_/);
      const r = await c.exec('echo hello');
      expect(text(r.stdout)).toBe('hello\n');
      expect(r).toMatchObject({ code: 0, signal: null });
      const failing = await c.exec('echo oops >&2; exit 3');
      expect({ stdout: text(failing.stdout), stderr: text(failing.stderr), code: failing.code }).toEqual({ stdout: '', stderr: 'oops\n', code: 3 });
    } finally {
      await c.close();
    }
  });

  it('moves 16 MiB byte-exact up and down', async () => {
    const c = await connect();
    try {
      const data = randomBytes(MIB16);
      const file = join(sshd.dir, 'up.bin');
      const up = await c.exec(`cat > ${file}`, { stdin: data });
      expect(up.code).toBe(0);
      expect(readFileSync(file).equals(data)).toBe(true);
      const source = join(sshd.dir, 'down.bin');
      const down = randomBytes(MIB16);
      writeFileSync(source, down);
      const r = await c.exec(`cat ${source}`);
      expect(r.code).toBe(0);
      expect(Buffer.from(r.stdout).equals(down)).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('gives a shell a pty whose size stty shows, and a resize changes it', async () => {
    const c = await connect();
    try {
      const shell = await c.shell({ cols: 100, rows: 30 });
      let output = '';
      shell.onData((d) => (output += text(d)));
      await shell.write('stty size\n');
      await waitFor(() => output, /^30 100\r?$/m, shell);
      shell.resize(120, 40);
      await shell.write('stty size\n');
      await waitFor(() => output, /^40 120\r?$/m, shell);
      await shell.write('exit 7\n');
      expect(await shell.exit).toEqual({ code: 7, signal: null });
    } finally {
      await c.close();
    }
  });

  it('ends the connection when verifyHostKey refuses the key', async () => {
    const seen: string[] = [];
    const failed = await connect({ verifyHostKey: (fingerprint) => (seen.push(fingerprint), false) }).catch((e: unknown) => e);
    expect(seen).toEqual([sshd.fingerprint]);
    expect(failed).toBeInstanceOf(SSHError);
    expect((failed as SSHError).code).toBe(1304);
    expect((failed as SSHError).message).toBe(`host key ${sshd.fingerprint} (ssh-ed25519) was not accepted by verifyHostKey`);
  });

  it('says which key the server refused', async () => {
    const other = makeUserKey();
    const failed = await connect({ privateKey: readFileSync(other.keyFile, 'utf8') }).catch((e: unknown) => e);
    expect((failed as SSHError).code).toBe(1300);
    expect((failed as SSHError).message).toMatch(/^authentication failed for user "[^"]+": the server refused the key \(it takes publickey\)$/);
  });
});
