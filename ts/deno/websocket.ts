/**
 * Deno's HTTP server (`Deno.serve`) upgrading requests to WebSockets (`Deno.upgradeWebSocket`) that carry
 * SSH. Deno's WebSocket is the browser's API, so the transport is the one for standard WebSockets
 * (ts/websocket-transport.ts), with what that API lacks (pause, drain, a size limit before a message arrives).
 */

import type { Listener, WebSocketListenAdapter } from '../transport.js';
import { upgradeRefusal } from '../websocket-gate.js';
import { WebSocketTransport } from '../websocket-transport.js';
import type { DenoApi, HttpServer } from './api.js';

declare const Deno: DenoApi;

export const denoWebSocket: WebSocketListenAdapter = {
  listen(options, accept): Promise<Listener> {
    return new Promise((resolve, reject) => {
      let server: HttpServer | undefined;
      // Deno's shutdown closes the upgraded WebSockets too (1001): once closed, the listener refuses new
      // upgrades (503) and shuts the server down only when the last open connection has ended.
      const open = new Set<WebSocketTransport>();
      let closing = false;
      const shutdownWhenIdle = () => {
        if (closing && open.size === 0) void server?.shutdown();
      };
      const close = async () => {
        closing = true;
        shutdownWhenIdle();
      };
      try {
        server = Deno.serve(
          {
            hostname: options.host,
            port: options.port,
            ...(options.backlog ? { tcpBacklog: options.backlog } : {}),
            onListen: (addr) => resolve({ host: options.host, port: addr.port, close }),
          },
          (request, info) => {
            if (closing) return new Response('not accepting connections\n', { status: 503 });
            const refusal = upgradeRefusal(request, options);
            if (refusal) return refusal;
            // Read before upgrading: the request is gone afterwards.
            const { hostname, port } = info.remoteAddr;
            let upgrade: { socket: WebSocket; response: Response };
            try {
              upgrade = Deno.upgradeWebSocket(request);
            } catch {
              return new Response('bad WebSocket upgrade\n', { status: 400 });
            }
            const transport = new WebSocketTransport(upgrade.socket, {
              remoteAddress: hostname,
              remotePort: port,
              maxMessageBytes: options.maxMessageBytes,
              ended: () => {
                open.delete(transport);
                shutdownWhenIdle();
              },
            });
            upgrade.socket.addEventListener(
              'open',
              () => {
                open.add(transport);
                accept(transport);
              },
              { once: true },
            );
            return upgrade.response;
          },
        );
      } catch (e) {
        reject(e as Error);
      }
    });
  },
};
