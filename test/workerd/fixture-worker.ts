/**
 * A Worker for the workerd tests, bundled and run by workerd.test.ts: an SSH endpoint whose `trap` command
 * makes the wasm instance trap, one whose admission waits for a request to `/admit` (`/undecided`), and a raw endpoint that
 * floods a client through the transport to show its backpressure. `/stats` reports what the tests cannot see
 * from outside.
 */

import { acceptWebSocket, SSHServer, WorkerWebSocketTransport, type WorkerWebSocket } from '../../ts/workerd/index.js';

let server: SSHServer | undefined;
let undecided: SSHServer | undefined;
/** Admissions of `/undecided` waiting for `/admit`. */
const waiting: (() => void)[] = [];
const stats = { errors: [] as number[], flood: { written: 0, maxBuffered: 0, blocked: false, drains: 0 } };

function start(hostKey: string): SSHServer {
  const s = new SSHServer({ hostKeys: [hostKey], config: { PerSourcePenaltyExemptList: '127.0.0.1' } });
  s.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === 'pw' ? e.accept() : e.reject()));
  s.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    if (e.request.command === 'trap') {
      // The binding passes this pointer into linear memory; far past its end, the next call traps.
      (s['binding'].core as unknown as { __wbg_ptr: number }).__wbg_ptr = 0xfffffff0;
    }
    await s.sendText(e.connectionId, e.channelId, `ran ${e.request.command}\n`);
    s.sendExitStatus(e.connectionId, e.channelId, 0);
    await s.closeChannel(e.connectionId, e.channelId);
  });
  s.on('error', (e) => void stats.errors.push(e.errorCode));
  return s;
}

const FLOOD_BYTES = 32 * 1024 * 1024;
const FLOOD_CHUNK = 256 * 1024;

/** Writes FLOOD_BYTES through the transport, as the server does: stop when `write` says so, go on at `drain`. */
function flood(): Response {
  const { WebSocketPair } = globalThis as unknown as { WebSocketPair: new () => { 0: WorkerWebSocket; 1: WorkerWebSocket } };
  const pair = new WebSocketPair();
  const transport = new WorkerWebSocketTransport(pair[1], '', 0, 1024);
  const f = stats.flood;
  Object.assign(f, { written: 0, maxBuffered: 0, blocked: false, drains: 0 });
  const pump = () => {
    while (f.written < FLOOD_BYTES) {
      const more = transport.write(new Uint8Array(FLOOD_CHUNK));
      f.written += FLOOD_CHUNK;
      f.maxBuffered = Math.max(f.maxBuffered, transport.bufferedAmount);
      if (!more) return void (f.blocked = true);
    }
    transport.end();
  };
  transport.attach({
    data: () => {},
    drain: () => {
      f.blocked = false;
      f.drains++;
      pump();
    },
    close: () => {},
  });
  pump();
  return new Response(null, { status: 101, webSocket: pair[0] } as ResponseInit);
}

export default {
  fetch(request: Request, env: { HOST_KEY: string }): Response {
    const path = new URL(request.url).pathname;
    if (path === '/stats') return Response.json(stats);
    if (path === '/flood') return flood();
    if (path === '/admit') {
      for (const admit of waiting.splice(0)) admit();
      return new Response('admitted\n');
    }
    if (path === '/undecided') {
      if (!undecided) {
        undecided = new SSHServer({ hostKeys: [env.HOST_KEY] });
        undecided.on('connectionRequest', () => new Promise<void>((resolve) => waiting.push(resolve)));
      }
      return acceptWebSocket(request, undecided, { path });
    }
    server ??= start(env.HOST_KEY);
    return acceptWebSocket(request, server);
  },
};
