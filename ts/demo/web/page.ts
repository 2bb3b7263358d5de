/**
 * The web demo's page (`npm run demo:web`): a login form, the server's host key to check before anything is
 * sent, then a full-window xterm.js terminal on an SSH shell over a WebSocket to the server that served the
 * page. The client comes from the package's browser entry, with its wasm compiled as it streams in.
 * scripts/build-web.mjs bundles this file with esbuild.
 */

import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { SSHClient, type HostKeyInfo } from '../../browser/index.js';

const element = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const show = (id: string, text: string) => void (element(id).textContent = text);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

const form = element<HTMLFormElement>('login');
const fields = form.querySelector('fieldset')!;
/** The endpoint on the page's own origin: the demo serves both. */
const endpoint = new URL('/ssh', location.href);
endpoint.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';

/** Shows the host key and waits for the user's word on it; the client sends nothing to the server meanwhile. */
function askAboutHostKey(key: HostKeyInfo): Promise<boolean> {
  show('fingerprint', key.fingerprint);
  show('algorithm', key.algorithm);
  element('hostkey').hidden = false;
  show('status', 'waiting for your word on the host key');
  element('trust').focus();
  return new Promise((resolve) => {
    const answer = (trusted: boolean) => () => {
      element('hostkey').hidden = true;
      show('status', trusted ? 'logging in…' : '');
      resolve(trusted);
    };
    element('trust').onclick = answer(true);
    element('distrust').onclick = answer(false);
  });
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const text = (name: string) => String(data.get(name) ?? '');
  const user = text('user');
  fields.disabled = true;
  show('error', '');
  show('status', `connecting to ${endpoint.host}…`);
  try {
    const client = await SSHClient.connect({
      url: endpoint,
      user,
      ...(text('password') ? { password: text('password') } : {}),
      ...(text('privateKey').trim() ? { privateKey: text('privateKey'), passphrase: text('passphrase') } : {}),
      verifyHostKey: (_fingerprint, key) => askAboutHostKey(key),
    });
    show('status', '');
    form.reset();
    await runTerminal(client, user);
  } catch (e) {
    show('status', '');
    show('error', message(e));
  } finally {
    fields.disabled = false;
    element('hostkey').hidden = true;
  }
});

/**
 * Ctrl+Shift+C copies the selection (Ctrl+C is the terminal's interrupt); Ctrl+Shift+V is left to the
 * browser, whose paste event xterm.js takes, as it does the browser's own Copy and Paste.
 */
function clipboardKeys(term: Terminal) {
  return (e: KeyboardEvent): boolean => {
    if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey || (e.code !== 'KeyC' && e.code !== 'KeyV')) return true;
    if (e.code === 'KeyC' && term.hasSelection()) {
      e.preventDefault();
      void navigator.clipboard.writeText(term.getSelection()).catch((error: unknown) => show('session-status', `copy failed: ${message(error)}`));
    }
    return false;
  };
}

/** The shell on a terminal filling the window, until it ends; then a way back to the form. */
async function runTerminal(client: SSHClient, user: string): Promise<void> {
  element('login-view').hidden = true;
  element('terminal-view').hidden = false;
  show('who', `${user}@${endpoint.host}`);
  show('bar-fingerprint', client.hostKey?.fingerprint ?? '');
  show('session-status', '');
  const term = new Terminal({ cursorBlink: true, fontFamily: 'DejaVu Sans Mono, Menlo, Consolas, monospace', fontSize: 15, scrollback: 5000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(element('terminal'));
  fit.fit();
  const showSize = () => show('size', `${term.cols}×${term.rows}`);
  showSize();
  const resized = new ResizeObserver(() => fit.fit());
  resized.observe(element('terminal'));
  try {
    const session = await client.shell({ cols: term.cols, rows: term.rows, env: { LANG: 'C.UTF-8' } });
    // xterm.js decodes UTF-8 from bytes and hands typed text over as a string, which the session sends as UTF-8.
    session.onData((data) => term.write(data));
    session.onStderr((data) => term.write(data));
    // A write or resize after the end fails with the session, which is reported below.
    term.onData((data) => void session.write(data).catch(() => {}));
    term.onBinary((data) => void session.write(Uint8Array.from(data, (c) => c.charCodeAt(0))).catch(() => {}));
    term.onResize(({ cols, rows }) => {
      showSize();
      try {
        session.resize(cols, rows);
      } catch {
        // the session has ended
      }
    });
    term.attachCustomKeyEventHandler(clipboardKeys(term));
    term.focus();
    const exit = await session.exit;
    await client.close();
    const lost = await client.closed;
    if (lost) show('error', lost.message);
    show('session-status', lost ? 'connection lost' : `session ended${exit.code === null ? '' : ` (exit ${exit.code})`}`);
  } catch (e) {
    show('error', message(e));
    show('session-status', 'no shell');
    void client.close();
  }
  resized.disconnect();
  term.options.disableStdin = true;
  const again = element<HTMLButtonElement>('again');
  again.hidden = false;
  again.onclick = () => {
    again.hidden = true;
    term.dispose();
    show('error', '');
    element('terminal-view').hidden = true;
    element('login-view').hidden = false;
  };
}
