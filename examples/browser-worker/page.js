// An SSH client and server in one browser, with no network: this page starts a Worker that runs the server
// (worker.js), hands it one end of a MessageChannel and connects over the other. Bundle both (esbuild:
// `esbuild page.js worker.js --bundle --format=esm --outdir=out`) and serve them with the package's wasm.
import { MessagePortTransport, SSHClient } from 'wasshd';

const show = (id, text) => (document.getElementById(id).textContent = text);
const MiB = 1024 * 1024;

try {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onerror = (e) => show('error', `the worker failed: ${e.message}`);
  const { port1, port2 } = new MessageChannel();
  const password = crypto.randomUUID();
  const started = new Promise((resolve) => (worker.onmessage = (e) => resolve(e.data)));
  worker.postMessage({ port: port2, password }, [port2]);
  const { fingerprint } = await started;
  show('hostkey', fingerprint);

  const client = await SSHClient.connect({
    transport: new MessagePortTransport(port1, { remoteAddress: 'worker' }),
    user: 'page',
    password,
    verifyHostKey: (shown) => shown === fingerprint,
  });
  const echo = await client.exec('echo hello from the worker');
  show('echo', new TextDecoder().decode(echo.stdout).trim());

  // getRandomValues fills at most 64 KiB a call.
  const sent = new Uint8Array(MiB);
  for (let i = 0; i < sent.length; i += 65536) crypto.getRandomValues(sent.subarray(i, i + 65536));
  const cat = await client.exec('cat', { stdin: sent });
  const same = cat.stdout.length === sent.length && cat.stdout.every((byte, i) => byte === sent[i]);
  show('cat', `${cat.stdout.length} bytes back, ${same ? 'identical' : 'different'}, exit ${cat.code}`);
  await client.close();
  show('status', 'done');
} catch (e) {
  show('status', 'failed');
  show('error', e.message);
}
