/**
 * Forwarding over the server's WebSocket endpoint (`startWebSocket`, uWebSockets.js on Node): Debian's
 * OpenSSH reaches it through the `wasshd-ws-proxy` ProxyCommand, as users do, and forwards `ssh -L` and
 * `ssh -R` (port 0) through a loopback echo service, 16 MiB byte-exact each way, while the SSH stream itself
 * travels in WebSocket messages.
 */

import { describe, expect, it } from 'vitest';
import { requirePrograms, sha256hex, testData, viaWebSocket } from '../helpers/demo.js';
import { forwardingKit, freePort, roundTrip, roundTripOnceListening, until } from '../helpers/forwarding.js';

const SIZE = 16 * 1024 * 1024;

const { echoService, tunnelServer, forwardWith, remotePortZero } = forwardingKit();

/**
 * A tunnel server that also listens for SSH over WebSocket, and the connections it saw: ssh is given a TCP port
 * nothing listens on, so that any connection came through the bridge.
 */
async function overWebSocket() {
  const t = await tunnelServer((e) => (e.accept = true));
  const ws = await t.server.startWebSocket({ port: 0 });
  const connected: number[] = [];
  t.server.on('connected', (e) => void connected.push(e.connectionId));
  return { ...t, wsPort: ws.port, connected };
}

describe('forwarding with OpenSSH over the WebSocket endpoint', () => {
  it('ssh -L through the ProxyCommand bridge: 16 MiB to the echo service and back byte-exact', async () => {
    requirePrograms('sshpass', 'ssh');
    const echo = await echoService();
    const { wsPort, closed, connected } = await overWebSocket();
    const local = await freePort();
    forwardWith(await freePort(), '-L', `127.0.0.1:${local}:127.0.0.1:${echo.port}`, viaWebSocket(wsPort));
    const data = testData(SIZE, 81);

    const back = await roundTripOnceListening(local, data);

    expect(back.length).toBe(SIZE);
    expect(sha256hex(back)).toBe(sha256hex(data));
    await until(() => closed.length === 1, 'sshTunnelClosed');
    expect(closed[0]).toMatchObject({ direction: 'local', bytesIn: SIZE, bytesOut: SIZE });
    expect(connected).toHaveLength(1);
  });

  it('ssh -R 0 through the ProxyCommand bridge: the bound port carries 16 MiB to the client\'s echo service and back byte-exact', async () => {
    requirePrograms('sshpass', 'ssh');
    const echo = await echoService();
    const { wsPort, closed, connected } = await overWebSocket();
    const bound = await remotePortZero(await freePort(), echo.port, viaWebSocket(wsPort));
    const data = testData(SIZE, 82);

    const back = await roundTrip(bound, data);

    expect(back.length).toBe(SIZE);
    expect(sha256hex(back)).toBe(sha256hex(data));
    await until(() => closed.length === 1, 'sshTunnelClosed');
    expect(closed[0]).toMatchObject({ direction: 'remote', port: bound, bytesIn: SIZE, bytesOut: SIZE });
    expect(echo.connections()).toBe(1);
    expect(connected).toHaveLength(1);
  });
});
