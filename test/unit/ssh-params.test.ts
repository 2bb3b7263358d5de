/** The reference's payload helpers: fields written by type and read back by type or by well-known name. */

import { describe, expect, it } from 'vitest';
import { channelRequestPayload, getSSHParam, getSSHParamBytes, setSSHParam } from '../../ts/ssh-params.js';

const empty = new Uint8Array(0);

describe('SSH params', () => {
  it('write each field type in SSH encoding and read it back', () => {
    let p = setSSHParam(empty, 's', 'héllo');
    p = setSSHParam(p, 'sb', 'A1B23C');
    p = setSSHParam(p, 'm', '0x80');
    p = setSSHParam(p, 'i', '4294967295');
    p = setSSHParam(p, 'l', '0x0102030405060708');
    p = setSSHParam(p, 'b', '200');
    p = setSSHParam(p, 'f', 'true');
    expect([...p.subarray(0, 10)]).toEqual([0, 0, 0, 6, 0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]);
    // An mpint whose top bit is set gets a zero byte first (RFC 4251 §5).
    expect([...getSSHParamBytes(p, '%s,sb,m')]).toEqual([0, 0x80]);
    expect(['%s', '%s,sb', '%s,sb,m', '%s,sb,m,i', '%s,sb,m,i,l', '%s,sb,m,i,l,b', '%s,sb,m,i,l,b,f'].map((f) => getSSHParam(p, f))).toEqual([
      'héllo',
      'A1B23C',
      '128',
      '4294967295',
      '72623859790382856',
      '200',
      'true',
    ]);
  });

  it('refuse values that do not fit and payloads that end early', () => {
    expect(() => setSSHParam(empty, 'i', '4294967296')).toThrow(/does not fit/);
    expect(() => setSSHParam(empty, 'b', '-1')).toThrow(/does not fit/);
    expect(() => setSSHParam(empty, 'sb', 'abc')).toThrow(/not hex/);
    expect(() => setSSHParam(empty, 'f', 'yes')).toThrow(/true or false/);
    expect(() => getSSHParam(setSSHParam(empty, 'b', '1'), '%i')).toThrow(/ends before/);
  });

  it('read a channel request payload by the well-known field names', () => {
    const pty = channelRequestPayload(3, true, { type: 'pty-req', term: 'xterm', cols: 80, rows: 24, widthPx: 0, heightPx: 0, modes: Uint8Array.of(0) });
    expect(['ChannelId', 'RequestType', 'WantsReply', 'TerminalType', 'TerminalWidthCharacters', 'TerminalHeightRows', 'TerminalModes'].map((f) => getSSHParam(pty, f))).toEqual([
      '3',
      'pty-req',
      'true',
      'xterm',
      '80',
      '24',
      '00',
    ]);
    const exec = channelRequestPayload(0, false, { type: 'exec', command: 'ls -l', commandBytes: new TextEncoder().encode('ls -l') });
    expect(getSSHParam(exec, 'Command')).toBe('ls -l');
    expect(() => getSSHParam(exec, 'TerminalType')).toThrow(/no field TerminalType in a exec request/);
  });
});
