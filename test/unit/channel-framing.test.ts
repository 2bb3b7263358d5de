/** Record and EOL framing of a channel's incoming data (the reference's ChangeRecordLength, ChannelEOL). */

import { describe, expect, it } from 'vitest';
import { eolFramer, passThrough, recordFramer, type Framer } from '../../ts/channel-framing.js';

const bytes = (s: string) => new TextEncoder().encode(s);

/** Holds `more`, then takes every complete piece, as text with its eolFound. */
function cut(f: Framer, more: string): [string, boolean | undefined][] {
  f.hold(bytes(more));
  const out: [string, boolean | undefined][] = [];
  for (let p = f.next(); p; p = f.next()) out.push([new TextDecoder().decode(p.data), p.eolFound]);
  return out;
}

describe('channel framing', () => {
  it('cuts records of a fixed length across chunks, the rest at the end', () => {
    const f = recordFramer(4);
    expect(cut(f, 'ab')).toEqual([]);
    expect(cut(f, 'cdefghij')).toEqual([
      ['abcd', undefined],
      ['efgh', undefined],
    ]);
    expect(new TextDecoder().decode(f.rest()!.data)).toBe('ij');
    expect(f.rest()).toBeUndefined();
  });

  it('cuts lines at an EOL of several bytes split across chunks, and at the maximum length without one', () => {
    const f = eolFramer(bytes('\r\n'), 5);
    expect(cut(f, 'one\r')).toEqual([]);
    expect(cut(f, '\ntwo\r\nlongline\r\n')).toEqual([
      ['one', true],
      ['two', true],
      ['longl', false],
      ['ine', true],
    ]);
    expect(cut(f, 'tail')).toEqual([]);
    expect(f.rest()).toEqual({ data: bytes('tail'), eolFound: false });
  });

  it('an EOL right after the maximum length still ends the line', () => {
    expect(cut(eolFramer(bytes('\n'), 3), 'abc\n')).toEqual([['abc', true]]);
  });

  it('passes data through as it comes, what another framing held first', () => {
    const f = passThrough();
    f.hold(bytes('held '));
    expect(cut(f, 'then new')).toEqual([['held then new', undefined]]);
    expect(f.rest()).toBeUndefined();
  });
});
