/**
 * authorized_keys options enforced by the server, through the demo's `--authorized-keys` and the real
 * OpenSSH client: `from=` (with `ssh -b` picking the loopback source address), `command=` (the original in
 * SSH_ORIGINAL_COMMAND), `no-pty`, `restrict`, `permitopen=`, `no-port-forwarding`, `expiry-time=`, and a
 * `cert-authority` line whose key never logs in itself. Each key has its own line in one file.
 */

import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUserKey, run, ssh, SSH_BASE, startDemo, type Demo } from '../helpers/demo.js';
import { freePort } from '../helpers/forwarding.js';

const USER = 'dora';
const LINES = {
  from: 'from="127.0.0.2"',
  command: 'command="env"',
  noPty: 'no-pty',
  restrict: 'restrict',
  permitOpen: '', // filled with the echo port
  noForwarding: 'no-port-forwarding',
  expired: 'expiry-time="20200101Z"',
  notExpired: 'expiry-time="29991231Z"',
  authority: 'cert-authority',
  plain: '',
} as const;
type Name = keyof typeof LINES;

let demo: Demo;
let echo: Server;
let echoPort: number;
const keys = {} as Record<Name, ReturnType<typeof makeUserKey>>;

beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as { port: number }).port;
  const lines = (Object.keys(LINES) as Name[]).map((name) => {
    keys[name] = makeUserKey();
    const options = name === 'permitOpen' ? `permitopen="127.0.0.1:${echoPort}"` : LINES[name];
    return `${options} ${keys[name].publicLine}`.trim();
  });
  const file = `${keys.plain.authorizedKeys}.options`;
  writeFileSync(file, lines.join('\n'));
  demo = await startDemo(['--user', `${USER}:pw`, '--authorized-keys', file, '--allow-forward']);
});

afterAll(async () => {
  await demo?.stop();
  echo?.close();
});

const login = (name: Name, command = 'whoami', options: string[] = []) => ssh(demo.port, { user: USER, keyFile: keys[name].keyFile, command, options });

/** `ssh -W` to 127.0.0.1:`port` with the key of `name`, sending a line; what came back and ssh's stderr. */
async function tunnel(name: Name, port: number, host = '127.0.0.1') {
  const args = [...SSH_BASE, '-v', '-i', keys[name].keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-W', `${host}:${port}`, '-p', String(demo.port), `${USER}@127.0.0.1`];
  const r = await run('ssh', args, Buffer.from('through\n'));
  return { back: r.stdout.toString(), stderr: r.stderr };
}

describe('authorized_keys options, enforced for OpenSSH', () => {
  it('from= lets the key in only from the addresses it names', async () => {
    const refused = await login('from');
    expect(refused.code).toBe(255);
    expect(refused.stderr).toContain('Permission denied');
    const allowed = await login('from', 'whoami', ['-b', '127.0.0.2']);
    expect(allowed.stdout.toString()).toBe(`${USER}\n`);
  });

  it('command= runs instead of what the client asked, which the host sees as SSH_ORIGINAL_COMMAND', async () => {
    const r = await login('command', 'whoami');
    expect(r.stdout.toString()).toBe('SSH_ORIGINAL_COMMAND=whoami\n');
  });

  it('no-pty and restrict refuse the pty; a plain line gets one', async () => {
    for (const name of ['noPty', 'restrict'] as const) {
      const r = await login(name, 'whoami', ['-tt']);
      expect(r.stderr, name).toContain('PTY allocation request failed');
      // With -tt the client gives up once the pty is refused: the command never runs.
      expect([r.code, r.stdout.toString()], name).toEqual([255, '']);
    }
    const plain = await login('plain', 'whoami', ['-tt']);
    expect(plain.stderr).not.toContain('PTY allocation request failed');
    expect(plain.stdout.toString()).toBe(`${USER}\r\n`);
  });

  it('permitopen= allows its target only; no-port-forwarding and restrict refuse every tunnel', async () => {
    expect((await tunnel('permitOpen', echoPort)).back).toBe('through\n');
    expect((await tunnel('plain', echoPort)).back).toBe('through\n');
    const other = await freePort();
    for (const [name, port, host] of [
      ['permitOpen', other, '127.0.0.1'],
      ['permitOpen', echoPort, 'localhost'],
      ['noForwarding', echoPort, '127.0.0.1'],
      ['restrict', echoPort, '127.0.0.1'],
    ] as const) {
      const r = await tunnel(name, port, host);
      expect(r.back, `${name} ${host}:${port}`).toBe('');
      expect(r.stderr, `${name} ${host}:${port}`).toMatch(/open failed: administratively prohibited: (port forwarding refused by|(127\.0\.0\.1|localhost) port \d+ is not in the permitopen of) \S+authorized_keys\.options:\d/);
    }
  });

  it('expiry-time= refuses the key once the time has passed', async () => {
    expect((await login('expired')).stderr).toContain('Permission denied');
    expect((await login('notExpired')).stdout.toString()).toBe(`${USER}\n`);
  });

  it("a cert-authority line's key does not log in as a user key", async () => {
    const r = await login('authority');
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('Permission denied');
  });
});
