// An SSH client in a browser tab with wasshd: it speaks SSH itself over a WebSocket to a server's WebSocket
// endpoint (here wasshd's own: `npm start -- --ws-port 8022 --user alice:secret`), so nothing in between sees
// the session. It checks the server's host key against the fingerprint typed in, logs in with a password and
// runs one command.
//
//   python3 -m http.server 8000      # in the project folder, then open http://localhost:8000/examples/browser-client/
import { SSHClient } from 'wasshd';

const form = document.getElementById('login');
const show = (id, text) => (document.getElementById(id).textContent = text);
form.url.value = `ws://${location.hostname}:8022/ssh`;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const { url, user, password, fingerprint, command } = Object.fromEntries(new FormData(form));
  show('status', 'connecting');
  show('output', '');
  show('error', '');
  try {
    const client = await SSHClient.connect({
      url,
      user,
      password,
      verifyHostKey: (shown) => {
        show('hostkey', shown);
        return shown === fingerprint.trim();
      },
    });
    show('status', 'running');
    const result = await client.exec(command);
    show('output', new TextDecoder().decode(result.stdout));
    show('status', `exited with ${result.code}`);
    await client.close();
  } catch (e) {
    show('status', 'failed');
    show('error', e.message);
  }
});
