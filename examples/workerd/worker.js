// A minimal Cloudflare Worker serving SSH over WebSocket at /ssh with wasshd: public-key logins, and an
// exec that answers. One SSHServer serves every connection of the isolate; it is made on the first request,
// since the top level of a Worker's module may not draw random bytes. The host key and the authorized keys
// come from the environment (secrets, on Cloudflare), so that every isolate serves the same host key.
import { acceptWebSocket, SSHServer } from 'wasshd/workerd';

let server;

function start(env) {
  // `type base64` of each authorized_keys line (options and comments dropped).
  const authorized = new Set(
    env.AUTHORIZED_KEYS.split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split(/\s+/).slice(0, 2).join(' ')),
  );
  const s = new SSHServer({ hostKeys: [env.HOST_KEY], authMethods: ['publickey'] });
  s.on('userAuthRequest', (e) => (e.publicKey && authorized.has(e.publicKey.openssh) ? e.accept() : e.reject()));
  s.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    const user = s.connections.get(e.connectionId)?.user;
    await s.sendText(e.connectionId, e.channelId, `hello from a Worker, ${user}: ${e.request.command}\n`);
    s.sendExitStatus(e.connectionId, e.channelId, 0);
    await s.closeChannel(e.connectionId, e.channelId);
  });
  return s;
}

export default {
  fetch(request, env) {
    server ??= start(env);
    return acceptWebSocket(request, server);
  },
};
