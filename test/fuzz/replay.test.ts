/**
 * The shipped artifact against the fuzzers' inputs: every committed seed and every local corpus file of
 * the byte-stream targets (`handshake_raw`, `conn_raw`) goes through the built wasm module and the
 * TypeScript host, over an in-memory transport, with a host that answers like the fuzz harness does.
 * Nothing may trap the instance, and the server must hold no connection afterwards and still serve a
 * real client. The `keys` target's key files go through `addHostKey`. (`handshake` drives the core
 * through a Rust test client: transcripts.test.ts replays its calls. The other targets drive internals
 * the module does not export, and run natively.)
 */

import ssh2 from 'ssh2';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, SSHError, SSHServer, type ErrorEvent } from '../../ts/node/index.js';
import type { Transport, TransportHandlers } from '../../ts/transport.js';
import { fuzzInputs as inputs } from '../helpers/fuzz.js';

/** The fuzz harness's server settings (core-rs/fuzz/src/host.rs `server`), as far as settings reach them. */
const server = new SSHServer({
  localPort: 0,
  config: {
    LogLevel: 3,
    MaskSensitiveData: false,
    UserAuthBanner: 'fuzz banner',
    SSHKeepAliveInterval: 10,
    SSHKeepAliveCountMax: 3,
    KeyRenegotiationThreshold: 16384,
    ChannelWindowSize: 32768,
    MaxStartups: 100_000,
    MaxConnections: 100_000,
    PerSourcePenalties: 'no',
  },
});
server.generateHostKey();
const errors: ErrorEvent[] = [];
server.on('error', (e) => void errors.push(e));
server.on('userAuthRequest', (e) => {
  if (e.authMethod === 'password') return e.password === 'pw' ? e.accept() : e.password === 'partial' ? e.partialSuccess(['publickey']) : e.reject();
  if (e.authMethod === 'publickey') return e.accept();
  if (e.authMethod === 'keyboard-interactive') {
    if (!e.keyboardInteractive?.responses) return e.prompt([{ prompt: 'Password: ', echo: false }]);
    return e.keyboardInteractive.responses[0] === 'pw' ? e.accept() : e.reject();
  }
  e.reject();
});
server.on('channelOpenRequest', (e) => void (e.accept = true));
server.on('channelRequest', (e) => void (e.accept = true));
server.on('channelDataIn', (e) => server.sendChannelData(e.connectionId, e.channelId, e.data).catch(() => {}));
server.on('channelEOF', (e) => server.closeChannel(e.connectionId, e.channelId).catch(() => {}));
afterAll(() => server.shutdown(200));

/** A byte stream in memory: what the server writes is dropped, closing is reported back at once. */
class MemoryTransport implements Transport {
  readonly remoteAddress = '192.0.2.1';
  readonly remotePort = 40_000;
  readonly bufferedAmount = 0;
  private handlers: TransportHandlers | undefined;
  private closed = false;
  write(): boolean {
    return true;
  }
  end(): void {
    this.destroy();
  }
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.close();
  }
  pause(): void {}
  resume(): void {}
  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }
  deliver(bytes: Uint8Array): void {
    if (!this.closed) this.handlers?.data(bytes);
  }
}

/** conn_raw's layout: `[count]`, `count % 16` u16 read sizes, then the stream. */
function connRawPieces(data: Buffer): Buffer[] {
  const count = (data[0] ?? 0) % 16;
  let at = 1;
  const sizes: number[] = [];
  for (let i = 0; i < count; i++, at += 2) sizes.push(at + 1 < data.length ? data.readUInt16BE(at) : at < data.length ? data[at]! << 8 : 0);
  let rest = data.subarray(Math.min(at, data.length));
  const pieces: Buffer[] = [];
  for (const size of sizes) {
    pieces.push(rest.subarray(0, size));
    rest = rest.subarray(Math.min(size, rest.length));
  }
  pieces.push(rest);
  return pieces;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

async function replay(pieces: Buffer[]): Promise<void> {
  const t = new MemoryTransport();
  await server.accept(t);
  for (const piece of pieces) {
    t.deliver(piece);
    await settle();
  }
  for (let i = 0; i < 3; i++) await settle();
  t.destroy();
}

describe('fuzz inputs through the built wasm module', () => {
  for (const target of ['handshake_raw', 'conn_raw']) {
    it(`${target}: every seed and corpus file, without a trap`, async () => {
      const files = inputs(target);
      expect(files.length, `no ${target} seeds: run scripts/fuzz-seeds.sh`).toBeGreaterThan(0);
      for (const { name, data } of files) {
        await replay(target === 'conn_raw' ? connRawPieces(data) : [data]);
        const trapped = errors.find((e) => e.errorCode === ErrorCode.WasmTrapped);
        expect(trapped, `${name} trapped the instance`).toBeUndefined();
      }
      // The last connections' ends are queued behind their handlers' work: not bounded by vitest's 1 s default.
      await expect.poll(() => server.connections.size, { timeout: 60_000 }).toBe(0);
      expect(server['binding'].core.connection_count()).toBe(0);
      expect(server['admission']['startups'], 'connections still counted as logging in').toBe(0);
      console.log(`${target}: ${files.length} inputs replayed`);
    }, 600_000);
  }

  it('keys: every key file, refused with an error or installed, without a trap', () => {
    const keys = new SSHServer();
    const files = inputs('keys').filter(({ data }) => data.length > 0 && data[0]! % 4 < 2);
    expect(files.length).toBeGreaterThan(0);
    let installed = 0;
    for (const { name, data } of files) {
      // The target's layout: 0 the file's text; 1 the binary inside one, armoured (core-rs/fuzz/fuzz_targets/keys.rs).
      const body = data.subarray(1);
      const text =
        data[0]! % 4 === 0
          ? new TextDecoder().decode(body)
          : `-----BEGIN OPENSSH PRIVATE KEY-----\n${(body.toString('base64').match(/.{1,70}/g) ?? []).join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
      try {
        keys.addHostKey(text);
        installed++;
      } catch (e) {
        expect(e, name).toBeInstanceOf(SSHError);
        expect((e as SSHError).code, `${name}: ${(e as Error).message}`).not.toBe(ErrorCode.WasmTrapped);
      }
    }
    console.log(`keys: ${files.length} key files, ${installed} installed`);
    // One key per type at most: ed25519, ECDSA on three curves, RSA.
    expect(keys.hostPublicKeys.length).toBeLessThanOrEqual(5);
  });

  it('still serves a real client afterwards', async () => {
    const { port } = await server.startListening();
    const out = await new Promise<string>((resolve, reject) => {
      const c = new ssh2.Client();
      c.on('error', reject);
      c.on('ready', () =>
        c.exec('echo', (err, stream) => {
          if (err) return reject(err);
          let text = '';
          stream.on('data', (d: Buffer) => (text += d.toString()));
          stream.on('close', () => {
            c.end();
            resolve(text);
          });
          stream.end('after the replay');
        }),
      );
      c.connect({ host: '127.0.0.1', port, username: 'fuzz', password: 'pw' });
    });
    expect(out).toBe('after the replay');
  });
});
