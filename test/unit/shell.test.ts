import { createHash, randomBytes } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { DemoSession, type PtyInfo, type ShellIO } from '../../ts/demo/shell.js';

const encoder = new TextEncoder();
const bytes = (data: Uint8Array | string): Uint8Array => (typeof data === 'string' ? encoder.encode(data) : data);

/** Records what the session sends; `pace` decides when each stdout write resolves. */
class FakeIO implements ShellIO {
  readonly stdoutChunks: Uint8Array[] = [];
  readonly stderrChunks: Uint8Array[] = [];
  readonly exitCalls: number[] = [];
  readonly exited: Promise<number>;
  private reportExit: (status: number) => void = () => {};

  constructor(private readonly pace: () => Promise<void> = () => Promise.resolve()) {
    this.exited = new Promise((resolve) => (this.reportExit = resolve));
  }

  private writeWaiters: (() => void)[] = [];

  write(data: Uint8Array | string): Promise<void> {
    this.stdoutChunks.push(bytes(data));
    for (const wake of this.writeWaiters.splice(0)) wake();
    return this.pace();
  }

  /** Resolves once stdout satisfies `done`, looked at after every write. */
  async stdoutUntil(done: (stdout: string) => boolean): Promise<void> {
    while (!done(this.stdout)) await new Promise<void>((resolve) => this.writeWaiters.push(resolve));
  }

  async writeStderr(data: Uint8Array | string): Promise<void> {
    this.stderrChunks.push(bytes(data));
  }

  async exit(status: number): Promise<void> {
    this.exitCalls.push(status);
    this.reportExit(status);
  }

  get stdoutBytes(): Buffer {
    return Buffer.concat(this.stdoutChunks);
  }

  get stdout(): string {
    return this.stdoutBytes.toString('utf8');
  }

  get stderr(): string {
    return Buffer.concat(this.stderrChunks).toString('utf8');
  }
}

interface Options {
  pty?: PtyInfo;
  env?: [string, string][];
  io?: FakeIO;
}

function open(options: Options = {}): { io: FakeIO; session: DemoSession } {
  const io = options.io ?? new FakeIO();
  const session = new DemoSession(io, {
    user: 'alice',
    env: new Map(options.env ?? []),
    ...(options.pty ? { pty: { ...options.pty } } : {}),
  });
  return { io, session };
}

/** Lets every pending promise chain run to its end. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs one exec without stdin and returns what it printed. */
async function exec(line: string, options: Options = {}): Promise<{ stdout: string; stderr: string; status: number }> {
  const { io, session } = open(options);
  session.exec(line);
  session.onEof();
  const status = await io.exited;
  return { stdout: io.stdout, stderr: io.stderr, status };
}

const XTERM: PtyInfo = { term: 'xterm-256color', cols: 80, rows: 24 };
const PROMPT = 'alice@wasshd$ ';

describe('exec commands', () => {
  it('echo joins its arguments with one space', async () => {
    expect(await exec('echo hello   world')).toEqual({ stdout: 'hello world\n', stderr: '', status: 0 });
    expect((await exec('echo')).stdout).toBe('\n');
  });

  it('splits on whitespace and honours single and double quotes', async () => {
    expect((await exec(`echo 'a  b' "c 'd'" e'f g'h "" x`)).stdout).toBe("a  b c 'd' ef gh  x\n");
    expect((await exec("\techo\t 'it''s'  ")).stdout).toBe('its\n');
  });

  it('rejects an unterminated quote with status 2', async () => {
    expect(await exec('echo "open')).toEqual({ stdout: '', stderr: 'syntax error: unterminated quote\n', status: 2 });
  });

  it('reports an unknown command on stderr with status 127', async () => {
    expect(await exec('frobnicate --now')).toEqual({ stdout: '', stderr: 'unknown command: frobnicate\n', status: 127 });
  });

  it('exits 0 on an empty command line', async () => {
    expect(await exec('')).toEqual({ stdout: '', stderr: '', status: 0 });
    expect(await exec('   ')).toEqual({ stdout: '', stderr: '', status: 0 });
  });

  it('exit uses the given status, 0 by default, and rejects a bad one', async () => {
    expect((await exec('exit')).status).toBe(0);
    expect((await exec('exit 42')).status).toBe(42);
    const bad = await exec('exit 256');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^usage: exit/);
    expect((await exec('exit x')).status).toBe(2);
  });

  it('env prints the client variables sorted by name', async () => {
    const env: [string, string][] = [['LC_ALL', 'C'], ['A_VAR', 'x y'], ['LANG', 'en_US.UTF-8']];
    expect((await exec('env', { env })).stdout).toBe('A_VAR=x y\nLANG=en_US.UTF-8\nLC_ALL=C\n');
    expect(await exec('env')).toEqual({ stdout: '', stderr: '', status: 0 });
  });

  it('whoami prints the user', async () => {
    expect((await exec('whoami')).stdout).toBe('alice\n');
  });

  it('true prints nothing and exits 0, whatever its arguments, without reading stdin', async () => {
    expect(await exec('true')).toEqual({ stdout: '', stderr: '', status: 0 });
    expect(await exec('true --any thing')).toEqual({ stdout: '', stderr: '', status: 0 });
    // Input it never reads still gets released (the client is not left waiting on its window).
    const { io, session } = open();
    session.exec('true');
    const unread = session.onData(bytes('ignored\n'));
    expect(await io.exited).toBe(0);
    await unread;
    expect(io.stdout).toBe('');
  });

  it('pty prints the terminal and its current size, or no pty', async () => {
    expect((await exec('pty')).stdout).toBe('no pty\n');
    const { io, session } = open({ pty: XTERM });
    session.onWindowChange(132, 43);
    session.exec('pty');
    session.onEof();
    expect(await io.exited).toBe(0);
    expect(io.stdout).toBe('xterm-256color 132x43\r\n');
  });

  it('stty size prints rows then columns, following window-change; without a pty it fails', async () => {
    const { io, session } = open({ pty: XTERM });
    session.onWindowChange(132, 43);
    session.exec('stty size');
    session.onEof();
    expect(await io.exited).toBe(0);
    expect(io.stdout).toBe('43 132\r\n');
    expect(await exec('stty size')).toMatchObject({ stdout: '', stderr: 'stty: not a terminal\n', status: 1 });
    expect(await exec('stty -a', { pty: XTERM })).toMatchObject({ stderr: 'usage: stty size\r\n', status: 2 });
  });

  it('help lists every command, one per line', async () => {
    const { stdout, status } = await exec('help');
    expect(status).toBe(0);
    const names = stdout.trimEnd().split('\n').map((line) => line.split(' ')[0]);
    expect(names).toEqual(['echo', 'cat', 'sha256', 'sink', 'source', 'exit', 'env', 'whoami', 'pty', 'stty', 'sleep', 'true', 'help']);
  });

  it('with a pty, output newlines are CRLF on stdout and stderr', async () => {
    expect((await exec('echo hi', { pty: XTERM })).stdout).toBe('hi\r\n');
    expect((await exec('nope', { pty: XTERM })).stderr).toBe('unknown command: nope\r\n');
    expect((await exec('env', { pty: XTERM, env: [['B', '2'], ['A', '1']] })).stdout).toBe('A=1\r\nB=2\r\n');
  });

  it('runs only one exec or shell', () => {
    const { session } = open();
    session.exec('sleep 1');
    expect(() => session.shell()).toThrow(/single exec or shell/);
  });

  it('calls exit exactly once', async () => {
    const { io, session } = open();
    session.exec('echo once');
    session.onEof();
    await io.exited;
    await settle();
    expect(io.exitCalls).toEqual([0]);
  });
});

describe('stdin commands in exec', () => {
  it('cat copies stdin to stdout byte for byte', async () => {
    const { io, session } = open();
    session.exec('cat');
    const chunks = [randomBytes(1000), Uint8Array.of(0, 10, 13, 255), randomBytes(70_000)];
    for (const chunk of chunks) await session.onData(chunk);
    session.onEof();
    expect(await io.exited).toBe(0);
    expect(io.stdoutBytes.equals(Buffer.concat(chunks))).toBe(true);
  });

  it('cat streams: each chunk is written before EOF, and onData waits for that write', async () => {
    const pendingWrites: (() => void)[] = [];
    const io = new FakeIO(() => new Promise((resolve) => pendingWrites.push(resolve)));
    const { session } = open({ io });
    session.exec('cat');

    let firstDone = false;
    const first = session.onData(bytes('one')).then(() => (firstDone = true));
    await settle();
    expect(io.stdout).toBe('one');
    expect(firstDone).toBe(false); // the write has not resolved yet
    pendingWrites.shift()!();
    await first;

    let secondDone = false;
    const second = session.onData(bytes('two')).then(() => (secondDone = true));
    await settle();
    expect(io.stdout).toBe('onetwo');
    expect(secondDone).toBe(false);
    pendingWrites.shift()!();
    await second;

    session.onEof();
    expect(await io.exited).toBe(0);
  });

  it('sha256 of a multi-chunk stream matches the digest of the whole', async () => {
    const { io, session } = open();
    session.exec('sha256');
    const chunks = [randomBytes(1), randomBytes(65_536), randomBytes(12_345), new Uint8Array(0), randomBytes(7)];
    for (const chunk of chunks) await session.onData(chunk);
    session.onEof();
    expect(await io.exited).toBe(0);
    const expected = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    expect(io.stdout).toBe(`${expected}\n`);
  });

  it('sha256 of empty stdin is the empty digest', async () => {
    expect((await exec('sha256')).stdout).toBe(`${createHash('sha256').digest('hex')}\n`);
  });

  it('sink prints the byte count', async () => {
    const { io, session } = open();
    session.exec('sink');
    await session.onData(new Uint8Array(100_000));
    await session.onData(new Uint8Array(23));
    session.onEof();
    expect(await io.exited).toBe(0);
    expect(io.stdout).toBe('100023\n');
  });

  it('input sent before EOF is read even when onData is not awaited', async () => {
    const { io, session } = open();
    session.exec('sink');
    void session.onData(new Uint8Array(10));
    void session.onData(new Uint8Array(5));
    session.onEof();
    expect(await io.exited).toBe(0);
    expect(io.stdout).toBe('15\n');
  });
});

describe('source', () => {
  it('writes exactly N bytes of the i % 251 pattern, in chunks of at most 32 KiB', async () => {
    const n = 200_003;
    const { io, session } = open();
    session.exec(`source ${n}`);
    expect(await io.exited).toBe(0);
    const out = io.stdoutBytes;
    expect(out.length).toBe(n);
    expect(out.every((byte, i) => byte === i % 251)).toBe(true);
    expect(Math.max(...io.stdoutChunks.map((chunk) => chunk.length))).toBeLessThanOrEqual(32 * 1024);
  });

  it('keeps its exact bytes with a pty', async () => {
    const { io, session } = open({ pty: XTERM });
    session.exec('source 300');
    expect(await io.exited).toBe(0);
    expect(io.stdoutBytes.length).toBe(300);
    expect(io.stdoutBytes[10]).toBe(10);
  });

  it('waits for each write before the next', async () => {
    const pendingWrites: (() => void)[] = [];
    const io = new FakeIO(() => new Promise((resolve) => pendingWrites.push(resolve)));
    const { session } = open({ io });
    session.exec('source 100000');
    for (let written = 1; pendingWrites.length > 0; written++) {
      await settle();
      expect(io.stdoutChunks.length).toBe(written);
      expect(pendingWrites.length).toBe(1);
      pendingWrites.shift()!();
      await settle();
    }
    expect(await io.exited).toBe(0);
    expect(io.stdoutBytes.length).toBe(100_000);
  });

  it('writes nothing for 0', async () => {
    expect(await exec('source 0')).toEqual({ stdout: '', stderr: '', status: 0 });
  });

  it.each(['source', 'source -1', 'source 1e6', 'source abc', 'source 1 2', 'source 99999999999999999'])(
    'rejects "%s" with status 2',
    async (line) => {
      const result = await exec(line);
      expect(result.status).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^usage: source N/);
    },
  );
});

describe('sleep and interrupts', () => {
  it('sleep waits, then exits 0', async () => {
    const started = Date.now();
    expect((await exec('sleep 10')).status).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9);
  });

  it('rejects a bad duration with status 2', async () => {
    const result = await exec('sleep soon');
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^usage: sleep/);
  });

  it('signal INT interrupts sleep with status 130', async () => {
    const { io, session } = open();
    session.exec('sleep 60000');
    await settle();
    session.onSignal('INT');
    expect(await io.exited).toBe(130);
    expect(io.stdout).toBe('');
  });

  it('other signals are ignored', async () => {
    const { io, session } = open();
    session.exec('sleep 10');
    session.onSignal('USR1');
    expect(await io.exited).toBe(0);
  });

  it('signal INT interrupts cat waiting for input', async () => {
    const { io, session } = open();
    session.exec('cat');
    await session.onData(bytes('partial'));
    session.onSignal('INT');
    expect(await io.exited).toBe(130);
    expect(io.stdout).toBe('partial');
  });

  it('Ctrl-C on a pty interrupts an exec', async () => {
    const { io, session } = open({ pty: XTERM });
    session.exec('sleep 60000');
    await session.onData(Uint8Array.of(3));
    expect(await io.exited).toBe(130);
    expect(io.stdout).toBe('^C\r\n');
  });

  it('exec with a pty reads edited, echoed lines', async () => {
    const { io, session } = open({ pty: XTERM });
    session.exec('cat');
    await session.onData(bytes('hx\x7fi\r'));
    session.onEof();
    expect(await io.exited).toBe(0);
    expect(io.stdout).toBe('hx\b \bi\r\nhi\r\n');
  });

  it('interrupts source in the middle of its output', async () => {
    const io = new FakeIO(() => new Promise((resolve) => setImmediate(resolve)));
    const { session } = open({ io });
    session.exec('source 1000000000000');
    await settle();
    await settle();
    session.onSignal('INT');
    expect(await io.exited).toBe(130);
    expect(io.stdoutBytes.length).toBeLessThan(1_000_000_000_000);
  });
});

/** An interactive session and a way to type into it. */
function shell(options: Options = {}): { io: FakeIO; session: DemoSession; type: (text: string) => Promise<void> } {
  const { io, session } = open(options);
  session.shell();
  const type = async (text: string): Promise<void> => {
    await session.onData(bytes(text));
    await settle();
  };
  return { io, session, type };
}

describe('interactive shell with a pty', () => {
  it('prompts, echoes what is typed and runs the line', async () => {
    const { io, type } = shell({ pty: XTERM });
    await settle();
    expect(io.stdout).toBe(PROMPT);
    await type('echo hi\r');
    expect(io.stdout).toBe(`${PROMPT}echo hi\r\nhi\r\n${PROMPT}`);
  });

  it('takes CR, LF and CRLF each as one Enter', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('echo a\r\n');
    await type('echo b\r');
    await type('\necho c\n'); // the LF ends the CRLF that the last read began
    expect(io.stdout).toBe(
      `${PROMPT}echo a\r\na\r\n${PROMPT}echo b\r\nb\r\n${PROMPT}echo c\r\nc\r\n${PROMPT}`,
    );
  });

  it('Backspace (DEL and BS) erases one character', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('ecj\x7fho hix\x08\r');
    expect(io.stdout).toBe(`${PROMPT}ecj\b \bho hix\b \b\r\nhi\r\n${PROMPT}`);
  });

  it('Backspace erases a whole multi-byte character, even one split across reads', async () => {
    const { io, session, type } = shell({ pty: XTERM });
    const e = encoder.encode('é'); // 0xc3 0xa9
    await type('echo h€');
    await type('\x7f');
    await session.onData(e.subarray(0, 1));
    await session.onData(e.subarray(1));
    await type('llo\r');
    expect(io.stdout).toBe(`${PROMPT}echo h€\b \béllo\r\nhéllo\r\n${PROMPT}`);
  });

  it('Ctrl-U clears the line', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('rm -rf\x15echo ok\r');
    expect(io.stdout).toBe(`${PROMPT}rm -rf${'\b \b'.repeat(6)}echo ok\r\nok\r\n${PROMPT}`);
  });

  it('Ctrl-C abandons the line and prompts again', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('echo no\x03');
    expect(io.stdout).toBe(`${PROMPT}echo no^C\r\n${PROMPT}`);
    await type('echo yes\r');
    expect(io.stdout).toBe(`${PROMPT}echo no^C\r\n${PROMPT}echo yes\r\nyes\r\n${PROMPT}`);
  });

  it('ignores arrow keys and other escape sequences', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('echo a\x1b[Db\x1bOA\x1b[1;5Cc\r');
    expect(io.stdout).toBe(`${PROMPT}echo abc\r\nabc\r\n${PROMPT}`);
  });

  it('ignores Ctrl-D on a non-empty line and exits 0 on an empty one', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('echo x\x04\r');
    expect(io.stdout).toBe(`${PROMPT}echo x\r\nx\r\n${PROMPT}`);
    await type('\x04');
    expect(await io.exited).toBe(0);
    expect(io.stdout.endsWith(`${PROMPT}exit\r\n`)).toBe(true);
  });

  it('exit N ends the session with N', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('exit 3\r');
    expect(await io.exited).toBe(3);
    expect(io.stdout).toBe(`${PROMPT}exit 3\r\n`);
  });

  it('client EOF ends the session with 0', async () => {
    const { io, session, type } = shell({ pty: XTERM });
    await type('echo half');
    session.onEof();
    expect(await io.exited).toBe(0);
  });

  it('handles UTF-8 input', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type("echo 'héllo wörld' 日本\r");
    expect(io.stdout).toBe(`${PROMPT}echo 'héllo wörld' 日本\r\nhéllo wörld 日本\r\n${PROMPT}`);
  });

  it('reports an unknown command and goes on', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('nope\r');
    expect(io.stderr).toBe('unknown command: nope\r\n');
    expect(io.stdout).toBe(`${PROMPT}nope\r\n${PROMPT}`);
  });

  it('cat reads the lines typed until Ctrl-D, then the shell prompts again', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('cat\r');
    await type('hello\r');
    await type('wörld\r');
    await type('\x04');
    expect(io.stdout).toBe(`${PROMPT}cat\r\nhello\r\nhello\r\nwörld\r\nwörld\r\n${PROMPT}`);
    await type('echo after\r');
    expect(io.stdout.endsWith(`after\r\n${PROMPT}`)).toBe(true);
  });

  it('sha256 and sink read the typed lines with their newlines', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('sha256\rabc\r\x04');
    const digest = createHash('sha256').update('abc\n').digest('hex');
    expect(io.stdout).toBe(`${PROMPT}sha256\r\nabc\r\n${digest}\r\n${PROMPT}`);
    await type('sink\rabc\rde\r\x04');
    expect(io.stdout.endsWith(`7\r\n${PROMPT}`)).toBe(true);
  });

  it('Ctrl-C interrupts cat; the shell goes on', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('cat\r');
    await type('line\r');
    await type('\x03');
    expect(io.stdout).toBe(`${PROMPT}cat\r\nline\r\nline\r\n^C\r\n${PROMPT}`);
    await type('echo alive\r');
    expect(io.stdout.endsWith(`alive\r\n${PROMPT}`)).toBe(true);
  });

  it('Ctrl-C and signal INT interrupt sleep', async () => {
    const { io, session, type } = shell({ pty: XTERM });
    await type('sleep 60000\r');
    expect(io.stdout).toBe(`${PROMPT}sleep 60000\r\n`);
    await type('\x03');
    expect(io.stdout).toBe(`${PROMPT}sleep 60000\r\n^C\r\n${PROMPT}`);
    await type('sleep 60000\r');
    session.onSignal('INT');
    await settle();
    expect(io.stdout.endsWith(`sleep 60000\r\n^C\r\n${PROMPT}`)).toBe(true);
    await type('exit\r');
    expect(await io.exited).toBe(0);
  });

  it('Ctrl-C interrupts source', async () => {
    const io = new FakeIO(() => new Promise((resolve) => setImmediate(resolve)));
    const { type } = shell({ pty: XTERM, io });
    await type('source 1000000000000\r');
    await settle();
    await type('\x03');
    await settle();
    expect(io.stdout.endsWith(`^C\r\n${PROMPT}`)).toBe(true);
    const sent = io.stdoutBytes.length;
    await settle();
    expect(io.stdoutBytes.length).toBe(sent);
  });

  it('runs a pasted block line by line', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('echo 1\recho 2\r');
    // How echo and output interleave depends on timing, as on a real terminal; what ran and in which order does not.
    expect(io.stdout.split(PROMPT).length - 1).toBe(3);
    expect(io.stdout.endsWith(PROMPT)).toBe(true);
    expect(io.stdout.replaceAll(PROMPT, '').replace(/echo \d\r\n/g, '')).toBe('1\r\n2\r\n');
  });

  it('runs lines typed ahead during a command after it', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type('sleep 200\recho later\r');
    // The typed-ahead line is echoed at once and runs when sleep ends; wait for that instead of guessing a delay.
    await io.stdoutUntil((out) => out.endsWith(`${PROMPT}later\r\n${PROMPT}`));
    expect(io.stdout).toBe(`${PROMPT}sleep 200\r\necho later\r\n${PROMPT}later\r\n${PROMPT}`);
  });

  it('keeps a line to 4095 bytes, as a tty does', async () => {
    const { io, type } = shell({ pty: XTERM });
    await type(`${'a'.repeat(5000)}\r`);
    expect(io.stderr).toBe(`unknown command: ${'a'.repeat(4095)}\r\n`);
  });

  it('pty follows window changes', async () => {
    const { io, session, type } = shell({ pty: XTERM });
    session.onWindowChange(100, 30);
    await type('pty\r');
    expect(io.stdout).toBe(`${PROMPT}pty\r\nxterm-256color 100x30\r\n${PROMPT}`);
  });
});

describe('interactive shell without a pty', () => {
  it('does not echo and writes plain newlines', async () => {
    const { io, type } = shell();
    await type('echo hi\n');
    await type('whoami\r\n');
    expect(io.stdout).toBe(`${PROMPT}hi\n${PROMPT}alice\n${PROMPT}`);
  });

  it('still edits lines', async () => {
    const { io, type } = shell();
    await type('echo ab\x7fc\x1b[A\n');
    expect(io.stdout).toBe(`${PROMPT}ac\n${PROMPT}`);
    await type('junk\x03');
    expect(io.stdout).toBe(`${PROMPT}ac\n${PROMPT}^C\n${PROMPT}`);
  });

  it('cat reads typed lines until Ctrl-D', async () => {
    const { io, type } = shell();
    await type('cat\nx\ny\n\x04');
    expect(io.stdout).toBe(`${PROMPT}x\ny\n${PROMPT}`);
  });

  it('ends with 0 at client EOF', async () => {
    const { io, session, type } = shell();
    await type('echo last\n');
    session.onEof();
    expect(await io.exited).toBe(0);
    expect(io.stdout).toBe(`${PROMPT}last\n${PROMPT}exit\n`);
  });
});
