/** Confinement by text: no client path names anything above the root. */

import { describe, expect, it } from 'vitest';
import { SftpError } from '../../ts/sftp/filesystem.js';
import { confine } from '../../ts/sftp/paths.js';

describe('confine', () => {
  it.each([
    ['', '/'],
    ['.', '/'],
    ['/', '/'],
    ['..', '/'],
    ['../../..', '/'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['a/../../b', '/b'],
    ['a/./b//c/', '/a/b/c'],
    ['/a/b/../../../../c', '/c'],
    ['~', '/~'],
    ['..a/...', '/..a/...'],
  ])('%j is %j', (client, confined) => {
    expect(confine(client)).toBe(confined);
  });

  it('refuses NUL bytes and paths of absurd depth', () => {
    expect(() => confine('a\0/../../x')).toThrow(SftpError);
    expect(() => confine('a/'.repeat(300))).toThrow(/components/);
    // Depth that `..` takes back never counts.
    expect(confine('a/../'.repeat(1000))).toBe('/');
  });
});
