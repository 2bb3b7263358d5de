/**
 * The promise-returning channel commands report a closed or unknown channel (or connection) through their
 * promise, never by throwing synchronously: a caller that handles `.catch` or `await` in a try block sees
 * every failure the same way.
 */

import { afterAll, beforeAll, expect, it } from 'vitest';
import { SSHServer, ErrorCode, SSHError, type ChannelEvent } from '../../ts/node/index.js';
import { connect, type Ssh2Client } from '../helpers/ssh2.js';

const server = new SSHServer({ localPort: 0 });
server.generateHostKey();
server.on('userAuthRequest', (e) => (e.password === 'pw' ? e.accept() : e.reject()));
let client: Ssh2Client;
let port = 0;

beforeAll(async () => {
  port = (await server.startListening()).port;
  client = await connect(port, { username: 'u', password: 'pw' });
});
afterAll(async () => {
  client.end();
  await server.shutdown(500);
});

/** How a command came out: `threw CODE` if it threw before returning its promise. */
async function outcome(command: () => Promise<void>): Promise<string> {
  let promise: Promise<void>;
  try {
    promise = command();
  } catch (e) {
    return `threw ${(e as SSHError).code}`;
  }
  return promise.then(
    () => 'resolved',
    (e: unknown) => (e instanceof SSHError ? `rejected ${e.code}` : `rejected with ${String(e)}`),
  );
}

/** Opens a session channel from the client and has the server close it; resolves with its ids. */
async function closedChannel(): Promise<ChannelEvent> {
  const e = await new Promise<ChannelEvent>((resolve) => {
    const requested = (r: ChannelEvent) => {
      server.off('channelRequested', requested);
      resolve(r);
    };
    server.on('channelRequested', requested);
    client.exec('anything', (err, stream) => {
      if (!err) stream.on('error', () => {});
    });
  });
  const closed = new Promise<void>((resolve) => server.on('channelClosed', (c) => void (c.channelId === e.channelId && resolve())));
  await server.closeChannel(e.connectionId, e.channelId);
  await closed;
  return e;
}

it('rejects, never throws, for a closed channel, an unknown channel and an unknown connection', async () => {
  const { connectionId, channelId } = await closedChannel();
  const cases: [string, number, number, string][] = [
    ['closed channel', connectionId, channelId, `rejected ${ErrorCode.NoSuchChannel}`],
    ['unknown channel', connectionId, 4242, `rejected ${ErrorCode.NoSuchChannel}`],
    ['unknown connection', 4242, 0, `rejected ${ErrorCode.InvalidConnectionId}`],
  ];
  for (const [what, conn, ch, expected] of cases) {
    expect(await outcome(() => server.sendChannelData(conn, ch, 'data')), `sendChannelData, ${what}`).toBe(expected);
    expect(await outcome(() => server.sendChannelData(conn, ch, new Uint8Array(0))), `sendChannelData of nothing, ${what}`).toBe(expected);
    expect(await outcome(() => server.sendText(conn, ch, 'text')), `sendText, ${what}`).toBe(expected);
    expect(await outcome(() => server.sendEOF(conn, ch)), `sendEOF, ${what}`).toBe(expected);
  }
  // Closing is idempotent on a live connection: a channel that is closed or never was is already closed.
  expect(await outcome(() => server.closeChannel(connectionId, channelId))).toBe('resolved');
  expect(await outcome(() => server.closeChannel(connectionId, 4242))).toBe('resolved');
  expect(await outcome(() => server.closeChannel(4242, 0))).toBe(`rejected ${ErrorCode.InvalidConnectionId}`);
});
