/** The command lines of the suite's client processes, whose every flag is required. */

import type { CommandLine } from '../../ts/demo/cli.js';

/** Parses `--NAME VALUE` for each of `names`; a missing one fails through `cli`. */
export function requiredFlags<const N extends string>(cli: CommandLine, argv: string[], names: readonly N[]): Record<N, string> {
  const options = Object.fromEntries(names.map((name) => [name, { type: 'string' }])) as Record<N, { type: 'string' }>;
  // parseArgs' typing cannot follow a mapped set of names: every one is a string flag, so a string or absent.
  const values = cli.parse(argv, options) as unknown as Record<N, string | undefined>;
  const missing = names.filter((name) => values[name] === undefined);
  if (missing.length > 0) cli.fail(`missing --${missing.join(', --')}`);
  return values as Record<N, string>;
}
