/** Raw TCP clients for the socket settings tests, and what the kernel says of the server's end (`ss`). */

import { execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';

/**
 * A TCP connection to `host`:`port`, once the server's version line arrived on it; undefined if the
 * connection was refused or closed first. The caller destroys it.
 */
export function served(host: string, port: number): Promise<Socket | undefined> {
  const socket = connect({ host, port });
  return new Promise((resolve) => {
    socket.once('data', (d: Buffer) => resolve(d.toString('latin1').startsWith('SSH-2.0-') ? socket : undefined));
    socket.once('error', () => resolve(undefined));
    socket.once('close', () => resolve(undefined));
  });
}

/**
 * The TCP timer of the server's end of `client` as `ss -o` prints it (`keepalive,19sec,0`), or '' when it
 * has none (keep-alive off and nothing in flight).
 */
export function serverTimer(client: Socket): string {
  const filter = `( sport = :${client.remotePort} and dport = :${client.localPort} )`;
  const line = execFileSync('ss', ['-tnoH', 'state', 'established', filter]).toString();
  return /timer:\(([^)]*)\)/.exec(line)?.[1] ?? '';
}
