/**
 * The browser entry's own parts, run on Node (which has fetch, WebAssembly and WebCrypto as a page does): the
 * wasm module from each kind of source, and listening refused with what to do instead.
 */

import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { compileClientCore, compileCore, compileKeyFiles, compileLegacy, SSHServer } from '../../ts/browser/index.js';
import { SSHServer as BaseServer } from '../../ts/server.js';
import { instantiateCore } from '../../ts/core/instance.js';

const wasm = readFileSync(new URL('../../wasm/pkg/wasshd_wasm_bg.wasm', import.meta.url));
const clientWasm = readFileSync(new URL('../../wasm/pkg-client/wasshd_client_bg.wasm', import.meta.url));
const keysWasm = readFileSync(new URL('../../wasm/pkg-keys/wasshd_keys_bg.wasm', import.meta.url));
const legacyWasm = readFileSync(new URL('../../wasm/pkg-legacy/wasshd_legacy_bg.wasm', import.meta.url));

it('compiles the module from a response with or without the wasm media type, and takes a compiled one as it is', async () => {
  const streamed = await compileCore(new Response(wasm, { headers: { 'content-type': 'application/wasm' } }));
  const buffered = await compileCore(Promise.resolve(new Response(wasm, { headers: { 'content-type': 'application/octet-stream' } })));
  for (const module of [streamed, buffered]) expect(WebAssembly.Module.exports(module).length).toBeGreaterThan(10);
  expect(await compileCore(streamed)).toBe(streamed);
});

it('keeps each role in a module of its own: the server module has no client, the client module no server, neither the key files', async () => {
  const constructors = (module: WebAssembly.Module) => WebAssembly.Module.exports(module).map((e) => e.name).filter((name) => name.endsWith('_new'));
  expect(constructors(await compileCore(new Response(wasm)))).toEqual(['core_new']);
  expect(constructors(await compileClientCore(new Response(clientWasm)))).toEqual(['clientcore_new']);
  expect(constructors(await compileKeyFiles(new Response(keysWasm)))).toEqual(['keyfiles_new']);
  expect(constructors(await compileLegacy(new Response(legacyWasm)))).toEqual(['legacycrypto_new']);
});

it('loads the legacy algorithms only when a setting names one, and without their module refuses such settings', async () => {
  const module = await compileCore(new Response(wasm));
  const legacyModule = await compileLegacy(new Response(legacyWasm));
  let loads = 0;
  const counted = () => (loads++, legacyModule);
  const server = new BaseServer({ createCore: (seed) => instantiateCore(module, seed, undefined, counted), listen: { listen: () => Promise.reject(new Error('no')) } }, {});
  server.config('SSHEncryptionAlgorithms=aes256-gcm@openssh.com,aes128-cbc');
  server.config('SSHMacAlgorithms=hmac-sha1,hmac-sha2-256');
  expect(loads).toBe(0);
  server.config('SSHEncryptionAlgorithms=aes128-ctr,blowfish-cbc');
  server.config('SSHMacAlgorithms=hmac-ripemd160,hmac-md5');
  expect(loads).toBe(1);
  expect(server.config('SSHMacAlgorithms')).toBe('hmac-ripemd160,hmac-md5');

  const without = await SSHServer.create({ wasm: new Response(wasm), keysWasm: null });
  expect(() => without.config('SSHEncryptionAlgorithms=aes128-ctr,arcfour256')).toThrow(/arcfour256 needs the legacy algorithms' wasm module \(wasm\/pkg-legacy\)/);
  expect(() => without.config('SSHMacAlgorithms=hmac-md5-96')).toThrow(/hmac-md5-96 needs the legacy algorithms' wasm module/);
  expect(without.config('SSHEncryptionAlgorithms')).toBe('chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr');
  const withIt = await SSHServer.create({ wasm: new Response(wasm), keysWasm: null, legacyWasm: new Response(legacyWasm) });
  withIt.config('SSHEncryptionAlgorithms=3des-cbc,cast128-cbc');
  expect(withIt.config('SSHEncryptionAlgorithms')).toBe('3des-cbc,cast128-cbc');
});

it('says why the legacy module failed to load when a setting needs it', () => {
  const module = new WebAssembly.Module(wasm);
  const broken = () => new WebAssembly.Module(legacyWasm.subarray(0, 100));
  const server = new BaseServer({ createCore: (seed) => instantiateCore(module, seed, undefined, broken), listen: { listen: () => Promise.reject(new Error('no')) } }, {});
  expect(() => server.config('SSHEncryptionAlgorithms=aes128-ctr,3des-cbc')).toThrow(/3des-cbc needs the legacy algorithms' wasm module \(wasm\/pkg-legacy\), .* \(loading it failed: WebAssembly\.Module\(\): .+\)$/);
  expect(server.config('SSHEncryptionAlgorithms')).toBe('chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr');
});

it('names the URL and status when the module cannot be fetched', async () => {
  const missing = Object.defineProperty(new Response('not found', { status: 404 }), 'url', { value: 'https://app.example/x.wasm' });
  await expect(compileCore(missing)).rejects.toThrow('could not load the wasm module from https://app.example/x.wasm: HTTP 404');
});

it('makes a working server on the module it is given, which refuses to listen and says what to do instead', async () => {
  const server = await SSHServer.create({ wasm: new Response(wasm, { headers: { 'content-type': 'application/wasm' } }), keysWasm: new Response(keysWasm), localPort: 0 });
  expect(server.generateHostKey()).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
  await expect(server.startListening()).rejects.toThrow(/^a browser tab accepts no TCP connections: hand the server its connections with server\.accept\(transport\)/);
  await expect(server.startWebSocket({ port: 0 })).rejects.toThrow('this runtime has no WebSocket server');
  // Without the key files' module, a key file cannot be read, and the server says so.
  const keyless = await SSHServer.create({ wasm: new Response(wasm), keysWasm: null });
  expect(() => keyless.generateHostKey()).toThrow(/no key-file module/);
});
