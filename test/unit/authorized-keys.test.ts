import { describe, expect, it } from 'vitest';
import { readAuthorizedKeys } from '../../ts/demo/authorized-keys.js';

/** A well-formed ed25519 public key blob: the type string, then 32 key bytes. */
const BLOB = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]).toString('base64');
const KEY = `ssh-ed25519 ${BLOB}`;

const read = (...lines: string[]) => readAuthorizedKeys(lines.join('\n'), 'keys');

describe('authorized_keys as the demo reads it', () => {
  it('takes plain key lines, with or without a comment, and skips blank and # lines', () => {
    const keys = read('# comment', '', `   ${KEY} user@host`, `${KEY}`, `${KEY}\r`);
    expect(keys.map((k) => [k.line, k.openssh, k.options])).toEqual([
      [3, KEY, []],
      [4, KEY, []],
      [5, KEY, []],
    ]);
  });

  it('parses options as sshd: quoted values with commas, spaces and escaped quotes, names in any case', () => {
    const [k] = read(`no-port-forwarding,NO-AGENT-FORWARDING,no-X11-forwarding,no-user-rc ${KEY} c`);
    expect(k!.options.map((o) => o.name)).toEqual(['no-port-forwarding', 'NO-AGENT-FORWARDING', 'no-X11-forwarding', 'no-user-rc']);
    expect(() => read(`command="echo \\"a, b\\" c",no-pty ${KEY}`)).toThrow('keys:1: option command="echo "a, b" c" is not enforced by the demo yet');
    expect(() => read(`no-agent-forwarding,environment="A=1,2 3" ${KEY}`)).toThrow('keys:1: option environment="A=1,2 3" is not enforced');
  });

  it('stops at any option it would not enforce, naming the line and the option', () => {
    for (const option of ['from="10.9.9.9"', 'restrict', 'no-pty', 'pty', 'permitopen="host:22"', 'expiry-time="20300101"', 'principals="a"', 'tunnel="1"', 'verify-required']) {
      expect(() => read('# first', `${option} ${KEY}`), option).toThrow(new RegExp(`^keys:2: option ${option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not enforced`));
    }
  });

  it('with --allow-forward, stops at no-port-forwarding, which it would then not enforce', () => {
    const line = `no-port-forwarding,no-agent-forwarding ${KEY}`;
    expect(read(line)).toHaveLength(1);
    expect(() => readAuthorizedKeys(line, 'keys', { allowForward: true })).toThrow('keys:1: option no-port-forwarding is not enforced by the demo with --allow-forward');
    expect(readAuthorizedKeys(`no-agent-forwarding,no-user-rc ${KEY}`, 'keys', { allowForward: true })).toHaveLength(1);
  });

  it('never takes a cert-authority key as a user key', () => {
    expect(() => read(`cert-authority ${KEY}`)).toThrow(/^keys:1: cert-authority: certificates are not supported yet/);
    expect(() => read(`no-pty,Cert-Authority,from="x" ${KEY}`)).toThrow(/^keys:1: option no-pty/);
    expect(() => read(`no-user-rc,Cert-Authority ${KEY}`)).toThrow(/^keys:1: cert-authority/);
  });

  it('refuses lines it cannot read: unknown options, bad quoting, no key', () => {
    expect(() => read(`bogus ${KEY}`)).toThrow('keys:1: unknown option bogus');
    expect(() => read(`from="10.0.0.1 ${KEY}`)).toThrow('keys:1: option from: unterminated quoted value');
    expect(() => read(`from=10.0.0.1 ${KEY}`)).toThrow('keys:1: option from: the value must be in double quotes');
    expect(() => read(`from="a"x ${KEY}`)).toThrow('keys:1: option from: expected a comma or a space after it');
    expect(() => read('ssh-ed25519 notbase64!')).toThrow('keys:1: no key found');
    expect(() => read(`ssh-rsa ${BLOB}`)).toThrow('keys:1: no key found');
    expect(() => read('no-pty')).toThrow('keys:1: no key found');
  });
});
