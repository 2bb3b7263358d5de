/**
 * The demo server's shell: a few commands whose output is a byte-exact contract for tests and benchmarks, run
 * once (SSH `exec`) or from an interactive prompt (SSH `shell`).
 *
 * Input reaches a command in one of two ways. Without a terminal (exec without a pty) bytes pass
 * untouched and each onData waits until the command is done with its bytes, so the client goes at the command's
 * pace. With a terminal (the shell, or exec with a pty) a line discipline sits in front, like a pty in canonical
 * mode: it edits and echoes lines, turns Ctrl-C into an interrupt and Ctrl-D into an end of input, and holds a
 * little typed-ahead input. With a pty, output newlines become CRLF (the pty's ONLCR), except in `source`, which
 * promises exact bytes. (The echo subsystem is served on the channel's web streams, in serve.ts.)
 */
import { createHash } from 'node:crypto';

export interface ShellIO {
  /** stdout; resolves when the bytes were handed on (it applies backpressure). */
  write(data: Uint8Array | string): Promise<void>;
  /** stderr (SSH extended data type 1). */
  writeStderr(data: Uint8Array | string): Promise<void>;
  /** Ends the session: sends exit-status, EOF and closes the channel. Call once. */
  exit(status: number): Promise<void>;
}

export interface PtyInfo {
  term: string;
  cols: number;
  rows: number;
}

export interface ShellContext {
  user: string;
  /** Variables the client set with `env` requests, in arrival order; none until the first. */
  env?: Map<string, string>;
  /** Set when the client requested a pty; updated on window-change. */
  pty?: PtyInfo;
}

const LF = 0x0a;
const CR = 0x0d;
const BS = 0x08;
const DEL = 0x7f;
const ESC = 0x1b;
const SPACE = 0x20;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_U = 0x15;
const CARET_C_NEWLINE = [0x5e, 0x43, LF]; // "^C\n"

/** The status a shell reports for a command stopped by SIGINT (128 + 2). */
const INTERRUPTED_STATUS = 130;
/** Linux's N_TTY size: the longest line (with its newline), and how far a reader may fall behind before the client waits. */
const TERMINAL_BUFFER_BYTES = 4096;
const SOURCE_CHUNK_BYTES = 32 * 1024;
/** Prime, so the pattern never lines up with power-of-two chunk or packet sizes and a misplaced block shows. */
const SOURCE_PERIOD = 251;
/** One chunk of the pattern at every phase: byte i of the stream is i % 251. */
const SOURCE_PATTERN = Uint8Array.from({ length: SOURCE_CHUNK_BYTES + SOURCE_PERIOD - 1 }, (_, i) => i % SOURCE_PERIOD);
/** setTimeout fires at once for longer delays. */
const MAX_SLEEP_MS = 2 ** 31 - 1;
const MAX_EXIT_STATUS = 255;

const utf8 = new TextDecoder();
const ignore = (): void => {};

interface Entry {
  /** null: a one-shot end of input (Ctrl-D on a terminal). */
  readonly chunk: Uint8Array | null;
  /** Resolves the push that brought this chunk. */
  readonly release: () => void;
}

/**
 * Bytes from the client on their way to one reader at a time. A push resolves once at most `capacity` bytes, up to
 * and including its own, wait for the reader or are held by it; with capacity 0, once the reader is done with them.
 */
class InputQueue {
  private readonly waiting: Entry[] = [];
  /** The chunk the reader took last: it counts as buffered until the reader asks for more. */
  private held: Entry | undefined;
  /** The read waiting for input, if one is. */
  private reader: { signal: AbortSignal; take(entry: Entry | null): void; refuse(reason: unknown): void } | undefined;
  /** Signals listened to: one listener each for the queue's life, not one per chunk (3 % of an upload's CPU). */
  private readonly watched = new WeakSet<AbortSignal>();
  private ended = false;

  constructor(private readonly capacity: number) {}

  push(data: Uint8Array): Promise<void> {
    if (this.ended) return Promise.resolve(); // nobody will read it
    return new Promise((release) => this.enqueue({ chunk: data, release }));
  }

  /** The next read returns null; reads after it go on with later input. */
  pushEndOfInput(): void {
    if (!this.ended) this.enqueue({ chunk: null, release: ignore });
  }

  /** No input will follow: reads return null once the queue is drained. */
  end(): void {
    this.ended = true;
    this.handOver();
  }

  /** Drops what waits unread (a terminal flushes typed-ahead input on Ctrl-C). */
  discard(): void {
    for (const entry of this.waiting.splice(0)) entry.release();
  }

  /** The reader is gone for good: drops everything and accepts nothing more. */
  close(): void {
    this.discard();
    this.end();
    this.held?.release();
    this.held = undefined;
  }

  /** The next chunk, or null at an end of input; rejects with the signal's reason once it is aborted. */
  read(signal: AbortSignal): Promise<Uint8Array | null> {
    this.held?.release();
    this.held = undefined;
    this.releaseWithinCapacity();
    if (signal.aborted) return Promise.reject(signal.reason);
    if (!this.watched.has(signal)) {
      this.watched.add(signal);
      signal.addEventListener('abort', () => this.abortRead(signal), { once: true });
    }
    return new Promise((resolve, reject) => {
      this.reader = {
        signal,
        take: (entry) => {
          this.held = entry ?? undefined;
          resolve(entry === null ? null : entry.chunk);
        },
        refuse: reject,
      };
      this.handOver();
    });
  }

  private abortRead(signal: AbortSignal): void {
    const reader = this.reader;
    if (reader?.signal !== signal) return;
    this.reader = undefined;
    reader.refuse(signal.reason);
  }

  private enqueue(entry: Entry): void {
    this.waiting.push(entry);
    this.handOver();
    this.releaseWithinCapacity();
  }

  private handOver(): void {
    const reader = this.reader;
    if (reader === undefined) return;
    const entry = this.waiting.shift();
    if (entry === undefined && !this.ended) return;
    this.reader = undefined;
    reader.take(entry ?? null);
  }

  private releaseWithinCapacity(): void {
    let buffered = 0;
    for (const entry of this.held === undefined ? this.waiting : [this.held, ...this.waiting]) {
      buffered += entry.chunk?.length ?? 0;
      if (buffered > this.capacity) return;
      entry.release();
    }
  }
}

/** Continuation bytes (10xxxxxx) never start a UTF-8 character. */
const isContinuation = (byte: number): boolean => (byte & 0xc0) === 0x80;
const utf8Length = (lead: number): number => (lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4);

/**
 * A terminal's input side in canonical mode: builds lines for `input`, echoing them when a pty is present, and
 * handles the editing and control keys a person expects.
 */
class LineDiscipline {
  readonly input = new InputQueue(TERMINAL_BUFFER_BYTES);
  private line: number[] = [];
  /** Whether the character being typed fits in the line; its continuation bytes follow its lead byte's fate. */
  private keepingChar = true;
  private escape: 'none' | 'esc' | 'csi' | 'ss3' = 'none';
  private afterCR = false;
  private pendingEcho: number[] = [];
  /** Input is handled in arrival order even when onData calls overlap. */
  private processed: Promise<void> = Promise.resolve();

  constructor(
    private readonly echo: boolean,
    private readonly print: (data: Uint8Array) => Promise<void>,
    private readonly onInterrupt: () => void,
  ) {}

  receive(data: Uint8Array): Promise<void> {
    return this.inOrder(() => this.process(data));
  }

  /** The client's EOF, after the input it sent before it. */
  receiveEnd(): void {
    void this.inOrder(async () => this.input.end());
  }

  /** Ctrl-C or the client's INT signal: drops the line and typed-ahead input, and stops the foreground job. */
  interrupt(): Promise<void> {
    this.line = [];
    this.input.discard();
    // Shown even without echo, so that the prompt which follows starts a line of its own.
    this.pendingEcho.push(...CARET_C_NEWLINE);
    const shown = this.flushEcho();
    this.onInterrupt();
    return shown;
  }

  private inOrder(step: () => Promise<void>): Promise<void> {
    const run = this.processed.then(step);
    this.processed = run.catch(ignore); // a failed write fails its own call, not the input after it
    return run;
  }

  private async process(data: Uint8Array): Promise<void> {
    for (const byte of data) {
      const afterCR = this.afterCR;
      this.afterCR = byte === CR;
      // A control character cuts an escape sequence short, so Ctrl-C always works.
      if (this.escape !== 'none' && byte >= SPACE) {
        this.skipEscape(byte);
        continue;
      }
      this.escape = 'none';
      switch (byte) {
        case CR:
          await this.endLine();
          break;
        case LF:
          if (!afterCR) await this.endLine();
          break;
        case BS:
        case DEL:
          this.eraseChar();
          break;
        case CTRL_U:
          while (this.line.length > 0) this.eraseChar();
          break;
        case CTRL_C:
          await this.interrupt();
          break;
        case CTRL_D:
          if (this.line.length === 0) {
            await this.flushEcho();
            this.input.pushEndOfInput();
          }
          break;
        case ESC:
          this.escape = 'esc';
          break;
        default:
          if (byte >= SPACE) this.insert(byte); // other control characters mean nothing here
      }
    }
    await this.flushEcho();
  }

  /** Arrow and function keys send ESC [ … final byte, or ESC O x; Alt+key sends ESC x. None of it is text. */
  private skipEscape(byte: number): void {
    switch (this.escape) {
      case 'esc':
        this.escape = byte === 0x5b ? 'csi' : byte === 0x4f ? 'ss3' : 'none';
        break;
      case 'csi':
        if (byte >= 0x40 && byte <= 0x7e) this.escape = 'none';
        break;
      default:
        this.escape = 'none';
    }
  }

  private insert(byte: number): void {
    if (!isContinuation(byte)) this.keepingChar = this.line.length + utf8Length(byte) < TERMINAL_BUFFER_BYTES;
    if (!this.keepingChar) return;
    this.line.push(byte);
    if (this.echo) this.pendingEcho.push(byte);
  }

  /** Erases one character, however many bytes its UTF-8 takes. */
  private eraseChar(): void {
    if (this.line.length === 0) return;
    let byte: number | undefined;
    do byte = this.line.pop();
    while (byte !== undefined && isContinuation(byte));
    if (this.echo) this.pendingEcho.push(BS, SPACE, BS);
  }

  private async endLine(): Promise<void> {
    if (this.echo) this.pendingEcho.push(LF);
    const line = Uint8Array.from([...this.line, LF]);
    this.line = [];
    await this.flushEcho();
    await this.input.push(line);
  }

  /** Not async: the write is issued before anything that runs after the caller's next await. */
  private flushEcho(): Promise<void> {
    if (this.pendingEcho.length === 0) return Promise.resolve();
    const bytes = Uint8Array.from(this.pendingEcho);
    this.pendingEcho = [];
    return this.print(bytes);
  }
}

/** What a running command sees of its session. */
interface CommandCall {
  readonly args: string[];
  readonly session: ShellContext;
  /** Aborted by Ctrl-C or an INT signal. */
  readonly signal: AbortSignal;
  /** The next chunk of stdin, or null at its end; throws once interrupted. */
  read(): Promise<Uint8Array | null>;
  /** stdout as text, with newlines as the terminal needs them. */
  out(data: Uint8Array | string): Promise<void>;
  /** stdout exactly as given. */
  rawOut(data: Uint8Array): Promise<void>;
  err(text: string): Promise<void>;
}

/** Resolves to the exit status. */
type Command = (call: CommandCall) => Promise<number>;

async function* stdinChunks(call: CommandCall): AsyncGenerator<Uint8Array> {
  for (let chunk = await call.read(); chunk !== null; chunk = await call.read()) yield chunk;
}

/** A decimal count no larger than `max`, or undefined. */
function parseCount(text: string | undefined, max: number): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return value <= max ? value : undefined;
}

async function usageError(call: CommandCall, usage: string): Promise<number> {
  await call.err(`usage: ${usage}\n`);
  return 2;
}

/** Does nothing and succeeds, whatever its arguments or stdin: the cheapest exec (handshake benchmarks). */
async function succeed(): Promise<number> {
  return 0;
}

async function echo(call: CommandCall): Promise<number> {
  await call.out(`${call.args.join(' ')}\n`);
  return 0;
}

async function cat(call: CommandCall): Promise<number> {
  for await (const chunk of stdinChunks(call)) await call.out(chunk);
  return 0;
}

async function sha256(call: CommandCall): Promise<number> {
  const hash = createHash('sha256');
  for await (const chunk of stdinChunks(call)) hash.update(chunk);
  await call.out(`${hash.digest('hex')}\n`);
  return 0;
}

async function sink(call: CommandCall): Promise<number> {
  let bytes = 0;
  for await (const chunk of stdinChunks(call)) bytes += chunk.length;
  await call.out(`${bytes}\n`);
  return 0;
}

async function source(call: CommandCall): Promise<number> {
  const total = call.args.length === 1 ? parseCount(call.args[0], Number.MAX_SAFE_INTEGER) : undefined;
  if (total === undefined) return usageError(call, 'source N (a byte count)');
  for (let sent = 0; sent < total; ) {
    const size = Math.min(SOURCE_CHUNK_BYTES, total - sent);
    const phase = sent % SOURCE_PERIOD;
    // A copy each time: the host may keep or transfer what it is handed.
    await call.rawOut(SOURCE_PATTERN.slice(phase, phase + size));
    sent += size;
  }
  return 0;
}

async function exit(call: CommandCall): Promise<number> {
  if (call.args.length === 0) return 0;
  const status = call.args.length === 1 ? parseCount(call.args[0], MAX_EXIT_STATUS) : undefined;
  return status ?? usageError(call, `exit [N] (N from 0 to ${MAX_EXIT_STATUS})`);
}

async function env(call: CommandCall): Promise<number> {
  const vars = call.session.env ?? new Map<string, string>();
  const lines = [...vars.keys()].sort().map((name) => `${name}=${vars.get(name)}\n`);
  if (lines.length > 0) await call.out(lines.join(''));
  return 0;
}

async function whoami(call: CommandCall): Promise<number> {
  await call.out(`${call.session.user}\n`);
  return 0;
}

async function pty(call: CommandCall): Promise<number> {
  const info = call.session.pty;
  await call.out(info === undefined ? 'no pty\n' : `${info.term} ${info.cols}x${info.rows}\n`);
  return 0;
}

/** `stty size` as a real pty answers it (rows, then columns), so terminal programs' checks work here too. */
async function stty(call: CommandCall): Promise<number> {
  if (call.args.length !== 1 || call.args[0] !== 'size') return usageError(call, 'stty size');
  const info = call.session.pty;
  if (info === undefined) {
    await call.err('stty: not a terminal\n');
    return 1;
  }
  await call.out(`${info.rows} ${info.cols}\n`);
  return 0;
}

/** Not async: a session that sleeps (the idle-memory benchmark's) holds no suspended frame for it. */
function sleep(call: CommandCall): Promise<number> {
  const ms = call.args.length === 1 ? parseCount(call.args[0], MAX_SLEEP_MS) : undefined;
  if (ms === undefined) return usageError(call, 'sleep MS (milliseconds)');
  if (call.signal.aborted) return Promise.reject(call.signal.reason);
  return new Promise<number>((resolve, reject) => {
    const stop = (): void => {
      clearTimeout(timer);
      reject(call.signal.reason);
    };
    const timer = setTimeout(() => {
      call.signal.removeEventListener('abort', stop);
      resolve(0);
    }, ms);
    call.signal.addEventListener('abort', stop, { once: true });
  });
}

async function help(call: CommandCall): Promise<number> {
  const commands = [...COMMANDS.values()];
  const width = Math.max(...commands.map((command) => command.usage.length));
  await call.out(commands.map((command) => `${command.usage.padEnd(width)}  ${command.summary}\n`).join(''));
  return 0;
}

const COMMANDS = new Map<string, { usage: string; summary: string; run: Command }>([
  ['echo', { usage: 'echo ARGS...', summary: 'print the arguments', run: echo }],
  ['cat', { usage: 'cat', summary: 'copy stdin to stdout', run: cat }],
  ['sha256', { usage: 'sha256', summary: 'print the SHA-256 of stdin', run: sha256 }],
  ['sink', { usage: 'sink', summary: 'print the byte count of stdin', run: sink }],
  ['source', { usage: 'source N', summary: 'write N bytes (byte i is i % 251)', run: source }],
  ['exit', { usage: 'exit [N]', summary: 'end the session with status N (default 0)', run: exit }],
  ['env', { usage: 'env', summary: 'print the variables the client set', run: env }],
  ['whoami', { usage: 'whoami', summary: 'print the user name', run: whoami }],
  ['pty', { usage: 'pty', summary: 'print the terminal type and size', run: pty }],
  ['stty', { usage: 'stty size', summary: 'print the terminal size: rows, then columns', run: stty }],
  ['sleep', { usage: 'sleep MS', summary: 'wait MS milliseconds', run: sleep }],
  ['true', { usage: 'true', summary: 'do nothing, successfully', run: succeed }],
  ['help', { usage: 'help', summary: 'list the commands', run: help }],
]);

/** Splits on whitespace; single and double quotes keep their content as is. Undefined when a quote is left open. */
function splitArgs(line: string): string[] | undefined {
  const args: string[] = [];
  let current: string | undefined; // undefined between arguments, so that '' still makes one
  let quote: string | undefined;
  for (const char of line) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else current = (current ?? '') + char;
    } else if (char === '"' || char === "'") {
      quote = char;
      current ??= '';
    } else if (/\s/u.test(char)) {
      if (current !== undefined) args.push(current);
      current = undefined;
    } else {
      current = (current ?? '') + char;
    }
  }
  if (quote !== undefined) return undefined;
  if (current !== undefined) args.push(current);
  return args;
}

/** A pty's ONLCR. */
function expandNewlines(bytes: Uint8Array): Uint8Array {
  if (!bytes.includes(LF)) return bytes;
  const out: number[] = [];
  for (const byte of bytes) {
    if (byte === LF) out.push(CR);
    out.push(byte);
  }
  return Uint8Array.from(out);
}

export class DemoSession {
  private terminal: LineDiscipline | undefined;
  private input: InputQueue | undefined;
  /** Aborted by Ctrl-C or an INT signal, then replaced: it stops only what runs at that moment. */
  private foreground = new AbortController();
  private ended = false;

  constructor(
    private readonly io: ShellIO,
    private readonly ctx: ShellContext,
  ) {}

  /** Runs one command line non-interactively (SSH `exec`); stdin comes through onData/onEof; ends with io.exit. */
  exec(commandLine: string): void {
    const signal = this.foreground.signal;
    this.start(this.ctx.pty !== undefined, (stdin) => this.run(splitArgs(commandLine), stdin, signal));
  }

  /** Starts the interactive shell (SSH `shell`). */
  shell(): void {
    this.start(true, (stdin) => this.interact(stdin));
  }

  /** Bytes from the client. The returned promise resolves when they have been processed, which the server uses as backpressure. */
  onData(data: Uint8Array): Promise<void> {
    if (this.terminal !== undefined) return this.terminal.receive(data);
    // Before exec or shell there is no one to read the bytes.
    return this.input?.push(data) ?? Promise.resolve();
  }

  onEof(): void {
    if (this.terminal !== undefined) this.terminal.receiveEnd();
    else this.input?.end();
  }

  onWindowChange(cols: number, rows: number): void {
    if (this.ctx.pty === undefined) return;
    this.ctx.pty.cols = cols;
    this.ctx.pty.rows = rows;
  }

  /** SSH `signal` request (e.g. "INT"): interrupts the running command like Ctrl-C. Other signals are ignored. */
  onSignal(name: string): void {
    if (name !== 'INT') return;
    // A failed "^C" echo means the channel is closing; the interrupt itself has happened.
    if (this.terminal !== undefined) this.terminal.interrupt().catch(ignore);
    else this.interrupt();
  }

  private start(withTerminal: boolean, body: (stdin: InputQueue) => Promise<number>): void {
    if (this.input !== undefined) throw new Error('a DemoSession runs a single exec or shell');
    if (withTerminal) {
      this.terminal = new LineDiscipline(
        this.ctx.pty !== undefined,
        (data) => this.stdout(data),
        () => this.interrupt(),
      );
      this.input = this.terminal.input;
    } else {
      this.input = new InputQueue(0);
    }
    body(this.input)
      .then(
        (status) => this.end(status),
        // Commands fail only when a write does: the channel is going away, and a status is all that is left to send.
        () => this.end(1),
      )
      .catch(ignore);
  }

  private end(status: number): Promise<void> {
    this.ended = true;
    this.input?.close();
    return this.io.exit(status);
  }

  private interrupt(): void {
    this.foreground.abort();
    this.foreground = new AbortController();
  }

  private async interact(stdin: InputQueue): Promise<number> {
    for (;;) {
      const signal = this.foreground.signal;
      let line: Uint8Array | null;
      try {
        await this.stdout(`${this.ctx.user}@wasshd$ `);
        line = await stdin.read(signal);
      } catch (error) {
        if (signal.aborted) continue; // Ctrl-C at the prompt: the terminal showed ^C, start afresh
        throw error;
      }
      if (line === null) {
        // Ctrl-D leaves no mark on the screen; say why the session ends, as bash does.
        await this.stdout('exit\n');
        return 0;
      }
      const argv = splitArgs(utf8.decode(line.at(-1) === LF ? line.subarray(0, -1) : line));
      const status = await this.run(argv, stdin, signal);
      if (argv?.[0] === 'exit') return status;
    }
  }

  /** Not async: a running command holds no suspended frame or promise of this one besides its own. */
  private run(argv: string[] | undefined, stdin: InputQueue, signal: AbortSignal): Promise<number> {
    if (argv === undefined) return this.stderr('syntax error: unterminated quote\n').then(() => 2);
    const name = argv[0];
    if (name === undefined) return Promise.resolve(0);
    const command = COMMANDS.get(name);
    if (command === undefined) return this.stderr(`unknown command: ${name}\n`).then(() => 127);
    // Not a rest element: an array that size (the command keeps it while it runs) rather than one with room for 17.
    return command.run(new Invocation(this, argv.slice(1), stdin, signal)).catch((error: unknown) => {
      if (signal.aborted) return INTERRUPTED_STATUS;
      throw error;
    });
  }

  /** The session's context, as its commands see it. */
  get context(): ShellContext {
    return this.ctx;
  }

  stdout(data: Uint8Array | string): Promise<void> {
    return this.send(this.toTerminal(data));
  }

  send(data: Uint8Array | string): Promise<void> {
    return this.ended ? Promise.resolve() : this.io.write(data);
  }

  stderr(text: string): Promise<void> {
    return this.ended ? Promise.resolve() : this.io.writeStderr(this.toTerminal(text));
  }

  private toTerminal(data: Uint8Array | string): Uint8Array | string {
    if (this.ctx.pty === undefined) return data;
    return typeof data === 'string' ? data.replaceAll('\n', '\r\n') : expandNewlines(data);
  }
}

/**
 * A running command's view of its session: one object whose methods every command shares (closures would be
 * made for each, and an idle session holds its command's). Once interrupted, a command may print nothing
 * more: its next write throws and ends it.
 */
class Invocation implements CommandCall {
  constructor(
    private readonly shell: DemoSession,
    readonly args: string[],
    private readonly stdin: InputQueue,
    readonly signal: AbortSignal,
  ) {}

  get session(): ShellContext {
    return this.shell.context;
  }

  read(): Promise<Uint8Array | null> {
    return this.stdin.read(this.signal);
  }

  async out(data: Uint8Array | string): Promise<void> {
    this.signal.throwIfAborted();
    await this.shell.stdout(data);
  }

  async rawOut(data: Uint8Array): Promise<void> {
    this.signal.throwIfAborted();
    await this.shell.send(data);
  }

  async err(text: string): Promise<void> {
    this.signal.throwIfAborted();
    await this.shell.stderr(text);
  }
}
