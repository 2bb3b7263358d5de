/**
 * The demo's `--authorized-keys` file, read as OpenSSH's sshd(8) reads one: a line is optional
 * comma-separated options (names case-insensitive; values in double quotes, which may hold commas, spaces
 * and `\"`), the key type, the base64 key and a comment; blank lines and `#` lines are skipped.
 *
 * The demo enforces no option yet, so a key must never be taken without the restriction its line asks for:
 * a line with an option the demo does not honour is an error that stops it at start, and so is a
 * `cert-authority` line (certificates are not supported, and a CA's own key is no user key). Accepted are
 * only the options that forbid what the demo never offers (forwarding of any kind, rc files).
 */

export interface KeyOption {
  /** As written in the file. */
  name: string;
  value?: string;
}

export interface AuthorizedKey {
  /** 1-based line number in the file. */
  line: number;
  options: KeyOption[];
  /** `type base64`, as the server's `publicKey.openssh` gives it. */
  openssh: string;
}

/** A line the demo cannot take; the message names the file and line. */
export class AuthorizedKeysError extends Error {}

/**
 * Options satisfied by what the demo is: it refuses every forwarding request and runs no rc file; with
 * `--allow-forward` it forwards ports for every key, so `no-port-forwarding` is no longer among them.
 */
const HONOURED_BY_THE_DEMO = new Set(['no-agent-forwarding', 'no-port-forwarding', 'no-x11-forwarding', 'no-user-rc']);
const HONOURED_WHEN_FORWARDING = new Set([...HONOURED_BY_THE_DEMO].filter((o) => o !== 'no-port-forwarding'));

/** Every option OpenSSH 9.8's sshd knows in authorized_keys (auth-options.c), lower case. */
const OPENSSH_OPTIONS = new Set([
  'agent-forwarding',
  'cert-authority',
  'command',
  'environment',
  'expiry-time',
  'from',
  'no-agent-forwarding',
  'no-port-forwarding',
  'no-pty',
  'no-touch-required',
  'no-user-rc',
  'no-x11-forwarding',
  'permitlisten',
  'permitopen',
  'port-forwarding',
  'principals',
  'pty',
  'restrict',
  'touch-required',
  'tunnel',
  'user-rc',
  'verify-required',
  'x11-forwarding',
]);

/** The keys of an authorized_keys file's text; `file` names it in errors. */
export function readAuthorizedKeys(text: string, file: string, { allowForward = false } = {}): AuthorizedKey[] {
  const honoured = allowForward ? HONOURED_WHEN_FORWARDING : HONOURED_BY_THE_DEMO;
  const keys: AuthorizedKey[] = [];
  text.split('\n').forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const parsed = parseLine(raw.replace(/\r$/, ''), where);
    if (!parsed) return;
    for (const option of parsed.options) {
      const name = option.name.toLowerCase();
      if (name === 'cert-authority') {
        throw new AuthorizedKeysError(`${where}: cert-authority: certificates are not supported yet, and a CA's own key is not a user key; remove the line`);
      }
      if (!OPENSSH_OPTIONS.has(name)) throw new AuthorizedKeysError(`${where}: unknown option ${option.name}`);
      if (!honoured.has(name)) {
        const shown = option.value === undefined ? option.name : `${option.name}="${option.value}"`;
        const why = allowForward && name === 'no-port-forwarding' ? ' with --allow-forward' : ' yet';
        throw new AuthorizedKeysError(`${where}: option ${shown} is not enforced by the demo${why}; remove the option or the line`);
      }
    }
    keys.push({ line: i + 1, ...parsed });
  });
  return keys;
}

/** One line: undefined for a blank or comment line. */
function parseLine(line: string, where: string): { options: KeyOption[]; openssh: string } | undefined {
  const text = line.replace(/^[ \t]+/, '');
  if (text === '' || text.startsWith('#')) return undefined;
  // As sshd: a line that starts with a key has no options.
  const bare = keyAt(text);
  if (bare) return { options: [], openssh: bare };
  const { options, rest } = parseOptions(text, where);
  const key = keyAt(rest.replace(/^[ \t]+/, ''));
  if (!key) throw new AuthorizedKeysError(`${where}: no key found (expected [options] type base64 [comment])`);
  return { options, openssh: key };
}

/** `type base64` if `text` starts with a key type and a base64 blob that encodes a key of that type. */
function keyAt(text: string): string | undefined {
  const [type, base64] = text.split(/[ \t]+/, 2);
  if (!type || !base64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return undefined;
  const blob = Buffer.from(base64, 'base64');
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  return length === type.length && blob.subarray(4, 4 + length).toString('latin1') === type ? `${type} ${base64}` : undefined;
}

/** The options at the start of `text` and what follows them (from the first space outside quotes). */
function parseOptions(text: string, where: string): { options: KeyOption[]; rest: string } {
  const options: KeyOption[] = [];
  let i = 0;
  for (;;) {
    const name = /^[^=,\s"]+/.exec(text.slice(i))?.[0];
    if (!name) throw new AuthorizedKeysError(`${where}: bad option syntax at column ${i + 1}`);
    i += name.length;
    const option: KeyOption = { name };
    if (text[i] === '=') {
      if (text[i + 1] !== '"') throw new AuthorizedKeysError(`${where}: option ${name}: the value must be in double quotes`);
      i += 2;
      let value = '';
      for (;;) {
        if (i >= text.length) throw new AuthorizedKeysError(`${where}: option ${name}: unterminated quoted value`);
        if (text[i] === '\\' && text[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else value += text[i++];
      }
      option.value = value;
    }
    options.push(option);
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (i >= text.length || text[i] === ' ' || text[i] === '\t') return { options, rest: text.slice(i) };
    throw new AuthorizedKeysError(`${where}: option ${name}: expected a comma or a space after it`);
  }
}
