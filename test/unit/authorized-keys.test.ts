import { describe, expect, it } from 'vitest';
import { AuthorizedKeys, AuthorizedKeysError, type AuthorizedKey } from '../../ts/authorized-keys.js';

/** A well-formed ed25519 public key blob: the type string, then 32 key bytes. */
const blob = (fill: number) => Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, fill)]).toString('base64');
const KEY = `ssh-ed25519 ${blob(7)}`;
const OTHER = `ssh-ed25519 ${blob(8)}`;
const NOW = Date.UTC(2026, 0, 1);

const parse = (...lines: string[]) => AuthorizedKeys.parse(lines.join('\n'), 'keys');
const one = (line: string): AuthorizedKey => parse(line).keys[0]!;

describe('authorized_keys as sshd reads it', () => {
  it('takes plain key lines, with or without a comment, and skips blank and # lines', () => {
    const { keys } = parse('# comment', '', `   ${KEY} user@host  x`, `${KEY}`, `${OTHER}\r`);
    expect(keys.map((k) => [k.line, k.openssh, k.comment, k.options])).toEqual([
      [3, KEY, 'user@host  x', []],
      [4, KEY, '', []],
      [5, OTHER, '', []],
    ]);
    expect(keys[0]).toMatchObject({ keyType: 'ssh-ed25519', pty: true, portForwarding: true, agentForwarding: true, x11Forwarding: true, userRc: true, certAuthority: false });
  });

  it('reads quoted values with commas, spaces and escaped quotes; names in any case', () => {
    const k = one(`command="echo \\"a, b\\" c",NO-PTY,environment="A=1,2 3",environment="B=" ${KEY} c`);
    expect(k).toMatchObject({ command: 'echo "a, b" c', pty: false, environment: [['A', '1,2 3'], ['B', '']], comment: 'c' });
    expect(k.options.map((o) => o.name)).toEqual(['command', 'NO-PTY', 'environment', 'environment']);
  });

  it('applies every flag, and restrict clears them all before the ones that give some back', () => {
    expect(one(`no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc,no-pty ${KEY}`)).toMatchObject({
      pty: false,
      portForwarding: false,
      agentForwarding: false,
      x11Forwarding: false,
      userRc: false,
    });
    expect(one(`restrict ${KEY}`)).toMatchObject({ pty: false, portForwarding: false, agentForwarding: false, x11Forwarding: false, userRc: false });
    // Order does not matter: restrict applies first, as in sshd.
    expect(one(`pty,restrict,port-forwarding,agent-forwarding,x11-forwarding,user-rc ${KEY}`)).toMatchObject({
      pty: true,
      portForwarding: true,
      agentForwarding: true,
      x11Forwarding: true,
      userRc: true,
    });
    expect(one(`tunnel="0",verify-required,no-touch-required ${KEY}`).options).toHaveLength(3);
  });

  it('reads permitopen and permitlisten, cert-authority and principals', () => {
    const k = one(`permitopen="host:22",permitopen="[::1]:*",permitopen="*:80",permitlisten="8080",permitlisten="localhost:*" ${KEY}`);
    expect(k.permitOpen).toEqual([
      { host: 'host', port: 22 },
      { host: '::1', port: '*' },
      { host: '*', port: 80 },
    ]);
    expect(k.permitListen).toEqual([
      { host: '*', port: 8080 },
      { host: 'localhost', port: '*' },
    ]);
    expect(one(`cert-authority,principals="alice,bob" ${KEY}`)).toMatchObject({ certAuthority: true, principals: ['alice', 'bob'] });
  });

  it('reads expiry-time in UTC with Z and in local time without, and uses it', () => {
    expect(one(`expiry-time="20251231Z" ${KEY}`).expiresAt).toBe(Date.UTC(2025, 11, 31));
    expect(one(`expiry-time="202512312359Z" ${KEY}`).expiresAt).toBe(Date.UTC(2025, 11, 31, 23, 59));
    expect(one(`expiry-time="20251231235958" ${KEY}`).expiresAt).toBe(new Date(2025, 11, 31, 23, 59, 58).getTime());
    const keys = parse(`expiry-time="20251231Z" ${KEY}`, `expiry-time="20300101Z" ${OTHER}`);
    expect(keys.match(KEY, '10.0.0.1', NOW)).toBeUndefined();
    expect(keys.match(OTHER, '10.0.0.1', NOW)?.line).toBe(2);
  });

  it('matches from= as sshd: addresses, CIDR, * and ? patterns, ! negation, IPv4-mapped addresses', () => {
    const keys = parse(`from="10.0.0.0/8,!10.9.0.0/16,192.168.1.?,2001:db8::/32,*.example.com" ${KEY}`);
    const from = (address: string) => keys.match(KEY, address, NOW) !== undefined;
    expect(from('10.1.2.3')).toBe(true);
    expect(from('::ffff:10.1.2.3')).toBe(true);
    expect(from('10.9.1.1')).toBe(false);
    expect(from('192.168.1.7')).toBe(true);
    expect(from('192.168.1.70')).toBe(false);
    expect(from('2001:db8::1')).toBe(true);
    expect(from('127.0.0.1')).toBe(false);
    expect(from('not an address')).toBe(false);
    // Only negations: nothing positive matched, so nothing is let in.
    expect(parse(`from="!10.0.0.1" ${KEY}`).match(KEY, '10.0.0.2', NOW)).toBeUndefined();
  });

  it('takes the first line that lets the key in, and says why the others did not', () => {
    const keys = parse(`from="10.0.0.1" ${KEY}`, `cert-authority ${KEY}`, `command="id" ${KEY}`);
    const refusals: string[] = [];
    expect(keys.match(KEY, '10.0.0.2', NOW, refusals)?.line).toBe(3);
    expect(refusals).toEqual(['line 1 does not allow 10.0.0.2 (from="10.0.0.1")', 'line 2 is a cert-authority line']);
    // The base64 compares by the bytes it encodes.
    expect(keys.match(`ssh-ed25519 ${blob(7).replace(/=+$/, '')}`, '10.0.0.1', NOW)?.line).toBe(1);
    expect(keys.match(OTHER, '10.0.0.1', NOW)).toBeUndefined();
  });

  it('reads keys in the RFC 4716 form, headers and continued lines skipped, the comment kept', () => {
    const body = blob(9);
    const keys = parse(
      KEY,
      '---- BEGIN SSH2 PUBLIC KEY ----',
      'Subject: a very long \\',
      'header: "that continues"',
      'Comment: "256-bit ED25519, made by ssh-keygen -e"',
      body.slice(0, 40),
      body.slice(40),
      '---- END SSH2 PUBLIC KEY ----',
      OTHER,
    );
    expect(keys.keys.map((k) => [k.line, k.openssh, k.comment])).toEqual([
      [1, KEY, ''],
      [2, `ssh-ed25519 ${body}`, '256-bit ED25519, made by ssh-keygen -e'],
      [9, OTHER, ''],
    ]);
    expect(() => parse('---- BEGIN SSH2 PUBLIC KEY ----', body)).toThrow('keys:1: ---- BEGIN SSH2 PUBLIC KEY ---- without ---- END SSH2 PUBLIC KEY ----');
    expect(() => parse('# x', '---- BEGIN SSH2 PUBLIC KEY ----', 'AAAA', '---- END SSH2 PUBLIC KEY ----')).toThrow('keys:2: the RFC 4716 block holds no key');
  });

  it('never lets a cert-authority key log in as a user key', () => {
    expect(parse(`cert-authority ${KEY}`).match(KEY, '127.0.0.1', NOW)).toBeUndefined();
  });

  it('refuses lines it cannot read, naming the file and line', () => {
    const bad: [string, string][] = [
      [`bogus ${KEY}`, 'unknown option bogus'],
      [`from="10.0.0.1 ${KEY}`, 'option from: unterminated quoted value'],
      [`from=10.0.0.1 ${KEY}`, 'option from: the value must be in double quotes'],
      [`from="a"x ${KEY}`, 'option from: expected a comma or a space after it'],
      [`from="host.example.com" ${KEY}`, '"host.example.com" is not an address, a CIDR range or a pattern'],
      [`from="10.0.0.1,,10.0.0.2" ${KEY}`, 'empty entry'],
      [`command ${KEY}`, 'option command needs a value'],
      [`no-pty="1" ${KEY}`, 'option no-pty takes no value'],
      [`command="a",command="b" ${KEY}`, 'option command appears twice'],
      [`expiry-time="2025" ${KEY}`, 'expected YYYYMMDD[HHMM[SS]][Z]'],
      [`expiry-time="20250231Z" ${KEY}`, 'not a valid date and time'],
      [`environment="=x" ${KEY}`, 'expected NAME=value'],
      [`permitopen="host" ${KEY}`, 'expected host:port'],
      [`permitopen="host:99999" ${KEY}`, 'bad port 99999'],
      [`permitlisten="a:b:c" ${KEY}`, 'bad port'],
      ['ssh-ed25519 notbase64!', 'no key found'],
      [`ssh-rsa ${blob(7)}`, 'no key found'],
      ['no-pty', 'no key found'],
    ];
    for (const [line, message] of bad) {
      let error: unknown;
      try {
        parse('# first', line);
      } catch (e) {
        error = e;
      }
      expect(error, line).toBeInstanceOf(AuthorizedKeysError);
      expect((error as AuthorizedKeysError).line, line).toBe(2);
      expect((error as Error).message, line).toMatch(/^keys:2: /);
      expect((error as Error).message, line).toContain(message);
    }
  });
});
