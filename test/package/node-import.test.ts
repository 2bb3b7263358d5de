/**
 * The built package, imported by name from plain Node (no TypeScript loader), serves the real OpenSSH client.
 */

import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { beforeAll, expect, it } from 'vitest';
import { ssh } from '../helpers/demo.js';

const root = new URL('../..', import.meta.url).pathname;

const SERVER = `
import { SSHServer } from 'wasshd/node';
const server = new SSHServer({ localPort: 0 });
server.generateHostKey();
server.on('userAuthRequest', (e) => (e.password === 'pw' ? e.accept() : e.reject()));
server.on('channelRequested', async (e) => {
  if (e.request.type !== 'exec') return;
  await server.sendText(e.connectionId, e.channelId, 'plain node says ' + e.request.command + '\\n');
  server.sendExitStatus(e.connectionId, e.channelId, 0);
  await server.closeChannel(e.connectionId, e.channelId);
});
const { port } = await server.startListening();
console.log('listening on 127.0.0.1:' + port);
`;

beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'ignore' });
}, 120_000);

it('imports wasshd/node from dist and serves an exec', async () => {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SERVER], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const port = Number(/listening on [^:]+:(\d+)/.exec(line.toString())?.[1]);
    expect(port).toBeGreaterThan(0);
    const r = await ssh(port, { user: 'u', password: 'pw', command: 'hello' });
    expect(r.stdout.toString()).toBe('plain node says hello\n');
    expect(r.code).toBe(0);
  } finally {
    child.kill();
  }
});
