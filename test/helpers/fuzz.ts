/**
 * Where the fuzzers' inputs are, for the suites that replay them through the built module: the committed
 * seeds of a target (`core-rs/fuzz/seeds/<target>`) and, when present, its local corpus
 * (`core-rs/fuzz/corpus/<target>`, not committed: on a fresh checkout only the seeds exist).
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FUZZ = new URL('../../core-rs/fuzz/', import.meta.url).pathname;

/** The seed and corpus directories of `target` that exist. */
export function fuzzInputDirs(target: string): string[] {
  return ['seeds', 'corpus'].map((kind) => join(FUZZ, kind, target)).filter((dir) => existsSync(dir));
}

/** Every seed and corpus file of `target`, named `<seeds|corpus>/<target>/<file>`. */
export function fuzzInputs(target: string): { name: string; data: Buffer }[] {
  return ['seeds', 'corpus'].flatMap((kind) => {
    const dir = join(FUZZ, kind, target);
    if (!existsSync(dir)) return [];
    return readdirSync(dir).map((f) => ({ name: `${kind}/${target}/${f}`, data: readFileSync(join(dir, f)) }));
  });
}
