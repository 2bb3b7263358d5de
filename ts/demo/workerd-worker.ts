/**
 * The demo server as a Cloudflare Worker (bundled and started by workerd.ts): the demo's users, keys and
 * shell (serve.ts) on the workerd entry point, serving SSH over WebSocket at `/ssh`.
 */

import { acceptWebSocket, SSHServer } from '../workerd/index.js';
import { authorizedKeysOption, type DemoSettings, serveSettings } from './serve.js';

interface Env {
  WASSHD_DEMO: string;
}

/** One server per isolate, made on the first request: the top level of a module may not draw random bytes. */
let served: { server: SSHServer; allowedOrigins: string[] | undefined } | undefined;

function start(settings: DemoSettings): SSHServer {
  const server = new SSHServer({ hostKeys: settings.hostKeys, ...authorizedKeysOption(settings.authorizedKeys) });
  serveSettings(server, settings, (line) => console.error(line));
  return server;
}

export default {
  fetch(request: Request, env: Env): Response {
    if (!served) {
      const settings = JSON.parse(env.WASSHD_DEMO) as DemoSettings;
      try {
        served = { server: start(settings), allowedOrigins: settings.allowedOrigins };
      } catch (e) {
        // A bad --config: the launcher's first request reports it and stops.
        return new Response(`${(e as Error).message}\n`, { status: 500 });
      }
    }
    return acceptWebSocket(request, served.server, served.allowedOrigins ? { allowedOrigins: served.allowedOrigins } : {});
  },
};
