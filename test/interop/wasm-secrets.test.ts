/**
 * Secrets do not stay behind in the wasm instances' linear memory once the host has them: after logins
 * with a password and with keyboard-interactive answers (real ssh2 clients, through the built module), and
 * after a host key file was generated and another installed, a scan of the whole memory of the server's
 * instance and of the keys module's (which read the files) finds none of them.
 * What the server must keep (the user name of a live connection, the host public key) is found, so the
 * scan looks at the right memory. Both boundaries: the wasm-bindgen module wipes its buffers itself, the
 * WIT component's allocator wipes what its post-return functions free.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { componentRuntime } from '../../ts/component/node.js';
import { coreMemory } from '../../ts/core/instance.js';
import { keyFilesMemory } from '../../ts/core/key-files.js';
import { nodeRuntime, SSHServer } from '../../ts/node/index.js';
import { SSHServer as ServerOn, type Runtime } from '../../ts/server.js';
import { connect, exec, type Ssh2Client } from '../helpers/ssh2.js';

const USER = 'user-3e9a51';
const PASSWORD = 'password-7c41d9e2b8';
const ANSWER = 'kbd-answer-f03a6c19';
const KEY_PASSPHRASE = 'key-passphrase-5d2b07e1';

describe.each([
  { boundary: 'wasm-bindgen', runtime: nodeRuntime },
  { boundary: 'component', runtime: componentRuntime },
])('$boundary', ({ runtime }: { runtime: Runtime }) => {
  // The server's one core, remembered on its way in, so that its instance's memory can be scanned.
  let memory!: WebAssembly.Memory;
  const server = new ServerOn(
    {
      ...runtime,
      createCore: (seed) => {
        const core = runtime.createCore(seed);
        memory = coreMemory(core)!;
        return core;
      },
    },
    { localPort: 0 },
  );
  server.generateHostKey();

  server.on('userAuthRequest', (e) => {
    if (e.authMethod === 'password' && e.password === PASSWORD) return e.accept();
    if (e.authMethod === 'keyboard-interactive' && !e.keyboardInteractive?.responses) return e.prompt([{ prompt: 'Answer: ', echo: false }]);
    if (e.authMethod === 'keyboard-interactive' && e.keyboardInteractive?.responses?.[0] === ANSWER) return e.accept();
    e.reject();
  });
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    await server.sendText(e.connectionId, e.channelId, 'ok\n');
    server.sendExitStatus(e.connectionId, e.channelId, 0);
    await server.closeChannel(e.connectionId, e.channelId);
  });

  let port = 0;
  beforeAll(async () => {
    port = (await server.startListening()).port;
  });
  afterAll(() => server.shutdown(500));

  /** Whether `needle` occurs anywhere in the server instance's memory or the keys module's. */
  function inMemory(needle: Uint8Array | string): boolean {
    const bytes = typeof needle === 'string' ? Buffer.from(needle) : Buffer.from(needle);
    const keysMemory = keyFilesMemory(runtime.keyFiles!())!;
    return [memory, keysMemory].some((m) => Buffer.from(m.buffer).includes(bytes));
  }

  /** Whether `needle` occurs in the server instance's memory alone (the public key it must keep). */
  function inServerMemory(needle: Uint8Array): boolean {
    return Buffer.from(memory.buffer).includes(Buffer.from(needle));
  }

  /** The base64 lines of an OpenSSH private key file: only a copy of the file's text could hold them. */
  function bodyLines(pem: string): string[] {
    return pem.trim().split('\n').slice(1, -1);
  }

  function keyboardInteractive(): Promise<Ssh2Client> {
    return new Promise((resolve, reject) => {
      const c = new ssh2.Client();
      c.on('keyboard-interactive', (_name, _instructions, _lang, _prompts, finish) => finish([ANSWER]));
      c.on('ready', () => resolve(c));
      c.on('error', reject);
      c.connect({ host: '127.0.0.1', port, username: USER, tryKeyboard: true, readyTimeout: 20_000 });
    });
  }

  describe('the wasm instance after the host has read a secret', () => {
    it('holds no password and no keyboard-interactive answer, only what it must keep', async () => {
      const byPassword = await connect(port, { username: USER, password: PASSWORD });
      const byAnswer = await keyboardInteractive();
      try {
        expect((await exec(byPassword, 'a')).stdout.toString()).toBe('ok\n');
        expect((await exec(byAnswer, 'b')).stdout.toString()).toBe('ok\n');
        expect(inMemory(USER), 'the live connections keep their user').toBe(true);
        expect(inMemory(PASSWORD), 'the password').toBe(false);
        expect(inMemory(ANSWER), 'the keyboard-interactive answer').toBe(false);
      } finally {
        byPassword.end();
        byAnswer.end();
      }
    });

    it('holds no host key file it generated or was given, only the keys themselves', () => {
      const generated = server.generateHostKey('generated');
      expect(bodyLines(generated).filter(inMemory), 'lines of the generated key file').toEqual([]);
      // Another server (in an instance of its own) makes the file this one is given.
      const given = new SSHServer({}).generateHostKey('given');
      server.addHostKey(given);
      expect(bodyLines(given).filter(inMemory), 'lines of the key file given').toEqual([]);
      const publicBlob = Buffer.from(server.hostPublicKeys[0]!.split(' ')[1]!, 'base64');
      expect(inServerMemory(publicBlob.subarray(-32)), 'the public key').toBe(true);
    });

    it('holds no line of a PEM key file, nor the passphrase of an encrypted one', () => {
      for (const name of ['rsa3072.pem', 'ecdsa256.pkcs8', 'openssl-p521.sec1', 'openssl-rsa2048.pkcs1']) {
        const text = readFileSync(join(import.meta.dirname, '../fixtures/keys', name), 'utf8');
        // The public point ends these files; a line of it that falls on the same base64 alignment as in the
        // served public key line (P-521 in SEC1 does) is public and may be there.
        const served = server.addHostKey(text).split(' ')[1]!;
        expect(bodyLines(text).filter((line) => inMemory(line) && !served.includes(line)), `lines of ${name}`).toEqual([]);
      }
      // Encrypted as ssh-keygen and openssl do, with a passphrase found nowhere else.
      const dir = mkdtempSync(join(tmpdir(), 'wasshd-secret-keys-'));
      const openssh = join(dir, 'openssh');
      expect(spawnSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '384', '-N', KEY_PASSPHRASE, '-f', openssh]).status).toBe(0);
      const pkcs8 = spawnSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-pass', `pass:${KEY_PASSPHRASE}`, '-aes-256-cbc']);
      expect(pkcs8.status).toBe(0);
      for (const text of [readFileSync(openssh, 'utf8'), pkcs8.stdout.toString()]) {
        server.addHostKey(text, { passphrase: KEY_PASSPHRASE });
        expect(inMemory(KEY_PASSPHRASE), `the passphrase of ${text.split('\n')[0]}`).toBe(false);
      }
    });
  });
});
