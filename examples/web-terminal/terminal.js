// The page of examples/web-terminal: logs in over SSH to the server that served it, through a WebSocket on
// the same origin, and runs a shell in an xterm.js terminal that fills the window.
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { SSHClient } from 'wasshd/browser';

const form = document.getElementById('login');
const show = (id, text) => (document.getElementById(id).textContent = text);
// The server that served the page, at its SSH path; wss when the page came over https.
const endpoint = new URL('/ssh', location.href);
endpoint.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const { user, password } = Object.fromEntries(new FormData(form));
  show('status', 'connecting');
  try {
    const client = await SSHClient.connect({
      url: endpoint,
      user,
      password,
      // Nothing, the password included, reaches the server before the user has trusted its key.
      verifyHostKey: (fingerprint) => confirm(`The server's host key is ${fingerprint}.\nIs it the one the server printed?`),
    });
    form.hidden = true;
    show('status', `${user}@${endpoint.host}`);
    await runTerminal(client);
  } catch (e) {
    show('status', e.message);
  }
});

async function runTerminal(client) {
  const element = document.getElementById('terminal');
  element.hidden = false;
  const term = new Terminal();
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(element);
  fit.fit();
  show('size', `${term.cols}x${term.rows}`);
  let ended = false;
  const session = await client.shell({ term: 'xterm-256color', cols: term.cols, rows: term.rows });
  session.onData((bytes) => term.write(bytes));
  // What the user types goes to the server as it is typed; the server echoes it (or not: a password prompt).
  term.onData((text) => void session.write(text).catch(() => {}));
  // The window's size through the pty: the terminal refits to the window, and the server is told its new size.
  term.onResize(({ cols, rows }) => {
    show('size', `${cols}x${rows}`);
    if (!ended) session.resize(cols, rows);
  });
  const refit = new ResizeObserver(() => fit.fit());
  refit.observe(element);
  term.focus();
  const { code } = await session.exit;
  ended = true;
  refit.disconnect();
  await client.close();
  show('status', `session ended, exit status ${code}`);
}
