/**
 * The command-line wrapper the demo server and the benchmark scripts share, around `node:util` parseArgs
 * (strict: unknown flags and stray arguments are errors): `--help`/`-h` prints the usage on stdout and
 * exits 0; a parse error, or anything the caller passes to `fail`, prints `PROGRAM: MESSAGE` and the usage on
 * stderr and exits 2. It lives in ts/demo/ because the package build leaves that folder out: it is for
 * these programs, not part of the library.
 */

import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

const HELP = { help: { type: 'boolean', short: 'h', default: false } } as const;

type Values<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; strict: true; options: O & typeof HELP }>>['values'];

/**
 * One program's command line. Declare the instance with its type (`const cli: CommandLine = new ...`): only
 * then does TypeScript treat `cli.fail(...)` as not returning and narrow the values checked before it.
 */
export class CommandLine {
  constructor(
    /** Prefixes error messages, e.g. `wasshd demo`. */
    readonly program: string,
    readonly usage: string,
  ) {}

  /**
   * Parses `argv` (the arguments after the script) against `options`, plus `--help`. Returns the values; does
   * not return on `--help` or an error. The caller's own checks of the values go through `fail`.
   */
  parse<const O extends OptionsConfig>(argv: string[], options: O): Values<O> {
    let values: Values<O>;
    try {
      values = parseArgs({ args: argv, strict: true, options: { ...options, ...HELP } }).values as Values<O>;
    } catch (e) {
      this.fail((e as Error).message);
    }
    if ((values as { help?: boolean }).help) {
      console.log(this.usage);
      process.exit(0);
    }
    return values;
  }

  /** Reports a bad command line and exits 2. */
  fail(message: string): never {
    console.error(`${this.program}: ${message}\n${this.usage}`);
    process.exit(2);
  }
}
