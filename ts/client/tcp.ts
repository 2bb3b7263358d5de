/** `SSHClient.connect` where the runtime connects TCP sockets (Node, Deno, Bun): a transport, or a socket to make. */

import { ErrorCode, SSHError } from '../errors.js';
import type { Transport } from '../transport.js';
import type { SSHClientOptions } from './client.js';

/** `SSHClient.connect`'s options on Node, Deno and Bun: a transport, or a TCP connection to make. */
export interface TcpSSHClientOptions extends Omit<SSHClientOptions, 'transport'> {
  /** A byte stream to the server; without one, a TCP connection to `host`:`port` is made. */
  transport?: Transport;
  /** Where to connect over TCP when no transport is given; default localhost. */
  host?: string;
  /** Default 22. */
  port?: number;
}

/** Opens the options' transport: theirs, or a TCP connection made by the runtime's `connectTcp`. */
export function tcpTransport(options: TcpSSHClientOptions, connectTcp: (host: string, port: number) => Promise<Transport>): () => Promise<Transport> {
  const { host = 'localhost', port = 22 } = options;
  return async () =>
    options.transport ??
    connectTcp(host, port).catch((e: Error) => {
      throw new SSHError(ErrorCode.ConnectionLost, `could not connect to ${host} port ${port}: ${e.message}`);
    });
}
