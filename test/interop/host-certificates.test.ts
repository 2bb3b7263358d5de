/**
 * Host certificates with the real `ssh`: the demo serves an ed25519 and an RSA host key, each with an
 * OpenSSH host certificate (`ssh-keygen -s CA -h`, set with `--config HostCertificate=...`), and `ssh` that
 * knows only the CA (a `@cert-authority` known_hosts line, StrictHostKeyChecking=yes) and asks for the
 * certificate algorithms accepts the server. A known_hosts line of another CA is refused, so the CA line is
 * what let it in.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startDemo, type Demo } from '../helpers/demo.js';

const USER = 'dora';
const PASSWORD = 'pw';
const dir = mkdtempSync(join(tmpdir(), 'wasshd-host-certs-'));
let demo: Demo;

function keygen(...args: string[]): void {
  const r = spawnSync('ssh-keygen', ['-q', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen ${args.join(' ')}: ${r.stderr}`);
}

function key(name: string, type: string): string {
  const file = join(dir, name);
  keygen('-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', name, '-f', file);
  return file;
}

/** A known_hosts file that trusts `ca` for every host. */
function knownHosts(ca: string): string {
  const file = join(dir, `known_hosts_${ca.split('/').pop()}`);
  writeFileSync(file, `@cert-authority * ${readFileSync(`${ca}.pub`, 'utf8')}`);
  return file;
}

function ssh(hostKeyAlgorithm: string, known: string) {
  const options = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${known}`, '-o', 'LogLevel=ERROR', '-o', 'IdentityAgent=none'];
  const args = [...options, '-o', 'PubkeyAuthentication=no', '-o', `HostKeyAlgorithms=${hostKeyAlgorithm}`, '-p', String(demo.port), `${USER}@127.0.0.1`, 'whoami'];
  return run('sshpass', ['-p', PASSWORD, 'ssh', ...args]);
}

let ca: string;
let otherCa: string;

beforeAll(async () => {
  ca = key('ca', 'ed25519');
  otherCa = key('other-ca', 'ed25519');
  const args = ['--user', `${USER}:${PASSWORD}`];
  for (const [name, type] of [['host_ed25519', 'ed25519'], ['host_rsa', 'rsa']] as const) {
    const host = key(name, type);
    keygen('-s', ca, '-h', '-I', `${name} certificate`, '-n', '127.0.0.1', `${host}.pub`);
    args.push('--host-key', host, '--config', `HostCertificate=${readFileSync(`${host}-cert.pub`, 'utf8').trim()}`);
  }
  demo = await startDemo(args);
});

afterAll(async () => {
  await demo?.stop();
});

describe('host certificates', () => {
  it.each(['ssh-ed25519-cert-v01@openssh.com', 'rsa-sha2-512-cert-v01@openssh.com', 'rsa-sha2-256-cert-v01@openssh.com'])(
    'ssh accepts the server under %s with only a @cert-authority line for its CA',
    async (algorithm) => {
      const r = await ssh(algorithm, knownHosts(ca));
      expect(r.stderr).toBe('');
      expect(r.stdout.toString()).toBe(`${USER}\n`);
    },
  );

  it("a @cert-authority line of another CA does not let ssh accept the server", async () => {
    const r = await ssh('ssh-ed25519-cert-v01@openssh.com', knownHosts(otherCa));
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('Host key verification failed');
  });
});
