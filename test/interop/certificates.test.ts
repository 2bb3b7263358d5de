/**
 * OpenSSH user certificates with the real `ssh` and `ssh-keygen -s`: ed25519, ECDSA and RSA CAs and user
 * keys log in; expired, not-yet-valid, wrong-principal, other-CA and host certificates are refused, and so is
 * a CA's own key offered as a plain key; `force-command` and `source-address` are enforced. CAs come from
 * `trustedUserCAKeys` (any principal naming the user) and from a `cert-authority,principals=` line of
 * `authorizedKeys`. The server here has no `userAuthRequest` handler that accepts: only the server's own
 * matching lets a key in.
 */

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizedKeys, SSHServer, type UserAuthRequestEvent } from '../../ts/node/index.js';
import { run, SSH_BASE, startDemo } from '../helpers/demo.js';

const USER = 'alice';
const dir = mkdtempSync(join(tmpdir(), 'wasshd-certs-'));
let server: SSHServer;
let port: number;
/** The certificates the handlers saw, newest last. */
const seen: NonNullable<NonNullable<UserAuthRequestEvent['publicKey']>['certificate']>[] = [];
/** The server's log lines: why each certificate was refused. */
const logs: string[] = [];

function keygen(...args: string[]): string {
  const r = spawnSync('ssh-keygen', ['-q', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A new key pair of `type` (`ed25519`, `ecdsa`, `rsa`) in the test's folder; its private key file. */
function key(name: string, type: string): string {
  const file = join(dir, name);
  keygen('-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', name, '-f', file);
  return file;
}

let serial = 0;
/** Signs `user`'s public key with `ca` into a fresh certificate file; `options` as ssh-keygen takes them. */
function certify(user: string, ca: string, options: string[]): string {
  const name = `${basename(user)}-${++serial}`;
  copyFileSync(`${user}.pub`, join(dir, `${name}.pub`));
  keygen('-s', ca, '-I', `cert ${serial}`, '-z', String(serial), ...options, join(dir, `${name}.pub`));
  return join(dir, `${name}-cert.pub`);
}

const pub = (file: string) => readFileSync(`${file}.pub`, 'utf8').trim();

/** `ssh` as USER with `keyFile` and, if given, the certificate; prints what the server ran. */
function login(keyFile: string, cert: string | undefined, options: string[] = []) {
  const auth = ['-i', keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'PreferredAuthentications=publickey'];
  return run('ssh', [...SSH_BASE, ...auth, ...(cert ? ['-o', `CertificateFile=${cert}`] : []), ...options, '-p', String(port), `${USER}@127.0.0.1`, 'asked']);
}

const keys = {} as Record<'edCA' | 'ecCA' | 'rsaCA' | 'otherCA' | 'ed' | 'ec' | 'rsa', string>;

beforeAll(async () => {
  for (const [name, type] of [['edCA', 'ed25519'], ['ecCA', 'ecdsa'], ['rsaCA', 'rsa'], ['otherCA', 'ed25519'], ['ed', 'ed25519'], ['ec', 'ecdsa'], ['rsa', 'rsa']] as const) {
    keys[name] = key(name, type);
  }
  server = new SSHServer({
    localPort: 0,
    // The refusals come one after another from loopback: no penalty should shut the next test out.
    config: { PerSourcePenaltyExemptList: '127.0.0.0/8' },
    trustedUserCAKeys: AuthorizedKeys.parse(`${pub(keys.edCA)}\n${pub(keys.rsaCA)}\n`, 'trusted_ca'),
    authorizedKeys: AuthorizedKeys.parse(`cert-authority,principals="ops" ${pub(keys.ecCA)}\n`, 'authorized_keys'),
  });
  server.generateHostKey();
  server.on('log', (e) => void logs.push(e.message));
  server.on('userAuthRequest', (e) => {
    if (e.publicKey?.certificate && e.publicKey.signed) seen.push(e.publicKey.certificate);
  });
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    await server.sendText(e.connectionId, e.channelId, `${e.request.command} (asked: ${e.originalCommand ?? '-'})\n`);
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  port = (await server.startListening()).port;
});

afterAll(async () => {
  await server?.shutdown();
});

async function loggedIn(keyFile: string, cert: string | undefined, options: string[] = []): Promise<string> {
  const r = await login(keyFile, cert, options);
  expect(r.stderr).toBe('');
  return r.stdout.toString();
}

/** The login is refused, and the server logged `why` for it. */
async function refused(keyFile: string, cert: string | undefined, why: RegExp, options: string[] = []): Promise<void> {
  logs.length = 0;
  const r = await login(keyFile, cert, options);
  expect(r.code).toBe(255);
  expect(r.stderr).toContain('Permission denied');
  expect(logs.join('\n')).toMatch(why);
}

describe('OpenSSH user certificates', () => {
  it('ed25519, ECDSA and RSA certificates from trusted CAs log in, and the handler sees the certificate', async () => {
    expect(await loggedIn(keys.ed, certify(keys.ed, keys.edCA, ['-n', USER]))).toBe('asked (asked: -)\n');
    const cert = seen.at(-1)!;
    expect(cert).toMatchObject({ keyId: `cert ${serial}`, serial: BigInt(serial), principals: [USER], validBefore: undefined, key: pub(keys.ed).split(' ').slice(0, 2).join(' ') });
    expect(cert.caFingerprint).toBe(keygen('-lf', `${keys.edCA}.pub`).split(' ')[1]);
    expect(cert.extensions).toContain('permit-pty');
    expect(await loggedIn(keys.rsa, certify(keys.rsa, keys.rsaCA, ['-n', USER]))).toBe('asked (asked: -)\n');
    expect(await loggedIn(keys.ec, certify(keys.ec, keys.edCA, ['-n', `bob,${USER}`]))).toBe('asked (asked: -)\n');
  });

  it("a cert-authority line's principals= replaces the user name", async () => {
    expect(await loggedIn(keys.ec, certify(keys.ec, keys.ecCA, ['-n', 'ops']))).toBe('asked (asked: -)\n');
    await refused(keys.ec, certify(keys.ec, keys.ecCA, ['-n', USER]), /none of its principals \(alice\) is in the principals= of authorized_keys:1/);
  });

  it('expired, not yet valid, wrong principal, unknown CA and host certificates are refused', async () => {
    await refused(keys.ed, certify(keys.ed, keys.edCA, ['-n', USER, '-V', '20200101:20200102']), /refused: expired at 2020-01-02/);
    await refused(keys.ed, certify(keys.ed, keys.edCA, ['-n', USER, '-V', '+1d:+2d']), /refused: not valid before/);
    await refused(keys.ed, certify(keys.ed, keys.edCA, ['-n', 'bob']), /none of its principals \(bob\) is alice/);
    await refused(keys.ed, certify(keys.ed, keys.otherCA, ['-n', USER]), /its CA is not trusted/);
    // OpenSSH does not offer a host certificate for user authentication at all; the core's own refusal of
    // one is in core-rs/tests/userauth.rs.
    await refused(keys.ed, certify(keys.ed, keys.edCA, ['-h', '-n', USER]), /^/);
    // A certificate within its time still logs in, so the refusals above are the certificates'.
    expect(await loggedIn(keys.ed, certify(keys.ed, keys.edCA, ['-n', USER, '-V', '-1d:+1d']))).toBe('asked (asked: -)\n');
  });

  it("a CA's own key does not log in as a plain key", async () => {
    // Refused as any key on no line: the handlers saw it, nothing accepted it.
    await refused(keys.edCA, undefined, /^/);
    logs.length = 0;
    await refused(keys.ecCA, undefined, /authorized_keys for alice: key refused: line 1 is a cert-authority line/);
  });

  it('force-command runs instead of what the client asked; source-address admits only its addresses', async () => {
    expect(await loggedIn(keys.ed, certify(keys.ed, keys.edCA, ['-n', USER, '-O', 'force-command=forced']))).toBe('forced (asked: asked)\n');
    const limited = certify(keys.ed, keys.edCA, ['-n', USER, '-O', 'source-address=127.0.0.1/32']);
    expect(await loggedIn(keys.ed, limited)).toBe('asked (asked: -)\n');
    await refused(keys.ed, limited, /source-address 127\.0\.0\.1\/32 does not allow 127\.0\.0\.2/, ['-b', '127.0.0.2']);
  });
});

describe('TrustedUserCAKeys as a setting and a demo flag', () => {
  it('config() replaces the list with the lines given, reads them back with their options, and empties it', async () => {
    const other = new SSHServer({ localPort: 0 });
    expect(other.config('TrustedUserCAKeys')).toBe('');
    other.config(`TrustedUserCAKeys=${pub(keys.edCA)}\nprincipals="ops,dev" ${pub(keys.ecCA)}`);
    expect(other.config('TrustedUserCAKeys')).toBe(`${pub(keys.edCA)}\nprincipals="ops,dev" ${pub(keys.ecCA)}`);
    expect(() => other.config('TrustedUserCAKeys=ssh-ed25519 not-base64')).toThrow(/TrustedUserCAKeys:1: /);
    other.config('TrustedUserCAKeys=');
    expect(other.config('TrustedUserCAKeys')).toBe('');
    await other.shutdown();
  });

  it('the demo trusts the CAs of --trusted-user-ca-keys: a certificate naming the user logs in, one naming another is refused', async () => {
    const caFile = join(dir, 'trusted_ca');
    copyFileSync(`${keys.otherCA}.pub`, caFile);
    const demo = await startDemo(['--user', `${USER}:unused password`, '--trusted-user-ca-keys', caFile]);
    try {
      const ssh = (cert: string) =>
        run('ssh', [...SSH_BASE, '-i', keys.rsa, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', `CertificateFile=${cert}`, '-p', String(demo.port), `${USER}@127.0.0.1`, 'echo certified']);
      const ok = await ssh(certify(keys.rsa, keys.otherCA, ['-n', USER]));
      expect(ok.stderr.toString()).toBe('');
      expect(ok.stdout.toString()).toBe('certified\n');
      const wrong = await ssh(certify(keys.rsa, keys.otherCA, ['-n', 'mallory']));
      expect(wrong.code).toBe(255);
      expect(wrong.stderr.toString()).toContain('Permission denied');
    } finally {
      await demo.stop();
    }
  });
});
