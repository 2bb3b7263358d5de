/** An in-process server for interop tests: a password login for one user, and `exec echo ARGS` prints ARGS. */

import { SSHServer } from '../../ts/node/index.js';

/**
 * Starts a server with `config` (127.0.0.1 exempt from penalties unless `config` says otherwise) and a fresh host
 * key, pushed onto `servers` (closeAfterEach's) before it listens; `onEcho` sees the connection of each echo
 * before it runs. Tests add their own handlers for the rest.
 */
export async function serveEcho(
  servers: SSHServer[],
  login: { user: string; password: string },
  config: Record<string, string | number> = {},
  onEcho: (server: SSHServer, connectionId: number) => void = () => {},
): Promise<{ server: SSHServer; port: number }> {
  const server = new SSHServer({ localPort: 0, config: { PerSourcePenaltyExemptList: '127.0.0.1', ...config } });
  server.generateHostKey();
  servers.push(server);
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.user === login.user && e.password === login.password ? e.accept() : e.reject()));
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec' || !e.request.command.startsWith('echo ')) return;
    onEcho(server, e.connectionId);
    await server.sendText(e.connectionId, e.channelId, `${e.request.command.slice(5)}\n`);
    await server.sendEOF(e.connectionId, e.channelId);
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });
  const { port } = await server.startListening();
  return { server, port };
}
