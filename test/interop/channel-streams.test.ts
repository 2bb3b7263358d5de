/**
 * Channels as web streams with Debian's OpenSSH client: an `exec` served by piping the channel's readable into
 * its writable moves 16 MiB byte-exact, with the stdin the client typed ahead of the streams included and a
 * reader that starts late; `channelEOF` and `channelClosed` still reach the handlers; aborting the signal
 * closes the channel; the Node entry's `channelDuplex` carries the same through Node streams.
 */

import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, expect, it } from 'vitest';
import { channelDuplex, SSHServer } from '../../ts/node/index.js';
import { run, sha256hex, SSH_BASE, testData } from '../helpers/demo.js';

const PASSWORD = 'pw';
const SIZE = 16 * 1024 * 1024;
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** `onExec` takes the channel's streams in the `channelRequested` handler and serves them after it returns. */
async function serve(onExec: (server: SSHServer, connectionId: number, channelId: number) => () => Promise<void>) {
  const server = new SSHServer({ localPort: 0 });
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === PASSWORD ? e.accept() : e.reject()));
  const seen: string[] = [];
  server.on('channelEOF', () => void seen.push('eof'));
  server.on('channelClosed', () => void seen.push('closed'));
  server.on('channelDataIn', () => void seen.push('dataIn'));
  // The channel's later events (its data) wait for this handler: the serving goes on after it returns.
  server.on('channelRequested', (e) => {
    if (e.request.type === 'exec') void onExec(server, e.connectionId, e.channelId)();
  });
  const { port } = await server.startListening();
  cleanup.push(() => server.shutdown(500));
  return { port, seen };
}

const ssh = (port: number, input: Buffer) => run('sshpass', ['-p', PASSWORD, 'ssh', ...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-p', String(port), 'u@127.0.0.1', 'echo-back'], input);

it('an exec piped from its readable into its writable echoes 16 MiB byte-exact, typed-ahead stdin and a late reader included', async () => {
  const { port, seen } = await serve((server, c, ch) => {
    // The client's stdin typed ahead of the exec's reply waits behind this handler: the streams get it.
    const { readable, writable } = server.channelStreams(c, ch, { highWaterMark: 64 * 1024 });
    return async () => {
      // Nothing read for a while: the window stays shut meanwhile, and nothing is lost.
      await new Promise((r) => setTimeout(r, 500));
      await readable.pipeTo(writable);
      server.sendExitStatus(c, ch, 0);
      await server.closeChannel(c, ch);
    };
  });
  const data = testData(SIZE, 21);

  const r = await ssh(port, data);

  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.length).toBe(SIZE);
  expect(sha256hex(r.stdout)).toBe(sha256hex(data));
  await new Promise((r) => setTimeout(r, 100));
  expect(seen).toEqual(['eof', 'closed']);
});

it('aborting the signal closes the channel', async () => {
  const { port } = await serve((server, c, ch) => {
    const controller = new AbortController();
    const { readable } = server.channelStreams(c, ch, { signal: controller.signal });
    return async () => {
      await readable.getReader().read();
      controller.abort();
    };
  });

  const r = await ssh(port, testData(SIZE, 22));

  // The channel closed without an exit status: ssh reports none (255 is ssh's own failure code, not used here).
  expect(r.code).not.toBe(0);
  expect(r.stdout.length).toBe(0);
});

it('a channel as a Node Duplex: piped into itself through a Transform, 16 MiB come back transformed byte-exact', async () => {
  const { port } = await serve((server, c, ch) => {
    const duplex = channelDuplex(server, c, ch);
    const invert = new Transform({ transform: (chunk: Buffer, _enc, done) => done(null, chunk.map((b) => 255 - b)) });
    return async () => {
      await pipeline(duplex, invert, duplex);
      server.sendExitStatus(c, ch, 0);
      await server.closeChannel(c, ch);
    };
  });
  const data = testData(SIZE, 23);

  const r = await ssh(port, data);

  expect(r.code).toBe(0);
  expect(sha256hex(r.stdout)).toBe(sha256hex(Buffer.from(data.map((b) => 255 - b))));
});
