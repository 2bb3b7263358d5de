/**
 * Path confinement, the library's half: a client's path, relative or absolute, becomes a path under the
 * session's root by text alone (`..` stops at the root, as `cd ..` does at `/`), so no path the filesystem
 * sees names anything above its root. Symlinks are the filesystem's half (memory.ts resolves them inside
 * its tree; directory.ts checks every resolved path against its root).
 */

import { SftpStatus } from './codec.js';
import { SftpError } from './filesystem.js';

/** Components a path may have: a path of thousands of `a/` is no file a client needs. */
const MAX_COMPONENTS = 256;

/**
 * The confined path of `clientPath`: absolute paths start at the root, relative ones at the session's home
 * (the root). `''` and `.` are the home. Always `/` or `/a/b` (no trailing slash, no `.` or `..`).
 */
export function confine(clientPath: string): string {
  if (clientPath.includes('\0')) throw new SftpError(SftpStatus.BadMessage, 'NUL in a path');
  const parts: string[] = [];
  for (const part of clientPath.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
    if (parts.length > MAX_COMPONENTS) throw new SftpError(SftpStatus.Failure, `more than ${MAX_COMPONENTS} path components`);
  }
  return `/${parts.join('/')}`;
}

/** The parent of a confined path (`/` for `/` itself) and its last component (`''` for `/`). */
export function splitPath(path: string): { parent: string; name: string } {
  const slash = path.lastIndexOf('/');
  return { parent: slash <= 0 ? '/' : path.slice(0, slash), name: path.slice(slash + 1) };
}

/** `child` under the confined path `dir`. */
export const joinPath = (dir: string, child: string): string => (dir === '/' ? `/${child}` : `${dir}/${child}`);
