/**
 * What the host does to a connection that forwards, with Debian's OpenSSH client: `exchangeKeys()` several
 * times while 16 MiB go through `ssh -W` (each re-exchange seen in `sshStatus`, the bytes exact), and a
 * `forwarded-tcpip` channel the host opens itself with `openChannel()` to a port `ssh -R` forwards, which the
 * client confirms and connects to its target, carrying 16 MiB each way through the channel's streams.
 */

import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { requirePrograms, run, sha256hex, testData } from '../helpers/demo.js';
import { forwardedTcpip, forwardingKit, sshArgs, until } from '../helpers/forwarding.js';

const SIZE = 16 * 1024 * 1024;
/** The echo service asks for a re-exchange each time this many more bytes came through. */
const STEP = 4 * 1024 * 1024;

const { echoService, tunnelServer, remotePortZero } = forwardingKit();

describe('exchangeKeys() during a forward', () => {
  it('ssh -W moves 16 MiB byte-exact each way while the server re-exchanges keys three times', async () => {
    requirePrograms('sshpass', 'ssh');
    let connectionId = -1;
    const { server, port, closed } = await tunnelServer((e) => {
      connectionId = e.connectionId;
      e.accept = true;
    });
    let rekeys = 0;
    server.on('sshStatus', (e) => void (e.message.startsWith('keys re-exchanged') && rekeys++));
    // Every STEP bytes the echo stops reading, has the server re-exchange keys, and goes on once it has: the
    // exchange runs with the transfer in flight both ways, and cannot be over before the transfer is.
    const echo = await echoService((s: Socket) => {
      let seen = 0;
      s.on('data', (d: Buffer) => {
        s.write(d);
        const before = Math.floor(seen / STEP);
        seen += d.length;
        if (Math.floor(seen / STEP) === before || seen >= SIZE) return;
        s.pause();
        const done = rekeys + 1;
        server.exchangeKeys(connectionId);
        until(() => rekeys >= done, 'a re-exchange').then(
          () => s.resume(),
          () => s.destroy(),
        );
      });
      s.on('end', () => s.end());
    });
    const data = testData(SIZE, 61);

    const r = await run('sshpass', sshArgs(port, '-W', `127.0.0.1:${echo.port}`, 'u@127.0.0.1'), data);

    expect(r.stderr).toBe('');
    expect(r.stdout.length).toBe(SIZE);
    expect(sha256hex(r.stdout)).toBe(sha256hex(data));
    expect(rekeys).toBe(3);
    await until(() => closed.length === 1, 'sshTunnelClosed');
    expect(closed[0]).toMatchObject({ bytesIn: SIZE, bytesOut: SIZE });
  });
});

describe('a forwarded-tcpip channel the host opens (openChannel)', () => {
  it('to a port ssh -R forwards: confirmed, connected to the client\'s echo service, 16 MiB each way byte-exact', async () => {
    requirePrograms('sshpass', 'ssh');
    const echo = await echoService();
    let connectionId = -1;
    const { server, port, requested } = await tunnelServer((e) => {
      connectionId = e.connectionId;
      e.accept = true;
    });
    const bound = await remotePortZero(port, echo.port);
    // OpenSSH takes the channel for the address and port of a forward it asked for (RFC 4254 §7.2).
    const asked = requested[0]!.address;

    const channelId = await server.openChannel(connectionId, 'forwarded-tcpip', forwardedTcpip(asked, bound, '192.0.2.7', 40_000));

    const { readable, writable } = server.channelStreams(connectionId, channelId);
    const data = testData(SIZE, 62);
    const received: Uint8Array[] = [];
    const reading = readable.pipeTo(new WritableStream({ write: (chunk) => void received.push(chunk) }));
    const writer = writable.getWriter();
    for (let at = 0; at < SIZE; at += 256 * 1024) await writer.write(data.subarray(at, at + 256 * 1024));
    // Closing the writable sends EOF; the echo service ends its side, and the client's EOF ends the readable.
    await writer.close();
    await reading;
    const back = Buffer.concat(received);
    expect(back.length).toBe(SIZE);
    expect(sha256hex(back)).toBe(sha256hex(data));
    expect(echo.connections()).toBe(1);
  });
});
