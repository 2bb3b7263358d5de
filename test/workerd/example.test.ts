/**
 * examples/workerd as a user runs it: the package built and installed under its name, the example's module
 * bundled against its `workerd` export, the example's own config on a local workerd, and ssh2 logging in with
 * a key over WebSocket.
 */

import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SSHServer as NodeServer } from '../../ts/node/index.js';
import { bundleWorker, startWorkerd, type Workerd } from '../../ts/demo/workerd-build.js';
import { makeUserKey } from '../helpers/demo.js';
import { exec } from '../helpers/ssh2.js';
import { sshOverWebSocket } from '../helpers/websocket.js';

const root = new URL('../..', import.meta.url).pathname;
const example = join(root, 'examples/workerd');
const key = makeUserKey();
let workerd: Workerd;
let installed: string;

beforeAll(async () => {
  // The package as `npm pack` would have it (dist and package.json), compiled apart from the repository's dist.
  const dir = mkdtempSync(join(tmpdir(), 'wasshd-example-'));
  installed = join(dir, 'node_modules/wasshd');
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(installed, 'dist')]);
  // The server's module and the key files' (the workerd entry imports both).
  for (const pkg of ['wasm/pkg', 'wasm/pkg-keys', 'wasm/pkg-legacy']) cpSync(join(root, pkg), join(installed, 'dist', pkg), { recursive: true });
  copyFileSync(join(root, 'package.json'), join(installed, 'package.json'));
  // Its dependency as an install would have put it beside the package.
  symlinkSync(join(root, 'node_modules/cidr-block'), join(dir, 'node_modules/cidr-block'));
  const app = join(dir, 'app');
  mkdirSync(app);
  symlinkSync(join(dir, 'node_modules'), join(app, 'node_modules'));
  for (const file of ['worker.js', 'config.capnp']) copyFileSync(join(example, file), join(app, file));

  await bundleWorker(join(app, 'worker.js'), join(app, 'dist'), { workingDir: app });
  const env = { ...process.env, HOST_KEY: new NodeServer().generateHostKey(), AUTHORIZED_KEYS: `# the test's key\n${key.publicLine}\n` };
  workerd = await startWorkerd(join(app, 'config.capnp'), '127.0.0.1', 0, env);
}, 120_000);
afterAll(() => workerd?.child.kill());

it('has the types and module its workerd export names', () => {
  const exports = (JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, unknown>> }).exports;
  for (const target of [exports['./workerd'], exports['.']!['workerd']] as Record<string, string>[]) {
    expect(Object.keys(target)).toEqual(['types', 'default']);
    for (const file of Object.values(target)) expect(existsSync(join(installed, file)), file).toBe(true);
  }
});

it('serves SSH over WebSocket from the example Worker to an authorized key, and no other', async () => {
  const url = `ws://127.0.0.1:${workerd.port}/ssh`;
  const { client: c } = await sshOverWebSocket(url, { username: 'me', privateKey: readFileSync(key.keyFile) });
  try {
    const r = await exec(c, 'hello');
    expect(r.stdout.toString()).toBe('hello from a Worker, me: hello\n');
    expect(r.code).toBe(0);
  } finally {
    c.end();
  }
  const stranger = makeUserKey();
  await expect(sshOverWebSocket(url, { username: 'me', privateKey: readFileSync(stranger.keyFile) })).rejects.toThrow(/authentication methods failed/);
});
